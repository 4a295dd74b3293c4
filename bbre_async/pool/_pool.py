"""``SessionPool``: many tasks, an account's few short-lived sessions, nothing leaked.

The pool wires its parts and owns their lifecycle: the keeper (holders, slot book, wait
queue, hand-off and growth), the maintainer (renewal and the background loop), the
reconciler, the signal handlers. Every coroutine here is a checkpoint when it fails: it
yields to the event loop before raising, so a user loop that catches errors and retries
cannot starve the pool's own close.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections.abc import Callable, Mapping
from os import PathLike
from types import TracebackType
from typing import Any, Literal, Unpack

import anyio

from bbre_async._clock import Clock, SystemClock
from bbre_async._errors import BBREError, PoolClosedError, PoolTimeoutError
from bbre_async._session_backend import (
    BackendSource,
    Mode,
    Sensibility,
    SessionBackend,
    SessionOptions,
)
from bbre_async.coordination._base import Coordinator, CoordinatorUnavailableError, OwnerInfo
from bbre_async.pool._acquire import NOT_GIVEN, Acquire, NotGiven, check_seconds
from bbre_async.pool._config import PoolConfig, PoolSettings
from bbre_async.pool._events import EventBus, EventKind, Listener
from bbre_async.pool._holder import Holder, HolderState
from bbre_async.pool._keeper import Keeper
from bbre_async.pool._lease import PooledSession
from bbre_async.pool._leasing import LeaseDesk
from bbre_async.pool._ledger_setup import default_coordinator
from bbre_async.pool._maintenance import Maintainer
from bbre_async.pool._shutdown import shut_down, snapshot
from bbre_async.pool._signals import SignalHandlers
from bbre_async.pool._slots import SlotKind
from bbre_async.pool._stats import CostModel, PoolStats, ShutdownSummary, WaitSamples
from bbre_async.pool._timing import move_on_after
from bbre_async.pool._workloads import Workloads

logger = logging.getLogger("bbre_async.pool")

PoolState = Literal["new", "open", "closing", "closed"]


class SessionPool(Workloads):
    """Shares an account's remote sessions among many tasks, within the account cap.

    ``async with SessionPool(client) as pool:`` then ``async with pool.acquire() as s:``.
    ``client`` is a vendor client (``BBREClient``, ``OrchestratorClient``) or any
    ``SessionBackend``. See ``PoolConfig`` for every keyword setting.
    """

    def __init__(
        self,
        client: BackendSource | SessionBackend,
        *,
        mode: Mode = "passive",
        sensibility: Sensibility = "medium",
        lifetime: int = 300,
        fingerprint: Mapping[str, Any] | None = None,
        proxy: str | Mapping[str, Any] | None = None,
        coordinator: Coordinator | None = None,
        ledger_path: str | PathLike[str] | None = "auto",
        clock: Clock | None = None,
        cost_model: CostModel | None = None,
        rng: random.Random | None = None,
        **settings: Unpack[PoolSettings],
    ) -> None:
        if isinstance(client, BackendSource):
            options = SessionOptions(
                mode=mode,
                sensibility=sensibility,
                lifetime=lifetime,
                fingerprint=fingerprint,
                proxy=proxy,
            )
            backend = client.session_backend(options)
        elif isinstance(client, SessionBackend):
            backend = client
        else:
            raise TypeError(
                f"SessionPool needs a vendor client or a backend, got {type(client).__name__}"
            )
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
        self.owner = OwnerInfo.current(self.pool_id)
        self._events = EventBus()
        self._keeper = Keeper(
            backend=backend,
            coordinator=self.coordinator,
            config=self.config,
            clock=self.clock,
            owner=self.owner,
            events=self._events,
            rng=rng or random.Random(),
        )
        self._maintainer = Maintainer(self._keeper)
        self._desk = LeaseDesk(self._keeper)
        self._signals = SignalHandlers(self._on_signal)
        self._state: PoolState = "new"
        self._force = asyncio.Event()
        self._stopped = asyncio.Event()
        self._started = asyncio.Event()
        self._supervisor: asyncio.Task[None] | None = None
        self._close_task: asyncio.Future[ShutdownSummary] | None = None
        self._summary: ShutdownSummary | None = None
        self._waits = WaitSamples()
        self._real_clock = isinstance(self.clock, SystemClock)

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
        install the signal handlers, and pre-warm ``min_size`` sessions."""
        if self._state != "new":
            await asyncio.sleep(0)
            raise PoolClosedError(f"the pool is {self._state}; a pool opens once")
        self._state = "open"
        await self.coordinator.open(self.owner)
        if self.config.reap_on_open:
            try:
                report = await self._keeper.reconciler.reap_orphans()
                if report.closed or report.failed:
                    logger.info("reaped sessions of dead owners: %s", report)
            except BBREError as error:
                logger.warning("could not reap orphaned sessions at start: %s", error)
        self._supervisor = asyncio.create_task(self._supervise(), name=f"bbre-pool-{self.pool_id}")
        await self._started.wait()
        if self.config.handle_signals:
            self._signals.install()
        if self.config.min_size:
            self._keeper.grow()
            await self._prewarm()

    async def _prewarm(self) -> None:
        keeper = self._keeper
        with move_on_after(self.clock, self.config.acquire_timeout):
            while keeper.live() < self.config.min_size:
                if keeper.governor.failures >= self.config.create_failures_to_surface:
                    break
                keeper.settled.clear()
                await keeper.settled.wait()

    async def _supervise(self) -> None:
        async with anyio.create_task_group() as tg:
            self._keeper.tg = tg
            self._keeper.open = True
            tg.start_soon(self._maintainer.run)
            self._started.set()
            await self._stopped.wait()
            tg.cancel_scope.cancel()

    async def aclose(self, timeout: float | None = None) -> ShutdownSummary:
        """Stop leasing, wait up to ``timeout`` (default ``shutdown_timeout``) for held
        leases, then close every remote session concurrently, shielded and bounded."""
        if self._state == "new":
            self._state = "closed"
            self._summary = ShutdownSummary(
                closed=0, already_gone=0, failed=[], forced=False, seconds=0
            )
        if self._summary is not None:
            await asyncio.sleep(0)
            return self._summary
        try:
            return await asyncio.shield(self._begin_close(timeout))
        except asyncio.CancelledError:
            self._force.set()
            raise

    def _begin_close(self, timeout: float | None) -> asyncio.Future[ShutdownSummary]:
        if self._close_task is None:
            self._state = "closing"
            self._keeper.open = False
            self._close_task = asyncio.ensure_future(self._close(timeout))
        return self._close_task

    async def _close(self, timeout: float | None) -> ShutdownSummary:
        try:
            self._summary = await shut_down(
                self._keeper,
                limit=self.config.shutdown_timeout if timeout is None else timeout,
                force=self._force,
                stop=self._stop,
            )
            self._state = "closed"
            return self._summary
        finally:
            self._signals.pool_closed()  # before any awaiter of the close resumes

    async def _stop(self) -> None:
        """Stop background work and the coordinator (bounded); restore signal handlers."""
        self._stopped.set()
        if self._supervisor is not None:
            with move_on_after(self.clock, self.config.close_timeout):
                await asyncio.shield(self._supervisor)
        with move_on_after(self.clock, self.config.close_timeout):
            try:
                await self.coordinator.aclose()
            except (CoordinatorUnavailableError, BBREError, OSError) as error:
                logger.warning("coordinator close failed: %s", error)
        self._signals.restore()

    def _on_signal(self, signum: int, first: bool) -> None:
        """First signal: graceful close. Second: stop waiting for held leases."""
        if first:
            self._begin_close(None)
        else:
            self._force.set()

    @property
    def closed(self) -> bool:
        """True from the moment closing starts (no new leases)."""
        return self._state in ("closing", "closed")

    @property
    def state(self) -> PoolState:
        """``"new"``, ``"open"``, ``"closing"`` or ``"closed"`` (every session settled)."""
        return self._state

    # ------------------------------------------------------------------- leasing

    def acquire(
        self, *, timeout: float | NotGiven | None = NOT_GIVEN, min_ttl: float | None = None
    ) -> Acquire:
        """Lease a session: ``async with pool.acquire() as s`` or ``s = await pool.acquire()``.

        Waits first come, first served, at most ``timeout`` seconds (default from the config;
        ``None`` waits without limit), then raises ``PoolTimeoutError``. The session has at
        least ``min_ttl`` seconds of life left; a ``min_ttl`` no session can have is a
        ``ValueError`` at once, not a wait.
        """
        limit: float | None
        if timeout is NOT_GIVEN:
            limit = self.config.acquire_timeout
        else:
            check_seconds("timeout", timeout)
            limit = timeout
        if min_ttl is not None:
            check_seconds("min_ttl", min_ttl)
            longest = self._keeper.longest_life or self.backend.max_life
            if min_ttl >= longest:
                raise ValueError(
                    f"min_ttl {min_ttl}s: no session lives that long (the server grants "
                    f"{longest:.0f}s)"
                )
        return Acquire(self, limit, min_ttl)

    async def release(self, lease: PooledSession) -> None:
        """Give a lease back (same as ``await lease.release()``)."""
        await lease.release()

    def lease_now(self, min_ttl: float | None) -> PooledSession | None:
        """An idle session at once, when one serves and nobody queues before this caller."""
        keeper = self._keeper
        if self._state != "open" or len(keeper.waiters):
            return None
        now = self.clock.now()
        holder = keeper.take_idle(min_ttl, now)
        return None if holder is None else self._lease(holder, now, 0.0)

    async def lease_after_wait(self, timeout: float | None, min_ttl: float | None) -> PooledSession:
        """Queue for a session (first come, first served) at most ``timeout`` seconds."""
        keeper = self._keeper
        if self._state != "open":
            await asyncio.sleep(0)  # a checkpoint: a retrying loop cannot starve the close
            raise PoolClosedError(f"the pool is {self._state}")
        started = self.clock.now()
        waiter = keeper.waiters.push(min_ttl)
        keeper.grow()
        try:
            holder = await self._wait(waiter.future, timeout)
        except BaseException as exc:
            keeper.waiters.discard(waiter)
            future = waiter.future
            if future.done() and not future.cancelled() and future.exception() is None:
                # A session was handed over in the instant the wait ended: pass it on.
                keeper.to_idle(future.result())
            else:
                future.cancel()
            if isinstance(exc, TimeoutError):
                raise PoolTimeoutError(self._timeout_message(self.clock.now() - started)) from None
            raise
        now = self.clock.now()
        return self._lease(holder, now, now - started)

    async def _wait(self, future: asyncio.Future[Holder], timeout: float | None) -> Holder:
        """Wait for a hand-off at most ``timeout`` seconds of the pool's clock."""
        if timeout is None:
            return await future
        if timeout <= 0:
            await asyncio.sleep(0)
            if not future.done():
                raise TimeoutError
            return future.result()
        if self._real_clock:
            async with asyncio.timeout(timeout):
                return await future
        sleeper: asyncio.Future[None] = asyncio.ensure_future(self.clock.sleep(timeout))
        waits: set[asyncio.Future[Any]] = {future, sleeper}
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
        if not future.done():
            raise TimeoutError
        return future.result()

    def _timeout_message(self, waited: float) -> str:
        keeper = self._keeper
        error = keeper.last_error
        return (
            f"no session within {waited:.2f}s: cap {keeper.book.usable}/{self.config.max_size} "
            f"usable, {keeper.in_state(HolderState.LEASED)} in use, {len(keeper.idle)} idle, "
            f"{keeper.book.count(SlotKind.CREATING)} being created, "
            f"{len(keeper.waiters)} other waiters"
            + (f"; creates paused: {keeper.governor.reason}" if keeper.governor.reason else "")
            + (f"; last create error: {error}" if error else "")
        )

    def _lease(self, holder: Holder, now: float, waited: float) -> PooledSession:
        holder.lease_owner = asyncio.current_task()
        holder.lease_since = now
        self._waits.add(waited)
        if self._events.listening:
            self._events.emit(EventKind.ACQUIRED, holder.id, waited=waited)
        return PooledSession(self._desk, holder)

    # ----------------------------------------------------------- public extras

    def expire_all(self) -> None:
        """Retire every session: idle ones now, leased ones when released."""
        keeper = self._keeper
        keeper.generation += 1
        for holder in list(keeper.idle):
            keeper.retire(holder, "expired by generation")
        keeper.grow()

    def add_listener(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(PoolEvent)`` on every pool event; returns a remover."""
        return self._events.add(listener)

    def stats(self) -> PoolStats:
        """A snapshot of sizes, counters and acquire-wait percentiles."""
        return snapshot(self._keeper, self._waits, self.cost_model)

    async def reconcile(self) -> None:
        """Run the periodic reconciliation now: reap dead owners' sessions, count (or, with
        ``reap_foreign``, close) sessions no ledger knows."""
        await self._keeper.reconciler.periodic()

    def session_ids(self) -> list[str]:
        """Ids of every remote session the pool holds now."""
        return self._keeper.session_ids()

    def __repr__(self) -> str:
        keeper = self._keeper
        return (
            f"<SessionPool {self.backend.name} {self._state} size={keeper.book.reserved}/"
            f"{self.config.max_size} leased={keeper.in_state(HolderState.LEASED)} "
            f"waiters={len(keeper.waiters)}>"
        )
