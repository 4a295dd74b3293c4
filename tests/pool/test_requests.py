"""Requests through a lease: one at a time per session, and a caller that leaves mid-request
neither cuts the request off nor throws the paid session away, within ``request_grace``."""

from __future__ import annotations

import asyncio

from bbre_async import APIConnectionError

from .conftest import PoolFactory
from .fakes import FakeBackend, ManualClock, idle, leave_mid_request, until


async def test_requests_through_one_lease_run_one_at_a_time(
    make_pool: PoolFactory, backend: FakeBackend
) -> None:
    backend.request_gate = asyncio.Event()
    async with make_pool(max_size=1) as pool, pool.acquire() as lease:
        calls = [asyncio.ensure_future(lease.get(f"https://t.test/{n}")) for n in range(3)]
        await until(lambda: backend.in_flight.get(lease.id) == 1)
        backend.request_gate.set()
        responses = await asyncio.gather(*calls)
        assert [r.body for r in responses] == [f"https://t.test/{n}" for n in range(3)]
    assert backend.overlaps == 0 and backend.requests == 3


async def test_a_request_may_outlast_request_grace_while_its_caller_waits(
    make_pool: PoolFactory, backend: FakeBackend, clock: ManualClock
) -> None:
    backend.request_gate = asyncio.Event()
    async with make_pool(max_size=1, request_grace=5.0) as pool:
        async with pool.acquire() as lease:
            sid = lease.id
            call = asyncio.ensure_future(lease.get("https://t.test/slow"))
            await until(lambda: backend.in_flight.get(sid) == 1)
            clock.advance(20.0)  # four times the grace, with the caller still waiting
            await idle()
            assert not call.done() and backend.in_flight[sid] == 1
            backend.request_gate.set()
            assert (await call).status_code == 200
        async with pool.acquire() as again:
            assert again.id == sid  # kept: nothing about it was in doubt
    assert backend.creates() == [sid]


async def test_a_request_outliving_its_grace_after_the_caller_left_is_cut_off(
    make_pool: PoolFactory, backend: FakeBackend, clock: ManualClock
) -> None:
    backend.request_gate = asyncio.Event()  # the request never ends on its own
    async with make_pool(max_size=1, request_grace=5.0) as pool:
        sid = await leave_mid_request(pool, backend, "https://t.test/hung")
        clock.advance(4.0)
        await idle()
        assert backend.in_flight[sid] == 1  # within the grace: still running
        clock.advance(1.0)
        await until(lambda: backend.in_flight[sid] == 0)  # the grace is over: cut off
        fresh = await clock.autojump(pool.acquire())
        assert fresh.id != sid  # its fate on the server is unknown: never handed on
        await fresh.release()
        await until(lambda: sid in backend.closes())
        assert pool.stats().requests == 0  # a request cut off is not counted as served


async def test_a_request_that_fails_after_its_caller_left_retires_its_session(
    make_pool: PoolFactory, backend: FakeBackend, clock: ManualClock
) -> None:
    backend.request_gate = asyncio.Event()
    backend.request_failures.append(APIConnectionError("reset", outcome_unknown=True))
    async with make_pool(max_size=1) as pool:
        sid = await leave_mid_request(pool, backend, "https://t.test/doomed")
        backend.request_gate.set()
        fresh = await clock.autojump(pool.acquire())
        assert fresh.id != sid  # the connection broke: the request may still run remotely
        await fresh.release()
        await until(lambda: sid in backend.closes())
        assert pool.stats().failed_requests == 1


async def test_a_request_that_finishes_after_its_caller_left_is_counted(
    make_pool: PoolFactory, backend: FakeBackend
) -> None:
    backend.request_gate = asyncio.Event()
    async with make_pool(max_size=1) as pool:
        await leave_mid_request(pool, backend, "https://t.test/late")
        backend.request_gate.set()
        await until(lambda: pool.stats().idle == 1)
        assert pool.stats().requests == 1 and pool.stats().failed_requests == 0


async def test_a_caller_cancelled_as_its_request_ends_loses_only_the_answer(
    make_pool: PoolFactory, backend: FakeBackend
) -> None:
    backend.request_gate = asyncio.Event()
    async with make_pool(max_size=1) as pool:
        lease = await pool.acquire()
        sid = lease.id
        call = asyncio.ensure_future(lease.get("https://t.test/just-in-time"))
        await until(lambda: backend.in_flight.get(sid) == 1)
        backend.request_gate.set()
        await until(lambda: backend.in_flight[sid] == 0)  # the request is over on the server
        assert not call.done()  # ... and its answer has not reached the caller yet
        call.cancel()
        await asyncio.gather(call, return_exceptions=True)
        assert call.cancelled()
        await lease.release()
        await until(lambda: pool.stats().idle == 1)
        assert pool.stats().requests == 1 and pool.stats().failed_requests == 0
        async with pool.acquire() as again:
            assert again.id == sid  # served in full: the session stays in service
    assert backend.creates() == [sid]
