"""One remote session held by the pool, with everything the pool decides by."""

from __future__ import annotations

import enum
from typing import Any

from bbre_async.coordination._base import LedgerEntry, SlotGrant
from bbre_async.pool._backend import RemoteSession


class EntryState(enum.Enum):
    IDLE = "idle"
    LEASED = "leased"
    RENEWING = "renewing"  # taken out of service while its successor is made or it is extended
    CLOSING = "closing"


class Entry:
    """A pooled session: the remote session, its slot, its ledger row, and its record.

    ``retire_reason`` set means "do not hand out again": the session is closed when it
    next comes back to the pool (at once when idle).
    """

    __slots__ = (
        "consecutive_errors",
        "expires_at",
        "generation",
        "grant",
        "idle_since",
        "ledger_entry",
        "life",
        "margin",
        "min_ttl",
        "pending_cookies",
        "remote",
        "renew_offset",
        "requests",
        "retire_reason",
        "state",
    )

    def __init__(
        self,
        remote: RemoteSession,
        *,
        grant: SlotGrant,
        ledger_entry: LedgerEntry,
        generation: int,
        margin: float,
        min_ttl: float,
        renew_offset: float,
        now: float,
    ) -> None:
        self.remote = remote
        self.grant = grant
        self.ledger_entry = ledger_entry
        self.generation = generation
        self.expires_at = remote.expires_at
        self.life = max(0.0, remote.expires_at - remote.created_at)
        self.margin = margin
        self.min_ttl = min_ttl
        self.renew_offset = renew_offset
        self.state = EntryState.IDLE
        self.idle_since = now
        self.requests = 0
        self.consecutive_errors = 0
        self.retire_reason: str | None = None
        self.pending_cookies: dict[str, str] | None = None

    @property
    def id(self) -> str:
        return self.remote.id

    @property
    def handle(self) -> Any:
        return self.remote.handle

    def remaining(self, now: float) -> float:
        return self.expires_at - now

    def renew_at(self) -> float:
        """When this session, idle, should be replaced (staggered by ``renew_offset``)."""
        return self.expires_at - self.margin - self.renew_offset

    def cookies(self) -> dict[str, str]:
        jar = getattr(self.remote.handle, "cookies", None)
        return dict(jar) if isinstance(jar, dict) else {}

    def __repr__(self) -> str:
        return f"<Entry {self.id} {self.state.value} gen={self.generation}>"
