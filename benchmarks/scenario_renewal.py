"""Renewal: five minutes of a busy pool, compressed 100x (sessions live 3 s instead of 300 s).

60 workers keep 10 sessions busy (50 ms requests), so every session is due for renewal while
it is in demand. Measured: failed requests (any error a worker saw, and the pool's count),
and the share of slot time lost to renewal. The pool replaces a session at the cap by closing
it and then creating its successor; the slot has no usable session from the moment the old
one is retired ("renewed at the cap" in the pool's events) until the next session is created.
Lost share = sum of those gaps / (10 slots x run time), in percent.

Cross-check, the throughput way: the same load against a server whose sessions live 300 s
(no renewal in the run), interleaved with the renewing runs: 1 - rate_with / rate_without.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bbre_async.pool import SessionPool
from bbre_async.pool._events import EventKind, PoolEvent
from benchmarks._emulator_proc import EmulatorProcess, pinned_to_other_cores
from benchmarks._load import Load, bench_pool, closed_loop, pool_get
from benchmarks._runner import Result, Target, interleave, median, result, rounded

NAME = "renewal"
SESSIONS = 10
WORKERS = 60
REQUEST_TIME = 0.05
WINDOW = 3.0  # 300 s of emulated time at 100x
WARMUP = 0.5


class SlotGaps:
    """Integrates the time slots spend between a retire-for-renewal and the next create."""

    def __init__(self) -> None:
        self.open: list[float] = []
        self.gaps: list[float] = []
        self.renewals = 0

    def __call__(self, event: PoolEvent) -> None:
        now = time.perf_counter()
        if event.kind is EventKind.RENEWED:
            self.renewals += 1
        elif event.kind is EventKind.RETIRED and event.detail == "renewed at the cap":
            self.open.append(now)
        elif event.kind is EventKind.CREATED and self.open:
            self.gaps.append(now - self.open.pop(0))


async def _run(base_url: str, window: float) -> tuple[Load, dict[str, Any]]:
    gaps = SlotGaps()
    pool: SessionPool
    async with bench_pool(base_url, max_size=SESSIONS, idle_timeout=None) as pool:
        pool.add_listener(gaps)
        load = await closed_loop(pool_get(pool), WORKERS, window, warmup=WARMUP)
        stats = pool.stats()
    slot_time = SESSIONS * (window + WARMUP)
    return load, {
        "renewed": stats.renewed,
        "failed_requests": stats.failed_requests + load.failed,
        "lost_percent": 100 * sum(gaps.gaps) / slot_time,
        "gaps_ms_max": 1000 * max(gaps.gaps, default=0.0),
        "gaps_ms_median": 1000 * median(gaps.gaps) if gaps.gaps else 0.0,
        "gaps": len(gaps.gaps),
    }


def run(quick: bool) -> list[Result]:
    reps = 1 if quick else 3
    scale = 200.0 if quick else 100.0  # one 300 s life per window either way
    window = WINDOW * 100.0 / scale
    latency = {"session/request": REQUEST_TIME}
    renewing = EmulatorProcess(cpu=0, time_scale=scale, latency=latency)
    steady = EmulatorProcess(cpu=0, time_scale=1.0, latency=latency)
    with renewing, steady, pinned_to_other_cores(0):

        def arm(emu: EmulatorProcess) -> Any:
            def go() -> tuple[Load, dict[str, Any], dict[str, Any]]:
                emu.reset()
                load, info = asyncio.run(_run(emu.base_url, window))
                return load, info, emu.state()

            return go

        runs = interleave(
            {"renewing": arm(renewing), "steady": arm(steady)}, repetitions=reps, warmups=0
        )
    with_renewal = runs["renewing"]
    failed = sum(info["failed_requests"] for _, info, _ in with_renewal)
    on_dead = sum(s["requests_on_expired"] + s["requests_on_closed"] for _, _, s in with_renewal)
    lost = median([info["lost_percent"] for _, info, _ in with_renewal])
    rate_with = median([load.rate for load, _, _ in with_renewal])
    rate_without = median([load.rate for load, _, _ in runs["steady"]])
    renewals = [info["renewed"] for _, info, _ in with_renewal]
    return [
        result(
            NAME,
            f"failed requests in 300 s-equivalent runs at {scale:.0f}x (60 workers, 10 sessions)",
            failed + on_dead,
            target=Target(op="==", bound=0, on="value"),
            notes=f"renewals per run {renewals}; requests on expired/closed sessions {on_dead}",
            details={"repetitions": reps, "renewals": renewals},
        ),
        result(
            NAME,
            "slot time lost to renewal, % (from pool events)",
            lost,
            target=Target(op="<", bound=2.0, on="value"),
            notes=(
                f"throughput cross-check: 1 - {rate_with:.1f}/{rate_without:.1f} req/s = "
                f"{100 * (1 - rate_with / rate_without):.2f}%"
            ),
            details={
                "lost_percent_per_run": [
                    rounded(info["lost_percent"]) for _, info, _ in with_renewal
                ],
                "gap_ms_median": [rounded(info["gaps_ms_median"]) for _, info, _ in with_renewal],
                "gap_ms_max": [rounded(info["gaps_ms_max"]) for _, info, _ in with_renewal],
                "rate_with_renewal": [rounded(load.rate) for load, _, _ in with_renewal],
                "rate_without_renewal": [rounded(load.rate) for load, _, _ in runs["steady"]],
                "throughput_loss": rounded(1 - rate_with / rate_without),
            },
        ),
    ]
