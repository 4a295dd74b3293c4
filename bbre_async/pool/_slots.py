"""The one slot book: every remote session this pool may hold is one reserved ``Slot``.

The count of sessions held (creates in flight, live sessions, closes not yet confirmed, lost
creates whose session may exist, sessions whose close failed and which hold their slot until
their expiry) is ``len`` of one set, never a counter kept beside it. A slot is reserved
synchronously, before any await, and given back exactly once; a second give-back is a broken
invariant and raises.

The book also holds the usable capacity: a ``SESSION_LIMIT_REACHED`` below ``max_size`` means
someone else holds slots of the account, so capacity shrinks and is probed back one slot at a
time with a backoff that a successful probe resets.
"""

from __future__ import annotations

import enum

from bbre_async.coordination._base import SlotGrant


class SlotKind(enum.Enum):
    CREATING = "creating"  # a create is in flight on it
    LIVE = "live"  # a session the pool holds (idle, leased or renewing)
    CLOSING = "closing"  # a close is in flight
    UNRESOLVED = "unresolved"  # a create whose outcome is unknown: a session may exist
    UNTIL_EXPIRY = "until_expiry"  # the close failed; the slot returns at the session's expiry


class SlotBookError(RuntimeError):
    """The slot book's invariant broke (a slot given back twice): the pool stops loudly."""


class Slot:
    """One reserved place under the cap, with the coordinator's grant once it has one."""

    __slots__ = ("grant", "kind", "returned")

    def __init__(self, kind: SlotKind) -> None:
        self.kind = kind
        self.grant: SlotGrant | None = None
        self.returned = False

    def __repr__(self) -> str:
        return f"<Slot {self.kind.value}{' returned' if self.returned else ''}>"


class SlotBook:
    """Reserve, re-label and give back slots; shrink and probe the usable capacity."""

    def __init__(
        self, *, max_size: int, account_cap: int, probe_backoff: float, probe_backoff_max: float
    ) -> None:
        self.max_size = max_size
        self.account_cap = account_cap
        self._slots: set[Slot] = set()
        self._capacity = max_size
        self._foreign = 0
        self._probe_base = probe_backoff
        self._probe_backoff = probe_backoff
        self._probe_backoff_max = max(probe_backoff, probe_backoff_max)
        self.probe_at = 0.0

    @property
    def reserved(self) -> int:
        return len(self._slots)

    @property
    def usable(self) -> int:
        """The cap this pool may fill now: shrunk by a limit answer and by foreign sessions."""
        return max(0, min(self._capacity, self.account_cap - self._foreign))

    @property
    def shrunk(self) -> bool:
        return self._capacity < self.max_size

    @property
    def foreign(self) -> int:
        return self._foreign

    def count(self, kind: SlotKind) -> int:
        return sum(1 for slot in self._slots if slot.kind is kind)

    def has_room(self) -> bool:
        return len(self._slots) < self.usable

    def reserve(self, kind: SlotKind = SlotKind.CREATING) -> Slot | None:
        """A slot now, or ``None`` when the usable capacity is full. Never awaits."""
        if not self.has_room():
            return None
        slot = Slot(kind)
        self._slots.add(slot)
        return slot

    def relabel(self, slot: Slot, kind: SlotKind) -> None:
        if slot.returned or slot not in self._slots:
            raise SlotBookError(f"{slot!r} is not reserved in this book")
        slot.kind = kind

    def give_back(self, slot: Slot) -> SlotGrant | None:
        """Return ``slot``; the grant it held goes back to the coordinator (the caller's job)."""
        if slot.returned or slot not in self._slots:
            raise SlotBookError(f"{slot!r} given back twice")
        slot.returned = True
        self._slots.discard(slot)
        return slot.grant

    def shrink_after_limit(self, now: float) -> int:
        """The account is full below ``max_size``: hold what we have, probe back later."""
        self._capacity = max(0, min(self._capacity, len(self._slots)))
        self.probe_at = now + self._probe_backoff
        self._probe_backoff = min(self._probe_backoff_max, self._probe_backoff * 2)
        return self._capacity

    def probe(self, now: float) -> bool:
        """One more slot when a probe is due (True); the next limit answer shrinks it again."""
        if self._capacity >= self.max_size or now < self.probe_at:
            return False
        self._capacity += 1
        # The probe tests the account itself: the foreign count may be stale.
        self._foreign = max(0, min(self._foreign, self.account_cap - self._capacity))
        self.probe_at = now + self._probe_backoff
        return True

    def probe_succeeded(self) -> None:
        """A create on a probed slot worked: the next probe comes at the base interval."""
        self._probe_backoff = self._probe_base
        if self._capacity < self.max_size:
            self.probe_at = 0.0

    def note_foreign(self, count: int) -> bool:
        """Sessions on the account that belong to no ledger; True when the count changed."""
        changed = count != self._foreign
        self._foreign = max(0, count)
        if changed and self._foreign + self._capacity <= self.account_cap:
            # Freed foreign slots come back now, not after a probe backoff.
            self._capacity = min(self.max_size, self.account_cap - self._foreign)
        return changed

    def slots(self) -> list[Slot]:
        return list(self._slots)
