"""Closing a pool, and reporting on one: the shutdown sequence (fail the waiters, wait for
held leases up to the deadline while naming them, close everything concurrently, bounded)
and the ``PoolStats`` snapshot, both read off the keeper's one structure."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import anyio

from bbre_async._errors import PoolClosedError
from bbre_async.pool._holder import Holder, HolderState
from bbre_async.pool._keeper import Keeper
from bbre_async.pool._slots import SlotKind
from bbre_async.pool._stats import CostModel, PoolStats, ShutdownSummary, WaitSamples
from bbre_async.pool._timing import move_on_after, pause

logger = logging.getLogger("bbre_async.pool")

# Slots that outlive a shutdown on purpose: their sessions may exist and hold the account's
# slot until they expire; the ledger keeps them for the next start's reaper.
_LINGERING = (SlotKind.UNRESOLVED, SlotKind.UNTIL_EXPIRY)


def held_leases(keeper: Keeper) -> str:
    now = keeper.clock.now()
    return ", ".join(
        f"{h.id} (held by task {_task_name(h)!r} for {now - h.lease_since:.1f}s)"
        for h in keeper.holders.values()
        if h.state is HolderState.LEASED
    )


def _task_name(holder: Holder) -> str:
    owner = holder.lease_owner
    return owner.get_name() if owner is not None else "?"


async def _wait_for_leases(keeper: Keeper, limit: float, force: asyncio.Event) -> bool:
    """True when every lease came back before ``limit`` seconds (or a forcing signal)."""
    if not keeper.in_state(HolderState.LEASED):
        return True
    logger.warning("pool closing while leases are held: %s", held_leases(keeper))
    keeper.no_leases.clear()  # set by the release that leaves none held, from now on
    waits = [
        asyncio.ensure_future(keeper.no_leases.wait()),
        asyncio.ensure_future(force.wait()),
        asyncio.ensure_future(pause(keeper.clock, limit)),
    ]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiting in waits:
            waiting.cancel()
    if keeper.in_state(HolderState.LEASED):
        logger.warning("leases still held at the deadline, closing them: %s", held_leases(keeper))
        return False
    return True


async def shut_down(
    keeper: Keeper, *, limit: float, force: asyncio.Event, stop: Callable[[], Awaitable[None]]
) -> ShutdownSummary:
    started = keeper.clock.now()
    keeper.open = False
    keeper.waiters.fail_all(PoolClosedError("the pool is closing"))
    forced = False
    try:
        forced = not await _wait_for_leases(keeper, limit, force)
    finally:
        with anyio.CancelScope(shield=True):
            await _close_everything(keeper)
            leftover = [h.id for h in keeper.holders.values()]
            keeper.shutdown_failed.extend(i for i in leftover if i not in keeper.shutdown_failed)
            await stop()
    counters = keeper.counters
    summary = ShutdownSummary(
        closed=counters["shutdown_closed"],
        already_gone=counters["shutdown_gone"],
        failed=list(keeper.shutdown_failed),
        forced=forced,
        seconds=keeper.clock.now() - started,
    )
    level = logging.WARNING if summary.failed else logging.INFO
    logger.log(level, "pool closed: %s", summary)
    return summary


async def _close_everything(keeper: Keeper) -> None:
    with move_on_after(keeper.clock, keeper.config.close_timeout * 2):
        for holder in list(keeper.holders.values()):
            if holder.state in (HolderState.IDLE, HolderState.LEASED):
                keeper.retire(holder, "pool closing")
        while any(slot.kind not in _LINGERING for slot in keeper.book.slots()):
            keeper.settled.clear()
            await keeper.settled.wait()


def snapshot(keeper: Keeper, waits: WaitSamples, cost_model: CostModel | None) -> PoolStats:
    counters = keeper.counters
    book = keeper.book
    cost = None
    if cost_model is not None:
        cost = (
            counters["created"] * cost_model.per_session
            + counters["requests"] * cost_model.per_request
        )
    return PoolStats(
        max_size=keeper.config.max_size,
        capacity=book.usable,
        size=book.reserved,
        idle=len(keeper.idle),
        leased=keeper.in_state(HolderState.LEASED),
        creating=book.count(SlotKind.CREATING),
        unresolved=book.count(SlotKind.UNRESOLVED),
        closing=book.count(SlotKind.CLOSING),
        waiters=len(keeper.waiters),
        created=counters["created"],
        renewed=counters["renewed"],
        retired=counters["retired"],
        closed=counters["closed"],
        failed_creates=counters["failed_creates"],
        adopted=counters["adopted"],
        requests=counters["requests"],
        failed_requests=counters["failed_requests"],
        acquire_wait_p50=waits.percentile(0.5),
        acquire_wait_p99=waits.percentile(0.99),
        cost=cost,
        generation=keeper.generation,
        foreign=book.foreign,
        held_until_expiry=book.count(SlotKind.UNTIL_EXPIRY),
        create_paused=keeper.governor.reason,
    )
