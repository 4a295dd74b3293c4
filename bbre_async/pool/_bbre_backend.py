"""BBRE behind the pool's backend protocol: no extend, so renewal means replacement."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from bbre_async._client import BBREClient
from bbre_async._models import SessionInfo
from bbre_async._request_body import check_mode, check_sensibility
from bbre_async._resources.sessions import MAX_LIFE, MAX_LIFETIME, MIN_LIFETIME
from bbre_async.pool._backend import ActiveSession, RemoteSession, collect_active

BBRE_ACCOUNT_CAP = 10


class BBREBackend:
    """Creates sessions with fixed options through a ``BBREClient``."""

    name = "bbre"
    account_cap = BBRE_ACCOUNT_CAP
    supports_extend = False

    def __init__(
        self,
        client: BBREClient,
        *,
        mode: str = "passive",
        sensibility: str = "medium",
        session_timeout: int = MAX_LIFE,
        fingerprint: Mapping[str, Any] | None = None,
        proxy: str | Mapping[str, Any] | None = None,
    ) -> None:
        if not MIN_LIFETIME <= session_timeout <= MAX_LIFETIME:
            raise ValueError(
                f"session_timeout must be between {MIN_LIFETIME} and {MAX_LIFETIME} s "
                f"(the server grants at most {MAX_LIFE} s), got {session_timeout!r}"
            )
        self.client = client
        self.mode = check_mode(mode)
        self.sensibility = check_sensibility(sensibility)
        self.session_timeout = session_timeout
        self.fingerprint = fingerprint
        self.proxy = proxy
        self.key_fingerprint = client.key_fingerprint
        self.base_url = client.base_url

    async def create(self, *, deadline: float | None = None) -> RemoteSession:
        asked_at = self.client.clock()
        session = await self.client.sessions.create(
            mode=self.mode,
            sensibility=self.sensibility,
            lifetime=self.session_timeout,
            fingerprint=self.fingerprint,
            proxy=self.proxy,
            timeout=deadline,
        )
        expires_at = session.expires_at
        assert expires_at is not None  # the resource fills it in when the server omits it
        created = session.created_at.timestamp() if session.created_at else asked_at
        return RemoteSession(
            id=session.id, created_at=created, expires_at=expires_at.timestamp(), handle=session
        )

    async def close(self, session_id: str, *, deadline: float | None = None) -> bool:
        return await self.client.sessions.close(session_id, timeout=deadline)

    async def status(self, session_id: str) -> tuple[bool, float | None]:
        info = await self.client.sessions.status(session_id)
        expires = info.expires_at.timestamp() if info.expires_at else None
        return info.is_active, expires

    async def list_active(self) -> list[ActiveSession]:
        return await collect_active(self.client.account.sessions(status="active", page_size=100))

    async def extend(self, session_id: str, seconds: float) -> float:
        raise NotImplementedError("BBRE sessions cannot be extended; the pool replaces them")

    def adopt(self, active: ActiveSession) -> RemoteSession:
        created = active.created_at if active.created_at is not None else self.client.clock()
        expires = active.expires_at if active.expires_at is not None else created + MAX_LIFE
        info = SessionInfo(
            id=active.id,
            status="active",
            mode=self.mode,
            sensibility=self.sensibility,
            expires_at=datetime.fromtimestamp(expires, UTC),
            created_at=datetime.fromtimestamp(created, UTC),
        )
        return RemoteSession(
            id=active.id,
            created_at=created,
            expires_at=expires,
            handle=self.client.sessions.attach(info),
        )
