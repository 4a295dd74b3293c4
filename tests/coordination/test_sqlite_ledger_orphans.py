"""Who counts as gone, and taking over their entries: the rule as a pure function, then the
ledger with real dead and live processes, and claim races with exactly one winner."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import attrs
import pytest

from bbre_async.coordination._base import EntryState, LedgerEntry, OwnerInfo
from bbre_async.coordination._memory_ledger import MemoryLedger, find_orphans, owner_is_gone
from bbre_async.coordination._sqlite_ledger import SqliteLedger

HOST = socket.gethostname()
ME = OwnerInfo(host=HOST, pid=100, pid_start=1.0, pool_id="me")
STALE_AFTER = 30.0
NOW = 10_000.0


def make_entry(owner: OwnerInfo, intent_id: str, *, heartbeat_at: float = NOW) -> LedgerEntry:
    return LedgerEntry(
        intent_id=intent_id,
        owner=owner,
        state=EntryState.ACTIVE,
        created_at=heartbeat_at,
        heartbeat_at=heartbeat_at,
        session_id=f"s-{intent_id}",
    )


def alive_unless_pid_9(owner: OwnerInfo) -> bool:
    return owner.pid != 9


# -- the rule --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("owner", "heartbeat_at", "gone"),
    [
        pytest.param(ME, 0.0, False, id="me, even when stale"),
        pytest.param(attrs.evolve(ME, pool_id="sibling"), NOW, False, id="live local pool"),
        pytest.param(attrs.evolve(ME, pid=9), NOW, True, id="dead local process"),
        pytest.param(attrs.evolve(ME, host="other"), NOW, False, id="other host, fresh"),
        pytest.param(attrs.evolve(ME, host="other", pid=9), NOW, False, id="other host pid 9"),
        pytest.param(
            attrs.evolve(ME, host="other"), NOW - STALE_AFTER, False, id="exactly stale_after"
        ),
        pytest.param(
            attrs.evolve(ME, host="other"), NOW - STALE_AFTER - 0.001, True, id="other host, stale"
        ),
        # Issue 15, defect 9: on this host the process is asked before the heartbeat.
        pytest.param(
            attrs.evolve(ME, pool_id="stuck"), NOW - STALE_AFTER - 1, False, id="live, silent"
        ),
        pytest.param(attrs.evolve(ME, host="other"), NOW + 600, False, id="heartbeat ahead"),
    ],
)
def test_owner_is_gone(owner: OwnerInfo, heartbeat_at: float, gone: bool) -> None:
    assert (
        owner_is_gone(
            owner,
            heartbeat_at,
            me=ME,
            stale_after=STALE_AFTER,
            now=NOW,
            is_alive=alive_unless_pid_9,
        )
        is gone
    )


def test_find_orphans_keeps_order_and_only_gone_owners() -> None:
    dead = attrs.evolve(ME, pid=9, pool_id="dead")
    entries = [
        make_entry(dead, "d1"),
        make_entry(ME, "mine"),
        make_entry(attrs.evolve(ME, host="far"), "far-fresh"),
        make_entry(attrs.evolve(ME, host="far"), "far-stale", heartbeat_at=NOW - 100),
        make_entry(dead, "d2"),
    ]
    orphans = find_orphans(
        entries, me=ME, stale_after=STALE_AFTER, now=NOW, is_alive=alive_unless_pid_9
    )
    assert [e.intent_id for e in orphans] == ["d1", "far-stale", "d2"]
    # A later `now` makes the fresh remote heartbeat stale as well.
    later = find_orphans(
        entries, me=ME, stale_after=STALE_AFTER, now=NOW + 31, is_alive=alive_unless_pid_9
    )
    assert [e.intent_id for e in later] == ["d1", "far-fresh", "far-stale", "d2"]


def test_a_reused_pid_counts_as_dead() -> None:
    me = OwnerInfo.current(pool_id="me")
    if me.pid_start is None:
        pytest.skip("no process start times on this platform")
    same_process = OwnerInfo.current(pool_id="sibling")
    reused = attrs.evolve(same_process, pid_start=me.pid_start - 1)  # same pid, older process
    assert same_process.is_local_process_alive()
    assert not reused.is_local_process_alive()
    entries = [make_entry(same_process, "live"), make_entry(reused, "reused")]
    orphans = find_orphans(entries, me=me, stale_after=STALE_AFTER, now=NOW)
    assert [e.intent_id for e in orphans] == ["reused"]


# -- claim on one ledger -------------------------------------------------------------------------

FAR_DEAD = OwnerInfo(host="far-away", pid=1, pid_start=None, pool_id="dead")


@pytest.fixture(params=["sqlite", "memory"])
async def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    store: SqliteLedger | MemoryLedger
    clock = lambda: NOW  # noqa: E731
    if request.param == "sqlite":
        store = await SqliteLedger.open(tmp_path / "ledger.sqlite3", clock=clock)
    else:
        store = MemoryLedger(clock=clock)
    yield store
    await store.aclose()


async def test_claim_moves_a_stale_entry_once(ledger: SqliteLedger | MemoryLedger) -> None:
    me = OwnerInfo.current(pool_id="me")  # a live owner: this process
    other = OwnerInfo.current(pool_id="other")
    await ledger.record(make_entry(FAR_DEAD, "stale", heartbeat_at=NOW - STALE_AFTER - 1))
    await ledger.record(make_entry(FAR_DEAD, "fresh", heartbeat_at=NOW - STALE_AFTER))
    await ledger.record(make_entry(me, "mine"))

    assert await ledger.orphans(me=me, stale_after=STALE_AFTER) == [
        make_entry(FAR_DEAD, "stale", heartbeat_at=NOW - STALE_AFTER - 1)
    ]
    assert await ledger.claim("stale", me, stale_after=STALE_AFTER)
    assert not await ledger.claim("stale", other, stale_after=STALE_AFTER)  # now owned, fresh
    assert not await ledger.claim("stale", me, stale_after=STALE_AFTER)  # already mine
    assert not await ledger.claim("fresh", me, stale_after=STALE_AFTER)
    assert not await ledger.claim("mine", other, stale_after=STALE_AFTER)  # I am alive
    assert not await ledger.claim("missing", me, stale_after=STALE_AFTER)

    claimed = {e.intent_id: e for e in await ledger.entries()}["stale"]
    assert claimed.owner == me
    assert claimed.heartbeat_at == NOW
    assert claimed.session_id == "s-stale"  # the session to close travels with the claim
    assert await ledger.orphans(me=other, stale_after=STALE_AFTER) == []


async def test_concurrent_claimers_in_threads_have_one_winner(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    claimers = [await SqliteLedger.open(path) for _ in range(8)]
    owners = [OwnerInfo.current(pool_id=f"claimer-{n}") for n in range(8)]
    ids = [f"e{n}" for n in range(15)]
    for intent_id in ids:
        await claimers[0].record(make_entry(FAR_DEAD, intent_id, heartbeat_at=0.0))

    for intent_id in ids:  # each ledger has its own connection and worker thread
        results = await asyncio.gather(
            *(
                ledger.claim(intent_id, owner, stale_after=STALE_AFTER)
                for ledger, owner in zip(claimers, owners, strict=True)
            )
        )
        assert results.count(True) == 1
        [winner] = [o for o, won in zip(owners, results, strict=True) if won]
        [entry] = [e for e in await claimers[0].entries() if e.intent_id == intent_id]
        assert entry.owner == winner
    for ledger in claimers:
        await ledger.aclose()


# -- real processes ------------------------------------------------------------------------------

_RECORDER = """
import asyncio, json, os, signal, sys
from pathlib import Path
from bbre_async.coordination._base import LedgerEntry, OwnerInfo
from bbre_async.coordination._sqlite_ledger import SqliteLedger

