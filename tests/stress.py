"""Run pytest while CPU hogs keep the machine busy, to prove no test depends on its speed.

    python -m tests.stress                       # the whole default suite beside 2 hogs
    python -m tests.stress --hogs 3 -- tests/pool -q

Each hog is a process spinning at the same priority as the tests, so the suite gets the share of
the cores a busy CI machine would give it. The hogs stop when pytest does, whatever its outcome,
and the exit status is pytest's.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from types import FrameType


def _spin(parent: int) -> None:
    """Burn one core until terminated, or until the runner that started it is gone."""
    n = 0
    while True:
        for _ in range(1_000_000):
            n = (n * 1103515245 + 12345) & 0xFFFFFFFF
        if os.getppid() != parent:
            return


def _exit_on_sigterm(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # so that ``finally`` stops the hogs


def run(hogs: int, pytest_args: Sequence[str]) -> int:
    """Start ``hogs`` busy processes, run pytest with ``pytest_args``, stop the hogs."""
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_spin, args=(os.getpid(),), daemon=True) for _ in range(hogs)]
    for worker in workers:
        worker.start()
    tests = subprocess.Popen([sys.executable, "-m", "pytest", *pytest_args])
    try:
        return tests.wait()
    finally:
        if tests.poll() is None:  # the runner was stopped: stop the run too
            tests.terminate()
            tests.wait(timeout=30)
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.join(timeout=10)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.stress", description=__doc__)
    parser.add_argument("--hogs", type=int, default=2, help="CPU-bound processes (default 2)")
    parser.add_argument("pytest_args", nargs="*", help="arguments for pytest (after --)")
    options = parser.parse_args(argv)
    if options.hogs < 0:
        parser.error("--hogs must be >= 0")
    return run(options.hogs, options.pytest_args)


if __name__ == "__main__":
    sys.exit(main())
