"""Against the vendor docs' pattern: one session per task vs the pool.

The docs' way, per task: list the active sessions (``/account/sessions {status: active}``), if
fewer than 10 create a session, make the request, and close it in ``finally``. Written here
in asyncio with aiohttp, with the same 60 workers as the pool arm; a worker at the cap (the
listing says 10, or the create answers ``SESSION_LIMIT_REACHED``) backs off 0-100 ms and
tries again, a tight poll that favours the baseline's throughput. The pool arm: 60 workers,
``async with pool.acquire() as s: await s.get(url)``.

The same server serves both arms in turn. Two server profiles: "instant" (only the request
takes time, 50 ms; create, close and listing answer at once: the best case for the docs'
pattern) and "remote" (additionally a session create takes 500 ms to start a browser context,
a close 20 ms and a listing 20 ms). The emulator spends a create's delay before it checks
the cap, so a create that wins holds its slot only from its answer on: kinder to the
baseline than a server that reserves the slot while the browser starts. Money uses the
emulator's prices (0.01 per session, 0.005 per passive request) from its own charges.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from typing import Any

from benchmarks import _raw
from benchmarks._emulator_proc import EmulatorProcess, pinned_to_other_cores
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

NAME = "docs_pattern"
WORKERS = 60
CAP = 10
SESSION_LIFE = 300.0  # the pool's sessions live this long at time scale 1
PROFILES: dict[str, dict[str, float]] = {
    "instant": {"session/request": 0.05},
    "remote": {
        "session/request": 0.05,
        "session/create": 0.5,
        "session/close": 0.02,
        "account/sessions": 0.02,
    },
}


async def _docs_arm(base_url: str, duration: float, warmup: float) -> Load:
    rng = random.Random(7)
    async with _raw.raw_http(base_url) as http:

        async def backoff() -> None:
            await asyncio.sleep(rng.uniform(0.0, 0.1))

        async def task(_index: int) -> None:
            while True:
                if await _raw.active_count(http) >= CAP:
                    await backoff()
                    continue
                try:
                    session_id = await _raw.create_session(http)
                except _raw.RawError as error:
                    if error.code != "SESSION_LIMIT_REACHED":
                        raise
                    await backoff()
                    continue
                try:
                    await _raw.call(http, "/session/request", _raw.request_body(session_id))
                finally:
                    await _raw.close_session(http, session_id)
                return

        return await closed_loop(task, WORKERS, duration, warmup=warmup)


async def _pool_arm(base_url: str, duration: float, warmup: float) -> Load:
    async with bench_pool(base_url, max_size=CAP) as pool:
        return await closed_loop(pool_get(pool), WORKERS, duration, warmup=warmup)


def _measure(
    emu: EmulatorProcess, profile: str, duration: float, reps: int
) -> dict[str, list[tuple[Load, dict[str, Any]]]]:
    emu.set_latency(PROFILES[profile])
    warmup = 0.6 if profile == "remote" else 0.3

    def arm(fn: Callable[[str, float, float], Any]) -> Callable[[], tuple[Load, dict[str, Any]]]:
        def run() -> tuple[Load, dict[str, Any]]:
            emu.reset()
            load = asyncio.run(fn(emu.base_url, duration, warmup))
            return load, emu.state()

        return run

    return interleave({"docs": arm(_docs_arm), "pool": arm(_pool_arm)}, repetitions=reps, warmups=0)


def _per_thousand(state: dict[str, Any]) -> tuple[float, float]:
    """Sessions created and USD charged per 1,000 requests, from the server's counters."""
    requests = max(1, state["requests_total"])
    return 1000 * state["sessions_created"] / requests, 1000 * state["total_charged"] / requests


def run(quick: bool) -> list[Result]:
    duration, reps = (0.4, 1) if quick else (6.0, 2)
    with EmulatorProcess(cpu=0) as emu, pinned_to_other_cores(0):
        runs = {profile: _measure(emu, profile, duration, reps) for profile in PROFILES}
    out: list[Result] = []
    for profile, arms in runs.items():
        docs = median([load.rate for load, _ in arms["docs"]])
        pool = median([load.rate for load, _ in arms["pool"]])
        failed = sum(load.failed for v in arms.values() for load, _ in v)
        rejections = [state["cap_rejections"] for _, state in arms["docs"]]
        best_case = profile == "instant"
        out.append(
            result(
                NAME,
                f"req/s, pool ÷ docs' create-per-task, '{profile}' server ({WORKERS} workers)",
                pool,
                docs,
                ratio=paired_ratio(
                    [load.rate for load, _ in arms["pool"]],
                    [load.rate for load, _ in arms["docs"]],
                ),
                target=None if best_case else Target(op=">=", bound=5.0),
                require=failed == 0,
                notes=(
                    "informational: creating a session is free on this server, the docs' "
                    "pattern's best case"
                    if best_case
                    else "create 500 ms, close 20 ms, listing 20 ms, request 50 ms"
                ),
                details={
                    "profile": PROFILES[profile],
                    "docs_rates": [rounded(load.rate) for load, _ in arms["docs"]],
                    "pool_rates": [rounded(load.rate) for load, _ in arms["pool"]],
                    "docs_cap_rejections": rejections,
                    "docs_listing_calls": [
                        state["calls"].get("account/sessions", 0) for _, state in arms["docs"]
                    ],
                    "failed": failed,
                },
            )
        )
    arms = runs["remote"]
    docs_sessions = median([_per_thousand(state)[0] for _, state in arms["docs"]])
    pool_sessions = median([_per_thousand(state)[0] for _, state in arms["pool"]])
    docs_usd = median([_per_thousand(state)[1] for _, state in arms["docs"]])
    pool_usd = median([_per_thousand(state)[1] for _, state in arms["pool"]])
    pool_rate = median([load.rate for load, _ in arms["pool"]])
    steady = 1000 * CAP / (pool_rate * SESSION_LIFE) if pool_rate else float("nan")
    out.append(
        result(
            NAME,
            "sessions created per 1,000 requests, pool vs docs (ratio: times fewer)",
            pool_sessions,
            docs_sessions,
            ratio=docs_sessions / pool_sessions if pool_sessions else None,
            target=Target(op=">=", bound=20.0),
            notes=(
                f"USD per 1,000 requests: docs {docs_usd:.2f}, pool {pool_usd:.2f} "
                f"(session fees {docs_sessions * 0.01:.2f} vs {pool_sessions * 0.01:.3f}); "
                f"steady state with 300 s lives: {steady:.2f} sessions per 1,000"
            ),
            details={
                "run_seconds": duration,
                "usd_per_1000_docs": rounded(docs_usd),
                "usd_per_1000_pool": rounded(pool_usd),
                "pool_steady_state_sessions_per_1000": rounded(steady),
                "pool_steady_state_session_usd_per_1000": rounded(steady * 0.01),
                "price_session_create": 0.01,
                "price_session_request_passive": 0.005,
            },
        )
    )
    return out
