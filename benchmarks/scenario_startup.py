"""Start-up time: ``bbre-async --help`` and ``import bbre_async`` vs ``import aiohttp``.

Every command runs as a fresh subprocess of the same interpreter, repeatedly, in interleaved
rounds (aiohttp, help, import, aiohttp, ...); a row's ratio is the median of the per-round
ratios of wall times. The baseline is what any aiohttp-based SDK pays at least. The children's
CPU time (user + system, from ``os.wait4``) is in the details as a cross-check that a loaded
machine did not decide the wall times.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks._runner import Result, Target, interleave, median, paired_ratio, result, rounded

NAME = "startup"
HELP_TARGET = Target(op="<=", bound=1.2)
IMPORT_TARGET = Target(op="<=", bound=1.1)


def cli_command() -> list[str]:
    """``bbre-async`` from this interpreter's environment (or ``python -m bbre_async``)."""
    script = Path(sys.executable).parent / "bbre-async"
    if script.exists():
        return [str(script)]
    found = shutil.which("bbre-async")
    return [found] if found else [sys.executable, "-m", "bbre_async"]


def timed_run(args: list[str]) -> tuple[float, float]:
    """Wall seconds and child CPU seconds of one run (output discarded; a failure raises)."""
    began = time.perf_counter()
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _pid, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - began
    process.returncode = os.waitstatus_to_exitcode(status)
    err = process.stderr.read().decode() if process.stderr else ""
    if process.stderr:
        process.stderr.close()
    if process.returncode != 0:
        raise RuntimeError(f"{args} exited {process.returncode}: {err[-1000:]}")
    return wall, usage.ru_utime + usage.ru_stime


def commands() -> dict[str, list[str]]:
    python = [sys.executable]
    return {
        "aiohttp": [*python, "-c", "import aiohttp"],
        "help": [*cli_command(), "--help"],
        "import": [*python, "-c", "import bbre_async"],
    }


def run(quick: bool) -> list[Result]:
    return rows(2, warmups=0) if quick else rows(21)


def rows(reps: int, warmups: int = 1) -> list[Result]:
    """Both rows from ``reps`` interleaved rounds (after ``warmups`` discarded rounds)."""
    arms: dict[str, Callable[[], tuple[float, float]]] = {
        name: functools.partial(timed_run, args) for name, args in commands().items()
    }
    runs = interleave(arms, repetitions=reps, warmups=warmups)
    wall = {name: [w for w, _ in values] for name, values in runs.items()}
    cpu = {name: [c for _, c in values] for name, values in runs.items()}
    out = []
    for name, label, target in (
        ("help", "`bbre-async --help`", HELP_TARGET),
        ("import", "`python -c 'import bbre_async'`", IMPORT_TARGET),
    ):
        cpu_ratio = paired_ratio(cpu[name], cpu["aiohttp"])
        out.append(
            result(
                NAME,
                f"{label} wall ms ÷ `python -c 'import aiohttp'`",
                1000 * median(wall[name]),
                1000 * median(wall["aiohttp"]),
                ratio=paired_ratio(wall[name], wall["aiohttp"]),
                target=target,
                notes=f"median of {reps} interleaved rounds; CPU-time ratio {cpu_ratio:.2f}",
                details={
                    "command": commands()[name],
                    "wall_ms": [rounded(1000 * w) for w in wall[name]],
                    "baseline_wall_ms": [rounded(1000 * w) for w in wall["aiohttp"]],
                    "cpu_ratio": rounded(cpu_ratio),
                },
            )
        )
    return out
