from __future__ import annotations

import asyncio

import pytest

import bbre_async as b
import bbre_async.pool
from bbre_async.pool import EventKind, PoolEvent

from .conftest import PoolFactory
from .fakes import FakeBackend, ManualClock, until


async def test_acquire_creates_lazily_and_reuses(
    make_pool: PoolFactory, backend: FakeBackend
) -> None:
    async with make_pool(max_size=3) as pool:
        assert backend.creates() == []
        async with pool.acquire() as first:
            response = await first.get("https://t.test/a")
            first_id = first.id
        assert response.status_code == 200
        async with pool.acquire() as second:
            assert second.id == first_id
        stats = pool.stats()
        assert (stats.created, stats.requests, stats.idle, stats.leased) == (1, 1, 1, 0)
    assert backend.active == {}


async def test_a_released_lease_is_detached(make_pool: PoolFactory) -> None:
    async with make_pool() as pool:
        lease = await pool.acquire()
        await pool.release(lease)
        assert lease.released
        with pytest.raises(b.LeaseReleasedError):
            await lease.get("https://t.test")
        with pytest.raises(b.LeaseReleasedError):
            _ = lease.id
        await lease.release()  # a second release is harmless
        assert pool.stats().leased == 0


async def test_the_cap_holds_under_200_tasks(make_pool: PoolFactory, backend: FakeBackend) -> None:
    async with make_pool(max_size=10, acquire_timeout=30) as pool:
        leased_peak = 0

        async def work(n: int) -> None:
            nonlocal leased_peak
            async with pool.acquire() as lease:
                leased_peak = max(leased_peak, pool.stats().leased)
                await lease.get(f"https://t.test/{n}")

        await asyncio.gather(*(work(n) for n in range(200)))
        assert backend.requests == 200
        assert backend.peak_active <= 10
        assert leased_peak == 10
        assert backend.overlaps == 0
        assert pool.stats().size <= 10
    assert backend.active == {}


async def test_waiters_are_served_first_come_first_served(make_pool: PoolFactory) -> None:
    async with make_pool(max_size=1) as pool:
        holder = await pool.acquire()
        order: list[int] = []

        async def wait(n: int) -> None:
            async with pool.acquire():
                order.append(n)

        tasks = []
        for n in range(20):
            tasks.append(asyncio.create_task(wait(n)))
            await until(lambda: pool.stats().waiters == len(tasks))  # queued in this order
        await holder.release()
        await asyncio.gather(*tasks)
        assert order == list(range(20))


async def test_timeout_names_the_cap_users_and_waiters(
    make_pool: PoolFactory, clock: ManualClock
) -> None:
    async with make_pool(max_size=1) as pool:
        held = await pool.acquire()

        async def grab() -> b.pool.PooledSession:
            return await pool.acquire(timeout=5)

        other = asyncio.create_task(grab())
        await until(lambda: pool.stats().waiters == 1)
        late = asyncio.ensure_future(pool.acquire(timeout=0.01))
        # its deadline is a sleep on the manual clock: wait until that sleep is registered
        await until(lambda: clock.sleeping_until(clock.now() + 0.01))
        clock.advance(0.02)  # acquire timeouts run on the pool's clock
        with pytest.raises(b.PoolTimeoutError) as info:
            await late
        message = str(info.value)
        assert "cap 1/1" in message and "1 in use" in message and "1 other waiters" in message
        await held.release()
        lease = await other
        assert lease.id
        await lease.release()
        assert pool.stats().waiters == 0


async def test_min_ttl_is_respected(
    make_pool: PoolFactory, backend: FakeBackend, clock: ManualClock
) -> None:
    async with make_pool(max_size=2, renew_margin=30, idle_timeout=None) as pool:
        async with pool.acquire() as lease:
            old = lease.id
        # 100 s left: more than the 30 s margin, so no renewal yet
        await clock.advance_to_rest(200)
        async with pool.acquire(min_ttl=150) as lease:
            assert lease.id != old
            assert lease.remaining() >= 150
        async with pool.acquire(min_ttl=50) as lease:
            assert lease.id in {old, *backend.creates()}
            assert lease.remaining() >= 50


async def test_events_are_emitted(make_pool: PoolFactory) -> None:
    events: list[PoolEvent] = []
    async with make_pool() as pool:
        remove = pool.add_listener(events.append)
        async with pool.acquire() as lease:
            await lease.close()
        await until(lambda: any(e.kind is EventKind.CLOSED for e in events))
        remove()
    kinds = [e.kind for e in events]
    assert kinds[:2] == [EventKind.CREATED, EventKind.ACQUIRED]
    assert EventKind.RETIRED in kinds and EventKind.CLOSED in kinds


async def test_a_removed_listener_hears_nothing_more_and_the_others_still_hear(
    make_pool: PoolFactory,
) -> None:
    first: list[EventKind] = []
    second: list[EventKind] = []
    async with make_pool() as pool:
        remove_first = pool.add_listener(lambda e: first.append(e.kind))
        remove_second = pool.add_listener(lambda e: second.append(e.kind))
        remove_first()
        async with pool.acquire():
            pass
        assert EventKind.ACQUIRED in second and EventKind.RELEASED in second
        assert first == []
        remove_second()
        heard = len(second)
        async with pool.acquire():
            pass
        assert len(second) == heard
        pool.add_listener(lambda e: first.append(e.kind))  # listening again
        async with pool.acquire():
            pass
        assert first == [EventKind.ACQUIRED, EventKind.RELEASED]


async def test_a_failing_listener_does_not_break_the_pool(make_pool: PoolFactory) -> None:
    def boom(event: PoolEvent) -> None:
        raise RuntimeError("listener bug")

    async with make_pool() as pool:
        pool.add_listener(boom)
        async with pool.acquire() as lease:
            await lease.get("https://t.test")
        assert pool.stats().requests == 1


async def test_acquire_after_close_raises(make_pool: PoolFactory) -> None:
    pool = make_pool()
    await pool.open()
    await pool.aclose()
    with pytest.raises(b.PoolClosedError):
        await pool.acquire()


@pytest.mark.parametrize(
    "settings",
    [
        {"max_size": 11},
        {"max_size": 0},
        {"min_size": 3, "max_size": 2},
        {"renew_margin": -1},
        {"acquire_timeout": float("nan")},
    ],
)
def test_bad_settings_fail_at_construction(
    make_pool: PoolFactory, settings: dict[str, object]
) -> None:
    with pytest.raises((ValueError, TypeError)):
        make_pool(**settings)
