from __future__ import annotations

import asyncio

import pytest

import bbre_async as b

from .conftest import PoolFactory
from .fakes import FakeBackend, ManualClock, caught_up, until


async def test_transient_create_failures_back_off_then_succeed(
    make_pool: PoolFactory, backend: FakeBackend, clock: ManualClock
) -> None:
    backend.create_failures.extend([b.ServiceError("boom", status=500)] * 2)
    async with make_pool(max_size=2, create_backoff=1.0, create_failures_to_surface=5) as pool:
        task = asyncio.create_task(pool.acquire(timeout=30).__aenter__())
        await until(lambda: pool.stats().failed_creates == 1)
        attempts = backend.creates_started
        # The retry waits on the clock for the jittered backoff, at most create_backoff away.
        await until(lambda: clock.next_pool_wake() <= clock.now() + 1.0)
        assert backend.creates_started == attempts  # no retry before the backoff passes
        assert pool.stats().creating == 0
        clock.advance(1.0)
        await until(lambda: pool.stats().failed_creates == 2)
        clock.advance(2.0)
        lease = await task
        assert lease.id in backend.active
        await lease.release()


async def test_persistent_failures_reach_one_waiter_at_a_time(
    make_pool: PoolFactory, backend: FakeBackend, clock: ManualClock
) -> None:
    backend.create_failures.extend(
        [b.InsufficientBalanceError("no money", status=402, code="INSUFFICIENT_BALANCE")] * 10
    )
    async with make_pool(max_size=1, create_backoff=0.5, create_failures_to_surface=2) as pool:
        first = asyncio.ensure_future(pool.acquire(timeout=30))
        await until(lambda: pool.stats().waiters == 1)  # the first in line
        second = asyncio.ensure_future(pool.acquire(timeout=30))
        await until(lambda: pool.stats().failed_creates == 1)
        clock.advance(1)
        await until(lambda: first.done())
        with pytest.raises(b.InsufficientBalanceError):
            await first
        assert not second.done()  # one failing create never fails every waiter
        backend.create_failures.clear()
        clock.advance(2)
        lease = await second
        await lease.release()


async def test_session_limit_shrinks_capacity_and_probes_back(
    make_pool: PoolFactory, backend: FakeBackend, clock: ManualClock
) -> None:
    foreign = backend.hold_foreign(7)
    async with make_pool(max_size=10, capacity_probe_backoff=5, idle_timeout=None) as pool:
        leases = await asyncio.gather(*(pool.acquire(timeout=60).__aenter__() for _ in range(3)))
        waiters = [asyncio.ensure_future(pool.acquire(timeout=1000)) for _ in range(5)]
        await until(lambda: pool.stats().capacity == 3)
        attempts = backend.creates_started
        # Maintenance counted the 7 foreign sessions, and sleeps until it counts again.
        await until(lambda: pool.stats().foreign == 7 and clock.sleeping_until(clock.now() + 5))
        assert backend.creates_started == attempts  # no retry storm while at the cap
        assert pool.stats().creating == 0
        assert backend.peak_active == 10
        for sid in foreign[:4]:
            del backend.active[sid]
        for _ in range(20):
            clock.advance(10)
            await caught_up(pool, clock)
        done = [w for w in waiters if w.done()]
        assert len(done) == 4  # capacity probed back up to the 7 the account allows now
        assert backend.peak_active <= 10
        for lease in [*leases, *(w.result() for w in done)]:
            await lease.release()
        waiters[-1].cancel()


async def test_a_lost_create_is_never_adopted_and_holds_its_slot_until_expiry(
    make_pool: PoolFactory, backend: FakeBackend, clock: ManualClock
) -> None:
    backend.lose_next_answers = 1
    async with make_pool(max_size=2, idle_timeout=None) as pool:
        waiting = asyncio.ensure_future(pool.acquire())
        await until(lambda: pool.stats().failed_creates == 1)
        clock.advance(1)  # past the create backoff
        async with await waiting as lease:
            assert lease.id == "s2"  # s1 may be another client's: never taken over
        stats = pool.stats()
        assert (stats.adopted, stats.unresolved, stats.size) == (0, 1, 2)
        assert "s1" not in backend.closes()  # nor closed: it cannot be proven ours
        for _ in range(40):  # past the longest life s1 can have
            clock.advance(10)
            await caught_up(pool, clock)
        await until(lambda: pool.stats().unresolved == 0)
        assert backend.peak_active <= 2
    assert backend.creates() == ["s1", "s2", *backend.creates()[2:]]


async def test_an_unreadable_2xx_create_is_closed_by_the_id_it_carried(
    make_pool: PoolFactory, backend: FakeBackend, clock: ManualClock
) -> None:
    backend.garble_next_answers = 1
    async with make_pool(max_size=2) as pool:
        waiting = asyncio.ensure_future(pool.acquire())
        await until(lambda: pool.stats().failed_creates == 1)
        clock.advance(1)  # past the create backoff
        async with await waiting as lease:
            assert lease.id == "s2"
        await until(lambda: "s1" in backend.closes())
        await until(lambda: pool.stats().unresolved == 0)
        assert pool.stats().size == 1
    assert backend.active == {}


async def test_a_request_that_loses_its_connection_retires_the_session(
    make_pool: PoolFactory, backend: FakeBackend
) -> None:
    async with make_pool(max_size=1) as pool:
        lease = await pool.acquire()
        sid = lease.id

        async def broken(*args: object, **kwargs: object) -> None:
            raise b.APIConnectionError("reset", outcome_unknown=True)

        lease.handle.request = broken
        with pytest.raises(b.APIConnectionError):
            await lease.get("https://t.test")
        await lease.release()
        await until(lambda: sid in backend.closes())


async def test_requests_through_one_lease_never_overlap(
    make_pool: PoolFactory, backend: FakeBackend
) -> None:
    backend.request_gate = asyncio.Event()
    async with make_pool(max_size=1) as pool, pool.acquire() as lease:
        calls = [asyncio.create_task(lease.get(f"https://t.test/{n}")) for n in range(3)]
        await until(lambda: sum(backend.in_flight.values()) == 1)  # one at the gate
        backend.request_gate.set()
        await asyncio.gather(*calls)
    assert backend.overlaps == 0
    assert backend.requests == 3


async def test_a_failed_close_gives_its_slot_back_at_the_sessions_expiry(
    make_pool: PoolFactory, backend: FakeBackend, clock: ManualClock
) -> None:
    async def failing_close(session_id: str, *, deadline: float | None = None) -> bool:
        raise b.ServiceError("close failed", status=500)

    async with make_pool(max_size=1, close_attempts=1, idle_timeout=None) as pool:
        lease = await pool.acquire()
        first = lease.id
        backend.close = failing_close  # type: ignore[method-assign]
        await lease.close()
        await until(lambda: pool.stats().held_until_expiry == 1)
        assert pool.stats().size == 1  # it may still be alive: its slot stays taken
        await clock.advance_to_rest(120)  # well before its expiry, past any close timeout
        assert pool.stats().size == 1
        clock.advance(181)  # past the session's expiry
        await until(lambda: pool.stats().size == 0)
        del backend.close  # the server works again
        async with pool.acquire() as fresh:
            assert fresh.id != first
