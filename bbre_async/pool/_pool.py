"""``SessionPool``: many tasks, an account's few short-lived sessions, nothing leaked.

How it stays correct:
- Every remote operation (create, renew, close) runs in a background task the pool owns,
  never in a caller's task, so cancelling a caller cannot interrupt one half-way. Callers
  only ever wait on a future; release is synchronous.
- ``_slots_used`` counts every session the pool may hold remotely (creates in flight, live
  sessions, unconfirmed closes) and is reserved *before* a create starts, so the cap holds
  even while answers are outstanding.
- Waiters queue in arrival order; an idle session goes to the head of the queue only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import AsyncIterable, Awaitable, Callable, Coroutine, Generator, Iterable
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import anyio
import attrs

from bbre_async._client import BBREClient
from bbre_async._clock import Clock, SystemClock
from bbre_async._errors import (
    BBREError,
    PoolClosedError,
    PoolTimeoutError,
    SessionLimitError,
)
from bbre_async.coordination._base import (
    Coordinator,
    CoordinatorUnavailableError,
    LedgerEntry,
    OwnerInfo,
    SlotGrant,
    SlotTimeoutError,
)
from bbre_async.coordination._base import (
    EntryState as LedgerState,
)
from bbre_async.pool._backend import RemoteSession, SessionBackend
from bbre_async.pool._bbre_backend import BBREBackend
from bbre_async.pool._config import PoolConfig
from bbre_async.pool._entry import Entry, EntryState
from bbre_async.pool._events import EventBus, EventKind, Listener
from bbre_async.pool._job import DEFAULT_RETRIES, POOL_DEFAULT, Job, run_job
from bbre_async.pool._lease import PooledSession
from bbre_async.pool._ledger_setup import AUTO, default_coordinator
from bbre_async.pool._map import MapRun
from bbre_async.pool._outcome import ItemT, ProgressHook, ResultT
from bbre_async.pool._reconcile import Reconciler
from bbre_async.pool._signals import SignalHandlers
from bbre_async.pool._stats import CostModel, PoolStats, ShutdownSummary, WaitSamples

logger = logging.getLogger("bbre_async.pool")

_DEFAULT: Any = object()
# No session of either vendor the pool drives outlives this; an unresolved lost create is
# settled by then whatever the listing says.
MAX_SESSION_LIFE = 300.0
_NEW, _OPEN, _CLOSING, _CLOSED = "new", "open", "closing", "closed"


def _check_seconds(name: str, value: object) -> None:
    """``None`` or a finite number >= 0; anything else fails now, not after a long wait."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a number of seconds or None, got {value!r}")
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")


def _is_orchestrator_client(client: object) -> bool:
    return type(client).__name__ == "OrchestratorClient" and hasattr(client, "sessions")


class _Waiter:
    __slots__ = ("future", "min_ttl")

    def __init__(self, future: asyncio.Future[Entry], min_ttl: float | None) -> None:
        self.future = future
        self.min_ttl = min_ttl


