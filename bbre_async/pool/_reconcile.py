"""Settling the differences between what the pool believes and what the server holds.

Three jobs:
- ``reap_orphans``: at start (and periodically), close the sessions of ledger owners that are
  gone (a dead pid on this host, or a stale heartbeat), claiming each entry first so that two
  live pools never both act on it, and never touching a live owner's sessions.
- ``find_lost_create``: a create whose answer was lost may have made a session; look for it in
  the account's active listing instead of creating again.
- ``periodic``: compare the ledger with the listing; close what this pool leaked through lost
  creates, and count (or, when asked, close) "foreign" sessions no ledger knows.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

import anyio
import attrs

from bbre_async._errors import BBREError
from bbre_async.coordination._base import CoordinatorUnavailableError, EntryState, LedgerEntry
from bbre_async.coordination._memory_ledger import find_orphans
from bbre_async.pool._backend import ActiveSession, RemoteSession

if TYPE_CHECKING:
    from bbre_async.pool._pool import SessionPool

logger = logging.getLogger("bbre_async.reaper")

# How far a server's createdAt may sit from our own clock around a create, in seconds.
CLOCK_SKEW = 5.0
# A lost create's session appears in the listing at once; look this many times.
LOST_CREATE_LOOKS = (0.0, 0.3, 1.0)


@attrs.frozen(kw_only=True)
class ReapReport:
    """What a reaping pass found and did."""

    orphans: int = 0
    closed: int = 0
    already_gone: int = 0
    failed: list[str] = attrs.field(factory=list)
    foreign: list[str] = attrs.field(factory=list)
    foreign_closed: int = 0


class Reconciler:
    def __init__(self, pool: SessionPool) -> None:
        self._pool = pool

    async def reap_orphans(self) -> ReapReport:
        """Close the sessions of dead ledger owners; settle their unfinished intents."""
        pool = self._pool
        ledger = pool.coordinator.ledger
        config = pool.config
        entries = await ledger.entries()
        orphans = find_orphans(
            entries, me=pool.owner, stale_after=config.orphan_stale_after, now=time.time()
        )
        mine: list[LedgerEntry] = []
        for entry in orphans:
            if entry.backend != pool.backend.name:
                continue
            if await ledger.claim(
                entry.intent_id, pool.owner, stale_after=config.orphan_stale_after
            ):
                mine.append(entry)
        if not mine:
            return ReapReport()
        targets = [e for e in mine if e.session_id]
        intents = [e for e in mine if not e.session_id]
        if intents:
            targets += await self._match_intents(intents, entries)
        closed, gone, failed = await self._close_all(targets)
        for entry in mine:
            if entry.session_id not in failed:
                await ledger.remove(entry.intent_id)
        report = ReapReport(orphans=len(mine), closed=closed, already_gone=gone, failed=failed)
        if mine:
            logger.info(
                "reaped %d orphaned ledger entries: %d closed, %d already gone, %d failed",
                len(mine),
                closed,
                gone,
                len(failed),
            )
        return report

    async def _match_intents(
        self, intents: list[LedgerEntry], entries: list[LedgerEntry]
    ) -> list[LedgerEntry]:
        """Intents with no session id: a create whose answer nobody saw. Close any active
        session created in its window that no ledger entry accounts for."""
        known = {e.session_id for e in entries if e.session_id}
        active = await self._pool.backend.list_active()
        found: list[LedgerEntry] = []
        for intent in intents:
            for row in active:
                if row.id in known or row.created_at is None:
                    continue
                if intent.created_at - CLOCK_SKEW <= row.created_at <= intent.created_at + 60:
                    known.add(row.id)
                    found.append(attrs.evolve(intent, session_id=row.id))
                    break
        return found

    async def _close_all(self, entries: list[LedgerEntry]) -> tuple[int, int, list[str]]:
        closed = 0
        gone = 0
        failed: list[str] = []
        backend = self._pool.backend
        timeout = self._pool.config.close_timeout

        async def close_one(session_id: str) -> None:
            nonlocal closed, gone
            try:
                with anyio.fail_after(timeout):
                    if await backend.close(session_id):
                        closed += 1
                    else:
                        gone += 1
            except (BBREError, TimeoutError) as error:
                logger.warning("could not close orphaned session %s: %s", session_id, error)
                failed.append(session_id)

        with anyio.CancelScope(shield=True):
            async with anyio.create_task_group() as tg:
                for entry in entries:
                    if entry.session_id:
                        tg.start_soon(close_one, entry.session_id)
        return closed, gone, failed

    async def find_lost_create(self, asked_at: float) -> RemoteSession | None:
        """The session a lost create made, if the listing shows one nobody accounts for."""
        pool = self._pool
        for delay in LOST_CREATE_LOOKS:
            if delay:
                await asyncio.sleep(delay)
            try:
                active = await pool.backend.list_active()
                entries = await pool.coordinator.ledger.entries()
            except (BBREError, CoordinatorUnavailableError) as error:
                logger.warning("listing for a lost create failed: %s", error)
                continue
            known = set(pool.session_ids()) | {e.session_id for e in entries if e.session_id}
            candidates = [
                row
                for row in active
                if row.id not in known
                and row.created_at is not None
                and asked_at - CLOCK_SKEW <= row.created_at <= pool.clock.now() + CLOCK_SKEW
            ]
            if candidates:
                best = min(candidates, key=lambda row: abs((row.created_at or 0.0) - asked_at))
                logger.info("found the session of a lost create: %s", best.id)
                return pool.backend.adopt(best)
        return None

    async def periodic(self) -> None:
        """Reap dead owners, close this pool's leaked lost creates, count foreign sessions."""
        pool = self._pool
        try:
            await self.reap_orphans()
            active = await pool.backend.list_active()
            entries = await pool.coordinator.ledger.entries()
        except (BBREError, CoordinatorUnavailableError) as error:
            logger.warning("reconciliation skipped: %s", error)
            return
        known = set(pool.session_ids()) | {e.session_id for e in entries if e.session_id}
        my_intents = [e for e in entries if e.owner == pool.owner and e.state is EntryState.INTENT]
        now = pool.clock.now()
        strangers = [row for row in active if row.id not in known and _alive(row, now)]
        leaked: list[ActiveSession] = []
        for intent in my_intents:
            for row in strangers:
                if row.created_at is not None and abs(row.created_at - intent.created_at) <= 60:
                    leaked.append(row)
                    strangers.remove(row)
                    await pool.coordinator.ledger.remove(intent.intent_id)
                    break
        if leaked:
            await self._close_all([_as_entry(pool, row) for row in leaked])
            logger.warning("closed %d sessions leaked by lost creates", len(leaked))
        pool._note_foreign(len(strangers))
        if strangers and pool.config.reap_foreign:
            await self._close_all([_as_entry(pool, row) for row in strangers])
            logger.warning("closed %d foreign sessions (reap_foreign=True)", len(strangers))


def _alive(row: ActiveSession, now: float) -> bool:
    return row.expires_at is None or row.expires_at > now


def _as_entry(pool: SessionPool, row: ActiveSession) -> LedgerEntry:
    return attrs.evolve(
        LedgerEntry.intent(pool.owner, backend=pool.backend.name), session_id=row.id
    )
