"""The keeper: the holders of one pool's sessions, the slot book, the wait queue, and the work
that moves sessions between them (hand-off, growth, renewal, retirement, maintenance).

Every remote operation runs in a task of the keeper's task group, never in a caller's task,
so cancelling a caller cannot interrupt one half-way. Callers only wait on futures.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import random
from collections import OrderedDict
from datetime import UTC, datetime
from typing import Any

import anyio
import anyio.abc
import attrs

from bbre_async._clock import Clock
from bbre_async._errors import BBREError
from bbre_async._session_backend import SessionBackend
from bbre_async.coordination._base import (
    Coordinator,
    CoordinatorUnavailableError,
    OwnerInfo,
    SlotTimeoutError,
)
from bbre_async.coordination._base import EntryState as LedgerState
from bbre_async.pool._config import PoolConfig
from bbre_async.pool._events import EventBus, EventKind
from bbre_async.pool._governor import CreateGovernor
from bbre_async.pool._holder import Holder, HolderState, StateTally
from bbre_async.pool._reconcile import LOST_CREATE_WINDOW, Reconciler
from bbre_async.pool._remote import Created, CreateFailed, RemoteWork
from bbre_async.pool._renewal import believed_life
from bbre_async.pool._slots import Slot, SlotBook, SlotKind
from bbre_async.pool._timing import move_on_after, pause
from bbre_async.pool._waiters import WaiterQueue

logger = logging.getLogger("bbre_async.pool")


class Keeper:
    def __init__(
        self,
        *,
        backend: SessionBackend,
        coordinator: Coordinator,
        config: PoolConfig,
        clock: Clock,
        owner: OwnerInfo,
        events: EventBus,
        rng: random.Random,
    ) -> None:
        self.backend = backend
        self.coordinator = coordinator
        self.config = config
        self.clock = clock
        self.owner = owner
        self.events = events
        self.rng = rng
        self.book = SlotBook(
            max_size=config.max_size,
            account_cap=backend.account_cap,
            probe_backoff=config.capacity_probe_backoff,
            probe_backoff_max=config.create_backoff_max,
        )
        self.waiters: WaiterQueue[Holder] = WaiterQueue()
        self.governor = CreateGovernor(config, rng)
        self.remote = RemoteWork(
            backend=backend, coordinator=coordinator, config=config, clock=clock, owner=owner
        )
        self.reconciler = Reconciler(self)
        self.holders: dict[str, Holder] = {}
        self.tally = StateTally()
        self.idle: list[Holder] = []
        self.generation = 0
        self.open = False
        self.tg: anyio.abc.TaskGroup | None = None
        self.wakeup = asyncio.Event()
        # When maintenance next looks at the idle sessions on its own (it sets this as it
        # sleeps): a session going idle pokes it only if it needs attention sooner.
        self.maintenance_due = -math.inf
        self.settled = asyncio.Event()
        self.no_leases = asyncio.Event()
        self.last_error: BBREError | None = None
        self.longest_life = 0.0
        self.counters = dict.fromkeys(
            ("created", "renewed", "retired", "closed", "failed_creates", "adopted",
             "requests", "failed_requests", "shutdown_closed", "shutdown_gone"),
            0,
        )  # fmt: skip
        self.shutdown_failed: list[str] = []
        self._recently_closed: OrderedDict[str, None] = OrderedDict()
        self._warned: set[str] = set()

    # ------------------------------------------------------------ views and counts

    def now(self) -> float:
        return self.clock.now()

    def session_ids(self) -> list[str]:
        return list(self.holders)

    def recently_closed(self) -> set[str]:
        return set(self._recently_closed)

    def busy_intents(self) -> set[str]:
        return set(self.remote.busy_intents)

    def note_foreign(self, count: int) -> None:
        if self.book.note_foreign(count):
            logger.info("%d active sessions on this account belong to no known pool", count)
            self.events.emit(EventKind.CAPACITY, detail=f"foreign sessions: {count}")
            self.grow()

    def in_state(self, state: HolderState) -> int:
        return self.tally[state]

    def live(self) -> int:
        return self.tally.live()

    def spawn(self, func: Any, *args: Any) -> None:
        if self.tg is None:
            raise RuntimeError("the pool's task group is not running")
        self.tg.start_soon(self._guarded, func, *args)

    async def _guarded(self, func: Any, *args: Any) -> None:
        try:
            await func(*args)
        except (BBREError, CoordinatorUnavailableError, OSError, TimeoutError) as error:
            logger.warning("pool background task %s failed: %s", func.__name__, error)
            self.events.emit(EventKind.ERROR, detail=f"{func.__name__} failed", error=error)

    def poke(self) -> None:
        self.wakeup.set()

    # --------------------------------------------------------------- hand-off

    def take_idle(self, min_ttl: float | None, now: float) -> Holder | None:
        idle = self.idle
        for index in range(len(idle) - 1, -1, -1):
            holder = idle[index]
            if holder.serves(min_ttl, now, self.generation):
                del idle[index]
                holder.move(HolderState.LEASED)
                return holder
        if idle:
            self.poke()  # idle but unusable sessions: maintenance renews or retires them
        return None

    def dispatch(self) -> None:
        if not len(self.waiters):
            return
        while self.idle and len(self.waiters):
            now = self.clock.now()
            for index in range(len(self.idle) - 1, -1, -1):
                holder = self.idle[index]
                waiter = self.waiters.pop_for(functools.partial(self._serves, holder, now))
                if waiter is not None:
                    del self.idle[index]
                    holder.move(HolderState.LEASED)
                    waiter.future.set_result(holder)
                    break
            else:
                self.poke()
                break
        if len(self.waiters):
            self.grow()

    def _serves(self, holder: Holder, now: float, min_ttl: float | None) -> bool:
        return holder.serves(min_ttl, now, self.generation)

    def to_idle(self, holder: Holder, now: float | None = None) -> None:
        holder.move(HolderState.IDLE)
        holder.idle_since = self.clock.now() if now is None else now
        self.idle.append(holder)
        if holder.attention_at(self.config.idle_timeout) < self.maintenance_due:
            self.poke()
        self.dispatch()

    # ------------------------------------------------------------------ growth

    def grow(self) -> None:
        """Start creates for waiters that no idle or coming session will serve."""
        if not self.open or self.tg is None:
            return
        if not self.idle and not self.book.has_room():
            return  # at the cap with nothing idle to renew: nothing to do (every queued acquire)
        creating = self.book.count(SlotKind.CREATING)
        renewing = self.in_state(HolderState.RENEWING)
        below_min = self.config.min_size - self.live() - creating
        wanted = max(len(self.waiters) - creating - renewing, below_min)
        now = self.clock.now()
        while wanted > 0 and self.book.has_room():
            if not self.governor.allowed(now):
                self._throttled()
                return
            slot = self.book.reserve()
            assert slot is not None
            self.governor.started(now)
            self.spawn(self._create_and_place, slot)
            wanted -= 1
        if wanted > 0 and self.idle:
            self.poke()  # at the cap with idle sessions too short for the waiters: renew them

    def _throttled(self) -> None:
        reason = self.governor.reason
        if reason and reason not in self._warned:
            self._warned.add(reason)
            logger.warning("session creates paused: %s", reason)
        self.events.emit(EventKind.THROTTLED, detail=reason or "creates paused")
        self.poke()

    async def _create_and_place(self, slot: Slot, cookies: dict[str, str] | None = None) -> None:
        holder = await self.create(slot)
        if holder is None:
            return
        holder.pending_cookies = cookies or None
        if self.open:
            self.to_idle(holder)
        else:
            self.retire(holder, "pool closing")

    async def create(self, slot: Slot) -> Holder | None:
        """Create on a reserved slot; every outcome settles the slot."""
        try:
            result = await self.remote.create(slot)
        finally:
            self.settled.set()
        if isinstance(result, CreateFailed):
            self._create_failed(slot, result)
            return None
        return await self._created(slot, result)

    async def _created(self, slot: Slot, created: Created) -> Holder:
        remote = created.remote
        reading = believed_life(remote, self.config, self.backend.max_life)
        if reading.suspect:
            self._warn(f"session {remote.id}: {reading.suspect}; believing {reading.life:.0f}s")
        life = reading.life
        self.governor.note_life(life)
        self.longest_life = max(self.longest_life, life)
        server_expiry = remote.expires_at
        entry = attrs.evolve(
            created.intent,
            state=LedgerState.ACTIVE,
            session_id=remote.id,
            expires_at=datetime.fromtimestamp(server_expiry, UTC) if server_expiry else None,
        )
        margin = self.config.margin_for(life)
        holder = Holder(
            remote,
            slot=slot,
            ledger_entry=entry,
            generation=self.generation,
            arrived_at=created.arrived_at,
            life=life,
            margin=margin,
            min_ttl=self.config.min_ttl_for(life, None),
            renew_offset=self.rng.uniform(0.0, margin * self.config.renew_stagger),
            young_fraction=self.config.young_death_fraction,
            tally=self.tally,
        )
        self.book.relabel(slot, SlotKind.LIVE)
        self.holders[remote.id] = holder
        with anyio.CancelScope(shield=True):
            await self.remote.record_active(entry)
        self.counters["created"] += 1
        self.book.probe_succeeded()
        self.events.emit(EventKind.CREATED, remote.id)
        return holder

    def _warn(self, message: str) -> None:
        self.events.emit(EventKind.WARNING, detail=message)
        key = message.split(": ", 1)[-1]
        if key not in self._warned:
            self._warned.add(key)
            logger.warning("%s", message)

    def _create_failed(self, slot: Slot, failure: CreateFailed) -> None:
        error = failure.error
        if failure.busy:
            self.give_back(slot)
            self.dispatch()
            return
        now = self.clock.now()
        self.last_error = error
        self.counters["failed_creates"] += 1
        if failure.limit:
            self.give_back(slot)
            capacity = self.book.shrink_after_limit(now)
            self.events.emit(
                EventKind.CAPACITY, detail=f"account cap reached; usable capacity {capacity}"
            )
        else:
            if failure.maybe_exists:
                self.book.relabel(slot, SlotKind.UNRESOLVED)
                self.spawn(self._settle_unknown, slot, failure)
            else:
                self.give_back(slot)
            self.governor.failed(now, str(error))
            self.events.emit(EventKind.ERROR, detail="create failed", error=error)
            logger.warning("session create failed (%d in a row): %s", self.governor.failures, error)
            if self.governor.failures >= self.config.create_failures_to_surface:
                self.waiters.fail_oldest(error)
        self.poke()
        self.dispatch()

    async def _settle_unknown(self, slot: Slot, failure: CreateFailed) -> None:
        """A create that may have made a session: close it by the id its answer carried, or
        hold the slot until the listing shows nothing was made or its life is surely over."""
        if failure.readable_id is not None:
            closed, _ = await self.remote.close(failure.readable_id, None)
            if not closed:
                await pause(self.clock, self.longest_life or self.backend.max_life)
        elif not await self.reconciler.made_nothing(recorded := failure.recorded_at):
            life = min(self.longest_life or self.backend.max_life, self.backend.max_life)
            # The session may have been made any time until the answer was due: keep a margin.
            deadline = failure.asked_at + life + min(life, LOST_CREATE_WINDOW)
            await self.reconciler.watch_unknown(recorded, deadline=deadline)
        await self.remote.settle(slot, failure.intent)
        self.give_back(slot, release_grant=False)
        self.settled.set()
        self.dispatch()

    def give_back(self, slot: Slot, *, release_grant: bool = True) -> None:
        grant = self.book.give_back(slot)
        if release_grant and grant is not None:
            self.spawn(self._release_grant, grant)

    async def _release_grant(self, grant: Any) -> None:
        with anyio.CancelScope(shield=True), move_on_after(self.clock, self.config.close_timeout):
            await self.coordinator.release_slot(grant)

    async def grant_now(self) -> Any:
        """A coordinator slot only if one is free right now and nobody queues for it."""
        try:
            return await self.coordinator.acquire_slot(0)
        except (SlotTimeoutError, CoordinatorUnavailableError):
            return None

    # ---------------------------------------------------------- retire and close

    def retire(self, holder: Holder, reason: str) -> None:
        """Take ``holder`` out of service and close it in the background."""
        if self.mark_closing(holder, reason):
            self.spawn(self.close_holder, holder)
            if len(self.waiters) or self.live() < self.config.min_size:
                self.grow()

    def mark_closing(self, holder: Holder, reason: str) -> bool:
        if holder.state in (HolderState.CLOSING, HolderState.CLOSED):
            return False
        if holder.state is HolderState.IDLE:
            self.idle.remove(holder)
        holder.move(HolderState.CLOSING)
        holder.retire_reason = holder.retire_reason or reason
        self.book.relabel(holder.slot, SlotKind.CLOSING)
        self.counters["retired"] += 1
        self.events.emit(EventKind.RETIRED, holder.id, reason)
        return True

    async def close_holder(self, holder: Holder) -> None:
        closed, closed_now = await self.remote.close(holder.id, holder.ledger_entry)
        if closed:
            await self.remote.settle(holder.slot, holder.ledger_entry)
            self.book.give_back(holder.slot)
        else:
            # It may still be alive: its slot (and ledger row) stay until its expiry.
            self.book.relabel(holder.slot, SlotKind.UNTIL_EXPIRY)
            self.spawn(self._give_back_at_expiry, holder.slot, holder.expires_at)
            self.events.emit(
                EventKind.CLOSE_FAILED, holder.id, "close not confirmed: held until expiry"
            )
        holder.move(HolderState.CLOSED)
        self.holders.pop(holder.id, None)
        if closed:
            self.counters["closed"] += 1
            self._recently_closed[holder.id] = None
            while len(self._recently_closed) > 1000:
                self._recently_closed.popitem(last=False)
            if not self.open:
                self.counters["shutdown_closed" if closed_now else "shutdown_gone"] += 1
            self.events.emit(EventKind.CLOSED, holder.id)
        elif not self.open:
            self.shutdown_failed.append(holder.id)
        self.settled.set()
        self.dispatch()

    async def _give_back_at_expiry(self, slot: Slot, expires_at: float) -> None:
        await pause(self.clock, expires_at - self.clock.now())
        self.give_back(slot)
        self.settled.set()
        self.dispatch()
