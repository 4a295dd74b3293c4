"""Memory: resident set size and asyncio task count before and after many requests.

A pool of 10 sessions that live 3 s (time scale 100) serves 100,000 requests (2,000 with
``--quick``) from 20 workers with no server latency, so sessions are renewed dozens of times.
Readings are taken at quiet points (workers finished, ``gc.collect()`` done): once after a
warm-up phase of 10% of the requests, which fills caches, connection pools and the
pool's bounded samples, and once at the end. Growth must stay under 5%.
"""

from __future__ import annotations

import asyncio
import gc
import resource
from pathlib import Path
from typing import Any

from bbre_async.pool import SessionPool
from benchmarks._emulator_proc import EmulatorProcess, pinned_to_other_cores
from benchmarks._load import bench_pool
from benchmarks._raw import TARGET_URL
from benchmarks._runner import Result, Target, result

NAME = "memory"
WORKERS = 20


def rss_mb() -> float:
    """Current resident set size (VmRSS); the peak from ``getrusage`` where /proc is absent."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def _phase(pool: SessionPool, count: int) -> int:
    """Serve ``count`` requests from ``WORKERS`` workers; the number that failed."""
    left = count
    failed = 0

    async def worker() -> None:
        nonlocal left, failed
        while left > 0:
            left -= 1
            try:
                async with pool.acquire() as session:
                    await session.get(TARGET_URL)
            except Exception:
                failed += 1

    await asyncio.gather(*(worker() for _ in range(WORKERS)))
    return failed


async def _reading(span: float) -> tuple[float, int, list[str]]:
    """RSS after ``gc.collect()``, and the fewest asyncio tasks seen over ``span`` seconds.

    Idle sessions keep being renewed in the background, each renewal a short task or two, so
    one snapshot may catch some (on a loaded machine, nearly every one does); a leak raises
    the floor, which is what the minimum shows.
    """
    fewest: set[asyncio.Task[object]] | None = None
    for _ in range(round(span / 0.02)):
        tasks = asyncio.all_tasks()
        if fewest is None or len(tasks) < len(fewest):
            fewest = tasks
        await asyncio.sleep(0.02)
    assert fewest is not None
    names = sorted(task.get_name() for task in fewest)
    del fewest
    gc.collect()
    return rss_mb(), len(names), names


async def _run(base_url: str, total: int, span: float) -> dict[str, Any]:
    async with bench_pool(base_url, max_size=10, idle_timeout=None) as pool:
        failed = await _phase(pool, total // 10)
        rss_before, tasks_before, _ = await _reading(span)
        failed += await _phase(pool, total)
        rss_after, tasks_after, names = await _reading(span)
        stats = pool.stats()
    return {
        "rss_before": rss_before,
        "rss_after": rss_after,
        "tasks_before": tasks_before,
        "tasks_after": tasks_after,
        "renewed": stats.renewed,
        "requests": stats.requests,
        "failed": failed + stats.failed_requests,
        "task_names_after": names,
    }


def run(quick: bool) -> list[Result]:
    total = 2_000 if quick else 100_000
    with EmulatorProcess(cpu=0, time_scale=100.0) as emu, pinned_to_other_cores(0):
        info = asyncio.run(_run(emu.base_url, total, 0.5 if quick else 2.0))
    notes = (
        f"{total:,} requests after warm-up, {info['renewed']:.0f} renewals, "
        f"failed {info['failed']:.0f}"
    )
    return [
        result(
            NAME,
            f"RSS MB after ÷ before {total:,} requests with renewals",
            info["rss_after"],
            info["rss_before"],
            target=Target(op="<", bound=1.05),
            require=info["failed"] == 0,
            notes=notes,
            details=info,
        ),
        result(
            NAME,
            f"asyncio tasks gained over {total:,} requests with renewals",
            info["tasks_after"] - info["tasks_before"],
            target=Target(op="<=", bound=1, on="value"),
            notes=(
                f"fewest tasks seen over {0.5 if quick else 2.0:g} s at each reading: "
                f"{info['tasks_before']} before, "
                f"{info['tasks_after']} after; one renewal in flight at a reading is one task, "
                f"a leak of one task per {total // 10:,} requests would be 10"
            ),
        ),
    ]
