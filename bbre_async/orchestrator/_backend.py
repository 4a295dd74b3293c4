"""OrchestratorHQ behind the pool's backend protocol: renewal extends a session in place.

A BBRE session cannot outlive its 300 s, so the pool replaces it; an OrchestratorHQ session can
be extended, so the same browser (and whatever state it holds: logins, open pages, a CDP
connection) stays with the pool for as long as it is wanted::

    async with OrchestratorClient() as client:
        backend = OrchestratorBackend(client, duration="30m", account_cap=10)
        async with SessionPool(backend, max_size=10) as pool:
            async with pool.acquire() as lease:
                ...  # lease.cdp_url, lease.expires_at (moves on with every extension)

An extend that fails falls back to replacing the session, as for BBRE.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from bbre_async._errors import NotFoundError
from bbre_async._session_backend import ActiveSession, RemoteSession, collect_active
from bbre_async.orchestrator._duration import (
    MAX_SECONDS,
    MIN_SECONDS,
    format_duration,
    normalize_duration,
    parse_duration,
)
from bbre_async.orchestrator._models import OrchSession

if TYPE_CHECKING:
    from bbre_async.orchestrator._client import OrchestratorClient

#: The vendor documents an organisation concurrency cap (``429 SESSION_LIMIT_EXCEEDED``) but
#: not its size; this default is a guess to be replaced by the plan's real number.
DEFAULT_ACCOUNT_CAP = 10


class OrchSessionHandle:
    """A pooled OrchestratorHQ session, as ``lease.handle``: the details from create (or from
    the last ``status()``), with ``cdp_url`` for attaching a browser driver, which the lease
    also exposes::

        browser = await playwright.chromium.connect_over_cdp(lease.cdp_url)

    Details are a snapshot: after the pool extends the session, ``lease.expires_at`` is the
    current expiry while ``info.expires_at`` keeps the one last fetched.
    """

    __slots__ = ("_client", "info")

    def __init__(self, client: OrchestratorClient, info: OrchSession) -> None:
        self._client = client
        self.info = info

    @property
    def id(self) -> str:
        return self.info.id

    @property
    def cdp_url(self) -> str | None:
        """The DevTools URL (``None`` for an adopted session until ``status()`` fetched it)."""
        return self.info.cdp_url

    @property
    def vnc_url(self) -> str | None:
        return self.info.vnc_url

    async def status(self) -> OrchSession:
        """Fetch the session's details again (and keep them as ``info``)."""
        self.info = await self._client.sessions.get(self.info.id)
        return self.info

    def __repr__(self) -> str:
        return f"<OrchSessionHandle {self.info.id} {self.info.status}>"


class OrchestratorBackend:
    """Creates OrchestratorHQ sessions of one ``duration`` and extends them when due.

    ``account_cap`` is the organisation's concurrent-session limit. The vendor enforces one
    (``429 SESSION_LIMIT_EXCEEDED``) without publishing its size, so set it to your plan's
    number; the pool never holds more than this many sessions per key. ``session_name_prefix``
    names each session ``<prefix>-<8 hex>`` so the dashboard shows which program made it.
    """

    name = "orchestrator"
    supports_extend = True
    max_life = float(MAX_SECONDS)

    def __init__(
        self,
        client: OrchestratorClient,
        *,
        duration: str = "30m",
        session_name_prefix: str = "bbre-async",
        description: str | None = None,
        account_cap: int = DEFAULT_ACCOUNT_CAP,
    ) -> None:
        if isinstance(account_cap, bool) or not isinstance(account_cap, int) or account_cap < 1:
            raise ValueError(f"account_cap must be an integer >= 1, got {account_cap!r}")
        if not isinstance(session_name_prefix, str) or not session_name_prefix.strip():
            raise ValueError("session_name_prefix must be a non-empty string")
        self.client = client
        self.duration = normalize_duration(duration)
        self.life = parse_duration(self.duration)
        self.session_name_prefix = session_name_prefix.strip()
        self.description = description
        self.account_cap = account_cap
        self.key_fingerprint = client.key_fingerprint
        self.base_url = client.base_url

    async def create(self, *, deadline: float | None = None) -> RemoteSession:
        asked_at = self.client.clock()
        info = await self.client.sessions.create(
            session_name=f"{self.session_name_prefix}-{uuid.uuid4().hex[:8]}",
            description=self.description,
            duration=self.duration,
            timeout=deadline,
        )
        assert info.expires_at is not None  # the resource fills it in when the server omits it
        created = info.created_at.timestamp() if info.created_at else asked_at
        return RemoteSession(
            id=info.id,
            created_at=created,
            expires_at=info.expires_at.timestamp(),
            handle=OrchSessionHandle(self.client, info),
        )

    async def close(self, session_id: str, *, deadline: float | None = None) -> bool:
        return await self.client.sessions.stop(session_id, timeout=deadline)

    async def status(self, session_id: str) -> tuple[bool, float | None]:
        try:
            info = await self.client.sessions.get(session_id)
        except NotFoundError:
            return False, None
        expires = info.expires_at.timestamp() if info.expires_at else None
        alive = expires is None or expires > self.client.clock()
        return info.is_active and alive, expires

    async def list_active(self) -> list[ActiveSession]:
        return await collect_active(self.client.sessions.list(status="active", page_size=100))

    async def extend(self, session_id: str, seconds: float) -> float:
        """Extend by at least the life each session was granted (``duration``).

        ``seconds`` is the pool's wish measured on its own clock; under an emulator's time
        scale that clock runs faster than the vendor's durations, so the backend's own
        ``duration`` is the floor. The amount is rounded to whole minutes (the finest unit the
        vendor documents) and kept within 1 minute to 24 hours.
        """
        amount = min(max(float(seconds), float(self.life), MIN_SECONDS), MAX_SECONDS)
        result = await self.client.sessions.extend(session_id, format_duration(amount))
        return result.expires_at.timestamp()

    def adopt(self, active: ActiveSession) -> RemoteSession:
        created = active.created_at if active.created_at is not None else self.client.clock()
        expires = active.expires_at if active.expires_at is not None else created + self.life
        info = OrchSession(
            id=active.id,
            status="active",
            created_at=datetime.fromtimestamp(created, UTC),
            expires_at=datetime.fromtimestamp(expires, UTC),
        )
        return RemoteSession(
            id=active.id,
            created_at=active.created_at,
            expires_at=active.expires_at,
            handle=OrchSessionHandle(self.client, info),
        )

    def __repr__(self) -> str:
        return (
            f"<OrchestratorBackend {self.base_url!r} duration={self.duration} "
            f"cap={self.account_cap}>"
        )
