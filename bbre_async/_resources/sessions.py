"""``client.sessions``: create, inspect, use and close remote sessions."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs

from bbre_async._errors import SessionGoneError
from bbre_async._models import Response, SessionInfo
from bbre_async._request_body import MODES, SENSIBILITIES, check_choice, target_request
from bbre_async._retry import Replay
from bbre_async._session import Session
from bbre_async._transport import Transport

# The API validates 60..3600 s and then clamps to 10..300 s; the answer's expiresAt is truth.
MIN_TIMEOUT = 60
MAX_TIMEOUT = 3600
MAX_LIFE = 300


def check_session_id(session_id: str) -> str:
    if not isinstance(session_id, str) or not session_id.strip():
        raise ValueError("session_id must be a non-empty string")
    return session_id


class SessionsResource:
    """Calls on ``/session/*``. Creates are never replayed after they may have arrived."""

    def __init__(self, transport: Transport, *, clock: Callable[[], float]) -> None:
        self._transport = transport
        self._clock = clock

    async def create(
        self,
        *,
        mode: str = "passive",
        sensibility: str = "medium",
        timeout: int = MAX_LIFE,
        fingerprint: Mapping[str, Any] | None = None,
        proxy: str | Mapping[str, Any] | None = None,
        deadline: float | None = None,
    ) -> Session:
        """Create a session (charged). ``timeout`` is what you ask; the server grants at most
        300 s, and ``Session.expires_at`` tells what it granted.

        A lost answer raises with ``outcome_unknown=True``: a session may exist; reconcile
        through ``client.account.sessions(status="active")`` rather than calling again.
        """
        check_choice("mode", mode, MODES)
        check_choice("sensibility", sensibility, SENSIBILITIES)
        if isinstance(timeout, bool) or not MIN_TIMEOUT <= timeout <= MAX_TIMEOUT:
            raise ValueError(
                f"timeout must be between {MIN_TIMEOUT} and {MAX_TIMEOUT} seconds, got {timeout!r}"
            )
        body: dict[str, Any] = {"mode": mode, "sensibility": sensibility, "timeout": timeout}
        if fingerprint:
            body["fingerprint"] = dict(fingerprint)
        if proxy:
            body["proxy"] = proxy if isinstance(proxy, str) else dict(proxy)
        asked_at = self._clock()
        payload = await self._transport.call(
            "POST", "/session/create", json=body, replay=Replay.UNSAFE, deadline=deadline
        )
        info = SessionInfo.from_json(payload)
        if info.expires_at is None:
            # No expiry in the answer: assume the shortest life the server could have granted
            # from the moment we asked, so nothing is ever used past its end.
            life = min(timeout, MAX_LIFE)
            info = _with_expiry(
                info, datetime.fromtimestamp(asked_at, UTC) + timedelta(seconds=life)
            )
        return Session(self, info, clock=self._clock)

    async def status(self, session_id: str, *, deadline: float | None = None) -> SessionInfo:
        """The server's view of a session; a past-due session comes back ``expired``."""
        payload = await self._transport.call(
            "POST",
            "/session/status",
            json={"sessionId": check_session_id(session_id)},
            deadline=deadline,
        )
        return SessionInfo.from_json(payload)

    async def close(self, session_id: str, *, deadline: float | None = None) -> bool:
        """Close a session. True when this call closed it; False when it was already closed,
        expired or unknown (all of which mean it holds no slot)."""
        try:
            await self._transport.call(
                "POST",
                "/session/close",
                json={"sessionId": check_session_id(session_id)},
                deadline=deadline,
            )
        except SessionGoneError:
            return False
        return True

    async def request(
        self,
        session_id: str,
        method: str,
        url: str,
        *,
        deadline: float | None = None,
        **options: Any,
    ) -> Response:
        """Fetch ``url`` through a session (charged; not replayed once it may have run)."""
        body = target_request(method, url, **options)
        body["sessionId"] = check_session_id(session_id)
        payload = await self._transport.call(
            "POST", "/session/request", json=body, replay=Replay.UNSAFE, deadline=deadline
        )
        return Response.from_json(payload)

    def attach(self, info: SessionInfo) -> Session:
        """A handle on a session known by its info (e.g. one found in a listing)."""
        return Session(self, info, clock=self._clock)


def _with_expiry(info: SessionInfo, expires_at: datetime) -> SessionInfo:
    return attrs.evolve(info, expires_at=expires_at)
