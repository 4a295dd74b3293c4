"""Finding and closing sessions nobody will close: the owner-is-gone rule applied to a ledger
and the account's active listing. The pool runs it at start; the CLI runs it on demand."""

from __future__ import annotations

import logging
import statistics
import time
from collections.abc import Iterable

import anyio
import attrs

from bbre_async._errors import BBREError
from bbre_async.coordination._base import LedgerEntry, LedgerStore, OwnerInfo
from bbre_async.coordination._memory_ledger import find_orphans
from bbre_async.pool._backend import ActiveSession, SessionBackend

logger = logging.getLogger("bbre_async.reaper")

# How far a listed createdAt may sit before the moment its create was expected (our clock plus
# the estimated clock offset), in seconds: the uncertainty of the offset estimate.
CLOCK_SKEW = 5.0
# How long after an intent was recorded its create could still have been answered.
INTENT_WINDOW = 15.0
# The documented longest life of a session: an intent older than this (plus the window) can
# no longer have a live session behind it, whatever the clocks say.
MAX_SESSION_LIFE = 300.0


@attrs.frozen(kw_only=True)
class ReapPlan:
    """What a reap would close: dead owners' sessions, and (when asked) foreign ones.

    ``orphans`` are the dead owners' entries the reap settles: those with a session id (an
    intent matched to a listed session carries the matched id) are closed by that id, and an
    intent too old to have a live session is only dropped. ``pending`` are intents that
    matched nothing yet: they stay in the ledger for a later reap, never deleted unconfirmed.
    """

    orphans: list[LedgerEntry] = attrs.field(factory=list)  # dead owners' entries to settle
    targets: dict[str, str] = attrs.field(factory=dict)  # session id -> why it is closed
    foreign: list[ActiveSession] = attrs.field(factory=list)  # in no ledger at all
    pending: list[LedgerEntry] = attrs.field(factory=list)  # unmatched intents, kept
    clock_offset: float | None = None  # server clock minus ours, when it could be estimated


@attrs.frozen(kw_only=True)
class ReapReport:
    """What a reap did."""

    orphans: int = 0
    closed: int = 0
    already_gone: int = 0
    failed: list[str] = attrs.field(factory=list)
    foreign: int = 0
    foreign_closed: int = 0
    pending: int = 0


def estimate_clock_offset(
    entries: Iterable[LedgerEntry], active: Iterable[ActiveSession]
) -> float | None:
    """The server's clock minus ours, in seconds, or None when nothing pairs up.

    Every ledger row with a session id was written on our clock just before its create was
    sent; the listing gives the same session's ``createdAt`` on the server's clock. The median
    of those differences is the offset (plus a create's latency, well inside `CLOCK_SKEW`),
    robust to a few rows whose create waited long.
    """
    created = {row.id: row.created_at for row in active if row.created_at is not None}
    diffs = [
        created[entry.session_id] - entry.created_at
        for entry in entries
        if entry.session_id is not None and entry.session_id in created
    ]
    return statistics.median(diffs) if diffs else None


def match_intents(
    intents: Iterable[LedgerEntry], strangers: Iterable[ActiveSession], offset: float
) -> dict[str, ActiveSession]:
    """Pair each lost-create intent with the unused stranger created nearest to when its
    create reached the server (``created_at + offset``), within the window; intent id -> row.

    Oldest intents choose first and a row is given to one intent at most.
    """
    free = [row for row in strangers if row.created_at is not None and row.unused]
    matched: dict[str, ActiveSession] = {}
    for intent in sorted(intents, key=lambda e: e.created_at):
        expected = intent.created_at + offset
        near = [
            row
            for row in free
            if row.created_at is not None
            and expected - CLOCK_SKEW <= row.created_at <= expected + INTENT_WINDOW + CLOCK_SKEW
        ]
        if near:
            best = min(near, key=lambda row: abs((row.created_at or 0.0) - expected))
            matched[intent.intent_id] = best
            free.remove(best)
    return matched


