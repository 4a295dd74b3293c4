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
import subprocess
import sys
from collections.abc import Sequence


def _spin() -> None:
    """Burn one core until terminated."""
    n = 0
    while True:
        n = (n * 1103515245 + 12345) & 0xFFFFFFFF


def run(hogs: int, pytest_args: Sequence[str]) -> int:
    """Start ``hogs`` busy processes, run pytest with ``pytest_args``, stop the hogs."""
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_spin, daemon=True) for _ in range(hogs)]
    for worker in workers:
        worker.start()
    try:
        return subprocess.call([sys.executable, "-m", "pytest", *pytest_args])
    finally:
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
