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
from typing import TYPE_CHECKING

from bbre_async._errors import BBREError
from bbre_async.coordination._base import CoordinatorUnavailableError, EntryState, LedgerEntry
from bbre_async.pool._backend import ActiveSession, RemoteSession
from bbre_async.pool._reaper import (
    CLOCK_SKEW,
    ReapReport,
    close_all,
    execute_reap,
    plan_reap,
)

if TYPE_CHECKING:
    from bbre_async.pool._pool import SessionPool

logger = logging.getLogger("bbre_async.reaper")

# How long after its intent a lost create's session can have been made (the create's timeout).
LOST_CREATE_WINDOW = 10.0


class Reconciler:
    def __init__(self, pool: SessionPool) -> None:
        self._pool = pool
        self._claimed: set[str] = set()

    def _known(self, entries: list[LedgerEntry]) -> set[str]:
        """Every id that is not a stranger's: held, in a ledger, or recently closed by this
        pool (the listing lags, so a closed session can still show as active)."""
        pool = self._pool
        ids = {e.session_id for e in entries if e.session_id}
        return ids | set(pool.session_ids()) | pool.recently_closed()

    async def _still_active(self, session_id: str) -> bool:
        """Ask the authoritative status endpoint; the listing may lag."""
        try:
            active, _expires = await self._pool.backend.status(session_id)
        except BBREError:
            return False
        return active

    async def reap_orphans(self, *, include_foreign: bool = False) -> ReapReport:
        """Close the sessions of dead ledger owners; settle their unfinished intents."""
        pool = self._pool
        ledger = pool.coordinator.ledger
        stale_after = pool.config.orphan_stale_after
        plan = await plan_reap(
            pool.backend,
            ledger,
            me=pool.owner,
            stale_after=stale_after,
            include_foreign=include_foreign,
            known_ids=pool.session_ids(),
        )
        if not plan.targets and not plan.orphans:
            return ReapReport(foreign=len(plan.foreign))
        return await execute_reap(
            pool.backend,
            ledger,
            plan,
            me=pool.owner,
            stale_after=stale_after,
            close_timeout=pool.config.close_timeout,
        )

    async def lost_create_candidates(self, asked_at: float) -> list[ActiveSession] | None:
        """Unused active sessions no ledger accounts for, created around ``asked_at``
        (``None`` when the listing could not be read)."""
        pool = self._pool
        try:
            active = await pool.backend.list_active()
            entries = await pool.coordinator.ledger.entries()
        except (BBREError, CoordinatorUnavailableError) as error:
            logger.warning("listing for a lost create failed: %s", error)
            return None
        known = self._known(entries) | self._claimed
        latest = asked_at + CLOCK_SKEW + LOST_CREATE_WINDOW
        return [
            row
            for row in active
            if row.id not in known
            and row.unused
            and row.created_at is not None
            and asked_at - CLOCK_SKEW <= row.created_at <= latest
        ]

    async def find_lost_create(self, asked_at: float) -> tuple[RemoteSession | None, bool]:
        """The session a lost create made, when the listing shows exactly one candidate.

        Returns ``(session, ambiguous)``: several candidates (another program created one in
        the same instant) are ambiguous, and adopting the wrong one would take someone else's
        session, so none is adopted and the caller keeps the slot until it is resolved.
        """
        ambiguous = False
        for delay in self._pool.config.lost_create_lookups:
            if delay:
                await asyncio.sleep(delay)  # real time: the server's listing catching up
            candidates = await self.lost_create_candidates(asked_at)
            if candidates is None:
                ambiguous = True  # could not look: as good as not knowing
                continue
            candidates = [row for row in candidates if row.id not in self._claimed]
            if len(candidates) == 1:
                row = candidates[0]
                # Claim it before any await, so a concurrent lost create cannot take it too.
                self._claimed.add(row.id)
                if await self._still_active(row.id):
                    logger.info("found the session of a lost create: %s", row.id)
                    return self._pool.backend.adopt(row), False
                self._claimed.discard(row.id)
            ambiguous = len(candidates) > 1
        return None, ambiguous

    async def resolve_unknown(self, asked_at: float, *, deadline: float) -> bool:
        """Watch an ambiguous lost create until exactly one candidate remains (close it) or
        none does; True once resolved. Candidates that get used belong to someone else."""
        pool = self._pool
        delay = 1.0
        while pool.clock.now() < deadline:
            candidates = await self.lost_create_candidates(asked_at)
            if candidates is not None and len(candidates) <= 1:
                if candidates:
                    await close_all(
                        pool.backend, [candidates[0].id], close_timeout=pool.config.close_timeout
                    )
                    logger.warning(
                        "closed %s, the session of an earlier lost create", candidates[0].id
                    )
                return True
            await pool.clock.sleep(delay)
            delay = min(delay * 2, 30.0)
        return True  # past any session's life: nothing of it can still hold a slot

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
        known = self._known(entries) | self._claimed
        busy = pool.busy_intents()
        my_intents = [
            e
            for e in entries
            if e.owner == pool.owner
            and e.state is EntryState.INTENT
            and e.intent_id not in busy  # a create still in flight or being settled
        ]
        now = pool.clock.now()
        strangers = [row for row in active if row.id not in known and _alive(row, now)]
        leaked: list[ActiveSession] = []
        for intent in my_intents:
            for row in strangers:
                # A tight window: a looser one could take another program's session for ours.
                window = CLOCK_SKEW + LOST_CREATE_WINDOW
                near = row.created_at is not None and abs(row.created_at - intent.created_at)
                if near is not False and near <= window and row.unused:
                    leaked.append(row)
                    strangers.remove(row)
                    await pool.coordinator.ledger.remove(intent.intent_id)
                    break
        timeout = pool.config.close_timeout
        if leaked:
            await close_all(pool.backend, [row.id for row in leaked], close_timeout=timeout)
            logger.warning("closed %d sessions leaked by lost creates", len(leaked))
        if strangers and pool.config.reap_foreign:
            await close_all(pool.backend, [row.id for row in strangers], close_timeout=timeout)
            logger.warning("closed %d foreign sessions (reap_foreign=True)", len(strangers))
            strangers = []
        pool._note_foreign(len(strangers))


def _alive(row: ActiveSession, now: float) -> bool:
    return row.expires_at is None or row.expires_at > now
