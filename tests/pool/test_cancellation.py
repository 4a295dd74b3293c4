"""Cancel callers at every scheduling point of their pool calls; nothing may leak."""

from __future__ import annotations

import asyncio

import pytest

from bbre_async.pool import SessionPool

from .conftest import PoolFactory
from .fakes import FakeBackend, settle, until


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
    async with make_pool(max_size=2) as pool:
        blocker = await pool.acquire()  # keeps the pool busy so waits happen too
        for point in range(40):
            if point % 7 == 3:
                await blocker.release()
                blocker = await pool.acquire()

            async def run(point: int = point) -> None:
                if how == "timeout":
                    async with asyncio.timeout(None) as scope:
                        loop = asyncio.get_running_loop()
                        asyncio.get_running_loop().call_soon(lambda: None)
                        handle = _expire_after(loop, scope, point)
                        try:
                            await scenario(pool, point)
                        finally:
                            handle.cancel()
                else:
                    await scenario(pool, point)

            task = asyncio.create_task(run())
            await settle(point)
            task.cancel()
            try:
                await task
            except (asyncio.CancelledError, TimeoutError):
                pass
            await settle()
            check_invariants(pool, backend)
        await blocker.release()
        await settle()
        assert pool.stats().leased == 0
        async with pool.acquire() as lease:  # still fully usable
            await lease.get("https://t.test/after")
    assert backend.active == {}
    assert backend.overlaps == 0


def _expire_after(
    loop: asyncio.AbstractEventLoop, scope: asyncio.Timeout, rounds: int
) -> asyncio.Handle:
    """Make ``scope`` expire after ``rounds`` loop iterations."""
    state = {"left": rounds}

    def tick() -> None:
        if state["left"] <= 0:
            scope.reschedule(loop.time())
            return
        state["left"] -= 1
        holder[0] = loop.call_soon(tick)

    holder = [loop.call_soon(tick)]

    class _Cancel(asyncio.Handle):
        pass

    return _HandleProxy(holder)  # type: ignore[return-value]


class _HandleProxy:
    def __init__(self, holder: list[asyncio.Handle]) -> None:
        self._holder = holder

    def cancel(self) -> None:
        self._holder[0].cancel()


async def test_cancel_while_a_create_is_in_flight(
    make_pool: PoolFactory, backend: FakeBackend
) -> None:
    backend.create_gate = asyncio.Event()
    async with make_pool(max_size=2) as pool:
        task = asyncio.ensure_future(pool.acquire(timeout=30))
        await settle()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        backend.create_gate.set()
        await settle()
        check_invariants(pool, backend)
        assert pool.stats().idle == 1  # the session made for the cancelled caller is kept
    assert backend.active == {}


async def test_cancel_in_the_instant_a_session_is_handed_over(make_pool: PoolFactory) -> None:
    async with make_pool(max_size=1) as pool:
        held = await pool.acquire()
        waiter = asyncio.ensure_future(pool.acquire(timeout=30))
        second = asyncio.ensure_future(pool.acquire(timeout=30))
        await settle()
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
        lease = await pool.acquire()
        sid = lease.id
        request = asyncio.create_task(lease.get("https://t.test/slow"))
        await until(lambda: backend.in_flight.get(sid) == 1)
        request.cancel()  # e.g. asyncio.wait_for around the call timed out
        with pytest.raises(asyncio.CancelledError):
            await request
        await lease.release()
        nxt = asyncio.ensure_future(pool.acquire())
        await settle()
        assert not nxt.done()  # not handed on while its request still runs remotely
        backend.request_gate.set()
        fresh = await nxt
        assert fresh.id == sid  # the paid session was kept, not thrown away
        await fresh.release()
        assert backend.creates() == [sid] and backend.requests == 1
    assert backend.overlaps == 0
