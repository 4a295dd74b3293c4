"""Cancel callers at every scheduling point of their pool calls; nothing may leak."""

from __future__ import annotations

import asyncio

import pytest

from bbre_async.pool import SessionPool

from .conftest import PoolFactory
from .fakes import FakeBackend, busy, call_after_turns, leave_mid_request, until


def check_invariants(pool: SessionPool, backend: FakeBackend) -> None:
    stats = pool.stats()
    live = len(pool.session_ids())
    assert (
        stats.size == live + stats.creating + stats.unresolved + stats.held_until_expiry
    )  # every reservation is a session or a create
    assert stats.size <= pool.config.max_size
    assert len(backend.active) <= pool.config.max_size
    assert stats.leased + stats.idle <= len(pool.session_ids())
    assert set(backend.active) <= set(pool.session_ids()) | {
        sid for sid in backend.active if sid in pool.session_ids()
    }


async def scenario(pool: SessionPool, n: int) -> None:
    async with pool.acquire() as lease:
        await lease.get(f"https://t.test/{n}")
        await lease.get(f"https://t.test/{n}/again")


@pytest.mark.parametrize("how", ["cancel", "timeout"])
async def test_cancel_at_every_point(
    make_pool: PoolFactory, backend: FakeBackend, how: str
) -> None:
    loop = asyncio.get_running_loop()
    async with make_pool(max_size=2) as pool:
        blocker = await pool.acquire()  # keeps the pool busy so waits happen too
        finished: list[int] = []  # the points the scenario ran to its end before
        for point in range(40):
            if point % 7 == 3:
                await blocker.release()
                blocker = await pool.acquire()

            async def run(point: int = point) -> None:
                if how == "timeout":
                    async with asyncio.timeout(None) as scope:
                        expire = call_after_turns(point + 1, lambda: scope.reschedule(loop.time()))
                        try:
                            await scenario(pool, point)
                        finally:
                            expire()
                else:
                    await scenario(pool, point)

            task = asyncio.create_task(run())
            stop = call_after_turns(point, task.cancel)  # the scheduling point to strike at
            try:
                await task
                finished.append(point)
            except (asyncio.CancelledError, TimeoutError):
                pass
            finally:
                stop()
            # the run's lease came back (its request may finish first), nothing is in flight
            await until(lambda: pool.stats().leased == 1 and busy(pool) == 0)
            check_invariants(pool, backend)
        # The sweep went past the scenario's end, so every point in it was struck.
        assert finished and finished[-1] == 39
        await blocker.release()
        await until(lambda: pool.stats().leased == 0)
        async with pool.acquire() as lease:  # still fully usable
            await lease.get("https://t.test/after")
    assert backend.active == {}
    assert backend.overlaps == 0


async def test_cancel_while_a_create_is_in_flight(
    make_pool: PoolFactory, backend: FakeBackend
) -> None:
    backend.create_gate = asyncio.Event()
    async with make_pool(max_size=2) as pool:
        task = asyncio.ensure_future(pool.acquire(timeout=30))
        await until(lambda: backend.creates_started == 1)  # held at the gate
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        backend.create_gate.set()
        await until(lambda: busy(pool) == 0)  # the create finished, its session placed
        check_invariants(pool, backend)
        assert pool.stats().idle == 1  # the session made for the cancelled caller is kept
    assert backend.active == {}


async def test_cancel_in_the_instant_a_session_is_handed_over(make_pool: PoolFactory) -> None:
    async with make_pool(max_size=1) as pool:
        held = await pool.acquire()
        waiter = asyncio.ensure_future(pool.acquire(timeout=30))
        second = asyncio.ensure_future(pool.acquire(timeout=30))
        await until(lambda: pool.stats().waiters == 2)  # queued in this order
        await held.release()  # hands the session to ``waiter``'s future...
        waiter.cancel()  # ...which is cancelled before it runs
        with pytest.raises(asyncio.CancelledError):
            await waiter
        lease = await asyncio.wait_for(second, 5)  # the session went on to the next waiter
        await lease.release()
        assert pool.stats().leased == 0


async def test_a_cancelled_request_finishes_and_returns_its_session(
    make_pool: PoolFactory, backend: FakeBackend
) -> None:
    backend.request_gate = asyncio.Event()
    async with make_pool(max_size=1) as pool:
        # e.g. asyncio.wait_for around the call timed out
        sid = await leave_mid_request(pool, backend, "https://t.test/slow")
        nxt = asyncio.ensure_future(pool.acquire())
        await until(lambda: nxt.done() or pool.stats().waiters == 1)
        assert not nxt.done()  # not handed on while its request still runs remotely
        backend.request_gate.set()
        fresh = await nxt
        assert fresh.id == sid  # the paid session was kept, not thrown away
        await fresh.release()
        assert backend.creates() == [sid] and backend.requests == 1
    assert backend.overlaps == 0
