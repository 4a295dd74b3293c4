"""The semaphore's Lua scripts, one step at a time, on fakeredis (needs ``lupa`` for Lua)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import fakeredis
import hypothesis.strategies as st
import pytest
from hypothesis import given, settings

from bbre_async.coordination import _redis_scripts as scripts
from bbre_async.coordination._redis_keys import RedisKeys, namespace_for


def _needs_lua() -> None:
    pytest.importorskip("lupa", reason="fakeredis runs Lua only with lupa installed")


LEASE_MS = 10_000
WAITER_MS = 5_000


class Scripts:
    """Calls the scripts the way the semaphore does, with a fixed capacity."""

    def __init__(self, client: Any, capacity: int) -> None:
        self.client = client
        self.keys = RedisKeys(f"t{uuid.uuid4().hex}")
        self.capacity = capacity
        self.candidate_epoch = "epoch-1"
        self.known_epoch = ""  # the last epoch this caller saw
        self.grace_ms = LEASE_MS
        self.orphan_ms = 300_000
        self._scripts = {
            name: client.register_script(getattr(scripts, name))
            for name in ("ACQUIRE", "RELEASE", "ABANDON", "REFRESH", "IS_HELD", "STATE")
        }

    async def run(self, name: str, *extra: Any) -> Any:
        args = [
            self.keys.wake_prefix,
            self.candidate_epoch,
            self.capacity,
            self.known_epoch,
            self.grace_ms,
            self.orphan_ms,
            self.keys.ledger_origin_prefix,
            *extra,
        ]
        return await self._scripts[name](keys=self.keys.semaphore_keys(), args=args)

    async def acquire(self, slot: str) -> list[Any]:
        return list(await self.run("ACQUIRE", slot, LEASE_MS, WAITER_MS))

    async def wake_list(self, holder: str) -> list[str]:
        return list(await self.client.lrange(self.keys.wake(holder), 0, -1))


@pytest.fixture
async def lua() -> Any:
    _needs_lua()
    client = fakeredis.FakeAsyncRedis(decode_responses=True)
    try:
        yield client
    finally:
        await client.aclose()


def test_namespace_is_stable_normalised_and_reveals_nothing() -> None:
    fingerprint = "fp_3f9a1c"
    base = "https://BBRE-Solver-API.mydisct.com/"
    namespace = namespace_for(fingerprint, base)
    assert namespace == namespace_for(fingerprint, "https://bbre-solver-api.mydisct.com")
    assert namespace != namespace_for("fp_other", base)
    assert namespace != namespace_for(fingerprint, "http://localhost:8787")
    assert fingerprint not in namespace and "mydisct" not in namespace
    assert RedisKeys(namespace).holders == f"bbre_async:{{{namespace}}}:sem:holders"


@pytest.mark.parametrize("bad", ["", "a{b", "a:b", "a b"])
def test_key_layout_refuses_namespaces_that_break_it(bad: str) -> None:
    with pytest.raises(ValueError, match="namespace"):
        RedisKeys(bad)


async def test_grants_up_to_capacity_with_increasing_tokens(lua: Any) -> None:
    s = Scripts(lua, capacity=2)
    first = await s.acquire("h1/a")
    second = await s.acquire("h1/b")
    third = await s.acquire("h2/c")
    assert first[0] == 1 and second[0] == 1
    assert second[1] > first[1]
    assert third[0] == 0 and third[1] == 0  # queued at the head, no free slot
    assert await lua.zcard(s.keys.holders) == 2


async def test_a_retried_acquire_returns_the_same_grant(lua: Any) -> None:
    s = Scripts(lua, capacity=2)
    first = await s.acquire("h1/a")
    again = await s.acquire("h1/a")
    assert again[:2] == first[:2]
    assert await lua.zcard(s.keys.holders) == 1


async def test_newcomer_cannot_overtake_the_queue(lua: Any) -> None:
    s = Scripts(lua, capacity=1)
    assert (await s.acquire("h1/holder"))[0] == 1
    assert (await s.acquire("h2/first"))[0] == 0
    assert (await s.acquire("h3/second"))[0] == 0
    await s.run("RELEASE", "h1/holder")
    # The slot is free, but "second" is behind "first": it may not take it.
    late = await s.acquire("h3/second")
    assert late[0] == 0 and late[1] == 1
    assert (await s.acquire("h2/first"))[0] == 1
    assert await lua.zcard(s.keys.waiters) == 1


async def test_release_wakes_the_head_waiters_owner(lua: Any) -> None:
    s = Scripts(lua, capacity=1)
    await s.acquire("h1/holder")
    await s.acquire("h2/w1")
    await s.acquire("h3/w2")
    assert await s.wake_list("h2") == []
    assert await s.run("RELEASE", "h1/holder") == 1
    assert await s.wake_list("h2") == ["h2/w1"]
    assert await s.wake_list("h3") == []  # only as many heads as free slots
    assert await lua.pttl(s.keys.wake("h2")) > 0  # a dead instance's list goes away


async def test_release_is_idempotent(lua: Any) -> None:
    s = Scripts(lua, capacity=1)
    await s.acquire("h1/a")
    assert await s.run("RELEASE", "h1/a") == 1
    assert await s.run("RELEASE", "h1/a") == 0


async def test_expired_lease_is_purged_and_its_slot_granted(lua: Any) -> None:
    s = Scripts(lua, capacity=1)
    dead = await s.acquire("h1/dead")
    await s.acquire("h2/waiter")
    await lua.zadd(s.keys.holders, {"h1/dead": 0})  # its lease ran out
    granted = await s.acquire("h2/waiter")
    assert granted[0] == 1 and granted[1] > dead[1]
    assert await s.run("IS_HELD", "h1/dead", dead[1]) == 0
    assert await lua.hget(s.keys.tokens, "h1/dead") is None


async def test_purge_wakes_waiters_nobody_else_would(lua: Any) -> None:
    s = Scripts(lua, capacity=1)
    await s.acquire("h1/dead")
    await s.acquire("h2/waiter")
    await lua.zadd(s.keys.holders, {"h1/dead": 0})
    state = await s.run("STATE")
    assert list(state[:2]) == [0, 1]
    assert await s.wake_list("h2") == ["h2/waiter"]


async def test_dead_waiter_leaves_the_queue(lua: Any) -> None:
    s = Scripts(lua, capacity=1)
    await s.acquire("h1/holder")
    await s.acquire("h2/dead")
    await s.acquire("h3/alive")
    await s.run("RELEASE", "h1/holder")
    await lua.zadd(s.keys.waiter_expiry, {"h2/dead": 0})  # it stopped re-checking
    assert (await s.acquire("h3/alive"))[0] == 1


async def test_abandon_removes_the_waiter_and_a_half_made_grant(lua: Any) -> None:
    s = Scripts(lua, capacity=1)
    await s.acquire("h1/holder")
    await s.acquire("h2/quitter")
    await s.acquire("h3/next")
    await s.run("ABANDON", "h2/quitter")
    assert await lua.zrange(s.keys.waiters, 0, -1) == ["h3/next"]
    assert await s.run("ABANDON", "h1/holder") == 1  # granted, but the reply never arrived
    assert await s.wake_list("h3") == ["h3/next"]


async def test_is_held_checks_the_exact_grant(lua: Any) -> None:
    s = Scripts(lua, capacity=2)
    grant = await s.acquire("h1/a")
    assert await s.run("IS_HELD", "h1/a", grant[1]) == 1
    assert await s.run("IS_HELD", "h1/a", grant[1] + 1) == 0
    assert await s.run("IS_HELD", "h1/other", grant[1]) == 0
    await lua.zadd(s.keys.holders, {"h1/a": 1})  # expired, not yet purged
    assert await s.run("IS_HELD", "h1/a", grant[1]) == 0


async def test_refresh_extends_live_leases_and_reports_purged_ones(lua: Any) -> None:
    s = Scripts(lua, capacity=2)
    live = await s.acquire("h1/live")
    dead = await s.acquire("h1/dead")
    epoch = live[2]
    before = await lua.zscore(s.keys.holders, "h1/live")
    await lua.zadd(s.keys.holders, {"h1/dead": 0})
    reply = await s.run(
        "REFRESH", 60_000, "h1", "h1/live", live[1], epoch, 1, "h1/dead", dead[1], epoch, 1
    )
    assert reply[0] == epoch
    assert list(reply[1]) == ["h1/dead"]  # lost, never reclaimed within the same epoch
    assert list(reply[2]) == []
    assert await lua.zscore(s.keys.holders, "h1/live") > before
    assert await lua.zscore(s.keys.holders, "h1/dead") is None


async def test_refresh_after_data_loss_puts_valid_leases_back(lua: Any) -> None:
    s = Scripts(lua, capacity=2)
    grant = await s.acquire("h1/a")
    stale = await s.acquire("h1/b")
    old_epoch = grant[2]
    await lua.flushall()  # Redis restarted without persistence
    s.candidate_epoch = "epoch-2"
    newcomer = await s.acquire("h2/new")
    assert newcomer[2] == "epoch-2" and newcomer[1] == 1  # the counters started over
    reply = await s.run(
        "REFRESH", LEASE_MS, "h1", "h1/a", grant[1], old_epoch, 1, "h1/b", stale[1], old_epoch, 0
    )
    assert reply[0] == "epoch-2"
    assert list(reply[2]) == ["h1/a"]  # its holder vouches its lease is still valid
    assert list(reply[1]) == ["h1/b"]  # this one's holder cannot: lost
    assert await s.run("IS_HELD", "h1/a", grant[1]) == 1
    assert await lua.zcard(s.keys.holders) == 2
    assert (await s.acquire("h3/over"))[0] == 0  # the reclaimed lease counts against the cap
    await s.run("RELEASE", "h2/new")
    assert (await s.acquire("h3/over"))[1] > grant[1]  # tokens keep increasing


# -- a dead holder's slots, a restart, fair shares (issue 15, defects 6, 7, 8) -----------------


async def test_a_lapsed_lease_is_kept_while_its_holder_has_sessions(lua: Any) -> None:
    s = Scripts(lua, capacity=3)
    first = await s.acquire("h1/a")
    await s.acquire("h1/b")
    await lua.sadd(s.keys.ledger_origin_prefix + "h1", "intent-1")  # one session on record
    await lua.zadd(s.keys.holders, {"h1/a": 0, "h1/b": 0})  # h1 died: both leases lapse
    state = await s.run("STATE")
    assert (state[0], state[3]) == (0, 1)  # one slot per recorded session stays reserved
    assert (await s.acquire("h2/x"))[0] == 1
    assert (await s.acquire("h2/y"))[0] == 1
    assert (await s.acquire("h2/z"))[0] == 0  # the orphan still counts against the cap
    await lua.srem(s.keys.ledger_origin_prefix + "h1", "intent-1")  # a reaper settled it
    granted = await s.acquire("h2/z")
    assert granted[0] == 1 and granted[1] > first[1]


async def test_an_orphan_goes_when_its_hold_runs_out(lua: Any) -> None:
    s = Scripts(lua, capacity=1)
    await s.acquire("h1/a")
    await lua.sadd(s.keys.ledger_origin_prefix + "h1", "intent-1")
    await lua.zadd(s.keys.holders, {"h1/a": 0})
    assert (await s.acquire("h2/x"))[0] == 0
    await lua.zadd(s.keys.orphans, {"h1/a": 0})  # past any session's life
    assert (await s.acquire("h2/x"))[0] == 1


async def test_a_paused_holder_takes_its_orphan_back(lua: Any) -> None:
    s = Scripts(lua, capacity=1)
    grant = await s.acquire("h1/a")
    await lua.sadd(s.keys.ledger_origin_prefix + "h1", "intent-1")
    await lua.zadd(s.keys.holders, {"h1/a": 0})
    await s.run("STATE")  # someone's script turns the lapsed lease into an orphan
    reply = await s.run("REFRESH", LEASE_MS, "h1", "h1/a", grant[1], grant[2], 1)
    assert list(reply[1]) == [] and await s.run("IS_HELD", "h1/a", grant[1]) == 1


async def test_after_data_loss_nothing_is_granted_until_holders_are_back(lua: Any) -> None:
    s = Scripts(lua, capacity=2)
    grant = await s.acquire("h1/a")
    await lua.flushall()  # Redis restarted without persistence
    s.known_epoch, s.candidate_epoch = grant[2], "epoch-2"
    assert (await s.acquire("h2/new"))[0] == 0  # this caller knew the old epoch: grace
    s.known_epoch = ""
    assert (await s.acquire("h3/fresh"))[0] == 0  # the grace holds for everyone
    reply = await s.run("REFRESH", LEASE_MS, "h1", "h1/a", grant[1], grant[2], 1)
    assert list(reply[2]) == ["h1/a"]
    await lua.delete(s.keys.grace)  # the grace period ran out
    assert (await s.acquire("h2/new"))[0] == 1
    assert (await s.acquire("h3/fresh"))[0] == 0  # 2 = capacity, the reclaimed one included


async def test_waiters_of_the_holder_with_fewer_slots_go_first(lua: Any) -> None:
    s = Scripts(lua, capacity=4)
    greedy = [await s.acquire(f"h1/{n}") for n in range(3)]
    await s.acquire("h2/0")
    assert (await s.acquire("h1/more"))[0] == 0  # queued first
    assert (await s.acquire("h2/more"))[0] == 0
    reply = await s.run("REFRESH", LEASE_MS, "h1", "h1/0", greedy[0][1], greedy[0][2], 1)
    assert reply[3] == 1  # the neediest other waiting holder has one slot
    await s.run("RELEASE", "h1/1")
    assert await s.wake_list("h2") == ["h2/more"]
    assert (await s.acquire("h1/more"))[0] == 0  # h1 holds 2, h2 holds 1: h2 first
    assert (await s.acquire("h2/more"))[0] == 1
    alone = await s.run("REFRESH", LEASE_MS, "h2", "h2/0", 4, greedy[0][2], 1)
    assert alone[3] == 2  # h1 waits with two slots


# -- the scripts against a model ------------------------------------------------------------
_IDS = [f"h{n % 3}/w{n}" for n in range(6)]
_OPS = st.lists(
    st.tuples(
        st.sampled_from(["acquire", "release", "expire_holder", "expire_waiter"]),
        st.sampled_from(_IDS),
    ),
    max_size=40,
)


@settings(max_examples=60, deadline=None)
@given(capacity=st.integers(min_value=1, max_value=3), ops=_OPS)
def test_scripts_match_a_fifo_model(capacity: int, ops: list[tuple[str, str]]) -> None:
    """Grants never pass the cap and go in the fair order among live waiters: fewest slots
    held by the waiter's holder first, then arrival."""
    _needs_lua()

    async def run() -> None:
        client = fakeredis.FakeAsyncRedis(decode_responses=True)
        s = Scripts(client, capacity)
        queue: list[str] = []  # the model: waiters in arrival order
        holders: set[str] = set()
        try:
            for op, slot in ops:
                if op == "acquire":
                    reply = await s.acquire(slot)
                    if slot in holders:
                        assert reply[0] == 1
                        continue
                    if slot not in queue:
                        queue.append(slot)

                    def held_by(waiter: str) -> int:
                        return sum(h.split("/")[0] == waiter.split("/")[0] for h in holders)

                    line = sorted(queue, key=lambda w: (held_by(w), queue.index(w)))
                    rank = line.index(slot)
                    granted = rank < capacity - len(holders)
                    assert (reply[0] == 1) == granted, (op, slot, queue, holders)
                    if granted:
                        queue.remove(slot)
                        holders.add(slot)
                    else:
                        assert reply[1] == rank
                elif op == "release":
                    assert await s.run("RELEASE", slot) == (1 if slot in holders else 0)
                    holders.discard(slot)
                elif op == "expire_holder" and slot in holders:
                    await client.zadd(s.keys.holders, {slot: 0})
                    holders.discard(slot)  # gone as of the next script
                elif op == "expire_waiter" and slot in queue:
                    await client.zadd(s.keys.waiter_expiry, {slot: 0})
                    queue.remove(slot)
                state = await s.run("STATE")
                assert list(state[:2]) == [len(holders), len(queue)]
                assert state[3] == 0  # no ledger here: a lapsed lease is never kept
                assert state[0] <= capacity
        finally:
            await client.aclose()

    asyncio.run(run())
