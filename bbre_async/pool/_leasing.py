"""The lease desk: what a lease may ask of the pool (release, running a request so that a
cancelled caller does not throw the session away, judging how a request ended), and nothing
more."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from bbre_async._errors import (
    APIConnectionError,
    BBREError,
    SessionClosedError,
    SessionGoneError,
)
from bbre_async._models import Response
from bbre_async.pool._events import EventKind
from bbre_async.pool._holder import Holder, HolderState
from bbre_async.pool._keeper import Keeper
from bbre_async.pool._timing import Cancellable, call_later


class LeaseDesk:
    def __init__(self, keeper: Keeper) -> None:
        self.keeper = keeper

    def now(self) -> float:
        return self.keeper.clock.now()

    def release_holder(self, holder: Holder) -> None:
        if holder.state is not HolderState.LEASED:
            return
        holder.lease_owner = None
        if self.keeper.events.listening:
            self.keeper.events.emit(EventKind.RELEASED, holder.id)
        running = holder.in_flight
        if running is not None and not running.done():
            # Its caller left mid-request: the session stays out of service until it ends.
            running.add_done_callback(lambda _f: self._settle_release(holder))
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
            keeper.to_idle(holder, now)
        if not keeper.open and not keeper.in_state(HolderState.LEASED):
            keeper.no_leases.set()

    def _release_verdict(self, holder: Holder, now: float) -> str | None:
        keeper = self.keeper
        config = keeper.config
        if not keeper.open:
            return "pool closing"
        if holder.generation != keeper.generation:
            return "expired by generation"
        if holder.expires_at <= now:
            return "expired"
        if config.max_requests_per_session and holder.requests >= config.max_requests_per_session:
            return "max requests reached"
        if holder.consecutive_errors >= config.max_consecutive_errors:
            return "too many errors"
        if keeper.coordinator.should_yield_slot():
            return "handed back: another process waits for a fair share of the cap"
        return None

    def start_request(self, holder: Holder, call: Coroutine[Any, Any, Response]) -> RequestRun:
        """Run a lease's request in a task of its own, so that cancelling the caller does not
        cut it off half-way (see ``RequestRun``). While it runs the session is busy."""
        return RequestRun(self, holder, call)

    def judge(self, holder: Holder, task: asyncio.Task[Response]) -> None:
        """Count a finished request and mark its session for retirement when the request
        says it is gone, or when the request's fate on the server is unknown."""
        if task.cancelled():
            holder.retire_reason = holder.retire_reason or "request cut off"
            return
        error = task.exception()
        if error is None:
            status = task.result().status_code
            self._note(holder, ok=status not in self.keeper.config.retire_statuses)
        elif isinstance(error, SessionGoneError):
            holder.retire_reason = holder.retire_reason or f"gone: {error.code}"
            # Closed by someone else says nothing of its life; expired or forgotten does.
            self._note(holder, ok=False, gone=not isinstance(error, SessionClosedError))
        elif isinstance(error, APIConnectionError):
            # The request may still be running remotely: never hand this session on.
            holder.retire_reason = holder.retire_reason or "request outcome unknown"
            self._note(holder, ok=False)
        elif isinstance(error, BBREError):
            self._note(holder, ok=False)

    def _note(self, holder: Holder, *, ok: bool, gone: bool = False) -> None:
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


class RequestRun:
    """One lease's request, in a task of its own. Its end, and only its end, judges the
    session; then the outcome goes to the caller, if the caller still waits.

    One future and one callback carry the outcome (``asyncio.shield`` takes two callbacks and
    a wrapper): this runs on every pooled request. When the caller is cancelled, the request
    goes on at most ``request_grace`` seconds more (``caller_left``)."""

    __slots__ = ("_desk", "_grace", "_holder", "outcome", "task")

    def __init__(self, desk: LeaseDesk, holder: Holder, call: Coroutine[Any, Any, Response]):
        loop = asyncio.get_running_loop()
        self._desk = desk
        self._holder = holder
        self._grace: Cancellable | None = None
        self.outcome: asyncio.Future[Response] = loop.create_future()
        self.task = loop.create_task(call)
        self.task.add_done_callback(self._ended)
        holder.in_flight = self.task

    def caller_left(self) -> None:
        """The caller was cancelled: cut the request off if it outlives its grace."""
        task = self.task
        if task.done():
            return  # ``_ended`` judges it (it ran or is scheduled); only the answer is lost
        holder = self._holder

        def outlived() -> None:
            if not task.done():
                holder.retire_reason = holder.retire_reason or "request outlived its grace"
                task.cancel()

        keeper = self._desk.keeper
        self._grace = call_later(keeper.clock, keeper.config.request_grace, outlived)

    def _ended(self, task: asyncio.Task[Response]) -> None:
        if self._grace is not None:
            self._grace.cancel()
        self._desk.judge(self._holder, task)
        outcome = self.outcome
        if outcome.done():
            return  # the caller left
        if task.cancelled():
            outcome.cancel()
        elif (error := task.exception()) is not None:
            outcome.set_exception(error)
        else:
            outcome.set_result(task.result())
