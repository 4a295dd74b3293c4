"""Shared cap: three processes, one API key, each with its own pool on one Redis cap.

Each process runs a ``SessionPool(max_size=10, coordinator=RedisCoordinator(...))`` and 20
workers (60 in all, as in the utilization scenario); requests take 50 ms on the server and
sessions live 3 s (time scale 100), so slots keep changing hands between processes through
Redis. The baseline is the account's ideal, 10 sessions / 50 ms = 200 requests a second.
The server's own counters must show at most 10 sessions alive at once and no create refused
for the cap. Separately, the cost of the coordinator itself: ``acquire_slot`` +
``release_slot`` on an idle Redis, p50 over many calls.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

from bbre_async.coordination import OwnerInfo
from bbre_async.testing import RedisServer, redis_server_binary
from benchmarks._child import read_line, spawn, stop
from benchmarks._emulator_proc import EmulatorProcess
from benchmarks._runner import Result, Target, median, percentile, result, rounded, skipped

NAME = "shared_cap"
PROCESSES = 3
WORKERS = 20
CAP = 10
REQUEST_TIME = 0.05
IDEAL = CAP / REQUEST_TIME
WARMUP = 1.5


def _round(emu: EmulatorProcess, redis_url: str, duration: float) -> dict[str, Any]:
    emu.reset()
    namespace = f"bench{uuid.uuid4().hex}"
    children = [
        spawn("share", emu.base_url, redis_url, namespace, str(WORKERS), stdin=True)
        for _ in range(PROCESSES)
    ]
    try:
        for child in children:
            if read_line(child, 60.0) != "ready":
                raise RuntimeError("a sharing process did not report ready")
        start = time.time() + WARMUP
        for child in children:
            assert child.stdin is not None
            child.stdin.write(f"{start} {start + duration}\n".encode())
            child.stdin.flush()
        reports = [json.loads(read_line(child, duration + 60.0)) for child in children]
    finally:
        for child in children:
            stop(child)
    state = emu.state()
    return {
        "rate": sum(r["done"] for r in reports) / duration,
        "per_process": [r["done"] / duration for r in reports],
        "failed": sum(r["failed"] + r["failed_requests"] for r in reports),
        "failed_creates": sum(r["failed_creates"] for r in reports),
        "renewed": sum(r["renewed"] for r in reports),
        "peak": state["peak_active_sessions"],
        "cap_rejections": state["cap_rejections"],
    }


async def _coordinator_cost(redis_url: str, count: int) -> list[float]:
    from bbre_async.coordination._redis_coordinator import RedisCoordinator

    coordinator = RedisCoordinator.from_url(
        redis_url, namespace=f"bench{uuid.uuid4().hex}", capacity=CAP
    )
    await coordinator.open(OwnerInfo.current())
    try:
        for _ in range(50):
            await coordinator.release_slot(await coordinator.acquire_slot(1.0))
        samples = []
        for _ in range(count):
            began = time.perf_counter()
            grant = await coordinator.acquire_slot(1.0)
            await coordinator.release_slot(grant)
            samples.append(time.perf_counter() - began)
    finally:
        await coordinator.aclose()
    return samples


def run(quick: bool) -> list[Result]:
    binary = redis_server_binary()
    if binary is None:
        why = "no redis-server binary on PATH (apt-get install redis-server)"
        return [
            skipped(NAME, "aggregate utilization, 3 processes on one Redis cap", why),
            skipped(NAME, "RedisCoordinator acquire+release p50, ms", why),
        ]
    duration, reps = (1.0, 1) if quick else (10.0, 2)
    latency = {"session/request": REQUEST_TIME}
    with (
        RedisServer(binary) as redis,
        EmulatorProcess(cpu=0, time_scale=100.0, latency=latency) as emu,
    ):
        rounds = [_round(emu, redis.url, duration) for _ in range(reps)]
        samples = asyncio.run(_coordinator_cost(redis.url, 200 if quick else 3000))
    rate = median([r["rate"] for r in rounds])
    peak = max(r["peak"] for r in rounds)
    rejections = sum(r["cap_rejections"] for r in rounds)
    failed = sum(r["failed"] for r in rounds)
    clean = peak <= CAP and rejections == 0 and failed == 0
    p50_ms = 1000 * percentile(samples, 0.5)
    return [
        result(
            NAME,
            f"aggregate req/s ÷ ideal {IDEAL:g}: {PROCESSES} processes x {WORKERS} workers, "
            "one Redis cap",
            rate,
            IDEAL,
            target=Target(op=">=", bound=0.90),
            require=clean,
            notes=(
                f"server peak active {peak} (cap {CAP}), cap rejections {rejections}, "
                f"failed requests {failed}; req/s per process "
                f"{[round(x) for x in rounds[0]['per_process']]}"
            ),
            details={
                "duration_s": duration,
                "repetitions": reps,
                "rates": [rounded(r["rate"]) for r in rounds],
                "per_process_rates": [[rounded(x) for x in r["per_process"]] for r in rounds],
                "renewals": [r["renewed"] for r in rounds],
                "failed_creates": [r["failed_creates"] for r in rounds],
                "peak_active": [r["peak"] for r in rounds],
                "cap_rejections": [r["cap_rejections"] for r in rounds],
            },
        ),
        result(
            NAME,
            "RedisCoordinator acquire_slot+release_slot p50, ms (loopback Redis)",
            p50_ms,
            target=Target(op="<", bound=1.0, on="value"),
            notes=f"p99 {1000 * percentile(samples, 0.99):.2f} ms over {len(samples)} calls",
        ),
    ]
