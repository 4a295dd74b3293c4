"""Crash recovery when the server's clock disagrees with ours (issue 15, defect 3).

The user-level test kills a real worker process against an emulator whose clock runs 120 s
ahead, with some of its creates' answers lost (their sessions exist, the ledger holds only the
intent), and checks with the emulator's own state that the next start closes all of them.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import attrs

from bbre_async import BBREClient, SessionPool
from bbre_async.coordination import EntryState, LedgerEntry, MemoryLedger, OwnerInfo, SqliteLedger
from bbre_async.emulator import AccountSpec, EmulatorSettings, running_emulator
from bbre_async.pool import ActiveSession, RemoteSession, execute_reap, plan_reap
from bbre_async.pool._reaper import MAX_SESSION_LIFE, estimate_clock_offset
from tests.integration.conftest import start_worker
from tests.waiting import eventually

SKEW = 120.0


class AheadClock:
    """The server's wall clock, ``SKEW`` seconds ahead of ours."""

    def time(self) -> float:
        return time.time() + SKEW


async def test_a_restart_closes_every_orphan_with_the_server_clock_ahead(tmp_path: Path) -> None:
    ledger_path = tmp_path / "ledger.sqlite3"
    settings = EmulatorSettings(accounts=(AccountSpec(api_key="test-key", balance=1e9),))
    async with running_emulator(settings, clock=AheadClock()) as emu:
        # Three creates are made on the server but their answers are lost: the worker cannot
        # find them (its lookup window is on its own clock), so they stay as bare intents.
        emu.inject("lost_answer", endpoint="session/create", count=3)
        worker = await start_worker("hold-kill", emu.base_url, "7", str(ledger_path))
        await eventually(lambda: emu.state.account().active_sessions == 10, 30)
        orphans = set(emu.state.account().active_session_ids)
        worker.kill()
        await worker.wait()

        async with (
            BBREClient(api_key="test-key", base_url=emu.base_url) as client,
            SessionPool(client, ledger_path=ledger_path, handle_signals=False),
        ):
            still_active = orphans & set(emu.state.account().active_session_ids)
        assert still_active == set()  # 10 of 10 closed, the lost creates included
        ledger = await SqliteLedger.open(ledger_path)
        try:
            assert await ledger.entries() == []
        finally:
            await ledger.aclose()


# -- the plan, against a listing whose clock is ahead ------------------------------------------


@attrs.define
class ListingBackend:
    """A session API whose only state is its active listing (server clock ``skew`` ahead)."""

    skew: float
    active: dict[str, ActiveSession] = attrs.field(factory=dict)
    closed: list[str] = attrs.field(factory=list)
    name: str = "bbre"
    account_cap: int = 10
    supports_extend: bool = False
    max_life: float = 300.0
    key_fingerprint: str = "fp"
    base_url: str = "http://server.test"

    def made(self, session_id: str, at_our_time: float) -> None:
        created = at_our_time + self.skew + 0.2  # the create took 0.2 s to arrive
        self.active[session_id] = ActiveSession(
            id=session_id, created_at=created, expires_at=created + 300, request_count=0
        )

    async def create(self, *, deadline: float | None = None) -> RemoteSession:
        raise NotImplementedError

    async def close(self, session_id: str, *, deadline: float | None = None) -> bool:
        await asyncio.sleep(0)
        self.closed.append(session_id)
        return self.active.pop(session_id, None) is not None

    async def status(self, session_id: str) -> tuple[bool, float | None]:
        row = self.active.get(session_id)
        return row is not None, None if row is None else row.expires_at

    async def list_active(self) -> list[ActiveSession]:
        await asyncio.sleep(0)
        return list(self.active.values())

    async def extend(self, session_id: str, seconds: float) -> float:
        raise NotImplementedError

    def adopt(self, active: ActiveSession) -> RemoteSession:
        raise NotImplementedError


DEAD = OwnerInfo(host="gone-host", pid=1, pid_start=1.0, pool_id="dead")
ME = OwnerInfo(host="this-host", pid=2, pid_start=2.0, pool_id="me")


def row(at: float, session_id: str | None = None) -> LedgerEntry:
    # The owner, on another host, stopped heartbeating a minute ago at the latest.
    silent_since = min(at, time.time() - 60)
    entry = attrs.evolve(LedgerEntry.intent(DEAD), created_at=at, heartbeat_at=silent_since)
    if session_id is None:
        return entry
    return attrs.evolve(entry, state=EntryState.ACTIVE, session_id=session_id)


async def test_the_offset_is_estimated_from_rows_that_pair_up_by_id() -> None:
    now = time.time()
    backend = ListingBackend(skew=SKEW)
    entries = [row(now - 30 + i, f"s{i}") for i in range(5)]
    for i in range(5):
        backend.made(f"s{i}", now - 30 + i)
    offset = estimate_clock_offset(entries, await backend.list_active())
    assert offset is not None and abs(offset - SKEW) < 1
    assert estimate_clock_offset([], await backend.list_active()) is None


async def test_an_unmatched_intent_is_kept_until_nothing_it_made_can_live() -> None:
    now = time.time()
    backend = ListingBackend(skew=SKEW)
    backend.made("paired", now - 40)
    backend.made("lost", now - 20)
    backend.made("someone-elses", now - 200)  # far from any intent: never taken
    young_unmatched = row(now - 100)
    old = row(now - MAX_SESSION_LIFE - 60)
    lost = row(now - 20)
    ledger = MemoryLedger(entries=[row(now - 40, "paired"), young_unmatched, old, lost])

    plan = await plan_reap(backend, ledger, me=ME, stale_after=30)
    assert plan.clock_offset is not None and abs(plan.clock_offset - SKEW) < 1
    assert set(plan.targets) == {"paired", "lost"}
    assert [e.intent_id for e in plan.pending] == [young_unmatched.intent_id]

    report = await execute_reap(backend, ledger, plan, me=ME, stale_after=30)
    assert sorted(backend.closed) == ["lost", "paired"]
    assert report.pending == 1
    # The unmatched young intent stays with its dead owner for a later reap; the rest went.
    assert [e.intent_id for e in await ledger.entries()] == [young_unmatched.intent_id]
    assert "someone-elses" in backend.active


async def test_a_row_whose_close_failed_is_never_deleted() -> None:
    now = time.time()

    class Failing(ListingBackend):
        async def close(self, session_id: str, *, deadline: float | None = None) -> bool:
            await asyncio.sleep(0)
            from bbre_async import ServiceError

            raise ServiceError("the close did not go through", status=500)

    backend = Failing(skew=SKEW)
    backend.made("s1", now - 50)
    backend.made("lost", now - 10)
    ledger = MemoryLedger(entries=[row(now - 50, "s1"), row(now - 10)])
    plan = await plan_reap(backend, ledger, me=ME, stale_after=30)
    report = await execute_reap(backend, ledger, plan, me=ME, stale_after=30)
    assert sorted(report.failed) == ["lost", "s1"]
    assert len(await ledger.entries()) == 2  # unconfirmed: both rows stay
