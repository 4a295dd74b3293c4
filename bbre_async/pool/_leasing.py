"""The lease desk: what a lease may ask of the pool (release, request bookkeeping, running a
request so that a cancelled caller does not throw the session away), and nothing more."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from bbre_async._models import Response
from bbre_async.pool._events import EventKind
from bbre_async.pool._holder import Holder, HolderState
from bbre_async.pool._keeper import Keeper
from bbre_async.pool._timing import within


class LeaseDesk:
    def __init__(self, keeper: Keeper) -> None:
        self.keeper = keeper

    def now(self) -> float:
        return self.keeper.clock.now()

    def release_holder(self, holder: Holder) -> None:
        keeper = self.keeper
        if holder.state is not HolderState.LEASED:
            return
        keeper.events.emit(EventKind.RELEASED, holder.id)
        if holder.in_flight is not None and not holder.in_flight.done():
            holder.in_flight.add_done_callback(lambda _f: self._settle_release(holder))
        else:
            self._settle_release(holder)

    def _settle_release(self, holder: Holder) -> None:
        keeper = self.keeper
        if holder.state is not HolderState.LEASED:
            return
        holder.in_flight = None
        now = keeper.clock.now()
        if not holder.died_young(now):
            keeper.governor.matured()
        reason = holder.retire_reason or self._release_verdict(holder, now)
        if reason is not None:
            keeper.retire(holder, reason)
        else:
            keeper.to_idle(holder)
        if not keeper.in_state(HolderState.LEASED):
            keeper.no_leases.set()

    def _release_verdict(self, holder: Holder, now: float) -> str | None:
        keeper = self.keeper
        config = keeper.config
        if not keeper.open:
            return "pool closing"
        if holder.generation != keeper.generation:
            return "expired by generation"
        if holder.remaining(now) <= 0:
            return "expired"
        if config.max_requests_per_session and holder.requests >= config.max_requests_per_session:
            return "max requests reached"
        if holder.consecutive_errors >= config.max_consecutive_errors:
            return "too many errors"
        if keeper.coordinator.should_yield_slot():
            return "handed back: another process waits for a fair share of the cap"
        return None

    def counts_as_error(self, status_code: int) -> bool:
        keeper = self.keeper
        return status_code in keeper.config.retire_statuses

    def run_request(
        self, holder: Holder, call: Coroutine[Any, Any, Response]
    ) -> asyncio.Future[Response]:
        """Run a lease's request in a task that outlives a cancelled caller, bounded by
        ``request_grace``; the session stays out of service until it ends."""
        keeper = self.keeper

        async def bounded() -> Response:
            try:
                return await within(keeper.clock, keeper.config.request_grace, call)
            except TimeoutError:
                holder.retire_reason = holder.retire_reason or "request outlived its grace"
                raise
            finally:
                if holder.in_flight is task:
                    holder.in_flight = None

        task = asyncio.ensure_future(bounded())
        holder.in_flight = task
        return task

    def note_request(self, holder: Holder, *, ok: bool, gone: bool = False) -> None:
        keeper = self.keeper
        keeper.counters["requests"] += 1
        holder.requests += 1
        if ok:
            holder.consecutive_errors = 0
            return
        holder.consecutive_errors += 1
        keeper.counters["failed_requests"] += 1
        now = keeper.clock.now()
        if gone and holder.died_young(now):
            # A session that dies young means our reading of its life was wrong: back off.
            delay = keeper.governor.failed(now, f"session {holder.id} died young")
            keeper.events.emit(
                EventKind.THROTTLED, holder.id, f"died young; creates paused {delay:.2f}s"
            )
