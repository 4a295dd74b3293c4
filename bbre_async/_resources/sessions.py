"""``client.sessions``: create, inspect, use and close remote sessions."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Unpack

import attrs

from bbre_async._caller import APICaller
from bbre_async._errors import SessionGoneError
from bbre_async._models import SessionInfo
from bbre_async._request_body import (
    IDEMPOTENT_METHODS,
    MODES,
    SENSIBILITIES,
    check_choice,
    fetch_request,
)
from bbre_async._response import Response
from bbre_async._retry import Replay
from bbre_async._session import Session
from bbre_async._timeout import (
    CREATE_TIMEOUT,
    FETCH_TIMEOUT,
    SERVER_FETCH_LIMIT,
    TimeoutLike,
    fetch_timeout_for,
)
from bbre_async._types import FetchOptions, HTTPMethod, JSONValue, Mode, Proxy, Sensibility

# The API validates 60..3600 s and then clamps to 10..300 s; the answer's expiresAt is truth.
MIN_LIFETIME = 60
MAX_LIFETIME = 3600
MAX_LIFE = 300


def check_session_id(session_id: str) -> str:
    if not isinstance(session_id, str) or not session_id.strip():
        raise ValueError("session_id must be a non-empty string")
    return session_id


class SessionsResource:
    """Calls on ``/session/*``. Creates are never replayed after they may have arrived."""

    def __init__(self, caller: APICaller, *, clock: Callable[[], float]) -> None:
        self._caller = caller
        self._clock = clock

    async def create(
        self,
        *,
        mode: Mode = "passive",
        sensibility: Sensibility = "medium",
        lifetime: int = MAX_LIFE,
        fingerprint: Mapping[str, JSONValue] | None = None,
        proxy: Proxy | None = None,
        timeout: TimeoutLike | None = None,
    ) -> Session:
        """Create a session (charged). ``lifetime`` (seconds) is what you ask; the server
        grants at most 300 s, and ``Session.expires_at`` tells what it granted.

        A lost answer raises with ``outcome_unknown=True``: a session may exist; reconcile
        through ``client.account.sessions(status="active")`` rather than calling again.
        """
        check_choice("mode", mode, MODES)
        check_choice("sensibility", sensibility, SENSIBILITIES)
        if isinstance(lifetime, bool) or not MIN_LIFETIME <= lifetime <= MAX_LIFETIME:
            raise ValueError(
                f"lifetime must be between {MIN_LIFETIME} and {MAX_LIFETIME} seconds, "
                f"got {lifetime!r}"
            )
        body: dict[str, Any] = {"mode": mode, "sensibility": sensibility, "timeout": lifetime}
        if fingerprint:
            body["fingerprint"] = dict(fingerprint)
        if proxy:
            body["proxy"] = proxy if isinstance(proxy, str) else dict(proxy)
        asked_at = self._clock()
        answer = await self._caller.call(
            "POST",
            "/session/create",
            json=body,
            replay=Replay.UNSAFE,
            timeout=timeout,
            default_timeout=CREATE_TIMEOUT,
        )
        info = SessionInfo.from_json(answer.json())
        assumed = info.expires_at is None
        if assumed:
            # No expiry in the answer: assume the shortest life the server could have granted
            # from the moment we asked, so nothing is ever used past its end.
            life = min(lifetime, MAX_LIFE)
            info = attrs.evolve(
                info, expires_at=datetime.fromtimestamp(asked_at, UTC) + timedelta(seconds=life)
            )
        session = Session(self, info, clock=self._clock)
        session.expiry_assumed = assumed
        return session

    async def status(self, session_id: str, *, timeout: TimeoutLike | None = None) -> SessionInfo:
        """The server's view of a session; a past-due session comes back ``expired``."""
        answer = await self._caller.call(
            "POST",
            "/session/status",
            json={"sessionId": check_session_id(session_id)},
            timeout=timeout,
        )
        return SessionInfo.from_json(answer.json())

    async def close(self, session_id: str, *, timeout: TimeoutLike | None = None) -> bool:
        """Close a session. True when this call closed it; False when it was already closed,
        expired or unknown (all of which mean it holds no slot)."""
        try:
            await self._caller.call(
                "POST",
                "/session/close",
                json={"sessionId": check_session_id(session_id)},
                timeout=timeout,
            )
        except SessionGoneError:
            return False
        return True

    async def request(
        self,
        session_id: str,
        method: HTTPMethod,
        url: str,
        **options: Unpack[FetchOptions],
    ) -> Response:
        """Fetch ``url`` through the session ``session_id`` (see ``Session.request``)."""
        idempotent = options.get("idempotent")
        payload = fetch_request(method, url, options)
        payload["sessionId"] = check_session_id(session_id)
        return await self.send(
            payload,
            idempotent=payload["method"] in IDEMPOTENT_METHODS
            if idempotent is None
            else idempotent,
            fetch_timeout=options.get("fetch_timeout"),
            timeout=options.get("timeout"),
            max_retries=options.get("max_retries"),
        )

    async def send(
        self,
        payload: dict[str, Any],
        *,
        idempotent: bool,
        fetch_timeout: float | None,
        timeout: TimeoutLike | None,
        max_retries: int | None,
    ) -> Response:
        """Send a built ``/session/request`` body (see ``Session.request``)."""
        default = FETCH_TIMEOUT
        if fetch_timeout is not None:
            default = fetch_timeout_for(FETCH_TIMEOUT, fetch_timeout, SERVER_FETCH_LIMIT)
        answer = await self._caller.call(
            "POST",
            "/session/request",
            json=payload,
            replay=Replay.SAFE if idempotent else Replay.UNSAFE,
            timeout=timeout,
            default_timeout=default,
            max_retries=max_retries,
            billed=True,
        )
        response = Response.from_json(answer.json(), url=payload["url"])
        response.api_response = answer
        return response

    def attach(self, info: SessionInfo) -> Session:
        """A handle on a session known by its info (e.g. one found in a listing)."""
        return Session(self, info, clock=self._clock)
