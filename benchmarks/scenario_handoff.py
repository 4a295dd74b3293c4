"""Handoff cost against queue length, and 100,000 tasks each doing one acquire.

The pool runs on ``InstantBackend`` (zero latency, in process) through the public
``SessionPool`` API, so only its own bookkeeping is timed. Both measurements run in child
processes (``benchmarks._handoff``) killed at a time limit, since a handoff that grows with the
queue makes 100,000 waiters take hours; a killed run is a missed target with the limit named.

- Flatness: µs per handoff (the drain of N queued waiters, each acquiring and releasing in
  turn) at 100,000 waiters ÷ at 1,000; sizes interleaved round by round; target <= 1.2.
  ``asyncio.Semaphore(10)``'s own ratio is in the notes: growth the pool cannot be blamed for
  (memory and cache effects of 100,000 live tasks).
- Many tasks: 100,000 tasks each doing ``async with pool.acquire(): await sleep(0)``, wall time
  ÷ the same with ``asyncio.Semaphore(10)``, rounds interleaved; target <= 2.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from benchmarks._runner import Result, Target, median, paired_ratio, result, rounded
from benchmarks._server_proc import ROOT

NAME = "handoff"
FLAT_TARGET = Target(op="<=", bound=1.2)
TASKS_TARGET = Target(op="<=", bound=2.0)


def _child(args: list[str], limit: float) -> dict[str, Any] | None:
    """The child's JSON answer, or None when it ran past ``limit`` seconds (then killed)."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    try:
        done = subprocess.run(
            [sys.executable, "-m", "benchmarks._handoff", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            timeout=limit,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return None
    if done.returncode != 0:
        raise RuntimeError(f"benchmarks._handoff {args} failed: {done.stderr.decode()[-2000:]}")
    answer: dict[str, Any] = json.loads(done.stdout)
    return answer


def flatness_row(small: int, large: int, rounds: int, limit: float) -> Result:
    metric = f"µs per handoff at {large:,} waiters ÷ at {small:,} (pool, instant backend)"
    data = _child(["handoff", "--sizes", str(small), str(large), "--rounds", str(rounds)], limit)
    if data is None:
        return result(
            NAME,
            metric,
            None,
            target=FLAT_TARGET,
            require=False,
            ratio=float("inf"),
            notes=f"did not finish within {limit:.0f} s: the handoff cost grows with the queue",
        )
    pool, sem = data["pool"], data["semaphore"]
    big, little = pool[str(large)]["handoff_us"], pool[str(small)]["handoff_us"]
    sem_ratio = paired_ratio(sem[str(large)]["handoff_us"], sem[str(small)]["handoff_us"])
    enqueue_ratio = paired_ratio(pool[str(large)]["enqueue_us"], pool[str(small)]["enqueue_us"])
    return result(
        NAME,
        metric,
        median(big),
        median(little),
        ratio=paired_ratio(big, little),
        target=FLAT_TARGET,
        notes=(
            f"asyncio.Semaphore(10) same ratio {sem_ratio:.2f}; pool µs per enqueue "
            f"{median(pool[str(small)]['enqueue_us']):.1f} → "
            f"{median(pool[str(large)]['enqueue_us']):.1f} (ratio {enqueue_ratio:.2f}); "
            f"median of {rounds} interleaved rounds"
        ),
        details={"rounds": rounds, "pool": _rounded(pool), "semaphore": _rounded(sem)},
    )


def many_tasks_row(count: int, rounds: int, limit: float) -> Result:
    metric = f"{count:,} tasks x one acquire (hold = one loop pass), s: pool ÷ asyncio.Semaphore"
    data = _child(["tasks", "--count", str(count), "--rounds", str(rounds)], limit)
    if data is None:
        return result(
            NAME,
            metric,
            None,
            target=TASKS_TARGET,
            require=False,
            ratio=float("inf"),
            notes=f"did not finish within {limit:.0f} s",
        )
    pool, sem = data["pool"], data["semaphore"]
    return result(
        NAME,
        metric,
        median(pool),
        median(sem),
        ratio=paired_ratio(pool, sem),
        target=TASKS_TARGET,
        notes=f"10 sessions, instant backend; median of {rounds} interleaved rounds",
        details={"pool_s": [rounded(x) for x in pool], "semaphore_s": [rounded(x) for x in sem]},
    )


def _rounded(per_size: dict[str, dict[str, list[float]]]) -> dict[str, Any]:
    return {
        size: {key: [rounded(x) for x in values] for key, values in series.items()}
        for size, series in per_size.items()
    }


def run(quick: bool) -> list[Result]:
    if quick:
        return [flatness_row(500, 5_000, 1, 15.0), many_tasks_row(5_000, 1, 15.0)]
    return [flatness_row(1_000, 100_000, 3, 180.0), many_tasks_row(100_000, 3, 180.0)]