async def main():
    ledger = await SqliteLedger.open(Path(sys.argv[1]))
    me = OwnerInfo.current(pool_id=sys.argv[2])
    ids = []
    for _ in range(3):
        entry = LedgerEntry.intent(me)
        await ledger.record(entry)
        ids.append(entry.intent_id)
    print(json.dumps(ids), flush=True)
    sys.stdin.readline()
    os.kill(os.getpid(), signal.SIGKILL)  # no cleanup, as after an OOM kill

asyncio.run(main())
"""

_CLAIMER = """
import asyncio, json, sys
from pathlib import Path
from bbre_async.coordination._base import OwnerInfo
from bbre_async.coordination._sqlite_ledger import SqliteLedger

async def main():
    ledger = await SqliteLedger.open(Path(sys.argv[1]))
    me = OwnerInfo.current(pool_id=sys.argv[2])
    ids = json.loads(sys.argv[3])
    print("ready", flush=True)
    sys.stdin.readline()
    won = [i for i in ids if await ledger.claim(i, me, stale_after=30.0)]
    await ledger.aclose()
    print(json.dumps(won), flush=True)

asyncio.run(main())
"""


def _spawn(script: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", script, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def _release(proc: subprocess.Popen[str], line: str | None = "go\n") -> str:
    """Send the line the script waits for (unless already sent); return the rest of its output."""
    out, _ = proc.communicate(line, timeout=30)
    return out


async def test_a_killed_process_entries_are_orphans_and_a_live_ones_are_not(
    tmp_path: Path,
) -> None:
    path = tmp_path / "ledger.sqlite3"
    me = OwnerInfo.current(pool_id="me")
    ledger = await SqliteLedger.open(path)
    await ledger.record(make_entry(me, "mine"))
    dead = _spawn(_RECORDER, str(path), "dead")
    live = _spawn(_RECORDER, str(path), "live")
    try:
        assert dead.stdout is not None
        assert live.stdout is not None
        dead_ids = set(json.loads(dead.stdout.readline()))
        live_ids = set(json.loads(live.stdout.readline()))
        _release(dead)  # SIGKILLed, no cleanup
        assert dead.returncode == -9

        orphans = await ledger.orphans(me=me, stale_after=3600.0)
        assert {e.intent_id for e in orphans} == dead_ids
        assert len(await ledger.entries()) == 7
        assert all([await ledger.claim(i, me, stale_after=3600.0) for i in dead_ids])
        assert not any([await ledger.claim(i, me, stale_after=3600.0) for i in live_ids])
        assert await ledger.orphans(me=me, stale_after=3600.0) == []

        _release(live)
        orphans = await ledger.orphans(me=me, stale_after=3600.0)
        assert {e.intent_id for e in orphans} == live_ids  # gone now, so reaped in turn
    finally:
        for proc in (dead, live):
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        await ledger.aclose()


async def test_claims_race_across_processes_with_one_winner_each(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    ids = [f"e{n:02d}" for n in range(40)]
    ledger = await SqliteLedger.open(path)
    for intent_id in ids:
        await ledger.record(make_entry(FAR_DEAD, intent_id, heartbeat_at=0.0))
    procs = [_spawn(_CLAIMER, str(path), f"proc-{n}", json.dumps(ids)) for n in range(2)]
    try:
        for proc in procs:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "ready"
            assert proc.stdin is not None
        for proc in procs:  # start both, then race them from here too
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        me = OwnerInfo.current(pool_id="parent")
        local = [i for i in ids if await ledger.claim(i, me, stale_after=30.0)]
        remote = [json.loads(_release(proc, None)) for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()

    winners = {"parent": local, "proc-0": remote[0], "proc-1": remote[1]}
    claimed = sorted(i for won in winners.values() for i in won)
    assert claimed == ids  # every entry claimed, none twice
    owner_of = {e.intent_id: e.owner.pool_id for e in await ledger.entries()}
    assert owner_of == {i: pool for pool, won in winners.items() for i in won}
    assert {e.owner.pid for e in await ledger.entries()} <= {os.getpid(), *(p.pid for p in procs)}
    await ledger.aclose()
