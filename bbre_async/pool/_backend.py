"""The small protocol the pool drives: create, close, status, list, and optionally extend.

It keeps the pool free of vendor details: BBRE renews by replacing a session, OrchestratorHQ
by extending it in place, and both sit behind this one seam.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

import attrs


@attrs.frozen(kw_only=True)
class RemoteSession:
    """A session the backend created: its id, the server's word on its life, and the object
    requests go through (a ``Session`` for BBRE)."""

    id: str
    created_at: float  # epoch seconds
    expires_at: float  # epoch seconds, from the server
    handle: Any = None


@attrs.frozen(kw_only=True)
class ActiveSession:
    """A row of the account's active-session listing, for reconciliation."""

    id: str
    created_at: float | None
    expires_at: float | None
    request_count: int | None = None  # a session someone uses is not a lost create's

    @classmethod
    def of(cls, info: Any) -> ActiveSession:
        """From any vendor's session model (``id``, aware ``created_at``/``expires_at``)."""
        return cls(
            id=info.id,
            created_at=epoch(info.created_at),
            expires_at=epoch(info.expires_at),
            request_count=getattr(info, "request_count", None),
        )

    @property
    def unused(self) -> bool:
        return not self.request_count


def epoch(moment: datetime | None) -> float | None:
    return moment.timestamp() if moment is not None else None


async def collect_active(rows: AsyncIterator[Any]) -> list[ActiveSession]:
    """Drain a vendor's active-session listing into ``ActiveSession`` rows."""
    return [ActiveSession.of(info) async for info in rows]


@runtime_checkable
class SessionBackend(Protocol):
    """What a session API must offer the pool."""

    name: str
    account_cap: int  # sessions an account may hold at once
    supports_extend: bool
    key_fingerprint: str
    base_url: str

    async def create(self, *, deadline: float | None = None) -> RemoteSession:
        """Create a session. An error with ``outcome_unknown=True`` means it may exist."""

    async def close(self, session_id: str, *, deadline: float | None = None) -> bool:
        """Close; True when closed now, False when it was already gone (both are success)."""

    async def status(self, session_id: str) -> tuple[bool, float | None]:
        """Whether the session is active, and its expiry (epoch seconds) when known."""

    async def list_active(self) -> list[ActiveSession]:
        """Every session the account holds as active (the listing may lag)."""

    async def extend(self, session_id: str, seconds: float) -> float:
        """Extend a session in place; returns the new expiry. Only if ``supports_extend``."""

    def adopt(self, active: ActiveSession) -> RemoteSession:
        """A handle on a session found in the listing (a create whose answer was lost)."""
