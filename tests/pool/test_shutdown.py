from __future__ import annotations

import asyncio

import pytest

import bbre_async as b

from .conftest import PoolFactory
from .fakes import FakeBackend, ManualClock, until


async def test_close_waits_for_held_leases_then_closes_everything(
    make_pool: PoolFactory, backend: FakeBackend, clock: ManualClock
) -> None:
    pool = make_pool(max_size=4)
    await pool.open()
    leases = [await pool.acquire() for _ in range(4)]
    await leases[0].release()
    closing = asyncio.create_task(pool.aclose(timeout=30))
    # the close waits on the pool's clock, up to its 30 s, for the held leases
    await until(lambda: clock.sleeping_until(clock.now() + 30))
    assert not closing.done()
    assert len(backend.active) == 4
    for lease in leases[1:]:
        await lease.get("https://t.test/finish")
        await lease.release()
    summary = await closing
    assert (summary.closed, summary.forced, summary.failed) == (4, False, [])
    assert backend.active == {}


async def test_close_cuts_off_leases_at_the_deadline(
    make_pool: PoolFactory, backend: FakeBackend, clock: ManualClock
) -> None:
    pool = make_pool(max_size=2)
    await pool.open()
    lease = await pool.acquire()
    closing = asyncio.ensure_future(pool.aclose(timeout=0.01))
    await until(lambda: clock.sleeping_until(clock.now() + 0.01))  # waiting for the lease
    clock.advance(0.02)  # the deadline runs on the pool's clock
    summary = await closing
    assert summary.forced and summary.closed == 1
    assert backend.active == {}
    with pytest.raises(b.PoolClosedError):
        await lease.get("https://t.test")
    await lease.release()


async def test_a_forgotten_lease_is_named_at_shutdown(
    make_pool: PoolFactory, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    pool = make_pool(max_size=2)
    await pool.open()
    taken = asyncio.Event()
    leases: list[b.PooledSession] = []

    async def forgetful() -> None:
        leases.append(await pool.acquire())  # and never released
        taken.set()

    await asyncio.create_task(forgetful(), name="forgetful-worker")
    await taken.wait()
    clock.advance(12.0)
    closing = asyncio.ensure_future(pool.aclose(timeout=5))
    await until(lambda: clock.sleeping_until(clock.now() + 5))
    clock.advance(5.0)
    summary = await closing
    assert summary.forced
    named = [r.getMessage() for r in caplog.records if leases[0].id in r.getMessage()]
    assert named and all("'forgetful-worker'" in m for m in named)
    assert "for 12.0s" in named[0]  # how long it had been held when the close began
    await leases[0].release()


async def test_waiters_get_pool_closed(make_pool: PoolFactory) -> None:
    pool = make_pool(max_size=1)
    await pool.open()
    held = await pool.acquire()
    waiter = asyncio.ensure_future(pool.acquire(timeout=30))
    await until(lambda: pool.stats().waiters == 1)
    closing = asyncio.create_task(pool.aclose(timeout=5))
    with pytest.raises(b.PoolClosedError):
        await waiter
    await held.release()
    await closing


async def test_close_is_idempotent_and_concurrent_calls_agree(
    make_pool: PoolFactory, backend: FakeBackend
) -> None:
    pool = make_pool()
    await pool.open()
    async with pool.acquire():
        pass
    first, second = await asyncio.gather(pool.aclose(), pool.aclose())
    assert first is second
    assert await pool.aclose() is first
    assert backend.closes() == ["s1"]


async def test_already_gone_counts_as_closed(make_pool: PoolFactory, backend: FakeBackend) -> None:
    pool = make_pool()
    await pool.open()
    async with pool.acquire() as lease:
        del backend.active[lease.id]  # expired on the server meanwhile
    summary = await pool.aclose()
    assert (summary.closed, summary.already_gone, summary.failed) == (0, 1, [])


async def test_failed_closes_are_reported(
    make_pool: PoolFactory, backend: FakeBackend, clock: ManualClock
) -> None:
    pool = make_pool(close_attempts=2, close_timeout=0.2)
    await pool.open()
    async with pool.acquire() as lease:
        sid = lease.id

    async def refuse(session_id: str, *, deadline: float | None = None) -> bool:
        raise b.ServiceError("down", status=500)

    backend.close = refuse  # type: ignore[method-assign]
    summary = await clock.autojump(pool.aclose())  # retries pause on the pool's clock
    assert summary.failed == [sid]


async def test_cancelled_close_still_closes_remote_sessions(
    make_pool: PoolFactory, backend: FakeBackend, clock: ManualClock
) -> None:
    pool = make_pool(max_size=2)
    await pool.open()
    held = await pool.acquire()
    closing = asyncio.create_task(pool.aclose(timeout=30))
    await until(lambda: clock.sleeping_until(clock.now() + 30))  # waiting for the held lease
    closing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await closing
    summary = await pool.aclose()  # the close went on by itself; this waits for it
    assert summary.forced  # the cancellation stopped the wait for the held lease
    assert backend.active == {}
    await held.release()


async def test_creates_in_flight_at_close_are_closed_on_arrival(
    make_pool: PoolFactory, backend: FakeBackend
) -> None:
    backend.create_gate = asyncio.Event()
    pool = make_pool(max_size=2)
    await pool.open()
    waiter = asyncio.ensure_future(pool.acquire(timeout=30))
    await until(lambda: backend.creates_started == 1)
    closing = asyncio.create_task(pool.aclose(timeout=1))
    await until(lambda: pool.state == "closing")
    backend.create_gate.set()
    await closing
    with pytest.raises(b.PoolClosedError):
        await waiter
    assert backend.creates() == ["s1"]
    assert backend.active == {}
