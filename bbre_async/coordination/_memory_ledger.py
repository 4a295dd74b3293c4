"""An in-memory ledger, and the rule every ledger uses to tell a dead owner from a live one.

`MemoryLedger` keeps entries in a dict for the life of one process. It is what the on-disk
ledger falls back to when the file cannot be used (a read-only directory, a full disk): losing
crash safety for one run is better than a pool that will not start, because a leaked session
costs at most its 300 s lifetime while a pool that refuses to start costs the whole job. It is
also the ledger tests reach for first.

The orphan rule lives here as pure functions (`owner_is_gone`, `find_orphans`) so that it is
written once, shared by every ledger, and testable with an injected clock and liveness probe.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable

import attrs

from bbre_async.coordination._base import LedgerEntry, OwnerInfo

Clock = Callable[[], float]
"""Wall clock in epoch seconds; ``heartbeat_at`` is compared against it."""

AliveProbe = Callable[[OwnerInfo], bool]
"""Whether an owner on this host is a live process."""


def owner_is_gone(
    owner: OwnerInfo,
    heartbeat_at: float,
    *,
    me: OwnerInfo,
    stale_after: float,
    now: float,
    is_alive: AliveProbe = OwnerInfo.is_local_process_alive,
) -> bool:
    """True when ``owner`` can no longer close its own sessions, so ``me`` may take them over.

    On ``me``'s host the process itself is asked before any heartbeat is trusted: a live owner
    is never gone, however stale its heartbeat (its ledger file may have been locked, or its
    loop busy: its sessions are still in use), and a dead one is gone at once. A pid alone is
    not proof of life: the probe compares the process start time and the boot id too, so a
    reused pid counts as dead. On another host a heartbeat older than ``stale_after`` seconds
    is the only signal there is. ``me`` itself is never gone.
    """
    if owner == me:
        return False
    if owner.host == me.host:
        return not is_alive(owner)
    return now - heartbeat_at > stale_after


def find_orphans(
    entries: Iterable[LedgerEntry],
    *,
    me: OwnerInfo,
    stale_after: float,
    now: float,
    is_alive: AliveProbe = OwnerInfo.is_local_process_alive,
) -> list[LedgerEntry]:
    """The entries whose owner is gone (see `owner_is_gone`); never a live owner's or ``me``'s."""
    return [
        entry
        for entry in entries
        if owner_is_gone(
            entry.owner,
            entry.heartbeat_at,
            me=me,
            stale_after=stale_after,
            now=now,
            is_alive=is_alive,
        )
    ]


def check_entry(entry: LedgerEntry) -> None:
    """Refuse what another process could not read back the same way: a naive ``expires_at``
    (it may live in another time zone) or a timestamp that is not a finite number."""
    expires_at = entry.expires_at
    if expires_at is not None and expires_at.utcoffset() is None:
        raise ValueError(f"expires_at must be timezone-aware, got {expires_at!r}")
    if not (math.isfinite(entry.created_at) and math.isfinite(entry.heartbeat_at)):
        raise ValueError(f"timestamps must be finite, got {entry.created_at}, {entry.heartbeat_at}")


def sort_entries(entries: Iterable[LedgerEntry]) -> list[LedgerEntry]:
    """Oldest first, so every ledger lists entries in the same order."""
    return sorted(entries, key=lambda entry: (entry.created_at, entry.intent_id))


class MemoryLedger:
    """A `LedgerStore` that lives and dies with this process.

    Meant for one event loop: no method awaits between reading and writing, so each call is
    atomic with respect to other tasks. Nothing survives the process, so nothing here is ever
    reaped by a later run.
    """

    def __init__(self, *, clock: Clock = time.time, entries: Iterable[LedgerEntry] = ()) -> None:
        self._clock = clock
        self._entries: dict[str, LedgerEntry] = {entry.intent_id: entry for entry in entries}

    async def record(self, entry: LedgerEntry) -> None:
        """Insert or replace ``entry`` (keyed by ``intent_id``)."""
        check_entry(entry)
        self._entries[entry.intent_id] = entry

    async def remove(self, intent_id: str) -> None:
        """Forget an entry; a missing one is not an error."""
        self._entries.pop(intent_id, None)

    async def heartbeat(self, owner: OwnerInfo) -> None:
        """Refresh ``heartbeat_at`` of every entry ``owner`` holds."""
        now = self._clock()
        for intent_id, entry in list(self._entries.items()):
            if entry.owner == owner:
                self._entries[intent_id] = attrs.evolve(entry, heartbeat_at=now)

    async def entries(self) -> list[LedgerEntry]:
        """Every entry, oldest first."""
        return sort_entries(self._entries.values())

    def snapshot(self) -> list[LedgerEntry]:
        """Every entry, oldest first, without awaiting (for code in a worker thread)."""
        return sort_entries(self._entries.values())

    async def claim(self, intent_id: str, new_owner: OwnerInfo, *, stale_after: float) -> bool:
        """Take over a gone owner's entry; False when it is missing or its owner is alive."""
        entry = self._entries.get(intent_id)
        now = self._clock()
        if entry is None or not owner_is_gone(
            entry.owner, entry.heartbeat_at, me=new_owner, stale_after=stale_after, now=now
        ):
            return False
        self._entries[intent_id] = attrs.evolve(entry, owner=new_owner, heartbeat_at=now)
        return True

    async def orphans(self, *, me: OwnerInfo, stale_after: float) -> list[LedgerEntry]:
        """Entries whose owner is gone, by the clock this ledger was given."""
        return find_orphans(await self.entries(), me=me, stale_after=stale_after, now=self._clock())

    async def aclose(self) -> None:
        """Nothing to release."""
