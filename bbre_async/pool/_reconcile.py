"""Settling the differences between what the pool believes and what the server holds.

Three jobs:
- ``reap_orphans``: at start (and periodically), close the sessions of ledger owners that are
  gone (a dead pid on this host, or a stale heartbeat), claiming each entry first so that two
  live pools never both act on it, and never touching a live owner's sessions.
- ``made_nothing`` / ``watch_unknown``: a create whose answer was lost may have made a
  session; the listing tells when it surely did not, so its slot can be given back early.
- ``periodic``: compare the ledger with the listing; close what this pool leaked through lost
  creates, and count (or, when asked, close) "foreign" sessions no ledger knows.
"""

from __future__ import annotations

import logging
from typing import Protocol

from bbre_async._clock import Clock
from bbre_async._errors import BBREError
from bbre_async._session_backend import ActiveSession, SessionBackend
from bbre_async.coordination._base import (
    Coordinator,
    CoordinatorUnavailableError,
    LedgerEntry,
    OwnerInfo,
)
from bbre_async.pool._config import PoolConfig
from bbre_async.pool._reaper import (
    CLOCK_SKEW,
    ReapReport,
    close_all,
    estimate_clock_offset,
    execute_reap,
    plan_reap,
)
from bbre_async.pool._timing import pause


class ReconcileView(Protocol):
    """The little the reconciler may see of a pool."""

    backend: SessionBackend
    coordinator: Coordinator
    config: PoolConfig
    clock: Clock
    owner: OwnerInfo

    def session_ids(self) -> list[str]: ...

    def recently_closed(self) -> set[str]: ...

    def busy_intents(self) -> set[str]: ...

    def note_foreign(self, count: int) -> None: ...


logger = logging.getLogger("bbre_async.reaper")

# How long after its intent a lost create's session can have been made (the create's timeout).
LOST_CREATE_WINDOW = 10.0


class Reconciler:
    def __init__(self, view: ReconcileView) -> None:
        self._view = view

    def _known(self, entries: list[LedgerEntry]) -> set[str]:
        """Every id that is not a stranger's: held, in a ledger, or recently closed by this
        pool (the listing lags, so a closed session can still show as active)."""
        view = self._view
        ids = {e.session_id for e in entries if e.session_id}
        return ids | set(view.session_ids()) | view.recently_closed()

    async def reap_orphans(self, *, include_foreign: bool = False) -> ReapReport:
        """Close the sessions of dead ledger owners; settle their unfinished intents."""
        view = self._view
        ledger = view.coordinator.ledger
        stale_after = view.config.orphan_stale_after
        plan = await plan_reap(
            view.backend,
            ledger,
            me=view.owner,
            stale_after=stale_after,
            include_foreign=include_foreign,
            known_ids=view.session_ids(),
        )
        if not plan.targets and not plan.orphans:
            return ReapReport(foreign=len(plan.foreign))
        return await execute_reap(
            view.backend,
            ledger,
            plan,
            me=view.owner,
            stale_after=stale_after,
            close_timeout=view.config.close_timeout,
        )

    async def lost_create_candidates(self, recorded_at: float | None) -> list[ActiveSession] | None:
        """Unused active sessions no ledger accounts for, created around ``recorded_at`` (when
        the create's ledger intent was written), or any such session when that is unknown
        (``None`` when the listing could not be read)."""
        view = self._view
        try:
            active = await view.backend.list_active()
            entries = await view.coordinator.ledger.entries()
        except (BBREError, CoordinatorUnavailableError) as error:
            logger.warning("listing for a lost create failed: %s", error)
            return None
        known = self._known(entries)
        strangers = [row for row in active if row.id not in known and row.unused]
        # ``recorded_at`` is on the ledger's clock, ``createdAt`` on the server's: shift the
        # window by the offset the ledger's own sessions show. Without one, no time filter:
        # any unused stranger may be the lost create's, and the slot stays held (clocks can
        # disagree by minutes).
        offset = estimate_clock_offset(entries, active)
        if offset is None or recorded_at is None:
            return strangers
        earliest = recorded_at + offset - CLOCK_SKEW
        latest = recorded_at + offset + CLOCK_SKEW + LOST_CREATE_WINDOW
        return [
            row
            for row in strangers
            if row.created_at is None or earliest <= row.created_at <= latest
        ]

    async def made_nothing(self, recorded_at: float | None) -> bool:
        """True when the listing, read after it had time to catch up, shows no session a lost
        create recorded at ``recorded_at`` could have made. Never adopts or closes a
        candidate: one that cannot be proven ours may be another client's."""
        view = self._view
        found = True
        for delay in view.config.lost_create_lookups:
            if delay:
                await pause(view.clock, delay)
            candidates = await self.lost_create_candidates(recorded_at)
            found = candidates is None or bool(candidates)
        return not found

    async def watch_unknown(self, recorded_at: float | None, *, deadline: float) -> None:
        """Return once nothing a lost create could have made remains in the listing, or at
        ``deadline`` (past any session's life); candidates are left to expire or to
        ``reap_foreign``."""
        view = self._view
        delay = 1.0
        while view.clock.now() < deadline:
            candidates = await self.lost_create_candidates(recorded_at)
            if candidates is not None and not candidates:
                return
            await pause(view.clock, min(delay, deadline - view.clock.now()))
            delay = min(delay * 2, 30.0)

    async def refresh_foreign(self) -> None:
        """Count the account's active sessions that no ledger knows (cheap: one listing)."""
        view = self._view
        try:
            active = await view.backend.list_active()
            entries = await view.coordinator.ledger.entries()
        except (BBREError, CoordinatorUnavailableError) as error:
            logger.warning("counting foreign sessions failed: %s", error)
            return
        known = self._known(entries)
        now = view.clock.now()
        view.note_foreign(sum(1 for row in active if row.id not in known and _alive(row, now)))

    async def periodic(self) -> None:
        """Reap dead owners and count (or, when asked, close) foreign sessions."""
        view = self._view
        try:
            await self.reap_orphans()
            active = await view.backend.list_active()
            entries = await view.coordinator.ledger.entries()
        except (BBREError, CoordinatorUnavailableError) as error:
            logger.warning("reconciliation skipped: %s", error)
            return
        now = view.clock.now()
        known = self._known(entries)
        # Sessions no ledger knows: another program's, or a lost create of ours that cannot be
        # told apart from one; either way they are counted, and closed only when asked.
        strangers = [row for row in active if row.id not in known and _alive(row, now)]
        timeout = view.config.close_timeout
        if strangers and view.config.reap_foreign:
            await close_all(view.backend, [row.id for row in strangers], close_timeout=timeout)
            logger.warning("closed %d foreign sessions (reap_foreign=True)", len(strangers))
            strangers = []
        view.note_foreign(len(strangers))


def _alive(row: ActiveSession, now: float) -> bool:
    return row.expires_at is None or row.expires_at > now
