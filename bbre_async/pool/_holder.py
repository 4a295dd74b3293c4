"""One remote session held by the pool: its explicit states, its slot, its ledger row, the
life the server granted it (measured on the pool's clock), and the lease that uses it.

States move only along ``_ALLOWED``; any other move is a broken invariant and raises, so
a bookkeeping bug stops the pool loudly instead of leaking a slot quietly. Every move is also
counted in the pool's ``StateTally``, so "how many are leased" is a lookup, never a scan.
"""

from __future__ import annotations

import asyncio
import enum
from typing import Any

from bbre_async._session_backend import RemoteSession
from bbre_async.coordination._base import LedgerEntry
from bbre_async.pool._slots import Slot


class HolderState(enum.StrEnum):
    NEW = "new"  # created, not yet placed in service
    IDLE = "idle"
    LEASED = "leased"
    RENEWING = "renewing"  # out of service while it is extended or its successor is made
    CLOSING = "closing"
    CLOSED = "closed"


_ALLOWED: dict[HolderState, frozenset[HolderState]] = {
    HolderState.NEW: frozenset({HolderState.IDLE, HolderState.CLOSING}),
    HolderState.IDLE: frozenset({HolderState.LEASED, HolderState.RENEWING, HolderState.CLOSING}),
    HolderState.LEASED: frozenset({HolderState.IDLE, HolderState.CLOSING}),
    HolderState.RENEWING: frozenset({HolderState.IDLE, HolderState.CLOSING}),
    HolderState.CLOSING: frozenset({HolderState.CLOSED}),
    HolderState.CLOSED: frozenset(),
}


_LIVE = (HolderState.NEW, HolderState.IDLE, HolderState.LEASED, HolderState.RENEWING)


class HolderStateError(RuntimeError):
    """A holder was moved along a transition its state machine does not allow."""


class StateTally:
    """How many of a pool's holders are in each state, kept by the holders' own moves (the
    one place a state changes), so counting costs nothing on the lease path."""

    __slots__ = ("counts",)

    def __init__(self) -> None:
        #: Written only by ``Holder`` (its creation and its moves), on every lease and release.
        self.counts = dict.fromkeys(HolderState, 0)

    def __getitem__(self, state: HolderState) -> int:
        return self.counts[state]

    def live(self) -> int:
        """Sessions held and not on their way out: new, idle, leased or renewing."""
        counts = self.counts
        return sum(counts[state] for state in _LIVE)


class Holder:
    """A pooled session. ``expires_at`` is on the pool's clock: the moment the create answer
    arrived plus the life the server granted (never the server's epoch against ours)."""

    __slots__ = (
        "consecutive_errors",
        "expires_at",
        "generation",
        "idle_since",
        "in_flight",
        "lease_owner",
        "lease_since",
        "ledger_entry",
        "life",
        "margin",
        "min_ttl",
        "pending_cookies",
        "remote",
        "renew_offset",
        "requests",
        "retire_reason",
        "server_expires_at",
        "slot",
        "state",
        "tally",
        "young_until",
    )

    def __init__(
        self,
        remote: RemoteSession,
        *,
        slot: Slot,
        ledger_entry: LedgerEntry,
        generation: int,
        arrived_at: float,
        life: float,
        margin: float,
        min_ttl: float,
        renew_offset: float,
        young_fraction: float,
        tally: StateTally,
    ) -> None:
        self.remote = remote
        self.slot = slot
        self.ledger_entry = ledger_entry
        self.generation = generation
        self.life = life
        self.expires_at = arrived_at + life
        self.server_expires_at = remote.expires_at
        self.young_until = arrived_at + life * young_fraction
        self.margin = margin
        self.min_ttl = min_ttl
        self.renew_offset = renew_offset
        self.state = HolderState.NEW
        self.tally = tally
        tally.counts[HolderState.NEW] += 1
        self.idle_since = arrived_at
        self.requests = 0
        self.consecutive_errors = 0
        self.retire_reason: str | None = None
        self.pending_cookies: dict[str, str] | None = None
        self.in_flight: asyncio.Future[Any] | None = None
        self.lease_owner: asyncio.Task[Any] | None = None
        self.lease_since = 0.0

    @property
    def id(self) -> str:
        return self.remote.id

    @property
    def handle(self) -> Any:
        return self.remote.handle

    def move(self, new: HolderState) -> None:
        old = self.state
        if new not in _ALLOWED[old]:
            raise HolderStateError(f"session {self.id}: {old.value} -> {new.value}")
        counts = self.tally.counts
        counts[old] -= 1
        counts[new] += 1
        self.state = new

    def remaining(self, now: float) -> float:
        return self.expires_at - now

    def renew_at(self) -> float:
        """When this session, idle, should be replaced (staggered by ``renew_offset``)."""
        return self.expires_at - self.margin - self.renew_offset

    def attention_at(self, idle_timeout: float | None) -> float:
        """When maintenance must look at this session, idle: to renew it, or to close it for
        idling too long."""
        due = self.renew_at()
        if idle_timeout is not None:
            due = min(due, self.idle_since + idle_timeout)
        return due

    def extended(self, added: float, server_expires_at: float | None) -> None:
        """The server moved the expiry on by ``added`` seconds (by its own clock)."""
        self.expires_at += added
        self.life += added
        self.server_expires_at = server_expires_at

    def serves(self, min_ttl: float | None, now: float, generation: int) -> bool:
        """Whether a lease needing ``min_ttl`` (default: this session's) may start on it."""
        need = self.min_ttl if min_ttl is None else min_ttl
        running = self.in_flight  # a request may still run, for a caller that left
        return (
            generation == self.generation
            and self.retire_reason is None
            and (running is None or running.done())
            and self.expires_at - now > max(need, 0.0)
        )

    def died_young(self, now: float) -> bool:
        return now < self.young_until

    def cookies(self) -> dict[str, str]:
        jar = getattr(self.remote.handle, "cookies", None)
        return dict(jar) if isinstance(jar, dict) else {}

    def __repr__(self) -> str:
        return f"<Holder {self.id} {self.state.value} gen={self.generation}>"