class SessionPool:
    """Shares an account's remote sessions among many tasks, within the account cap.

    ``async with SessionPool(client) as pool:`` then ``async with pool.acquire() as s:``.
    See ``PoolConfig`` for every keyword setting (renewal margins, retirement rules,
    timeouts, signals, ledger and reconciliation).
    """

    def __init__(
        self,
        client: BBREClient | SessionBackend,
        *,
        mode: str = "passive",
        sensibility: str = "medium",
        session_timeout: int = 300,
        fingerprint: dict[str, Any] | None = None,
        proxy: str | dict[str, Any] | None = None,
        coordinator: Coordinator | None = None,
        ledger_path: Any = AUTO,
        clock: Clock | None = None,
        cost_model: CostModel | None = None,
        rng: random.Random | None = None,
        **settings: Any,
    ) -> None:
        if _is_orchestrator_client(client):
            from bbre_async.orchestrator import OrchestratorBackend

            backend: SessionBackend = OrchestratorBackend(client)  # type: ignore[arg-type]
        elif isinstance(client, BBREClient):
            backend = BBREBackend(
                client,
                mode=mode,
                sensibility=sensibility,
                session_timeout=session_timeout,
                fingerprint=fingerprint,
                proxy=proxy,
            )
        else:
            backend = client
        self.config = PoolConfig(**settings)
        if self.config.max_size > backend.account_cap:
            raise ValueError(
                f"max_size {self.config.max_size} exceeds the {backend.name} account cap of "
                f"{backend.account_cap} active sessions"
            )
        self.backend = backend
        self.clock: Clock = clock or SystemClock()
        self.pool_id = uuid.uuid4().hex[:12]
        self.coordinator: Coordinator = coordinator or default_coordinator(backend, ledger_path)
        self.cost_model = cost_model
        self._rng = rng or random.Random()
        self._events = EventBus()
        self._owner = OwnerInfo.current(self.pool_id)
        self._reconciler = Reconciler(self)
        self._signals = SignalHandlers(self._on_signal)

        self._state = _NEW
        self._entries: dict[str, Entry] = {}
        self._idle: list[Entry] = []
        self._waiters: deque[_Waiter] = deque()
        self._slots_used = 0
        self._creating = 0
        self._closing = 0
        self._renewing = 0
        self._leased = 0
        self._capacity = self.config.max_size
        self._foreign = 0
        self._unresolved = 0  # lost creates that may exist: their slots stay reserved
        self._busy_intents: set[str] = set()  # creates in flight or being settled
        self._recently_closed: OrderedDict[str, None] = OrderedDict()
        self._generation = 0
        self._consecutive_failures = 0
        self._last_create_error: BBREError | None = None
        self._next_create_at = 0.0
        self._probe_at = 0.0
        self._probe_backoff = self.config.capacity_probe_backoff
        self._wakeup = asyncio.Event()
        self._next_wake_at = 0.0
        self._settled = asyncio.Event()
        self._no_leases = asyncio.Event()
        self._force = asyncio.Event()
        self._stopped = asyncio.Event()
        self._started = asyncio.Event()
        self._tg: anyio.abc.TaskGroup | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._close_task: asyncio.Future[ShutdownSummary] | None = None
        self._summary: ShutdownSummary | None = None
        self._shutdown_closed = 0
        self._shutdown_gone = 0
        self._shutdown_failed: list[str] = []
        self._waits = WaitSamples()
        self._counters = dict.fromkeys(
            (
                "created",
                "renewed",
                "retired",
                "closed",
                "failed_creates",
                "adopted",
                "requests",
                "failed_requests",
            ),
            0,
        )

    # ----------------------------------------------------------------- lifecycle

    async def __aenter__(self) -> SessionPool:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def open(self) -> None:
        """Connect the coordinator, reap what dead processes left, start background work,
        and pre-warm ``min_size`` sessions."""
        if self._state != _NEW:
            raise PoolClosedError(f"the pool is {self._state}; a pool opens once")
        self._state = _OPEN
        await self.coordinator.open(self._owner)
        if self.config.reap_on_open:
            try:
                report = await self._reconciler.reap_orphans()
                if report.closed or report.failed:
                    logger.info("reaped sessions of dead owners: %s", report)
            except BBREError as error:
                logger.warning("could not reap orphaned sessions at start: %s", error)
        self._supervisor = asyncio.create_task(self._supervise(), name=f"bbre-pool-{self.pool_id}")
        await self._started.wait()
        if self.config.handle_signals:
            self._signals.install()
        if self.config.min_size:
            self._grow()
            await self._prewarm()

    async def _prewarm(self) -> None:
        deadline = time.monotonic() + self.config.acquire_timeout
        while self._live_count() < self.config.min_size and time.monotonic() < deadline:
            if self._consecutive_failures >= self.config.create_failures_to_surface:
                break
            self._settled.clear()
            with anyio.move_on_after(max(0.0, deadline - time.monotonic())):
                await self._settled.wait()

    async def _supervise(self) -> None:
        async with anyio.create_task_group() as tg:
            self._tg = tg
            tg.start_soon(self._maintain)
            self._started.set()
            await self._stopped.wait()
            tg.cancel_scope.cancel()

    def _spawn(self, func: Callable[..., Coroutine[Any, Any, None]], *args: Any) -> None:
        if self._tg is None:
            raise PoolClosedError("the pool is not open")
        self._tg.start_soon(self._guarded, func, *args)

    async def _guarded(self, func: Callable[..., Coroutine[Any, Any, None]], *args: Any) -> None:
        try:
            await func(*args)
        except Exception as error:  # a background failure must not tear the pool down
            logger.exception("pool background task %s failed", getattr(func, "__name__", func))
            self._events.emit(EventKind.ERROR, detail="background task failed", error=error)

    async def aclose(self, timeout: float | None = None) -> ShutdownSummary:
        """Stop leasing, wait up to ``timeout`` for held leases, then close every remote
        session concurrently (shielded from cancellation, bounded in time)."""
        if self._state == _NEW:
            self._state = _CLOSED
            self._summary = ShutdownSummary(
                closed=0, already_gone=0, failed=[], forced=False, seconds=0
            )
            return self._summary
        if self._summary is not None:
            return self._summary
        if self._close_task is None:
            self._state = _CLOSING
            self._close_task = asyncio.ensure_future(self._close(timeout))
        try:
            # The close runs in a task of its own: cancelling this caller (or its timeout
            # firing) cannot cut the cleanup short. It only stops waiting for held leases.
            return await asyncio.shield(self._close_task)
        except asyncio.CancelledError:
            self._force.set()
            raise

    async def _close(self, timeout: float | None) -> ShutdownSummary:
        started = time.monotonic()
        limit = self.config.shutdown_timeout if timeout is None else timeout
        self._fail_waiters(PoolClosedError("the pool is closing"))
        forced = False
        try:
            if self._leased:
                forced = not await self._wait_for_leases(limit)
        finally:
            await self._shutdown(forced, started)
        assert self._summary is not None
        return self._summary

    async def _wait_for_leases(self, limit: float) -> bool:
        self._no_leases.clear()
        force_wait = asyncio.ensure_future(self._force.wait())
        leases_wait = asyncio.ensure_future(self._no_leases.wait())
        try:
            done, _ = await asyncio.wait(
                {force_wait, leases_wait}, timeout=limit, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            force_wait.cancel()
            leases_wait.cancel()
        return leases_wait in done and self._leased == 0

    async def _shutdown(self, forced: bool, started: float) -> None:
        with anyio.move_on_after(self.config.close_timeout * 2):
            for entry in list(self._entries.values()):
                if entry.state in (EntryState.IDLE, EntryState.LEASED):
                    self._retire(entry, "pool closing")
            while self._creating or self._closing or self._renewing or self._entries:
                self._settled.clear()
                await self._settled.wait()
        leftover = [e.id for e in self._entries.values()]
        self._shutdown_failed.extend(i for i in leftover if i not in self._shutdown_failed)
        self._stopped.set()
        if self._supervisor is not None:
            with anyio.move_on_after(self.config.close_timeout):
                await asyncio.shield(self._supervisor)
        with anyio.move_on_after(self.config.close_timeout):
            try:
                await self.coordinator.aclose()
            except (CoordinatorUnavailableError, BBREError, OSError) as error:
                logger.warning("coordinator close failed: %s", error)
        self._signals.restore()
        self._state = _CLOSED
        self._summary = ShutdownSummary(
            closed=self._shutdown_closed,
            already_gone=self._shutdown_gone,
            failed=list(self._shutdown_failed),
            forced=forced,
            seconds=time.monotonic() - started,
        )
        level = logging.WARNING if self._shutdown_failed else logging.INFO
        logger.log(level, "pool closed: %s", self._summary)

    def _on_signal(self, signum: int, first: bool) -> None:
        """First signal: graceful close. Second: stop waiting for held leases."""
        if first:
            self._signals.close_task = asyncio.ensure_future(self.aclose())
        else:
            self._force.set()

    @property
    def closed(self) -> bool:
        return self._state in (_CLOSING, _CLOSED)

    # ------------------------------------------------------------------- leasing

    def acquire(
        self, *, timeout: float | None = _DEFAULT, min_ttl: float | None = None
    ) -> _Acquire:
        """Lease a session: ``async with pool.acquire() as s`` or ``s = await pool.acquire()``.

        Waits first come, first served, at most ``timeout`` seconds (default from the
        config; ``None`` waits without limit) and raises ``PoolTimeoutError`` after. The
        session has at least ``min_ttl`` seconds of server-given life left.
        """
        limit = self.config.acquire_timeout if timeout is _DEFAULT else timeout
        _check_seconds("timeout", limit)
        _check_seconds("min_ttl", min_ttl)
        return _Acquire(self, limit, min_ttl)

    async def release(self, lease: PooledSession) -> None:
        """Give a lease back (same as ``await lease.release()``)."""
        await lease.release()

    async def _acquire(self, timeout: float | None, min_ttl: float | None) -> PooledSession:
        if self._state != _OPEN:
            raise PoolClosedError(f"the pool is {self._state}")
        loop = asyncio.get_running_loop()
        started = loop.time()
        if not self._waiters:
            entry = self._take_idle(min_ttl)
            if entry is not None:
                return self._lease(entry, 0.0)
        waiter = _Waiter(loop.create_future(), min_ttl)
        self._waiters.append(waiter)
        self._grow()
        try:
            async with asyncio.timeout(timeout):
                entry = await waiter.future
        except BaseException as exc:
            self._abandon(waiter)
            if isinstance(exc, TimeoutError):
                raise PoolTimeoutError(self._timeout_message(loop.time() - started)) from None
            raise
        return self._lease(entry, loop.time() - started)

    def _abandon(self, waiter: _Waiter) -> None:
        with contextlib.suppress(ValueError):
            self._waiters.remove(waiter)
        future = waiter.future
        if future.done() and not future.cancelled() and future.exception() is None:
            # A session was handed over in the instant the wait ended: pass it on.
            self._return_to_idle(future.result())
        else:
            future.cancel()

    def _timeout_message(self, waited: float) -> str:
        return (
            f"no session within {waited:.2f}s: cap {self._capacity}/{self.config.max_size} "
            f"usable, {self._leased} in use, {len(self._idle)} idle, {self._creating} being "
            f"created, {len(self._waiters)} other waiters"
            + (f"; last create error: {self._last_create_error}" if self._last_create_error else "")
        )

    def _lease(self, entry: Entry, waited: float) -> PooledSession:
        entry.state = EntryState.LEASED
        self._leased += 1
        self._waits.add(waited)
        self._events.emit(EventKind.ACQUIRED, entry.id)
        return PooledSession(self, entry)

    def _usable(self, entry: Entry, min_ttl: float | None, now: float) -> bool:
        need = entry.min_ttl if min_ttl is None else min_ttl
        return (
            entry.generation == self._generation
            and entry.retire_reason is None
            and entry.remaining(now) > max(need, 0.0)
        )

    def _take_idle(self, min_ttl: float | None) -> Entry | None:
        idle = self._idle
        if not idle:
            return None
        now = self.clock.now()
        for index in range(len(idle) - 1, -1, -1):
            entry = idle[index]
            if self._usable(entry, min_ttl, now):
                del idle[index]
                return entry
        self._poke()  # idle but unusable sessions: let maintenance renew or retire them
        return None

    def _dispatch(self) -> None:
        waiters = self._waiters
        while waiters:
            head = waiters[0]
            if head.future.done():
                waiters.popleft()
                continue
            entry = self._take_idle(head.min_ttl)
            if entry is None:
                break
            waiters.popleft()
            entry.state = EntryState.LEASED
            head.future.set_result(entry)
        if waiters:
            self._grow()

    def _return_to_idle(self, entry: Entry) -> None:
        entry.state = EntryState.IDLE
        entry.idle_since = self.clock.now()
        self._idle.append(entry)
        if entry.renew_at() < self._next_wake_at:
            self._poke()
        self._dispatch()

    def _release(self, entry: Entry) -> None:
        if entry.state is not EntryState.LEASED:
            return
        self._leased -= 1
        self._events.emit(EventKind.RELEASED, entry.id)
        now = self.clock.now()
        reason = entry.retire_reason or self._release_verdict(entry, now)
        if reason is not None:
            self._retire(entry, reason)
        elif entry.remaining(now) <= entry.margin + entry.renew_offset:
            entry.state = EntryState.IDLE
            self._idle.append(entry)
            self._poke()
        else:
            self._return_to_idle(entry)
        if self._leased == 0:
            self._no_leases.set()

    def _release_verdict(self, entry: Entry, now: float) -> str | None:
        config = self.config
        if self._state != _OPEN:
            return "pool closing"
        if entry.generation != self._generation:
            return "expired by generation"
        if entry.remaining(now) <= 0:
            return "expired"
        if config.max_requests_per_session and entry.requests >= config.max_requests_per_session:
            return "max requests reached"
        if entry.consecutive_errors >= config.max_consecutive_errors:
            return "too many errors"
        if self.coordinator.should_yield_slot():
            return "handed back: another process waits for a fair share of the cap"
        return None

    def _note_request(self, entry: Entry, *, ok: bool) -> None:
        self._counters["requests"] += 1
        entry.requests += 1
        if ok:
            entry.consecutive_errors = 0
        else:
            entry.consecutive_errors += 1
            self._counters["failed_requests"] += 1

    def _fail_waiters(self, error: BaseException) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.future.done():
                waiter.future.set_exception(error)

    # -------------------------------------------------------------- growth/create

    def _usable_capacity(self) -> int:
        """The cap this pool may fill now: shrunk by a limit answer, and by sessions that
        belong to no ledger (another program on the same key)."""
        return min(self._capacity, self.backend.account_cap - self._foreign)

    def _note_foreign(self, count: int) -> None:
        if count != self._foreign:
            logger.info("%d active sessions on this account belong to no known pool", count)
        self._foreign = count

    def _live_count(self) -> int:
        return sum(1 for e in self._entries.values() if e.state is not EntryState.CLOSING)

    def _grow(self) -> None:
        """Start creates for waiters that no idle or coming session will serve."""
        if self._state != _OPEN or self._tg is None:
            return
        now = self.clock.now()
        if now < self._next_create_at:
            self._poke()
            return
        pending = sum(1 for w in self._waiters if not w.future.done())
        below_min = max(0, self.config.min_size - self._live_count() - self._creating)
        wanted = max(pending - self._creating - self._renewing, below_min)
        while wanted > 0 and self._slots_used < self._usable_capacity():
            self._slots_used += 1
            self._creating += 1
            self._spawn(self._create, None)
            wanted -= 1
        if wanted > 0 and self._idle:
            self._poke()  # at the cap with idle sessions too short for the waiters: renew them

    async def _create(self, carried_cookies: dict[str, str] | None) -> None:
        """Create one session on a slot reserved by the caller; always settles the slot."""
        entry: Entry | None = None
        try:
            entry = await self._create_entry()
        finally:
            self._creating -= 1
            self._settled.set()
        if entry is None:
            return
        if carried_cookies:
            entry.pending_cookies = carried_cookies
        if self._state != _OPEN:
            self._retire(entry, "pool closing")
        else:
            self._return_to_idle(entry)

    async def _create_entry(self, grant: SlotGrant | None = None) -> Entry | None:
        """Create one session on a reserved slot (and ``grant``, when already held)."""
        intent: LedgerEntry | None = None
        asked_at = self.clock.now()
        try:
            if grant is None:
                grant = await self.coordinator.acquire_slot(self.config.acquire_timeout)
            if not await self.coordinator.slot_is_held(grant):
                raise CoordinatorUnavailableError("the slot was lost before the create was sent")
            intent = LedgerEntry.intent(self._owner, backend=self.backend.name)
            self._busy_intents.add(intent.intent_id)
            await self._ledger_call(self.coordinator.ledger.record(intent))
            asked_at = self.clock.now()
            try:
                remote = await self.backend.create()
            except BBREError as error:
                if not error.outcome_unknown:
                    raise
                logger.warning("create outcome unknown (%s); reconciling", error)
                found, ambiguous = await self._reconciler.find_lost_create(asked_at)
                if found is not None and found.id in self._entries:
                    found, ambiguous = None, True  # already ours: never hold one twice
                if found is None:
                    if not ambiguous:
                        raise
                    # The session may exist: its reservation and slot stay held until the
                    # listing settles which session it is.
                    self._hold_unresolved(grant, intent, asked_at)
                    self._on_create_failure(error)
                    return None
                remote = found
                self._counters["adopted"] += 1
                self._events.emit(
                    EventKind.ADOPTED, remote.id, "adopted a create whose answer was lost"
                )
                if not self.config.adopt_unknown:
                    entry = self._new_entry(remote, grant, intent)
                    grant = None
                    self._entries[entry.id] = entry
                    self._busy_intents.discard(intent.intent_id)
                    self._retire(entry, "unknown-outcome create (adoption off)")
                    return None
        except SessionLimitError as error:
            self._on_session_limit(error)
            self._undo_create(grant, intent, error)
            return None
        except SlotTimeoutError as error:
            # The shared cap is busy, not broken: waiting callers time out on their own.
            self._undo_create(grant, intent, error)
            return None
        except BBREError as error:  # CoordinatorUnavailableError is a CoordinationError
            self._on_create_failure(error)
            self._undo_create(grant, intent, error)
            return None
        except BaseException:
            self._undo_create(grant, None, None)  # the intent stays for the next reaper
            raise
        entry = self._new_entry(remote, grant, intent)
        self._entries[entry.id] = entry
        await self._ledger_call(self.coordinator.ledger.record(entry.ledger_entry))
        self._busy_intents.discard(intent.intent_id)
        self._counters["created"] += 1
        self._consecutive_failures = 0
        self._last_create_error = None
        self._probe_backoff = self.config.capacity_probe_backoff
        self._events.emit(EventKind.CREATED, entry.id)
        return entry

    def _new_entry(self, remote: RemoteSession, grant: SlotGrant, intent: LedgerEntry) -> Entry:
        life = max(0.0, remote.expires_at - remote.created_at)
        margin = self.config.margin_for(life)
        ledger_entry = attrs.evolve(
            intent,
            state=LedgerState.ACTIVE,
            session_id=remote.id,
            expires_at=datetime.fromtimestamp(remote.expires_at, UTC),
        )
        return Entry(
            remote,
            grant=grant,
            ledger_entry=ledger_entry,
            generation=self._generation,
            margin=margin,
            min_ttl=self.config.min_ttl_for(life, None),
            renew_offset=self._rng.uniform(0.0, margin * self.config.renew_stagger),
            now=self.clock.now(),
        )

    def _undo_create(
        self, grant: SlotGrant | None, intent: LedgerEntry | None, error: BaseException | None
    ) -> None:
        """Give back what a failed create took: the reservation, the slot, the ledger row."""
        if intent is not None:
            self._busy_intents.discard(intent.intent_id)
        self._slots_used -= 1
        if grant is not None:
            self._spawn_or_run(self.coordinator.release_slot(grant))
        if intent is not None and not (isinstance(error, BBREError) and error.outcome_unknown):
            self._spawn_or_run(self.coordinator.ledger.remove(intent.intent_id))
        self._dispatch()

    def _hold_unresolved(self, grant: SlotGrant, intent: LedgerEntry, asked_at: float) -> None:
        self._unresolved += 1
        deadline = asked_at + MAX_SESSION_LIFE
        self._spawn(self._settle_unresolved, grant, intent, asked_at, deadline)

    async def _settle_unresolved(
        self, grant: SlotGrant, intent: LedgerEntry, asked_at: float, deadline: float
    ) -> None:
        resolved = False
        try:
            resolved = await self._reconciler.resolve_unknown(asked_at, deadline=deadline)
        finally:
            self._unresolved -= 1
            self._slots_used -= 1
            self._busy_intents.discard(intent.intent_id)
            with anyio.CancelScope(shield=True), anyio.move_on_after(self.config.close_timeout):
                if resolved:  # otherwise the row stays for the next start's reaper
                    await self._ledger_call(self.coordinator.ledger.remove(intent.intent_id))
                try:
                    await self.coordinator.release_slot(grant)
                except (CoordinatorUnavailableError, OSError) as error:
                    logger.warning("releasing a slot failed: %s", error)
            self._settled.set()
            self._dispatch()

    def _spawn_or_run(self, coro: Coroutine[Any, Any, None]) -> None:
        async def run() -> None:
            with anyio.move_on_after(self.config.close_timeout):
                try:
                    await coro
                except (BBREError, CoordinatorUnavailableError, OSError) as error:
                    logger.warning("coordinator call failed: %s", error)

        if self._tg is not None and not self._stopped.is_set():
            self._tg.start_soon(run)
        else:
            coro.close()

    async def _ledger_call(self, coro: Coroutine[Any, Any, None]) -> None:
        """Ledger writes are crash insurance: a failing one is logged, never fatal."""
        try:
            with anyio.fail_after(self.config.close_timeout):
                await coro
        except (TimeoutError, OSError, CoordinatorUnavailableError) as error:
            logger.warning("ledger write failed: %s", error)

    def _on_create_failure(self, error: BaseException) -> None:
        self._counters["failed_creates"] += 1
        self._consecutive_failures += 1
        if isinstance(error, BBREError):
            self._last_create_error = error
        backoff = min(
            self.config.create_backoff_max,
            self.config.create_backoff * 2 ** (self._consecutive_failures - 1),
        )
        self._next_create_at = self.clock.now() + self._rng.uniform(backoff / 2, backoff)
        self._events.emit(EventKind.ERROR, detail="create failed", error=error)
        logger.warning("session create failed (%d in a row): %s", self._consecutive_failures, error)
        if self._consecutive_failures >= self.config.create_failures_to_surface:
            # Persistent: tell the longest waiter why, not every waiter.
            while self._waiters:
                head = self._waiters.popleft()
                if not head.future.done():
                    head.future.set_exception(error)
                    break
        self._poke()

    def _on_session_limit(self, error: SessionLimitError) -> None:
        held = self._slots_used - 1  # this create's reservation is being undone
        self._capacity = max(0, min(self._capacity, held))
        self._probe_at = self.clock.now() + self._probe_backoff
        self._probe_backoff = min(self.config.create_backoff_max, self._probe_backoff * 2)
        self._last_create_error = error
        self._events.emit(
            EventKind.CAPACITY, detail=f"account cap reached; usable capacity {self._capacity}"
        )
        logger.info(
            "account session limit reached while holding %d; capacity now %d", held, self._capacity
        )
        self._poke()

    # ---------------------------------------------------------- retire and close

    def _retire(self, entry: Entry, reason: str) -> None:
        """Take ``entry`` out of service and close it in the background."""
        if self._mark_closing(entry, reason):
            self._spawn(self._close_entry, entry)
            if self._waiters or self._live_count() < self.config.min_size:
                self._grow()

    def _mark_closing(self, entry: Entry, reason: str) -> bool:
        if entry.state is EntryState.CLOSING:
            return False
        if entry.state is EntryState.IDLE and entry in self._idle:
            self._idle.remove(entry)
        entry.state = EntryState.CLOSING
        entry.retire_reason = entry.retire_reason or reason
        self._closing += 1
        self._counters["retired"] += 1
        self._events.emit(EventKind.RETIRED, entry.id, reason)
        logger.debug("retiring session %s: %s", entry.id, reason)
        return True

    async def _close_entry(self, entry: Entry) -> None:
        closed = closed_now = False
        try:
            closed, closed_now = await self._close_remote(entry)
            if closed:
                # Give back the slot and drop the ledger row before this close counts as
                # done, so a shutdown never leaves rows behind for a later reaper.
                with anyio.CancelScope(shield=True):
                    await self._settle_closed(entry)
        finally:
            self._closing -= 1
            self._entries.pop(entry.id, None)
            if closed:
                self._counters["closed"] += 1
                self._slots_used -= 1
                self._remember_closed(entry.id)
                if self._state != _OPEN:
                    if closed_now:
                        self._shutdown_closed += 1
                    else:
                        self._shutdown_gone += 1
                self._events.emit(EventKind.CLOSED, entry.id)
                self._dispatch()
            else:
                # It may still be alive: keep its slot until its expiry, and its ledger row
                # for the next reaper.
                if self._state != _OPEN:
                    self._shutdown_failed.append(entry.id)
                self._spawn_or_run(self._release_slot_at_expiry(entry))
            self._settled.set()

    async def _close_remote(self, entry: Entry) -> tuple[bool, bool]:
        """Close on the server, retrying; (confirmed closed, closed by this call)."""
        await self._ledger_call(
            self.coordinator.ledger.record(
                attrs.evolve(entry.ledger_entry, state=LedgerState.CLOSING)
            )
        )
        for attempt in range(self.config.close_attempts):
            try:
                with anyio.fail_after(self.config.close_timeout):
                    return True, await self.backend.close(entry.id)
            except (BBREError, TimeoutError) as error:
                logger.warning(
                    "closing session %s failed (attempt %d): %s", entry.id, attempt + 1, error
                )
                if attempt + 1 < self.config.close_attempts:
                    await asyncio.sleep(min(2.0, 0.2 * 2**attempt))
        return False, False

    async def _settle_closed(self, entry: Entry) -> None:
        with anyio.move_on_after(self.config.close_timeout):
            try:
                await self.coordinator.release_slot(entry.grant)
            except (CoordinatorUnavailableError, OSError) as error:
                logger.warning("releasing the slot of %s failed: %s", entry.id, error)
            await self._ledger_call(self.coordinator.ledger.remove(entry.ledger_entry.intent_id))

    async def _release_slot_at_expiry(self, entry: Entry) -> None:
        await self.clock.sleep(max(0.0, entry.remaining(self.clock.now())))
        self._slots_used -= 1
        await self.coordinator.release_slot(entry.grant)
        self._dispatch()

    # ------------------------------------------------------------------ renewal

    async def _renew(self, old: Entry) -> None:
        """Replace (or extend) an idle session before it dies; single-flight per session."""
        self._renewing += 1
        try:
            if self.backend.supports_extend and await self._try_extend(old):
                return
            cookies = old.cookies() if self.config.carry_cookies else None
            if old.pending_cookies and self.config.carry_cookies:
                cookies = {**old.pending_cookies, **(cookies or {})}
            grant = await self._grant_now() if self._slots_used < self._usable_capacity() else None
            if grant is not None:
                # Headroom: make the successor first, so no capacity is lost meanwhile.
                self._slots_used += 1
                self._creating += 1
                entry: Entry | None = None
                try:
                    entry = await self._create_entry(grant)
                finally:
                    self._creating -= 1
                if entry is not None:
                    entry.pending_cookies = cookies or None
                    self._renewed(old)
                    self._retire(old, "renewed")
                    if self._state == _OPEN:
                        self._return_to_idle(entry)
                    else:
                        self._retire(entry, "pool closing")
                else:
                    self._back_to_idle_or_retire(old)
            else:
                # At the cap: close first, then create on the freed slot.
                self._renewed(old)
                if self._mark_closing(old, "renewed at the cap"):
                    await self._close_entry(old)
                if self._slots_used < self._usable_capacity() and self._state == _OPEN:
                    self._slots_used += 1
                    self._creating += 1
                    await self._create(cookies)
        finally:
            self._renewing -= 1
            self._settled.set()

    async def _grant_now(self) -> SlotGrant | None:
        """A slot only if one is free right now and nobody queues for it.

        With a shared coordinator this is what makes slots circulate: at a full account a
        renewal gives its slot back and queues behind other processes' waiters.
        """
        try:
            return await self.coordinator.acquire_slot(0)
        except (SlotTimeoutError, CoordinatorUnavailableError):
            return None

    def _renewed(self, old: Entry) -> None:
        self._counters["renewed"] += 1
        self._events.emit(EventKind.RENEWED, old.id)

    async def _try_extend(self, entry: Entry) -> bool:
        try:
            expires_at = await self.backend.extend(entry.id, max(entry.life, 60.0))
        except BBREError as error:
            logger.warning("extending session %s failed, replacing it: %s", entry.id, error)
            return False
        entry.expires_at = expires_at
        self._renewed(entry)
        if self._state == _OPEN:
            self._return_to_idle(entry)
        else:
            self._retire(entry, "pool closing")
        return True

    def _back_to_idle_or_retire(self, entry: Entry) -> None:
        if entry.remaining(self.clock.now()) > 0 and self._state == _OPEN:
            self._return_to_idle(entry)
        else:
            self._retire(entry, "expired before a successor could be made")

    # -------------------------------------------------------------- maintenance

    def _poke(self) -> None:
        self._wakeup.set()

    async def _maintain(self) -> None:
        """The one background loop: renew, retire idle sessions, probe capacity, heartbeat."""
        next_heartbeat = 0.0
        next_reconcile = (
            self.clock.now() + self.config.reconcile_interval
            if self.config.reconcile_interval
            else None
        )
        while self._state == _OPEN:
            self._wakeup.clear()
            now = self.clock.now()
            wake = now + 3600.0
            wake = min(wake, self._tend_idle(now))
            if self._capacity < self.config.max_size:
                if now >= self._probe_at:
                    # One more slot per probe interval; a limit answer shrinks it again and
                    # doubles the interval, so a full account sees a few creates, not a storm.
                    self._capacity += 1
                    self._probe_at = now + self._probe_backoff
                    self._events.emit(
                        EventKind.CAPACITY, detail=f"probing capacity {self._capacity}"
                    )
                    self._grow()
                wake = min(wake, self._probe_at)
            if self._waiters or self._live_count() < self.config.min_size:
                if now >= self._next_create_at:
                    self._grow()
                else:
                    wake = min(wake, self._next_create_at)
            if now >= next_heartbeat:
                next_heartbeat = now + self.config.heartbeat_interval
                self._spawn(self._heartbeat)
            wake = min(wake, next_heartbeat)
            if next_reconcile is not None:
                if now >= next_reconcile:
                    next_reconcile = now + (self.config.reconcile_interval or 60.0)
                    self._spawn(self._reconciler.periodic)
                wake = min(wake, next_reconcile)
            self._next_wake_at = wake
            await self._sleep_until(wake)

    def _tend_idle(self, now: float) -> float:
        wake = now + 3600.0
        config = self.config
        for entry in list(self._idle):
            if (
                entry.retire_reason
                or entry.generation != self._generation
                or entry.remaining(now) <= 0
            ):
                self._retire(entry, entry.retire_reason or "expired")
                continue
            due = entry.renew_at()
            starving = bool(self._waiters) and not self._usable(
                entry, self._waiters[0].min_ttl, now
            )
            if due <= now or starving:
                if self._renewing < config.max_concurrent_renewals and now >= self._next_create_at:
                    self._idle.remove(entry)
                    entry.state = EntryState.RENEWING
                    self._spawn(self._renew, entry)
                else:
                    wake = min(wake, max(self._next_create_at, now + 0.05))
                continue
            wake = min(wake, due)
            if config.idle_timeout is not None and self._live_count() > config.min_size:
                idle_until = entry.idle_since + config.idle_timeout
                if idle_until <= now:
                    self._retire(entry, "idle timeout")
                    continue
                wake = min(wake, idle_until)
        return wake

    async def _sleep_until(self, when: float) -> None:
        delay = when - self.clock.now()
        if delay <= 0 or self._wakeup.is_set():
            await asyncio.sleep(0)
            return
        sleeper = asyncio.ensure_future(self.clock.sleep(delay))
        waker = asyncio.ensure_future(self._wakeup.wait())
        try:
            await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            waker.cancel()

    async def _heartbeat(self) -> None:
        await self._ledger_call(self.coordinator.ledger.heartbeat(self._owner))
        lost_grants = getattr(self.coordinator, "lost_grants", None)
        if lost_grants is None:
            return
        lost = {grant.token for grant in lost_grants()}
        for entry in list(self._entries.values()):
            if entry.grant.token in lost and entry.state is not EntryState.CLOSING:
                # Another process may now hold this slot: stop using the session at once.
                if entry.state is EntryState.LEASED:
                    entry.retire_reason = "its shared slot lease was lost"
                else:
                    self._retire(entry, "its shared slot lease was lost")

    # ----------------------------------------------------------- public extras

    def expire_all(self) -> None:
        """Retire every session: idle ones now, leased ones when released."""
        self._generation += 1
        for entry in list(self._idle):
            self._retire(entry, "expired by generation")
        self._grow()

    def add_listener(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(PoolEvent)`` on every pool event; returns a remover."""
        return self._events.add(listener)

    def stats(self) -> PoolStats:
        """A snapshot of sizes, counters and acquire-wait percentiles."""
        counters = self._counters
        cost = None
        if self.cost_model is not None:
            cost = (
                counters["created"] * self.cost_model.per_session
                + counters["requests"] * self.cost_model.per_request
            )
        return PoolStats(
            max_size=self.config.max_size,
            capacity=self._usable_capacity(),
            size=self._slots_used,
            idle=len(self._idle),
            leased=self._leased,
            creating=self._creating,
            unresolved=self._unresolved,
            closing=self._closing,
            waiters=sum(1 for w in self._waiters if not w.future.done()),
            created=counters["created"],
            renewed=counters["renewed"],
            retired=counters["retired"],
            closed=counters["closed"],
            failed_creates=counters["failed_creates"],
            adopted=counters["adopted"],
            requests=counters["requests"],
            failed_requests=counters["failed_requests"],
            acquire_wait_p50=self._waits.percentile(0.5),
            acquire_wait_p99=self._waits.percentile(0.99),
            cost=cost,
            generation=self._generation,
        )

    def _remember_closed(self, session_id: str) -> None:
        self._recently_closed[session_id] = None
        while len(self._recently_closed) > 1000:
            self._recently_closed.popitem(last=False)

    def recently_closed(self) -> set[str]:
        """Ids this pool closed lately (a lagging listing may still show them active)."""
        return set(self._recently_closed)

    def busy_intents(self) -> set[str]:
        """Ledger intents whose create is in flight or still being settled."""
        return set(self._busy_intents)

    def session_ids(self) -> list[str]:
        """Ids of every remote session the pool holds now."""
        return list(self._entries)

    @property
    def owner(self) -> OwnerInfo:
        return self._owner

    def __repr__(self) -> str:
        return (
            f"<SessionPool {self.backend.name} {self._state} size={self._slots_used}/"
            f"{self.config.max_size} leased={self._leased} waiters={len(self._waiters)}>"
        )

    # ------------------------------------------------------------------- workloads

    def map(
        self,
        fn: Job[ItemT, ResultT],
        items: Iterable[ItemT] | AsyncIterable[ItemT],
        *,
        concurrency: int | None = None,
        ordered: bool = False,
        retries: int = DEFAULT_RETRIES,
        timeout: float | None = None,
        acquire_timeout: float | None = POOL_DEFAULT,
        progress: ProgressHook | None = None,
    ) -> MapRun[ItemT, ResultT]:
        """Run ``await fn(session, item)`` for every item; iterate for one ``Outcome`` each.

        At most ``concurrency`` jobs at once (default: the pool's usable capacity). A job
        whose session is lost (``SessionGoneError``, a target answer in ``retire_statuses``,
        the session taken away mid-job) is retried on a fresh session up to ``retries``
        times; any other error is the item's outcome. Outcomes come in completion order, or
        in input order with ``ordered=True``. ``timeout`` bounds each item, retries
        included. Items may be an async iterator; memory stays bounded. See ``MapRun``.
        """
        return MapRun(
            self,
            fn,
            items,
            concurrency=concurrency,
            ordered=ordered,
            retries=retries,
            timeout=timeout,
            acquire_timeout=acquire_timeout,
            progress=progress,
        )

    async def run(
        self,
        fn: Callable[..., Awaitable[ResultT]],
        *args: Any,
        retries: int = DEFAULT_RETRIES,
        timeout: float | None = None,
        acquire_timeout: float | None = POOL_DEFAULT,
    ) -> ResultT:
        """``await fn(session, *args)`` with ``map``'s retry rule: its value, or its error.

        A retry starts on a fresh session with a fresh cookie jar: a job that needs state
        from earlier calls (a login) must redo those steps inside ``fn``.
        """
        return await run_job(
            self, fn, args, retries=retries, timeout=timeout, acquire_timeout=acquire_timeout
        )


class _Acquire:
    """``pool.acquire()``: an awaitable and an async context manager."""

    __slots__ = ("_lease", "_min_ttl", "_pool", "_timeout")

    def __init__(self, pool: SessionPool, timeout: float | None, min_ttl: float | None) -> None:
        self._pool = pool
        self._timeout = timeout
        self._min_ttl = min_ttl
        self._lease: PooledSession | None = None

    def __await__(self) -> Generator[Any, None, PooledSession]:
        return self._pool._acquire(self._timeout, self._min_ttl).__await__()

    async def __aenter__(self) -> PooledSession:
        self._lease = await self._pool._acquire(self._timeout, self._min_ttl)
        return self._lease

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        lease, self._lease = self._lease, None
        if lease is not None:
            await lease.release()
