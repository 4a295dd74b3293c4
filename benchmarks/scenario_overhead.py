"""Overhead: requests through ``pool.acquire()`` + ``session.get()`` vs raw aiohttp.

Both arms keep the same number of requests in flight (one per session, 10 sessions) against
one emulator process on its own core, and send the same ``/session/request`` body. The raw arm
creates its 10 sessions up front with raw POSTs, serializes each body once, and only parses
the answer's JSON and checks ``success``: the least a correct program does. A third arm, the
SDK's ``Session.get`` without the pool, splits the overhead between the client and the pool.

Two server times are measured. At 0 ms the client's CPU is the bottleneck, so the ratio is
the SDK's per-request CPU cost made visible (the strictest reading). At 5 ms (a fast API
call) the same CPU cost hides behind the wait, as it does against the real service, whose
requests take far longer. CPU microseconds per request are reported for every arm.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from bbre_async import BBREClient
from benchmarks import _raw
from benchmarks._emulator_proc import API_KEY, EmulatorProcess, pinned_to_other_cores
from benchmarks._load import Load, bench_pool, closed_loop, pool_get
from benchmarks._runner import (
    Result,
    Target,
    interleave,
    median,
    paired_ratio,
    result,
    rounded,
)

NAME = "overhead"
SESSIONS = 10
TARGET = Target(op=">=", bound=0.95)


async def _raw_arm(base_url: str, duration: float) -> Load:
    async with _raw.raw_http(base_url) as http:
        ids = [await _raw.create_session(http) for _ in range(SESSIONS)]
        bodies = [_raw.request_body(sid) for sid in ids]

        async def op(index: int) -> None:
            await _raw.call(http, "/session/request", bodies[index % SESSIONS])

        load = await closed_loop(op, SESSIONS, duration)
        for sid in ids:
            await _raw.close_session(http, sid)
    return load


async def _sdk_arm(base_url: str, duration: float) -> Load:
    async with BBREClient(api_key=API_KEY, base_url=base_url) as client:
        sessions = [await client.sessions.create() for _ in range(SESSIONS)]

        async def op(index: int) -> None:
            await sessions[index % SESSIONS].get(_raw.TARGET_URL)

        load = await closed_loop(op, SESSIONS, duration)
        for session in sessions:
            await session.close()
    return load


async def _pool_arm(base_url: str, duration: float) -> Load:
    async with bench_pool(base_url, max_size=SESSIONS, min_size=SESSIONS) as pool:
        return await closed_loop(pool_get(pool), SESSIONS, duration)


def _measure(emu: EmulatorProcess, latency: float, duration: float, reps: int) -> Result:
    emu.set_latency({"session/request": latency})
    url = emu.base_url

    def arm(fn: Callable[[str, float], Coroutine[Any, Any, Load]]) -> Callable[[], Load]:
        def run() -> Load:
            emu.reset()
            return asyncio.run(fn(url, duration))

        return run

    runs = interleave(
        {"raw": arm(_raw_arm), "sdk": arm(_sdk_arm), "pool": arm(_pool_arm)},
        repetitions=reps,
    )
    rate = {k: median([r.rate for r in v]) for k, v in runs.items()}
    cpu = {k: median([r.cpu_us_per_op for r in v]) for k, v in runs.items()}
    failed = sum(r.failed for v in runs.values() for r in v)
    bound = " (client-CPU-bound)" if latency == 0 else ""
    return result(
        NAME,
        f"req/s, pool ÷ raw aiohttp, 10 in flight, {latency * 1000:g} ms server time{bound}",
        rate["pool"],
        rate["raw"],
        ratio=paired_ratio([r.rate for r in runs["pool"]], [r.rate for r in runs["raw"]]),
        target=TARGET,
        notes=(
            f"CPU µs/request: raw {cpu['raw']:.0f}, SDK session without pool {cpu['sdk']:.0f}, "
            f"pool {cpu['pool']:.0f}; ratio: median of {reps} interleaved rounds"
        ),
        details={
            "server_latency_s": latency,
            "in_flight": SESSIONS,
            "repetitions": reps,
            "rate_raw": [rounded(r.rate) for r in runs["raw"]],
            "rate_sdk_session": [rounded(r.rate) for r in runs["sdk"]],
            "rate_pool": [rounded(r.rate) for r in runs["pool"]],
            "sdk_session_over_raw": rounded(rate["sdk"] / rate["raw"]),
            "cpu_us_per_request": {k: rounded(v) for k, v in cpu.items()},
            "pool_own_cpu_us_per_request": rounded(cpu["pool"] - cpu["sdk"]),
            "failed_requests": failed,
        },
    )


def run(quick: bool) -> list[Result]:
    duration, reps = (0.3, 2) if quick else (2.0, 5)
    with EmulatorProcess(cpu=0) as emu, pinned_to_other_cores(0):
        return [_measure(emu, latency, duration, reps) for latency in (0.0, 0.005)]
