"""BBRE behind the pool's backend protocol: no extend, so renewal means replacement."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from bbre_async._errors import InvalidResponseError
from bbre_async._models import SessionInfo
from bbre_async._request_body import check_mode, check_sensibility
from bbre_async._resources.sessions import MAX_LIFE, MAX_LIFETIME, MIN_LIFETIME
from bbre_async._session_backend import (
    ActiveSession,
    RemoteSession,
    SessionOptions,
    collect_active,
)

if TYPE_CHECKING:
    from bbre_async._client import BBREClient

BBRE_ACCOUNT_CAP = 10


class BBREBackend:
    """Creates sessions with fixed options through a ``BBREClient``.

    Get one with ``client.session_backend(SessionOptions(...))``; ``SessionPool(client)`` does.
    """

    name = "bbre"
    account_cap = BBRE_ACCOUNT_CAP
    max_life = float(MAX_LIFE)
    supports_extend = False

    def __init__(self, client: BBREClient, options: SessionOptions | None = None) -> None:
        options = options or SessionOptions()
        check_mode(options.mode)
        check_sensibility(options.sensibility)
        lifetime = options.lifetime
        if isinstance(lifetime, bool) or not MIN_LIFETIME <= lifetime <= MAX_LIFETIME:
            raise ValueError(
                f"lifetime must be between {MIN_LIFETIME} and {MAX_LIFETIME} s "
                f"(the server grants at most {MAX_LIFE} s), got {lifetime!r}"
            )
        self.client = client
        self.options = options
        self.key_fingerprint = client.key_fingerprint
        self.base_url = client.base_url

    async def create(self, *, deadline: float | None = None) -> RemoteSession:
        options = self.options
        try:
            session = await self.client.sessions.create(
                mode=options.mode,
                sensibility=options.sensibility,
                lifetime=options.lifetime,
                fingerprint=options.fingerprint,
                proxy=options.proxy,
                timeout=deadline,
            )
        except InvalidResponseError as error:
            if error.status is not None and not 200 <= error.status < 300:
                raise
            # The server said yes in a form we cannot read: a session may exist. Keep the id
            # its first bytes carry, so the pool can close it rather than wait out its life.
            details = dict(error.details)
            readable = _readable_session_id(details.get("body_start"))
            if readable is not None:
                details["session_id"] = readable
            raise InvalidResponseError(
                str(error), status=error.status, details=details, outcome_unknown=True
            ) from error
        created = session.created_at.timestamp() if session.created_at else None
        # A guessed expiry is not the server's word: the pool must see it is missing and
        # apply its own safe short life.
        server_said = session.expires_at is not None and not session.expiry_assumed
        expires = session.expires_at.timestamp() if server_said and session.expires_at else None
        return RemoteSession(id=session.id, created_at=created, expires_at=expires, handle=session)

    async def close(self, session_id: str, *, deadline: float | None = None) -> bool:
        return await self.client.sessions.close(session_id, timeout=deadline)

    async def status(self, session_id: str) -> tuple[bool, float | None]:
        info = await self.client.sessions.status(session_id)
        expires = info.expires_at.timestamp() if info.expires_at else None
        return info.is_active, expires

    async def list_active(self) -> list[ActiveSession]:
        return await collect_active(self.client.account.sessions(status="active", page_size=100))

    async def extend(self, session_id: str, seconds: float) -> float | None:
        raise NotImplementedError("BBRE sessions cannot be extended; the pool replaces them")

    def adopt(self, active: ActiveSession) -> RemoteSession:
        created = active.created_at if active.created_at is not None else self.client.clock()
        expires = active.expires_at if active.expires_at is not None else created + MAX_LIFE
        info = SessionInfo(
            id=active.id,
            status="active",
            mode=self.options.mode,
            sensibility=self.options.sensibility,
            expires_at=datetime.fromtimestamp(expires, UTC),
            created_at=datetime.fromtimestamp(created, UTC),
        )
        return RemoteSession(
            id=active.id,
            created_at=active.created_at,
            expires_at=active.expires_at,
            handle=self.client.sessions.attach(info),
        )

    def __repr__(self) -> str:
        return f"<BBREBackend {self.base_url!r} {self.options.mode}/{self.options.sensibility}>"


_SESSION_ID = re.compile(r'"(?:id|sessionId)"\s*:\s*"([A-Za-z0-9_.:-]{1,128})"')


def _readable_session_id(body_start: object) -> str | None:
    """The first session id a (possibly truncated) create answer names, if any."""
    if not isinstance(body_start, str):
        return None
    match = _SESSION_ID.search(body_start)
    return match.group(1) if match else None
