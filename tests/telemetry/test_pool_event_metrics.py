"""The metrics that come from pool events, not snapshots: the acquire-wait histogram (the
ACQUIRED event carries the wait) and close failures (the CLOSE_FAILED event), read back from
the in-memory reader. The fake server and the manual clock make both exact."""

from __future__ import annotations

import asyncio

from bbre_async import ServiceError
from bbre_async.pool import EventKind, PoolEvent, SessionPool
from bbre_async.telemetry import instrument_pool
from tests.pool.fakes import FakeBackend, ManualClock
from tests.waiting import eventually

from .metrics_reading import Point, collect, in_memory, value


def histogram(points: list[Point], name: str) -> Point:
    [point] = [p for p in points if p.name == name]
    return point


async def test_acquire_wait_and_close_failures_are_recorded() -> None:
    provider, reader = in_memory()
    clock = ManualClock()
    backend = FakeBackend(clock)
    backend.create_gate = asyncio.Event()
    pool = SessionPool(
        backend,
        clock=clock,
        ledger_path=None,
        max_size=1,
        close_attempts=1,
        acquire_timeout=3600,
        handle_signals=False,
    )
    instrument_pool(pool, meter_provider=provider, pool_id="p")
    events: list[PoolEvent] = []
    acquired = asyncio.Event()
    closed_or_failed = asyncio.Event()

    def listen(event: PoolEvent) -> None:
        events.append(event)
        if event.kind is EventKind.ACQUIRED:
            acquired.set()
        if event.kind in (EventKind.CLOSED, EventKind.CLOSE_FAILED):
            closed_or_failed.set()

    pool.add_listener(listen)
    await pool.open()
    try:
        waiting = asyncio.ensure_future(pool.acquire(timeout=3600))
        # the create is on its way, held at the gate
        await eventually(lambda: backend.creates_started > 0, what="a create started")
        clock.advance(2.5)
        backend.create_gate.set()
        lease = await asyncio.wait_for(waiting, 30)
        session_id = lease.id
        assert acquired.is_set()
        [acquire_event] = [e for e in events if e.kind is EventKind.ACQUIRED]
        assert acquire_event.waited == 2.5

        backend.close_failures.append(ServiceError("close failed", status=500))
        await lease.close()  # retire: the pool closes it, and that close fails
        await asyncio.wait_for(closed_or_failed.wait(), 30)
        assert events[-1].kind is EventKind.CLOSE_FAILED
        assert events[-1].session_id == session_id
        points = collect(reader)
        wait = histogram(points, "bbre.pool.acquire.wait")
        assert (wait.value, wait.total) == (1, 2.5)
        assert value(points, "bbre.pool.close_failures", **{"bbre.pool.id": "p"}) == 1
        assert pool.stats().held_until_expiry == 1
    finally:
        await pool.aclose(timeout=0)
