"""The default coordinator: the account cap enforced within this process, and a ledger.

Pools that share one ``LocalCoordinator`` share its cap, so two pools on one key in one
process cannot together exceed the account's limit; ``LocalCoordinator.for_key`` hands every
pool of one API key (and event loop) the same one. Across processes or hosts, use the Redis
coordinator instead.
"""

from __future__ import annotations

import asyncio
import itertools
import weakref
from collections import deque
from pathlib import Path

import anyio

from bbre_async.coordination._base import (
    LedgerStore,
    OwnerInfo,
    SlotGrant,
    SlotTimeoutError,
)
from bbre_async.coordination._memory_ledger import MemoryLedger
from bbre_async.coordination._sqlite_ledger import SqliteLedger

_SharedKey = tuple[int, str, str, str | None]
_shared: weakref.WeakValueDictionary[_SharedKey, LocalCoordinator] = weakref.WeakValueDictionary()


def _loop_id() -> int:
    try:
        return id(asyncio.get_running_loop())
    except RuntimeError:
        return 0


class LocalCoordinator:
    """A FIFO counting semaphore of ``capacity`` slots plus a ledger (in memory by default).

    Opened by several users (pools), it stays open until the last one closes it.
    """

    @classmethod
    def for_key(
        cls, key_fingerprint: str, base_url: str, *, capacity: int, ledger_path: Path | None
    ) -> LocalCoordinator:
        """The one coordinator of this process (and event loop) for an API key and server:
        every pool on one key shares its cap, as the account does."""
        key = (_loop_id(), key_fingerprint, base_url, str(ledger_path) if ledger_path else None)
        coordinator = _shared.get(key)
        if coordinator is None or coordinator._closed:
            coordinator = cls(capacity=capacity, ledger_path=ledger_path)
            _shared[key] = coordinator
        return coordinator

    def __init__(
        self,
        *,
        capacity: int = 10,
        ledger: LedgerStore | None = None,
        ledger_path: Path | None = None,
    ) -> None:
        if capacity < 1:
            raise ValueError("capacity must be >= 1")
        self.capacity = capacity
        self.ledger: LedgerStore = ledger if ledger is not None else MemoryLedger()
        self._ledger_path = ledger_path if ledger is None else None
        self._held: set[int] = set()
        self._tokens = itertools.count(1)
        self._waiters: deque[asyncio.Future[SlotGrant]] = deque()
        self._users = 0
        self._closed = False
        self._opening: asyncio.Lock | None = None

    async def open(self, owner: OwnerInfo) -> None:
        """Open the on-disk ledger, when one was asked for (it never fails: a bad file
        falls back to memory with a warning)."""
        self._users += 1
        if self._opening is None:
            self._opening = asyncio.Lock()
        async with self._opening:
            if self._ledger_path is not None:
                self.ledger = await SqliteLedger.open(self._ledger_path)
                self._ledger_path = None

    @property
    def in_use(self) -> int:
        return len(self._held)

    def _grant(self) -> SlotGrant:
        token = next(self._tokens)
        self._held.add(token)
        return SlotGrant(slot_id=f"local-{token}", token=token)

    async def acquire_slot(self, timeout: float | None) -> SlotGrant:
        if not self._waiters and len(self._held) < self.capacity:
            return self._grant()
        future: asyncio.Future[SlotGrant] = asyncio.get_running_loop().create_future()
        self._waiters.append(future)
        try:
            with anyio.fail_after(timeout):
                return await future
        except BaseException as exc:
            # Timed out or cancelled, perhaps in the same instant a slot was handed to us:
            # give that slot on rather than lose it.
            if future.done() and not future.cancelled():
                self._release(future.result())
            else:
                future.cancel()
            if future in self._waiters:
                self._waiters.remove(future)
            if isinstance(exc, TimeoutError):
                raise SlotTimeoutError(
                    f"no slot of {self.capacity} freed within {timeout}s"
                ) from None
            raise

    async def release_slot(self, grant: SlotGrant) -> None:
        self._release(grant)

    def _release(self, grant: SlotGrant) -> None:
        if grant.token not in self._held:
            return
        self._held.discard(grant.token)
        while self._waiters and len(self._held) < self.capacity:
            future = self._waiters.popleft()
            if not future.done():
                future.set_result(self._grant())

    async def slot_is_held(self, grant: SlotGrant) -> bool:
        return grant.token in self._held

    def should_yield_slot(self) -> bool:
        """Never: pools on one local coordinator share one FIFO queue already."""
        return False

    async def aclose(self) -> None:
        """Close for one user; the last one to leave closes the ledger."""
        self._users -= 1
        if self._users > 0:
            return
        self._closed = True
        for future in self._waiters:
            future.cancel()
        self._waiters.clear()
        await self.ledger.aclose()
