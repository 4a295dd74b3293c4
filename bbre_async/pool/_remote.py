"""The remote half of a holder's life: create on a reserved slot, close, and settle what a
create whose outcome is unknown may have left. Each returns a verdict; the pool applies it.

Nothing here adopts a session it cannot prove it created: a lost create keeps its slot (and
its ledger intent) until its session would have expired, unless the listing shows nothing
was made. A 2xx answer that cannot be read is closed by whatever id it carried.
"""

from __future__ import annotations

import logging
from collections.abc import Coroutine
from typing import Any

import anyio
import attrs

from bbre_async._clock import Clock
from bbre_async._errors import BBREError, SessionLimitError
from bbre_async._session_backend import RemoteSession, SessionBackend
from bbre_async.coordination._base import (
    Coordinator,
    CoordinatorUnavailableError,
    LedgerEntry,
    OwnerInfo,
    SlotTimeoutError,
)
from bbre_async.coordination._base import EntryState as LedgerState
from bbre_async.pool._config import PoolConfig
from bbre_async.pool._slots import Slot
from bbre_async.pool._timing import fail_after, move_on_after, pause

logger = logging.getLogger("bbre_async.pool")


@attrs.frozen(kw_only=True)
class Created:
    remote: RemoteSession
    intent: LedgerEntry
    arrived_at: float


@attrs.frozen(kw_only=True)
class CreateFailed:
    error: BBREError
    limit: bool = False  # SESSION_LIMIT_REACHED: someone else holds slots
    busy: bool = False  # the shared cap had no slot in time: backpressure, not a fault
    maybe_exists: bool = False  # the slot stays reserved until settled
    intent: LedgerEntry | None = None
    readable_id: str | None = None  # the id a 2xx answer we could not parse carried
    asked_at: float = 0.0

    @property
    def recorded_at(self) -> float | None:
        """When the create's ledger intent was written (the ledger's clock), if it was."""
        return self.intent.created_at if self.intent is not None else None


CreateResult = Created | CreateFailed


class RemoteWork:
    """Creates and closes through the backend, keeping the ledger and the coordinator's grant."""

    def __init__(
        self,
        *,
        backend: SessionBackend,
        coordinator: Coordinator,
        config: PoolConfig,
        clock: Clock,
        owner: OwnerInfo,
    ) -> None:
        self.backend = backend
        self.coordinator = coordinator
        self.config = config
        self.clock = clock
        self.owner = owner
        self.busy_intents: set[str] = set()  # creates in flight or being settled

    async def ledger_call(self, coro: Coroutine[Any, Any, None]) -> None:
        """Ledger writes are crash insurance: a failing one is logged, never fatal."""
        try:
            with fail_after(self.clock, self.config.close_timeout):
                await coro
        except (TimeoutError, OSError, CoordinatorUnavailableError) as error:
            logger.warning("ledger write failed: %s", error)

    async def create(self, slot: Slot) -> CreateResult:
        """Get the coordinator's grant for ``slot``, record the intent, create."""
        intent: LedgerEntry | None = None
        asked_at = self.clock.now()
        try:
            if slot.grant is None:
                slot.grant = await self.coordinator.acquire_slot(self.config.acquire_timeout)
            if not await self.coordinator.slot_is_held(slot.grant):
                raise CoordinatorUnavailableError("the slot was lost before the create was sent")
            intent = LedgerEntry.intent(self.owner, backend=self.backend.name)
            self.busy_intents.add(intent.intent_id)
            await self.ledger_call(self.coordinator.ledger.record(intent))
            asked_at = self.clock.now()
            remote = await self.backend.create()
        except SessionLimitError as error:
            return await self._failed(CreateFailed(error=error, limit=True, intent=intent))
        except SlotTimeoutError as error:
            # The shared cap is busy, not broken: waiting callers time out on their own.
            return await self._failed(CreateFailed(error=error, busy=True, intent=intent))
        except BBREError as error:  # a CoordinatorUnavailableError is a CoordinationError
            maybe = error.outcome_unknown or (
                error.status is not None and 200 <= error.status < 300
            )
            readable = error.details.get("session_id") if maybe else None
            return await self._failed(
                CreateFailed(
                    error=error,
                    maybe_exists=maybe,
                    intent=intent,
                    readable_id=readable if isinstance(readable, str) else None,
                    asked_at=asked_at,
                )
            )
        except BaseException:
            if intent is not None:
                self.busy_intents.discard(intent.intent_id)  # the row stays for the reaper
            raise
        return Created(remote=remote, intent=intent, arrived_at=self.clock.now())

    async def _failed(self, failure: CreateFailed) -> CreateFailed:
        intent = failure.intent
        if intent is not None and not failure.maybe_exists:
            self.busy_intents.discard(intent.intent_id)
            with anyio.CancelScope(shield=True):
                await self.ledger_call(self.coordinator.ledger.remove(intent.intent_id))
        return failure

    async def record_active(self, entry: LedgerEntry) -> None:
        await self.ledger_call(self.coordinator.ledger.record(entry))
        self.busy_intents.discard(entry.intent_id)

    async def close(self, session_id: str, entry: LedgerEntry | None) -> tuple[bool, bool]:
        """Close on the server, retrying; (confirmed closed, closed by this call)."""
        if entry is not None:
            await self.ledger_call(
                self.coordinator.ledger.record(attrs.evolve(entry, state=LedgerState.CLOSING))
            )
        for attempt in range(self.config.close_attempts):
            try:
                with fail_after(self.clock, self.config.close_timeout):
                    return True, await self.backend.close(session_id)
            except (BBREError, TimeoutError) as error:
                logger.warning(
                    "closing session %s failed (attempt %d): %s", session_id, attempt + 1, error
                )
                if attempt + 1 < self.config.close_attempts:
                    await pause(self.clock, min(2.0, 0.2 * 2**attempt))
        return False, False

    async def settle(self, slot: Slot, intent: LedgerEntry | None) -> None:
        """A confirmed close: give the coordinator its slot back and drop the ledger row."""
        with anyio.CancelScope(shield=True), move_on_after(self.clock, self.config.close_timeout):
            if slot.grant is not None:
                try:
                    await self.coordinator.release_slot(slot.grant)
                except (CoordinatorUnavailableError, OSError) as error:
                    logger.warning("releasing a slot failed: %s", error)
            if intent is not None:
                self.busy_intents.discard(intent.intent_id)
                await self.ledger_call(self.coordinator.ledger.remove(intent.intent_id))
