from __future__ import annotations

import asyncio
import functools

import pytest

from bbre_async import SessionExpiredError
from bbre_async.pool import EventKind, PoolEvent

from .conftest import PoolFactory
from .fakes import FakeBackend, ManualClock, caught_up, until


async def test_an_idle_session_is_replaced_before_it_expires(
    make_pool: PoolFactory, backend: FakeBackend, clock: ManualClock
) -> None:
    async with make_pool(max_size=3, renew_margin=30, renew_stagger=0, idle_timeout=None) as pool:
        async with pool.acquire() as lease:
            old = lease.id
        await clock.advance_to_rest(260)  # 40 s left: outside the margin
        assert backend.closes() == []
        clock.advance(15)  # 25 s left: inside
        await until(lambda: old in backend.closes())
        assert len(backend.creates()) == 2
        # Headroom existed, so the successor was made before the old one was closed.
        assert backend.calls.index(("create", backend.creates()[1])) < backend.calls.index(
            ("close", old)
        )
        async with pool.acquire() as lease:
            assert lease.id != old and lease.remaining() > 290
        assert pool.stats().renewed == 1


async def test_at_the_cap_renewal_closes_first(
    make_pool: PoolFactory, backend: FakeBackend, clock: ManualClock
) -> None:
    async with make_pool(max_size=2, renew_margin=30, renew_stagger=0, idle_timeout=None) as pool:
        first, second = await pool.acquire(), await pool.acquire()
        ids = {first.id, second.id}
        await first.release()
        await second.release()
        clock.advance(275)
        await until(lambda: len(backend.creates()) == 4)
        # Each successor was created only after an old session's close: never three at once.
        first_successor = min(
            i for i, call in enumerate(backend.calls) if call[0] == "create" and call[1] not in ids
        )
        first_close = min(backend.calls.index(("close", old)) for old in ids)
        assert first_close < first_successor
        assert backend.peak_active <= 2
        assert pool.stats().renewed == 2


async def test_renewals_are_staggered(
    make_pool: PoolFactory, backend: FakeBackend, clock: ManualClock
) -> None:
    async with make_pool(max_size=10, renew_margin=30, idle_timeout=None) as pool:
        leases = [await pool.acquire() for _ in range(10)]
        for lease in leases:
            await lease.release()
        renewed_at: list[float] = []
        pool.add_listener(
            lambda e: renewed_at.append(clock.now()) if e.kind is EventKind.RENEWED else None
        )
        clock.advance(250)
        await caught_up(pool, clock)
        for _ in range(40):
            clock.advance(1)
            await caught_up(pool, clock)  # this second's renewals are done
        assert len(renewed_at) == 10
        assert len(set(renewed_at)) >= 5  # not all in the same second


async def test_renewal_is_single_flight(
    make_pool: PoolFactory, backend: FakeBackend, clock: ManualClock
) -> None:
    async with make_pool(max_size=3, renew_margin=30, renew_stagger=0, idle_timeout=None) as pool:
        async with pool.acquire():
            pass
        backend.create_gate = asyncio.Event()
        clock.advance(280)
        await until(lambda: backend.creates_started == 2)  # the renewal, held at the gate
        # Maintenance wakes again (it never sleeps past a heartbeat) while the renewal is in
        # flight. A second renewal would have reserved its slot before maintenance is back
        # asleep: tasks start in the order they were spawned.
        await clock.advance_to_rest(pool.config.heartbeat_interval)
        assert backend.creates_started == 2  # one renewal in flight, not one per wake-up
        assert pool.stats().creating == 1
        backend.create_gate.set()
        await until(lambda: pool.stats().renewed == 1)


async def test_zero_failed_requests_across_generations(
    make_pool: PoolFactory, backend: FakeBackend, clock: ManualClock
) -> None:
    async with make_pool(max_size=4, renew_margin=30, idle_timeout=None) as pool:
        failures = 0
        stop = asyncio.Event()
        rounds = [0] * 12  # leases each worker has finished

        async def worker(n: int) -> None:
            nonlocal failures
            while not stop.is_set():
                async with pool.acquire() as lease:
                    try:
                        await lease.get(f"https://t.test/{n}")
                    except Exception:
                        failures += 1
                rounds[n] += 1
                await asyncio.sleep(0)

        def went_round(since: list[int]) -> bool:
            """Every worker finished a lease since ``since``: none holds one across two jumps."""
            return all(now > then for now, then in zip(rounds, since, strict=True))

        tasks = [asyncio.create_task(worker(n)) for n in range(12)]
        for _ in range(100):  # 100 x 10 s = 1,000 s: more than three session lives
            since = list(rounds)
            clock.advance(10)
            await until(functools.partial(went_round, since))
        stop.set()
        await asyncio.gather(*tasks)
        assert failures == 0
        assert backend.requests_on_dead == 0
        assert pool.stats().renewed >= 8
        assert backend.peak_active <= 4


async def test_cookies_are_carried_into_the_successor(
    make_pool: PoolFactory, backend: FakeBackend, clock: ManualClock
) -> None:
    async with make_pool(
        max_size=2, renew_margin=30, renew_stagger=0, carry_cookies=True, idle_timeout=None
    ) as pool:
        async with pool.acquire() as lease:
            await lease.get("https://t.test/login")
            old = lease.id
        clock.advance(280)
        await until(lambda: old in backend.closes())
        async with pool.acquire() as lease:
            assert lease.id != old
            assert lease.cookies["c-login"] == "1"
            await lease.get("https://t.test/next")
            await lease.get("https://t.test/after")
        sent = [cookies for sid, cookies in backend.sent_cookies if sid != old]
        assert sent[0] == {"c-login": "1"}  # the first request carries the old jar
        assert sent[1] == {}  # later ones rely on the new session's own jar


async def test_margins_adapt_to_a_short_grant(make_pool: PoolFactory, clock: ManualClock) -> None:
    backend = FakeBackend(clock, life=4.0)
    events: list[PoolEvent] = []
    async with make_pool(
        backend=backend, max_size=2, renew_margin=30, renew_stagger=0, idle_timeout=None
    ) as pool:
        pool.add_listener(events.append)
        async with pool.acquire() as lease:
            assert lease.remaining() == 4.0
        # maintenance plans the renewal at the adapted 1 s margin: 3 s into the 4 s life
        await until(lambda: clock.sleeping_until(clock.now() + 3.0))
        assert pool.stats().renewed == 0  # a 30 s margin on a 4 s life would renew forever
        clock.advance(3.1)  # inside the adapted 1 s margin
        await until(lambda: pool.stats().renewed == 1)
        # The successor gets the same margin: at the next heartbeat, maintenance plans its
        # renewal 3 s into its life, and nothing more was renewed meanwhile.
        successor_due = clock.now() + 3.0
        clock.advance(2.0)
        await until(lambda: clock.sleeping_until(successor_due))
        assert pool.stats().renewed == 1


async def test_a_session_that_expires_while_leased_is_retired_on_release(
    make_pool: PoolFactory, backend: FakeBackend, clock: ManualClock
) -> None:
    async with make_pool(max_size=2, idle_timeout=None) as pool:
        lease = await pool.acquire()
        sid = lease.id
        clock.advance(301)
        with pytest.raises(SessionExpiredError):
            await lease.get("https://t.test")
        assert backend.requests_on_dead == 0  # refused locally, never sent
        await lease.release()
        await until(lambda: sid in backend.closes() or sid not in pool.session_ids())
        async with pool.acquire() as fresh:
            assert fresh.id != sid
