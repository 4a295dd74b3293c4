"""Acquire cost and fairness.

Uncontended: ``async with pool.acquire(): pass`` on a pool holding idle sessions, timed in a
tight loop (the least of several interleaved timings), against ``async with
asyncio.Semaphore(10): pass``, the least any asyncio limiter can cost (the floor). Also put
against one loopback round trip to the emulator (a raw aiohttp ``/session/request`` with no
server latency): the cost a lease adds to the cheapest API call.

Contended: 1,000 tasks ask for 10 sessions at once and each holds its session 2 ms. Arrival
order is recorded when a task calls ``acquire`` and service order when it gets a session;
overtaking of a task = how many later arrivals were served before it (FIFO: 0). The same
procedure runs on ``asyncio.Semaphore(10)`` as the reference for the wait spread p99/p50.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from benchmarks import _raw
from benchmarks._emulator_proc import EmulatorProcess, pinned_to_other_cores
from benchmarks._load import bench_pool
from benchmarks._runner import Result, Target, interleave, median, percentile, result, rounded

NAME = "acquire"
SESSIONS = 10
WAITERS = 1000
HOLD = 0.002

Lease = Callable[[], AbstractAsyncContextManager[Any]]


async def _loop_cost(lease: Lease, count: int) -> float:
    """Microseconds per ``async with lease(): pass``."""
    for _ in range(200):  # warm caches and code paths
        async with lease():
            pass
    began = time.perf_counter()
    for _ in range(count):
        async with lease():
            pass
    return 1e6 * (time.perf_counter() - began) / count


async def _pool_cost(base_url: str, count: int) -> float:
    async with bench_pool(base_url, max_size=SESSIONS, min_size=SESSIONS) as pool:
        return await _loop_cost(pool.acquire, count)


async def _semaphore_cost(count: int) -> float:
    return await _loop_cost(_sem_lease(), count)


def _sem_lease() -> Lease:
    semaphore = asyncio.Semaphore(SESSIONS)
    return lambda: semaphore


async def _round_trip_us(base_url: str, count: int) -> float:
    async with _raw.raw_http(base_url) as http:
        session_id = await _raw.create_session(http)
        body = _raw.request_body(session_id)
        samples = []
        for _ in range(count):
            began = time.perf_counter()
            await _raw.call(http, "/session/request", body)
            samples.append(time.perf_counter() - began)
        await _raw.close_session(http, session_id)
    return 1e6 * median(samples)


async def _queue(lease: Lease) -> tuple[list[float], int]:
    """Waits (s) of ``WAITERS`` tasks queued on ``lease``, and the maximum overtaking."""
    arrivals: list[int] = []
    served: list[int] = []
    waits: list[float] = []
    start = asyncio.Event()

    async def task() -> None:
        await start.wait()
        arrivals.append(len(arrivals))
        me = arrivals[-1]
        asked = time.perf_counter()
        async with lease():
            waits.append(time.perf_counter() - asked)
            served.append(me)
            await asyncio.sleep(HOLD)

    tasks = [asyncio.create_task(task()) for _ in range(WAITERS)]
    await asyncio.sleep(0)
    start.set()
    await asyncio.gather(*tasks)
    return waits, _max_overtaking(served)


def _max_overtaking(service_order: list[int]) -> int:
    """For each arrival index, how many later arrivals were served before it; the max."""
    worst = 0
    seen_later: list[int] = []  # arrival indexes already served, to count later ones
    for arrival in service_order:
        later = sum(1 for other in seen_later if other > arrival)
        worst = max(worst, later)
        seen_later.append(arrival)
    return worst


async def _pool_queue(base_url: str) -> tuple[list[float], int]:
    async with bench_pool(base_url, max_size=SESSIONS, min_size=SESSIONS) as pool:
        return await _queue(lambda: pool.acquire(timeout=None))


async def _semaphore_queue() -> tuple[list[float], int]:
    return await _queue(_sem_lease())


def _spread(waits: list[float]) -> float:
    return percentile(waits, 0.99) / percentile(waits, 0.5)


def run(quick: bool) -> list[Result]:
    count, reps = (5_000, 5) if quick else (20_000, 7)
    with EmulatorProcess(cpu=0) as emu, pinned_to_other_cores(0):
        url = emu.base_url
        costs = interleave(
            {
                "pool": lambda: asyncio.run(_pool_cost(url, count)),
                "semaphore": lambda: asyncio.run(_semaphore_cost(count)),
            },
            repetitions=reps,
        )
        rtt = asyncio.run(_round_trip_us(url, 200 if quick else 1000))
        queues = interleave(
            {
                "pool": lambda: asyncio.run(_pool_queue(url)),
                "semaphore": lambda: asyncio.run(_semaphore_queue()),
            },
            repetitions=1 if quick else 3,
            warmups=0,
        )
    # The least of several timings, as timeit advises: noise only ever adds time to a loop
    # this short, and both arms are read the same way.
    pool_us = min(costs["pool"])
    floor_us = min(costs["semaphore"])
    pool_spread = median([_spread(w) for w, _ in queues["pool"]])
    sem_spread = median([_spread(w) for w, _ in queues["semaphore"]])
    overtaking = max(o for _, o in queues["pool"])
    sem_overtaking = max(o for _, o in queues["semaphore"])
    waits = queues["pool"][0][0]
    return [
        result(
            NAME,
            "uncontended acquire+release, µs: pool ÷ asyncio.Semaphore",
            pool_us,
            floor_us,
            target=Target(op="<=", bound=10.0),
            details={
                "loop_count": count,
                "pool_us": [rounded(x) for x in costs["pool"]],
                "semaphore_us": [rounded(x) for x in costs["semaphore"]],
            },
        ),
        result(
            NAME,
            "uncontended acquire+release, µs ÷ one loopback round trip (µs)",
            pool_us,
            rtt,
            target=Target(op="<", bound=0.05),
            notes="round trip: raw aiohttp /session/request, no server latency, median",
        ),
        result(
            NAME,
            f"{WAITERS} waiters on {SESSIONS} sessions: max overtaking (FIFO = 0)",
            overtaking,
            sem_overtaking,
            ratio=None,
            target=Target(op="==", bound=0, on="value"),
            notes="baseline: asyncio.Semaphore(10), same tasks",
        ),
        result(
            NAME,
            f"{WAITERS} waiters: acquire wait p99 ÷ p50, pool vs asyncio.Semaphore",
            pool_spread,
            sem_spread,
            notes=(
                f"informational; waits p50 {1000 * percentile(waits, 0.5):.0f} ms, "
                f"p99 {1000 * percentile(waits, 0.99):.0f} ms; FIFO over a backlog gives "
                "waits spread evenly, p99/p50 ≈ 2"
            ),
        ),
    ]
