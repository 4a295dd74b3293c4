"""The seam between a vendor client and the pool: what creating, closing and listing remote
sessions looks like, whatever the vendor.

It sits below the pool: each vendor client hands the pool its backend through
``client.session_backend()``, so the pool names no vendor and imports no vendor module.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from datetime import datetime
from typing import Any, Literal, Protocol, runtime_checkable

import attrs

Mode = Literal["passive", "adaptive"]
Sensibility = Literal["low", "medium", "high"]


@attrs.frozen(kw_only=True)
class SessionOptions:
    """What each pooled session is created with; a vendor uses the options that apply to it."""

    mode: Mode = "passive"
    sensibility: Sensibility = "medium"
    lifetime: int = 300  # seconds asked for; the server's answer decides
    fingerprint: Mapping[str, Any] | None = None
    proxy: str | Mapping[str, Any] | None = None


@attrs.frozen(kw_only=True)
class RemoteSession:
    """A session the backend created, and the server's word on its life.

    ``created_at``/``expires_at`` are the server's epoch seconds, ``None`` when the answer did
    not carry them. Only their difference is trusted: the server's clock may disagree with
    ours. ``handle`` is the object requests go through (a ``Session`` for BBRE).
    """

    id: str
    created_at: float | None
    expires_at: float | None
    handle: Any = None

    @property
    def granted_life(self) -> float | None:
        """``expiresAt - createdAt`` by the server's own clock, when both are known."""
        if self.created_at is None or self.expires_at is None:
            return None
        return self.expires_at - self.created_at


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
    max_life: float  # the longest life the vendor documents; a longer grant is suspect
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

    async def extend(self, session_id: str, seconds: float) -> float | None:
        """Extend in place; the new expiry (server epoch) when told. Only if ``supports_extend``."""

    def adopt(self, active: ActiveSession) -> RemoteSession:
        """A handle on a session found in the listing (a create whose answer was lost)."""


@runtime_checkable
class BackendSource(Protocol):
    """A vendor client that hands the pool its backend (``BBREClient``, ``OrchestratorClient``)."""

    def session_backend(self, options: SessionOptions | None = None) -> SessionBackend:
        """A backend creating sessions with ``options`` (the vendor ignores what it lacks)."""
