from __future__ import annotations

from .conftest import PoolFactory
from .fakes import FakeBackend, ManualClock, until


async def test_max_requests_per_session(make_pool: PoolFactory, backend: FakeBackend) -> None:
    async with make_pool(max_size=1, max_requests_per_session=3, idle_timeout=None) as pool:
        used: list[str] = []
        for n in range(7):
            async with pool.acquire() as lease:
                await lease.get(f"https://t.test/{n}")
                used.append(lease.id)
        assert [used.count(sid) for sid in dict.fromkeys(used)] == [3, 3, 1]
        await until(lambda: len(backend.closes()) == 2)


async def test_idle_sessions_above_min_size_are_closed(
    make_pool: PoolFactory, backend: FakeBackend, clock: ManualClock
) -> None:
    async with make_pool(max_size=4, min_size=1, idle_timeout=20) as pool:
        leases = [await pool.acquire() for _ in range(3)]
        for lease in leases:
            await lease.release()
        # A negative: maintenance wakes (a heartbeat is due) and looks at the idle sessions.
        await clock.advance_to_rest(10)
        assert backend.closes() == [] and pool.stats().retired == 0
        clock.advance(11)
        await until(lambda: len(backend.closes()) == 2)
        await until(lambda: pool.stats().closing == 0)
        assert len(backend.active) == 1  # min_size is kept
        assert pool.stats().idle == 1


async def test_min_size_is_prewarmed_and_kept(make_pool: PoolFactory, backend: FakeBackend) -> None:
    async with make_pool(max_size=5, min_size=3) as pool:
        assert len(backend.active) == 3
        async with pool.acquire() as lease:
            await lease.close()
        await until(lambda: len(backend.active) == 3 and pool.stats().idle == 3)


async def test_blocked_responses_retire_a_session(
    make_pool: PoolFactory, backend: FakeBackend
) -> None:
    backend.statuses["blocked"] = 403
    async with make_pool(max_size=1, max_consecutive_errors=2, idle_timeout=None) as pool:
        async with pool.acquire() as lease:
            first = lease.id
            await lease.get("https://t.test/blocked")
        async with pool.acquire() as lease:
            assert lease.id == first  # one block is not enough
            await lease.get("https://t.test/blocked")
        async with pool.acquire() as lease:
            assert lease.id != first
            await lease.get("https://t.test/fine")
        assert first in backend.closes()


async def test_a_success_resets_the_error_score(
    make_pool: PoolFactory, backend: FakeBackend
) -> None:
    backend.statuses["blocked"] = 429
    async with make_pool(max_size=1, max_consecutive_errors=2, idle_timeout=None) as pool:
        ids = set()
        for url in ("blocked", "fine", "blocked", "fine"):
            async with pool.acquire() as lease:
                await lease.get(f"https://t.test/{url}")
                ids.add(lease.id)
        assert len(ids) == 1


async def test_closing_a_lease_retires_and_replaces(
    make_pool: PoolFactory, backend: FakeBackend
) -> None:
    async with make_pool(max_size=1) as pool:
        async with pool.acquire() as lease:
            first = lease.id
            await lease.close()
        async with pool.acquire() as lease:
            assert lease.id != first
        assert first in backend.closes()


async def test_expire_all_replaces_by_generation(
    make_pool: PoolFactory, backend: FakeBackend
) -> None:
    async with make_pool(max_size=3, idle_timeout=None) as pool:
        held = await pool.acquire()
        idle = await pool.acquire()
        idle_id, held_id = idle.id, held.id
        await idle.release()
        pool.expire_all()
        await until(lambda: idle_id in backend.closes())
        assert held_id not in backend.closes()  # a leased session finishes its lease
        await held.get("https://t.test/still-works")
        await held.release()
        await until(lambda: held_id in backend.closes())
        async with pool.acquire() as lease:
            assert lease.id not in {idle_id, held_id}
        assert pool.stats().generation == 1
