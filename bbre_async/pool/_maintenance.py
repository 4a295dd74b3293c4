"""The pool's one background loop and the renewals it starts: apply the pure idle plan,
probe capacity back, refresh the foreign count, heartbeat the ledger, reconcile."""

from __future__ import annotations

import asyncio
import logging
import math

from bbre_async._errors import BBREError
from bbre_async.pool._events import EventKind
from bbre_async.pool._holder import Holder, HolderState
from bbre_async.pool._keeper import Keeper
from bbre_async.pool._renewal import choose_strategy, plan_idle
from bbre_async.pool._timing import pause

logger = logging.getLogger("bbre_async.pool")


class Maintainer:
    def __init__(self, keeper: Keeper) -> None:
        self.keeper = keeper

    async def run(self) -> None:
        keeper = self.keeper
        config = keeper.config
        clock = keeper.clock
        next_heartbeat = 0.0
        next_refresh = 0.0
        next_reconcile = (
            clock.now() + config.reconcile_interval if config.reconcile_interval else None
        )
        while keeper.open:
            keeper.wakeup.clear()
            now = clock.now()
            wake = self._tend_idle(now)
            book = keeper.book
            if book.shrunk:
                if book.probe(now):
                    keeper.events.emit(EventKind.CAPACITY, detail=f"probing capacity {book.usable}")
                    keeper.grow()
                wake = min(wake, book.probe_at)
                if now >= next_refresh:
                    # While shrunk, count foreign sessions often: freed slots come back at once.
                    next_refresh = now + config.capacity_refresh_interval
                    keeper.spawn(keeper.reconciler.refresh_foreign)
                wake = min(wake, next_refresh)
            if len(keeper.waiters) or keeper.live() < config.min_size:
                open_at = keeper.governor.open_at(now)
                if open_at <= now:
                    keeper.grow()
                else:
                    wake = min(wake, open_at)
            if now >= next_heartbeat:
                next_heartbeat = now + config.heartbeat_interval
                keeper.spawn(self._heartbeat)
            wake = min(wake, next_heartbeat)
            if next_reconcile is not None:
                if now >= next_reconcile:
                    next_reconcile = now + (config.reconcile_interval or 60.0)
                    keeper.spawn(keeper.reconciler.periodic)
                wake = min(wake, next_reconcile)
            keeper.maintenance_due = wake
            await self._sleep_until(wake)
            keeper.maintenance_due = -math.inf

    def _tend_idle(self, now: float) -> float:
        keeper = self.keeper
        demanding = keeper.waiters.demanding_head()
        plan = plan_idle(
            list(keeper.idle),
            now=now,
            generation=keeper.generation,
            renewing=keeper.in_state(HolderState.RENEWING),
            max_renewals=keeper.config.max_concurrent_renewals,
            creates_open_at=keeper.governor.open_at(now),
            demanding_min_ttl=demanding.min_ttl if demanding is not None else None,
            live=keeper.live(),
            min_size=keeper.config.min_size,
            idle_timeout=keeper.config.idle_timeout,
        )
        for holder, reason in plan.retire:
            keeper.retire(holder, reason)
        for holder in plan.renew:
            keeper.idle.remove(holder)
            holder.move(HolderState.RENEWING)
            keeper.spawn(self.renew, holder)
        return plan.wake_at

    async def _sleep_until(self, when: float) -> None:
        keeper = self.keeper
        delay = when - keeper.clock.now()
        if delay <= 0 or keeper.wakeup.is_set():
            await asyncio.sleep(0)
            return
        sleeper = asyncio.ensure_future(pause(keeper.clock, delay))
        waker = asyncio.ensure_future(keeper.wakeup.wait())
        try:
            await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            waker.cancel()

    async def _heartbeat(self) -> None:
        keeper = self.keeper
        await keeper.remote.ledger_call(keeper.coordinator.ledger.heartbeat(keeper.owner))
        lost_grants = getattr(keeper.coordinator, "lost_grants", None)
        if lost_grants is None:
            return
        lost = {grant.token for grant in lost_grants()}
        for holder in list(keeper.holders.values()):
            grant = holder.slot.grant
            if grant is None or grant.token not in lost:
                continue
            # Another process may now hold this slot: stop using the session at once.
            holder.retire_reason = holder.retire_reason or "its shared slot lease was lost"
            if holder.state is HolderState.IDLE:
                keeper.retire(holder, "its shared slot lease was lost")

    # ------------------------------------------------------------------ renewal

    def _renewed(self, old: Holder, kind: EventKind = EventKind.RENEWED) -> None:
        self.keeper.counters["renewed"] += 1
        self.keeper.events.emit(kind, old.id)

    async def renew(self, old: Holder) -> None:
        """Replace (or extend) an idle session before it dies; single-flight per session."""
        keeper = self.keeper
        try:
            strategy = choose_strategy(
                supports_extend=keeper.backend.supports_extend, has_room=keeper.book.has_room()
            )
            if strategy == "extend" and await self._extend(old):
                return
            cookies = old.cookies() if keeper.config.carry_cookies else None
            if old.pending_cookies and keeper.config.carry_cookies:
                cookies = {**old.pending_cookies, **(cookies or {})}
            slot = keeper.book.reserve()
            grant = await keeper.grant_now() if slot is not None else None
            if slot is not None and grant is not None:
                # Headroom: make the successor first, so no capacity is lost meanwhile.
                slot.grant = grant
                keeper.governor.started(keeper.clock.now())
                successor = await keeper.create(slot)
                if successor is None:
                    self._back_or_retire(old)
                    return
                successor.pending_cookies = cookies or None
                self._renewed(old)
                keeper.retire(old, "renewed")
                if keeper.open:
                    keeper.to_idle(successor)
                else:
                    keeper.retire(successor, "pool closing")
                return
            if slot is not None:
                keeper.give_back(slot)
            # At the cap: close first, then create on the freed slot.
            self._renewed(old)
            if keeper.mark_closing(old, "renewed at the cap"):
                await keeper.close_holder(old)
            fresh = keeper.book.reserve() if keeper.open else None
            if fresh is not None:
                keeper.governor.started(keeper.clock.now())
                await keeper._create_and_place(fresh, cookies)
        finally:
            keeper.settled.set()

    def _back_or_retire(self, holder: Holder) -> None:
        keeper = self.keeper
        if holder.remaining(keeper.clock.now()) > 0 and keeper.open:
            keeper.to_idle(holder)
        else:
            keeper.retire(holder, "expired before a successor could be made")

    async def _extend(self, holder: Holder) -> bool:
        keeper = self.keeper
        try:
            expires = await keeper.backend.extend(holder.id, max(holder.life, 60.0))
        except BBREError as error:
            logger.warning("extending session %s failed, replacing it: %s", holder.id, error)
            return False
        before = holder.server_expires_at
        added = (expires - before) if expires is not None and before is not None else 0.0
        if added <= 0:
            added = keeper.config.fallback_life
        holder.extended(added, expires)
        self._renewed(holder, EventKind.EXTENDED)
        if keeper.open:
            keeper.to_idle(holder)
        else:
            keeper.retire(holder, "pool closing")
        return True
