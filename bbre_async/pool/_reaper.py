"""Finding and closing sessions nobody will close: the owner-is-gone rule applied to a ledger
and the account's active listing. The pool runs it at start; the CLI runs it on demand."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

import anyio
import attrs

from bbre_async._errors import BBREError
from bbre_async.coordination._base import LedgerEntry, LedgerStore, OwnerInfo
from bbre_async.coordination._memory_ledger import find_orphans
from bbre_async.pool._backend import ActiveSession, SessionBackend

logger = logging.getLogger("bbre_async.reaper")

# How far a server's createdAt may sit from our own clock around a create, in seconds.
CLOCK_SKEW = 5.0
# How long after an intent was recorded its create could still have been answered.
INTENT_WINDOW = 15.0


@attrs.frozen(kw_only=True)
class ReapPlan:
    """What a reap would close: dead owners' sessions, and (when asked) foreign ones."""

    orphans: list[LedgerEntry] = attrs.field(factory=list)  # dead owners' entries
    targets: dict[str, str] = attrs.field(factory=dict)  # session id -> why it is closed
    foreign: list[ActiveSession] = attrs.field(factory=list)  # in no ledger at all


@attrs.frozen(kw_only=True)
class ReapReport:
    """What a reap did."""

    orphans: int = 0
    closed: int = 0
    already_gone: int = 0
    failed: list[str] = attrs.field(factory=list)
    foreign: int = 0
    foreign_closed: int = 0


async def plan_reap(
    backend: SessionBackend,
    ledger: LedgerStore,
    *,
    me: OwnerInfo,
    stale_after: float,
    include_foreign: bool = False,
    known_ids: Iterable[str] = (),
    now: float | None = None,
) -> ReapPlan:
    """Decide what to close, changing nothing.

    Dead owners' entries with a session id are targets. Their intents without one (a create
    whose answer nobody saw) are matched against active sessions created in their window that
    no ledger entry accounts for. Active sessions in no ledger are "foreign": another program
    on the key; they are targets only with ``include_foreign``.
    """
    entries = await ledger.entries()
    orphans = [
        e
        for e in find_orphans(
            entries, me=me, stale_after=stale_after, now=time.time() if now is None else now
        )
        if e.backend == backend.name
    ]
    targets = {e.session_id: "owner gone" for e in orphans if e.session_id}
    intents = [e for e in orphans if not e.session_id]
    needs_listing = bool(intents) or include_foreign
    foreign: list[ActiveSession] = []
    if needs_listing:
        active = await backend.list_active()
        accounted = {e.session_id for e in entries if e.session_id} | set(known_ids)
        strangers = [row for row in active if row.id not in accounted]
        for intent in intents:
            for row in strangers:
                if row.id in targets or row.created_at is None:
                    continue
                lo = intent.created_at - CLOCK_SKEW
                if lo <= row.created_at <= intent.created_at + INTENT_WINDOW:
                    targets[row.id] = "lost create of a gone owner"
                    break
        foreign = [row for row in strangers if row.id not in targets]
        if include_foreign:
            for row in foreign:
                targets[row.id] = "foreign"
    return ReapPlan(orphans=orphans, targets=targets, foreign=foreign)


async def execute_reap(
    backend: SessionBackend,
    ledger: LedgerStore,
    plan: ReapPlan,
    *,
    me: OwnerInfo,
    stale_after: float,
    close_timeout: float = 10.0,
) -> ReapReport:
    """Claim each orphan entry (so two reapers never act on one), close the targets
    concurrently, and drop the settled entries."""
    claimed: list[LedgerEntry] = []
    for entry in plan.orphans:
        if await ledger.claim(entry.intent_id, me, stale_after=stale_after):
            claimed.append(entry)
    claimed_sessions = {e.session_id for e in claimed if e.session_id}
    unclaimed = {e.session_id for e in plan.orphans if e.session_id} - claimed_sessions
    ids = [sid for sid in plan.targets if sid not in unclaimed]
    closed, gone, failed = await close_all(backend, ids, close_timeout=close_timeout)
    for entry in claimed:
        if entry.session_id not in failed:
            await ledger.remove(entry.intent_id)
    foreign_ids = {row.id for row in plan.foreign}
    report = ReapReport(
        orphans=len(claimed),
        closed=closed,
        already_gone=gone,
        failed=failed,
        foreign=len(plan.foreign),
        foreign_closed=sum(1 for sid in ids if sid in foreign_ids and sid not in failed),
    )
    if ids:
        logger.info("reaped: %s", report)
    return report


async def close_all(
    backend: SessionBackend, session_ids: Iterable[str], *, close_timeout: float = 10.0
) -> tuple[int, int, list[str]]:
    """Close sessions concurrently, shielded and bounded; (closed now, already gone, failed)."""
    closed = 0
    gone = 0
    failed: list[str] = []

    async def close_one(session_id: str) -> None:
        nonlocal closed, gone
        try:
            with anyio.fail_after(close_timeout):
                if await backend.close(session_id):
                    closed += 1
                else:
                    gone += 1
        except (BBREError, TimeoutError) as error:
            logger.warning("could not close session %s: %s", session_id, error)
            failed.append(session_id)

    with anyio.CancelScope(shield=True):
        async with anyio.create_task_group() as tg:
            for session_id in session_ids:
                tg.start_soon(close_one, session_id)
    return closed, gone, failed
