"""Handoff cost and many-task acquires, in a child process: ``python -m benchmarks._handoff``.

A child, because a pool whose handoff grows with its queue can take hours at 100,000 waiters:
the scenario kills the child at its time limit and reports the miss instead of hanging.

- ``handoff --sizes 1000 100000 --rounds 3``: a pool (``InstantBackend``, 10 sessions) with all
  10 leased; N tasks queue on ``acquire``; the 10 leases are released and every waiter in turn
  acquires and releases (N handoffs). Prints µs per handoff (the drain) and per enqueue for
  each size, sizes interleaved round by round, and the same for ``asyncio.Semaphore(10)``.
- ``tasks --count 100000 --rounds 3``: N tasks each ``async with lease(): await sleep(0)``,
  wall seconds from the first task's creation to the last one's end, pool and
  ``asyncio.Semaphore(10)`` interleaved.
Output: one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from bbre_async.pool import PooledSession, SessionPool
from benchmarks._fake_backend import InstantBackend

SESSIONS = 10
Lease = Callable[[], AbstractAsyncContextManager[Any]]


@contextlib.asynccontextmanager
async def _pool() -> AsyncIterator[SessionPool]:
    pool = SessionPool(InstantBackend(), max_size=SESSIONS, ledger_path=None)
    async with pool:
        warm = [await pool.acquire(timeout=None) for _ in range(SESSIONS)]
        for lease in warm:
            await lease.release()
        yield pool


async def _yield_until(condition: Callable[[], bool], limit: int = 100_000) -> None:
    for _ in range(limit):
        if condition():
            return
        await asyncio.sleep(0)
    raise RuntimeError("the waiters never all queued")


async def _queue_and_drain(
    lease: Lease, hold: Callable[[], Awaitable[None]], queued: Callable[[int], bool], size: int
) -> tuple[float, float]:
    """With every slot held (``hold`` releases them), queue ``size`` tasks on ``lease`` and
    drain them; seconds to queue, seconds to drain."""

    async def waiter() -> None:
        async with lease():
            pass

    gc.collect()
    began = time.perf_counter()
    tasks = [asyncio.create_task(waiter()) for _ in range(size)]
    await _yield_until(lambda: queued(size))
    enqueued = time.perf_counter()
    await hold()
    await asyncio.gather(*tasks)
    return enqueued - began, time.perf_counter() - enqueued


async def _pool_handoff(size: int) -> tuple[float, float]:
    async with _pool() as pool:
        held: list[PooledSession] = [await pool.acquire(timeout=None) for _ in range(SESSIONS)]

        async def release() -> None:
            for lease in held:
                await lease.release()

        return await _queue_and_drain(
            lambda: pool.acquire(timeout=None), release, lambda n: pool.stats().waiters >= n, size
        )


async def _semaphore_handoff(size: int) -> tuple[float, float]:
    semaphore = asyncio.Semaphore(SESSIONS)
    for _ in range(SESSIONS):
        await semaphore.acquire()

    async def release() -> None:
        for _ in range(SESSIONS):
            semaphore.release()

    # One pass of the loop runs every new task to its wait; three leave a margin.
    passes = iter(range(3))
    return await _queue_and_drain(
        lambda: semaphore, release, lambda _n: next(passes, None) is None, size
    )


def handoff(sizes: list[int], rounds: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for arm, measure in (("pool", _pool_handoff), ("semaphore", _semaphore_handoff)):
        asyncio.run(measure(min(sizes)))  # warm-up
        per: dict[str, dict[str, list[float]]] = {
            str(n): {"enqueue_us": [], "handoff_us": []} for n in sizes
        }
        for _ in range(rounds):
            for n in sizes:
                queue_s, drain_s = asyncio.run(measure(n))
                per[str(n)]["enqueue_us"].append(1e6 * queue_s / n)
                per[str(n)]["handoff_us"].append(1e6 * drain_s / n)
        out[arm] = per
    return out


async def _many_tasks(lease: Lease, count: int) -> float:
    async def task() -> None:
        async with lease():
            await asyncio.sleep(0)

    gc.collect()
    began = time.perf_counter()
    await asyncio.gather(*(task() for _ in range(count)))
    return time.perf_counter() - began


async def _pool_tasks(count: int) -> float:
    async with _pool() as pool:
        return await _many_tasks(lambda: pool.acquire(timeout=None), count)


async def _semaphore_tasks(count: int) -> float:
    semaphore = asyncio.Semaphore(SESSIONS)
    return await _many_tasks(lambda: semaphore, count)


def many_tasks(count: int, rounds: int) -> dict[str, Any]:
    asyncio.run(_pool_tasks(min(count, 1000)))  # warm-up
    asyncio.run(_semaphore_tasks(min(count, 1000)))
    out: dict[str, list[float]] = {"pool": [], "semaphore": []}
    for _ in range(rounds):
        out["pool"].append(asyncio.run(_pool_tasks(count)))
        out["semaphore"].append(asyncio.run(_semaphore_tasks(count)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks._handoff")
    parser.add_argument("mode", choices=("handoff", "tasks"))
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 100_000])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if args.mode == "handoff":
        print(json.dumps(handoff(args.sizes, args.rounds)), flush=True)
    else:
        print(json.dumps(many_tasks(args.count, args.rounds)), flush=True)


if __name__ == "__main__":
    main()