async def plan_reap(
    backend: SessionBackend,
    ledger: LedgerStore,
    *,
    me: OwnerInfo,
    stale_after: float,
    include_foreign: bool = False,
    known_ids: Iterable[str] = (),
    now: float | None = None,
    clock_offset: float | None = None,
) -> ReapPlan:
    """Decide what to close, changing nothing.

    Dead owners' entries with a session id are targets, matched by that id whatever the
    clocks say. Their intents without one (a create whose answer nobody saw) are matched
    against unused active sessions no ledger accounts for, created when that create reached
    the server: our intent time shifted by the clock offset, estimated from the rows that
    pair up by id (else ``clock_offset``, e.g. from a ``Date`` header, else none). An intent
    that matches nothing stays in the ledger until it is too old to have a live session.
    Active sessions in no ledger are "foreign": another program on the key; they are targets
    only with ``include_foreign``.

    ``now`` is the ledger's wall clock (default: the ledger's own ``orphans()`` judgement when
    it has one, as every ledger of this package does, else this host's clock).
    """
    entries = await ledger.entries()
    # A ledger that stamps heartbeats on its own clock (Redis's) judges staleness on it too.
    own_judge = getattr(ledger, "orphans", None)
    if now is None and own_judge is not None:
        gone: list[LedgerEntry] = await own_judge(me=me, stale_after=stale_after)
    else:
        at = time.time() if now is None else now
        gone = find_orphans(entries, me=me, stale_after=stale_after, now=at)
    gone = [e for e in gone if e.backend == backend.name]
    wall = time.time() if now is None else now
    orphans = [e for e in gone if e.session_id]
    targets = {e.session_id: "owner gone" for e in orphans if e.session_id}
    intents = [e for e in gone if not e.session_id]
    expired = [e for e in intents if wall - e.created_at > MAX_SESSION_LIFE + INTENT_WINDOW]
    intents = [e for e in intents if e not in expired]
    orphans += expired  # nothing they made can be alive: drop them, nothing to close
    pending: list[LedgerEntry] = []
    foreign: list[ActiveSession] = []
    offset = clock_offset
    if intents or include_foreign:
        active = await backend.list_active()
        estimated = estimate_clock_offset(entries, active)
        offset = estimated if estimated is not None else clock_offset
        accounted = {e.session_id for e in entries if e.session_id} | set(known_ids)
        strangers = [row for row in active if row.id not in accounted]
        matched = match_intents(intents, strangers, offset or 0.0)
        for intent in intents:
            row = matched.get(intent.intent_id)
            if row is None:
                pending.append(intent)
                continue
            targets[row.id] = "lost create of a gone owner"
            orphans.append(attrs.evolve(intent, session_id=row.id))
        foreign = [row for row in strangers if row.id not in targets]
        if include_foreign:
            for row in foreign:
                targets[row.id] = "foreign"
    else:
        pending = []
    if pending:
        logger.info(
            "%d lost create(s) of gone owners matched no listed session (clock offset %s); "
            "kept for a later reap",
            len(pending),
            "unknown" if offset is None else f"{offset:+.1f}s",
        )
    return ReapPlan(
        orphans=orphans, targets=targets, foreign=foreign, pending=pending, clock_offset=offset
    )


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
    confirmed = set(ids) - set(failed)
    for entry in claimed:
        # A row goes only once its session is confirmed closed or gone (or it never had one).
        if entry.session_id is None or entry.session_id in confirmed:
            await ledger.remove(entry.intent_id)
    foreign_ids = {row.id for row in plan.foreign}
    report = ReapReport(
        orphans=len(claimed),
        closed=closed,
        already_gone=gone,
        failed=failed,
        foreign=len(plan.foreign),
        foreign_closed=sum(1 for sid in ids if sid in foreign_ids and sid not in failed),
        pending=len(plan.pending),
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
