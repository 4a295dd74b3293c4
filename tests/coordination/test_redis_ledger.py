"""RedisLedger: round trips, heartbeats, and claims with exactly one winner."""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import pytest
from redis.asyncio import Redis

from bbre_async.coordination._base import (
    CoordinatorUnavailableError,
    EntryState,
    LedgerEntry,
    LedgerStore,
    OwnerInfo,
)
from bbre_async.coordination._redis_ledger import RedisLedger

LedgerFactory = Callable[[], RedisLedger]


@pytest.fixture(params=["fakeredis", "redis-server"])
async def new_ledger(request: pytest.FixtureRequest) -> AsyncIterator[LedgerFactory]:
    """Makes ledgers on one namespace, each with its own client (as separate pools would)."""
    namespace = f"test{uuid.uuid4().hex}"
    clients: list[Any] = []
    if request.param == "fakeredis":
        pytest.importorskip("lupa", reason="fakeredis runs Lua only with lupa installed")
        fakeredis = pytest.importorskip("fakeredis")
        server = fakeredis.FakeServer()

        def make_client() -> Any:
            return fakeredis.FakeAsyncRedis(server=server, decode_responses=True)
    else:
        url = request.getfixturevalue("redis_url")

        def make_client() -> Any:
            return Redis.from_url(url, decode_responses=True)

    def factory() -> RedisLedger:
        client = make_client()
        clients.append(client)
        return RedisLedger(client, namespace=namespace, op_timeout=2.0)

    yield factory
    for client in clients:
        await client.aclose()


def stale(entry: LedgerEntry, seconds: float = 100.0) -> LedgerEntry:
    return attrs.evolve(entry, heartbeat_at=time.time() - seconds)


def other_owner(tag: str) -> OwnerInfo:
    """An owner on another host: only its heartbeat can say it is alive."""
    return OwnerInfo(host=f"elsewhere-{tag}", pid=4242, pid_start=17.0, pool_id=tag)


async def test_it_is_a_ledger_store(new_ledger: LedgerFactory) -> None:
    assert isinstance(new_ledger(), LedgerStore)


async def test_round_trip_keeps_every_field(new_ledger: LedgerFactory) -> None:
    ledger = new_ledger()
    owner = other_owner("a")
    intent = LedgerEntry.intent(owner)
    active = attrs.evolve(
        LedgerEntry.intent(owner, backend="orchestrator"),
        state=EntryState.ACTIVE,
        session_id="sess_123",
        expires_at=datetime(2030, 1, 2, 3, 4, 5, 678000, tzinfo=UTC) + timedelta(hours=2),
    )
    await ledger.record(intent)
    await ledger.record(active)
    assert sorted(await new_ledger().entries(), key=lambda e: e.intent_id) == sorted(
        [intent, active], key=lambda e: e.intent_id
    )


async def test_record_replaces_and_remove_forgets(new_ledger: LedgerFactory) -> None:
    ledger = new_ledger()
    entry = LedgerEntry.intent(other_owner("a"))
    await ledger.record(entry)
    closing = attrs.evolve(entry, state=EntryState.CLOSING, session_id="s1")
    await ledger.record(closing)
    assert await ledger.entries() == [closing]
    await ledger.remove(entry.intent_id)
    await ledger.remove(entry.intent_id)  # a missing entry is not an error
    assert await ledger.entries() == []


async def test_naive_expiry_is_refused(new_ledger: LedgerFactory) -> None:
    entry = attrs.evolve(LedgerEntry.intent(other_owner("a")), expires_at=datetime(2030, 1, 1))
    with pytest.raises(ValueError, match="timezone-aware"):
        await new_ledger().record(entry)


async def test_heartbeat_refreshes_only_the_owners_entries(new_ledger: LedgerFactory) -> None:
    ledger = new_ledger()
    mine, theirs = other_owner("mine"), other_owner("theirs")
    await ledger.record(stale(LedgerEntry.intent(mine)))
    await ledger.record(stale(LedgerEntry.intent(mine)))
    await ledger.record(stale(LedgerEntry.intent(theirs)))
    await ledger.heartbeat(mine)
    now = time.time()
    by_owner = {(e.owner.pool_id, e.intent_id): e.heartbeat_at for e in await ledger.entries()}
    assert [abs(now - hb) < 5 for (pool, _), hb in by_owner.items() if pool == "mine"] == [
        True,
        True,
    ]
    assert [now - hb > 50 for (pool, _), hb in by_owner.items() if pool == "theirs"] == [True]


