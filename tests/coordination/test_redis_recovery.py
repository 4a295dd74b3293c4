"""Redis-side recovery: a dead owner's slots wait for its sessions, a restart keeps the
ledger, a live owner on this host is never claimed (issue 15, defects 6, 8, 9)."""

from __future__ import annotations

import uuid

import attrs
import pytest
from redis.asyncio import Redis

from bbre_async.coordination import EntryState, LedgerEntry, OwnerInfo, SlotTimeoutError
from bbre_async.coordination._redis_coordinator import RedisCoordinator
from bbre_async.coordination._redis_keys import holder_name
from bbre_async.coordination._redis_ledger import RedisLedger
from bbre_async.coordination._redis_semaphore import RedisSlotSemaphore
from bbre_async.testing import RedisServer
from tests.waiting import eventually

pytestmark = pytest.mark.redis


def coordinator(url: str, namespace: str) -> RedisCoordinator:
    return RedisCoordinator.from_url(
        url,
        namespace=namespace,
        capacity=2,
        lease_ttl=1.0,
        heartbeat_interval=0.3,
        op_timeout=0.5,
        recheck_interval=0.1,
    )


async def test_a_dead_holders_slot_is_kept_until_its_session_is_settled(
    redis_url: str, redis_namespace: str
) -> None:
    client = Redis.from_url(redis_url, decode_responses=True)
    dead_owner = OwnerInfo(host="gone-host", pid=1, pid_start=1.0, pool_id="deadpool")
    # The dead process: it took two slots and recorded one session, then stopped
    # heartbeating (a bare semaphore never refreshes its leases).
    dead = RedisSlotSemaphore(
        client,
        namespace=redis_namespace,
        capacity=2,
        lease_ttl=1.0,
        op_timeout=0.5,
        holder_id=holder_name(dead_owner),
    )
    dead_ledger = RedisLedger(client, namespace=redis_namespace)
    survivor = coordinator(redis_url, redis_namespace)
    me = OwnerInfo.current()
    try:
        await dead.acquire(timeout=5)
        await dead.acquire(timeout=5)
        row = attrs.evolve(
            LedgerEntry.intent(dead_owner), state=EntryState.ACTIVE, session_id="sess-1"
        )
        await dead_ledger.record(row)
        await survivor.open(me)
        # Its slot without a session comes back once the lease lapses...
        await survivor.acquire_slot(timeout=10)
        # ...the one with a live session does not, until a reaper settles the session.
        with pytest.raises(SlotTimeoutError):
            await survivor.acquire_slot(timeout=2.5)
        assert await survivor.semaphore.orphaned() == 1
        assert await survivor.ledger.claim(row.intent_id, me, stale_after=0)
        await survivor.ledger.remove(row.intent_id)  # its session was closed: the row goes
        await survivor.acquire_slot(timeout=10)
    finally:
        await survivor.aclose()
        await dead.aclose()
        await client.aclose()


async def test_after_redis_lost_its_data_the_ledger_rows_come_back(
    private_redis_server: RedisServer,
) -> None:
    server = private_redis_server
    holder = coordinator(server.url, uuid.uuid4().hex)
    me = OwnerInfo.current()
    try:
        await holder.open(me)
        await holder.acquire_slot(timeout=5)
        row = attrs.evolve(LedgerEntry.intent(me), state=EntryState.ACTIVE, session_id="s-1")
        await holder.ledger.record(row)
        server.stop()
        server.start()  # same port, every key gone

        async def back() -> bool:
            return [e.session_id for e in await holder.ledger.entries()] == ["s-1"]

        await eventually(back, 15)
        assert (await holder.semaphore.state())[0] == 1  # and the lease too
    finally:
        await holder.aclose()


async def test_a_live_owner_on_this_host_is_never_claimed_however_stale(
    redis_url: str, redis_namespace: str
) -> None:
    from redis.asyncio import Redis

    from bbre_async.coordination._redis_ledger import RedisLedger

    client = Redis.from_url(redis_url, decode_responses=True)
    try:
        ledger = RedisLedger(client, namespace=redis_namespace)
        alive = OwnerInfo.current("alive")  # this very process, on this host
        stale = attrs.evolve(LedgerEntry.intent(alive), heartbeat_at=0.0)
        await ledger.record(stale)
        assert await ledger.orphans(me=OwnerInfo.current("reaper"), stale_after=1) == []
        assert not await ledger.claim(stale.intent_id, OwnerInfo.current("reaper"), stale_after=1)
    finally:
        await client.aclose()
