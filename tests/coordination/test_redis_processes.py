"""Real processes sharing one cap through Redis; run as a script, this file is the worker.

Worker modes (``python test_redis_processes.py MODE URL NAMESPACE ...``):

* ``hammer CAPACITY TASKS CYCLES``: waits for the go signal, then TASKS tasks each acquire,
  hold briefly and release CYCLES times. Each hold bumps a Redis counter (its peak is the most
  holds any instant saw) and is logged as a (start, end) interval on the host's monotonic
  clock, which all processes share. Prints one JSON line.
* ``hold CAPACITY COUNT LEASE_TTL``: takes COUNT slots, prints their tokens, and sleeps
  until it is killed.
"""

from __future__ import annotations

import asyncio
import json
import random
import signal
import subprocess
import sys
import time
import uuid
from typing import Any

import pytest

pytestmark = pytest.mark.redis


# -- the worker ------------------------------------------------------------------------------
async def _hammer(url: str, namespace: str, capacity: int, tasks: int, cycles: int) -> None:
    from redis.asyncio import Redis

    from bbre_async.coordination._base import OwnerInfo
    from bbre_async.coordination._redis_coordinator import RedisCoordinator

    coordinator = RedisCoordinator.from_url(url, namespace=namespace, capacity=capacity)
    probe = Redis.from_url(url, decode_responses=True)
    await coordinator.open(OwnerInfo.current())
    intervals: list[tuple[float, float]] = []
    peak = 0

    async def one() -> None:
        nonlocal peak
        for _ in range(cycles):
            grant = await coordinator.acquire_slot(timeout=20)
            start = time.monotonic()
            peak = max(peak, int(await probe.incr(f"{namespace}:holding")))
            await asyncio.sleep(random.uniform(0, 0.003))
            await probe.decr(f"{namespace}:holding")
            intervals.append((start, time.monotonic()))
            await coordinator.release_slot(grant)

    try:
        print("READY", flush=True)
        await probe.blpop([f"{namespace}:go"], timeout=20)
        await asyncio.gather(*(one() for _ in range(tasks)))
    finally:
        await coordinator.aclose()
        await probe.aclose()
    print(json.dumps({"peak": peak, "intervals": intervals}), flush=True)


async def _hold(url: str, namespace: str, capacity: int, count: int, lease_ttl: float) -> None:
    from bbre_async.coordination._base import OwnerInfo
    from bbre_async.coordination._redis_coordinator import RedisCoordinator

    coordinator = RedisCoordinator.from_url(
        url, namespace=namespace, capacity=capacity, lease_ttl=lease_ttl, op_timeout=0.3
    )
    await coordinator.open(OwnerInfo.current())
    grants = [await coordinator.acquire_slot(timeout=5) for _ in range(count)]
    print("HELD", *(grant.token for grant in grants), flush=True)
    await asyncio.sleep(60)


def _worker(argv: list[str]) -> None:
    mode, url, namespace, *rest = argv
    if mode == "hammer":
        asyncio.run(_hammer(url, namespace, int(rest[0]), int(rest[1]), int(rest[2])))
    elif mode == "hold":
        asyncio.run(_hold(url, namespace, int(rest[0]), int(rest[1]), float(rest[2])))
    else:
        raise SystemExit(f"unknown mode {mode}")


# -- the tests -------------------------------------------------------------------------------
def _spawn(*args: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, __file__, *map(str, args)],
        stdout=subprocess.PIPE,
        text=True,
    )


async def _read_line(process: subprocess.Popen[str], timeout: float = 20.0) -> str:
    assert process.stdout is not None
    line = await asyncio.wait_for(asyncio.to_thread(process.stdout.readline), timeout)
    if not line:
        raise AssertionError(f"worker exited early with {process.wait(timeout=5)}")
    return line.strip()


def _max_overlap(intervals: list[tuple[float, float]]) -> int:
    # At equal times an end sorts before a start: touching holds do not overlap.
    events = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    current = peak = 0
    for _, step in events:
        current += step
        peak = max(peak, current)
    return peak


async def test_processes_never_exceed_the_cap_together(redis_url: str) -> None:
    from redis.asyncio import Redis

    namespace = f"test{uuid.uuid4().hex}"
    capacity, processes, tasks, cycles = 3, 4, 4, 15
    workers = [_spawn("hammer", redis_url, namespace, capacity, tasks, cycles) for _ in range(4)]
    probe = Redis.from_url(redis_url, decode_responses=True)
    try:
        for worker in workers:
            assert await _read_line(worker) == "READY"
        await probe.rpush(f"{namespace}:go", *["go"] * processes)
        reports = [json.loads(await _read_line(worker)) for worker in workers]
        assert [worker.wait(timeout=10) for worker in workers] == [0] * processes
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
        await probe.aclose()
    intervals = [tuple(pair) for report in reports for pair in report["intervals"]]
    assert len(intervals) == processes * tasks * cycles
    # Never passed; several slots at once proves the processes really overlapped (how close
    # they come to the cap depends on scheduling, not on the semaphore).
    assert 2 <= max(report["peak"] for report in reports) <= capacity
    assert _max_overlap(intervals) <= capacity


async def test_a_killed_holders_slots_come_back_within_the_ttl(redis_url: str) -> None:
    from bbre_async.coordination._base import OwnerInfo, SlotTimeoutError
    from bbre_async.coordination._redis_coordinator import RedisCoordinator

    namespace = f"test{uuid.uuid4().hex}"
    lease_ttl = 1.0
    holder = _spawn("hold", redis_url, namespace, 2, 2, lease_ttl)
    survivor = RedisCoordinator.from_url(
        redis_url,
        namespace=namespace,
        capacity=2,
        lease_ttl=lease_ttl,
        op_timeout=0.3,
        recheck_interval=0.1,
    )
    try:
        line = await _read_line(holder)
        assert line.startswith("HELD")
        dead_tokens = [int(token) for token in line.split()[1:]]
        await survivor.open(OwnerInfo.current())
        with pytest.raises(SlotTimeoutError):
            await survivor.acquire_slot(timeout=0.1)
        waiting = asyncio.gather(*(survivor.acquire_slot(timeout=5) for _ in range(2)))
        holder.send_signal(signal.SIGKILL)
        # Both slots come back once the dead holder's leases lapse, within the waits' bound
        # (how soon after the TTL depends on scheduling, so no wall-clock assertion here).
        grants: list[Any] = await waiting
        assert min(grant.token for grant in grants) > max(dead_tokens)
    finally:
        if holder.poll() is None:
            holder.kill()
        holder.wait()
        await survivor.aclose()


if __name__ == "__main__":
    _worker(sys.argv[1:])
