"""Closed-loop load: N workers repeat one operation until a deadline; and a pool to drive.

Closed loop (each worker waits for its answer before sending again) is how a scraper with N
tasks behaves, and it keeps the number in flight equal on both arms of a comparison.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import attrs

from bbre_async import BBREClient
from bbre_async.pool import SessionPool
from benchmarks._emulator_proc import API_KEY
from benchmarks._raw import TARGET_URL

Operation = Callable[[int], Awaitable[None]]


@attrs.frozen(kw_only=True)
class Load:
    """Completed operations, failures, wall seconds and this process's CPU seconds."""

    done: int
    failed: int
    seconds: float
    cpu_seconds: float

    @property
    def rate(self) -> float:
        return self.done / self.seconds if self.seconds else 0.0

    @property
    def cpu_us_per_op(self) -> float:
        return 1e6 * self.cpu_seconds / self.done if self.done else float("nan")


async def closed_loop(op: Operation, workers: int, duration: float, *, warmup: float = 0.0) -> Load:
    """Run ``op(worker_index)`` in ``workers`` tasks for ``warmup + duration`` seconds and
    count what completes in the last ``duration`` seconds.

    An operation that raises counts as failed (in any phase) and the worker goes on;
    operations still in flight at the deadline finish but are not counted. CPU time is this
    process's over the counted window.
    """
    done = failed = 0
    began = time.perf_counter()
    start_at = began + warmup
    stop_at = start_at + duration

    async def worker(index: int) -> None:
        nonlocal done, failed
        while time.perf_counter() < stop_at:
            try:
                await op(index)
            except Exception:
                failed += 1
            else:
                if start_at <= time.perf_counter() <= stop_at:
                    done += 1

    cpu_marks: list[float] = []
    loop = asyncio.get_running_loop()
    loop.call_later(warmup, lambda: cpu_marks.append(time.process_time()))
    end_mark = loop.call_later(warmup + duration, lambda: cpu_marks.append(time.process_time()))
    await asyncio.gather(*(worker(i) for i in range(workers)))
    if len(cpu_marks) < 2:
        end_mark.cancel()
        cpu_marks.append(time.process_time())
    cpu = cpu_marks[1] - cpu_marks[0]
    return Load(done=done, failed=failed, seconds=duration, cpu_seconds=cpu)


@contextlib.asynccontextmanager
async def bench_pool(base_url: str, **settings: Any) -> AsyncIterator[SessionPool]:
    """A ``SessionPool`` on a fresh client, its SQLite ledger in a temporary directory (so
    the run pays the real ledger writes without touching the user's cache directory)."""
    with tempfile.TemporaryDirectory(prefix="bbre-bench-") as folder:
        async with BBREClient(api_key=API_KEY, base_url=base_url) as client:
            pool = SessionPool(client, ledger_path=Path(folder) / "ledger.sqlite3", **settings)
            async with pool:
                yield pool


def pool_get(pool: SessionPool, url: str = TARGET_URL) -> Operation:
    """The SDK user's loop body: lease a session, fetch one page, give it back."""

    async def op(_index: int) -> None:
        async with pool.acquire() as session:
            await session.get(url)

    return op