async def test_claim_refuses_a_live_owner_and_takes_a_stale_one(new_ledger: LedgerFactory) -> None:
    ledger = new_ledger()
    me = other_owner("me")
    fresh = LedgerEntry.intent(other_owner("alive"))
    old = stale(LedgerEntry.intent(other_owner("dead")))
    await ledger.record(fresh)
    await ledger.record(old)
    assert await ledger.claim(fresh.intent_id, me, stale_after=30) is False
    claimed_from = time.time()
    assert await ledger.claim(old.intent_id, me, stale_after=30) is True
    claimed_by = time.time()
    assert await ledger.claim("no-such-intent", me, stale_after=30) is False
    claimed = {e.intent_id: e for e in await ledger.entries()}[old.intent_id]
    assert claimed.owner == me
    # Stamped on Redis's clock (whole microseconds), between the two readings of this host's.
    assert claimed_from - 1e-6 <= claimed.heartbeat_at <= claimed_by  # a later claimer: alive
    assert await ledger.claim(old.intent_id, other_owner("late"), stale_after=30) is False
    # The new owner's heartbeat now covers it.
    assert [e.intent_id for e in await ledger.orphans(me=me, stale_after=30)] == []


async def test_an_owner_is_never_gone_to_itself(new_ledger: LedgerFactory) -> None:
    ledger = new_ledger()
    me = other_owner("me")
    entry = stale(LedgerEntry.intent(me))
    await ledger.record(entry)
    assert await ledger.claim(entry.intent_id, me, stale_after=1) is False


async def test_claim_race_has_exactly_one_winner(new_ledger: LedgerFactory) -> None:
    entry = stale(LedgerEntry.intent(other_owner("dead")))
    await new_ledger().record(entry)
    claimers = [(new_ledger(), other_owner(f"claimer{i}")) for i in range(12)]
    results = await asyncio.gather(
        *(ledger.claim(entry.intent_id, owner, stale_after=30) for ledger, owner in claimers)
    )
    assert results.count(True) == 1
    winner = claimers[results.index(True)][1]
    assert [e.owner for e in await new_ledger().entries()] == [winner]


async def test_dead_process_on_this_host_is_gone_at_once(new_ledger: LedgerFactory) -> None:
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "import os; print(os.getpid())", stdout=asyncio.subprocess.PIPE
    )
    out, _ = await child.communicate()
    assert child.returncode == 0
    dead = attrs.evolve(OwnerInfo.current(pool_id="dead"), pid=int(out), pid_start=1.0)
    ledger = new_ledger()
    entry = LedgerEntry.intent(dead)  # heartbeat fresh, but its process is gone
    await ledger.record(entry)
    assert await ledger.claim(entry.intent_id, OwnerInfo.current(), stale_after=300) is True


async def test_orphans_lists_stale_owners_entries(new_ledger: LedgerFactory) -> None:
    ledger = new_ledger()
    me = other_owner("me")
    orphan = stale(LedgerEntry.intent(other_owner("dead")))
    await ledger.record(orphan)
    await ledger.record(LedgerEntry.intent(other_owner("alive")))
    await ledger.record(stale(LedgerEntry.intent(me)))
    assert [e.intent_id for e in await ledger.orphans(me=me, stale_after=30)] == [orphan.intent_id]


async def test_unreachable_redis_fails_closed() -> None:
    client = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    ledger = RedisLedger(client, namespace="unreachable", op_timeout=0.5)
    try:
        with pytest.raises(CoordinatorUnavailableError):
            await ledger.entries()
        with pytest.raises(CoordinatorUnavailableError):
            await ledger.record(LedgerEntry.intent(other_owner("a")))
    finally:
        await client.aclose()
