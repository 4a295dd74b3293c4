"""The map at scale: 20,000 items (5,000 in the default suite) over 10 sessions against an
emulator with 3 % faults and short session lives, while sessions are also closed behind the
pool's back.

Every item has exactly one outcome, session-loss items were retried, the input is pulled
only a bounded window ahead (memory stays flat), and the pool's metrics read back from the
OpenTelemetry SDK's in-memory reader match the emulator's own counters.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Iterator

import pytest

from bbre_async import (
    APIConnectionError,
    BBREClient,
    BBREError,
    PooledSession,
    ServiceError,
    SessionClosedError,
    SessionPool,
)
from bbre_async.telemetry import instrument_pool
from tests.telemetry.metrics_reading import collect, in_memory, value

from .emulator_process import emulator_process, resident_kib

SESSIONS = 10
RETRIES = 3


async def fetch(session: PooledSession, url: str) -> int:
    response = await session.get(url)
    return response.status_code


async def close_sessions_behind_the_pools_back(
    client: BBREClient, stop: asyncio.Event, closed: list[str]
) -> None:
    """What a vendor-side loss looks like to the pool: active sessions closed by someone else."""
    rng = random.Random(20)
    while not stop.is_set():
        active = [info.id async for info in client.account.sessions(status="active")]
        if active:
            victim = rng.choice(active)
            try:
                await client.sessions.close(victim)
                closed.append(victim)
            except BBREError:
                pass  # already gone, or a fault: the next round tries again
        try:
            async with asyncio.timeout(0.25):
                await stop.wait()
        except TimeoutError:
            pass


@pytest.mark.timeout(900)
@pytest.mark.parametrize(
    "items", [2_000, pytest.param(20_000, marks=pytest.mark.soak, id="20000")], ids=str
)
async def test_every_item_gets_one_outcome_and_metrics_match_the_server(items: int) -> None:
    faults = ["--fault", "500=0.02", "--fault", "drop=0.01", "--fault-endpoint", "session/request"]
    async with emulator_process("--time-scale", "30", *faults) as emulator:  # 10 s lives
        provider, reader = in_memory()
        pulled = consumed = ahead = 0
        rss: dict[int, int] = {}

        def urls() -> Iterator[str]:
            nonlocal pulled, ahead
            for n in range(items):
                pulled += 1
                ahead = max(ahead, pulled - consumed)
                yield f"https://shop.test/item/{n}"

        outcomes: dict[int, tuple[bool, int, str]] = {}
        duplicates = 0
        closed_by_others: list[str] = []
        async with (
            BBREClient(api_key="test-key", base_url=emulator.base_url) as client,
            BBREClient(api_key="test-key", base_url=emulator.base_url) as other,
        ):
            pool = SessionPool(
                client, max_size=SESSIONS, ledger_path=None, idle_timeout=None, acquire_timeout=120
            )
            instrument_pool(pool, meter_provider=provider, pool_id="scale")
            stop = asyncio.Event()
            async with pool:
                chaos = asyncio.create_task(
                    close_sessions_behind_the_pools_back(other, stop, closed_by_others)
                )
                async with pool.map(fetch, urls(), retries=RETRIES) as run:
                    async for outcome in run:
                        consumed += 1
                        if outcome.index in outcomes:
                            duplicates += 1
                        error = outcome.error
                        outcomes[outcome.index] = (
                            error is None,
                            outcome.attempts,
                            "" if error is None else type(error).__name__,
                        )
                        if consumed in (items // 4, items):
                            rss[consumed] = resident_kib()
                stop.set()
                await chaos
            points = collect(reader)
            renewed = pool.stats().renewed
        state = emulator.state()

    errors = Counter(kind for ok, _, kind in outcomes.values() if not ok)
    print(  # shown with -s: the run's numbers, for the record
        f"errors {dict(errors)}; "
        f"retried items {sum(1 for _, a, _ in outcomes.values() if a > 1)}; "
        f"closed by others {len(closed_by_others)}; rss KiB {rss}; window ahead {ahead}; "
        f"server: created {state['sessions_created']}, requests {state['requests_total']}, "
        f"on closed {state['requests_on_closed']}, on expired {state['requests_on_expired']}, "
        f"faults {state['faults']}"
    )
    # exactly one outcome per item, none lost
    assert duplicates == 0 and sorted(outcomes) == list(range(items))
    assert run.progress.finished == items and run.progress.in_flight == 0
    # only the injected faults end as errors: session loss is retried, and is an item's outcome
    # only when every one of its tries met a lost session (the pool learns of a session closed
    # behind its back when a request fails on it; on a slow machine several may be waiting)
    gone = SessionClosedError.__name__
    assert set(errors) <= {ServiceError.__name__, APIConnectionError.__name__, gone}, errors
    assert all(a == RETRIES + 1 for _, a, kind in outcomes.values() if kind == gone), errors
    assert errors[gone] <= 0.01 * items, errors
    assert sum(errors.values()) <= 0.06 * items
    retried = [attempts for ok, attempts, _ in outcomes.values() if attempts > 1]
    assert closed_by_others and state["requests_on_closed"] >= 1
    assert len(retried) >= state["requests_on_closed"] // 2, (len(retried), state)
    # memory stays flat: the input is pulled a bounded window ahead, the process does not grow
    assert ahead <= 2 * SESSIONS + 1
    assert rss[items] - rss[items // 4] < 40 * 1024, rss
    # the server's word
    assert state["peak_active_sessions"] <= SESSIONS and state["active_sessions"] == 0
    assert value(points, "bbre.pool.sessions.created") == state["sessions_created"]
    served = value(points, "bbre.pool.requests", outcome="ok")
    refused = state["requests_on_closed"] + state["requests_on_expired"]
    assert served == state["requests_total"] - refused
    assert served == sum(1 for ok, _, _ in outcomes.values() if ok)
    assert value(points, "bbre.pool.sessions.renewed") == renewed
    attempts_made = sum(attempts for _, attempts, _ in outcomes.values())
    assert value(points, "bbre.pool.lease.duration") == attempts_made  # one lease per attempt
