"""Utilization: how close 60 workers on a 10-session pool get to the account's ceiling.

Each request takes 50 ms on the server, so 10 sessions serve at most 10 / 0.05 = 200
requests a second: that ideal is the baseline, and no client can beat it. Sessions live 3 s
(300 s at time scale 100), so every session is renewed several times during the run and the
renewals' cost is inside the number. The count starts after a short warm-up (the pool grows
on demand from zero sessions, as a user's pool does).

What this machine's loopback allows is measured alongside: raw aiohttp with 10 fixed
sessions, one request in flight on each, no renewals (runs shorter than a session's life).
The gap between that ceiling and 200 is the emulator's and the network's, not the pool's, so
the target is on the pool's rate against that ceiling, measured in the same run; the ratio
to the ideal is reported beside it.
"""

from __future__ import annotations

import asyncio
from typing import Any

from benchmarks import _raw
from benchmarks._emulator_proc import EmulatorProcess, pinned_to_other_cores
from benchmarks._load import Load, bench_pool, closed_loop, pool_get
from benchmarks._runner import Result, Target, interleave, median, result, rounded

NAME = "utilization"
SESSIONS = 10
WORKERS = 60
REQUEST_TIME = 0.05
TIME_SCALE = 100.0
IDEAL = SESSIONS / REQUEST_TIME
RAW_WINDOW = 2.0  # shorter than a session's 3 s life: the raw arm never renews


async def _pool_run(base_url: str, duration: float) -> tuple[Load, dict[str, float]]:
    async with bench_pool(base_url, max_size=SESSIONS, idle_timeout=None) as pool:
        load = await closed_loop(pool_get(pool), WORKERS, duration, warmup=0.5)
        stats = pool.stats()
    return load, {
        "renewed": stats.renewed,
        "created": stats.created,
        "failed_requests": stats.failed_requests,
        "acquire_wait_p50_ms": 1000 * stats.acquire_wait_p50,
        "acquire_wait_p99_ms": 1000 * stats.acquire_wait_p99,
    }


async def _raw_ceiling(base_url: str) -> Load:
    async with _raw.raw_http(base_url) as http:
        ids = [await _raw.create_session(http) for _ in range(SESSIONS)]
        bodies = [_raw.request_body(sid) for sid in ids]

        async def op(index: int) -> None:
            await _raw.call(http, "/session/request", bodies[index])

        load = await closed_loop(op, SESSIONS, RAW_WINDOW)
        for sid in ids:
            await _raw.close_session(http, sid)
    return load


def run(quick: bool) -> list[Result]:
    duration, reps = (1.0, 1) if quick else (12.0, 3)
    pool_runs: list[tuple[Load, dict[str, float]]] = []
    server: dict[str, int] = {"peak": 0, "cap_rejections": 0, "on_expired": 0, "on_closed": 0}
    latency = {"session/request": REQUEST_TIME}
    with EmulatorProcess(cpu=0, time_scale=TIME_SCALE, latency=latency) as emu:

        def pool_arm() -> Load:
            emu.reset()
            load, stats = asyncio.run(_pool_run(emu.base_url, duration))
            state = emu.state()
            pool_runs.append((load, stats))
            server["peak"] = max(server["peak"], state["peak_active_sessions"])
            server["cap_rejections"] += state["cap_rejections"]
            server["on_expired"] += state["requests_on_expired"]
            server["on_closed"] += state["requests_on_closed"]
            return load

        def raw_arm() -> Load:
            emu.reset()
            return asyncio.run(_raw_ceiling(emu.base_url))

        with pinned_to_other_cores(0):
            runs = interleave({"pool": pool_arm, "raw": raw_arm}, repetitions=reps, warmups=0)
    rate = median([r.rate for r in runs["pool"]])
    ceiling = median([r.rate for r in runs["raw"]])
    failed = sum(load.failed + int(stats["failed_requests"]) for load, stats in pool_runs)
    renewals = median([stats["renewed"] for _, stats in pool_runs])
    clean = failed == 0 and server["on_expired"] == 0 and server["on_closed"] == 0
    details: dict[str, Any] = {
        "duration_s": duration,
        "repetitions": reps,
        "pool_rates": [rounded(r.rate) for r in runs["pool"]],
        "raw_ceiling_rates": [rounded(r.rate) for r in runs["raw"]],
        "pool_over_raw_ceiling": rounded(rate / ceiling),
        "renewals_per_run": [stats["renewed"] for _, stats in pool_runs],
        "failed_requests": failed,
        "server": server,
        "pool_stats": [{k: rounded(v) for k, v in stats.items()} for _, stats in pool_runs],
    }
    notes = f"renewals/run {renewals:.0f}, failed requests {failed}"
    return [
        result(
            NAME,
            f"req/s ÷ raw aiohttp's ceiling here (10 sessions x 50 ms, {WORKERS} workers, "
            "3 s lives)",
            rate,
            ceiling,
            target=Target(op=">=", bound=0.95),
            require=clean,
            notes=f"{notes}; the ceiling: raw aiohttp, 10 fixed sessions, no renewals",
            details=details,
        ),
        result(
            NAME,
            f"req/s ÷ ideal {IDEAL:g} (10 sessions x 50 ms; no client can beat it)",
            rate,
            IDEAL,
            notes=(
                f"informational: raw aiohttp reaches {ceiling / IDEAL:.3f} of the ideal on this "
                f"loopback; {notes}"
            ),
        ),
    ]
