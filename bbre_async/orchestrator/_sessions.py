"""``client.sessions`` for OrchestratorHQ: create, get, list, extend and stop browser sessions."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import attrs

from bbre_async._caller import APICaller
from bbre_async._errors import NotFoundError
from bbre_async._models import Page, parse_page
from bbre_async._paging import paginate
from bbre_async._retry import Replay
from bbre_async._timeout import CREATE_TIMEOUT, TimeoutLike
from bbre_async.orchestrator._duration import DEFAULT_DURATION, normalize_duration, parse_duration
from bbre_async.orchestrator._models import (
    SESSION_STATUSES,
    ExtendResult,
    OrchSession,
    OrchSessionStatus,
)

DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 100


def session_path(session_id: str) -> str:
    """``/sessions/{id}`` with the id escaped, so an odd id cannot reach another route."""
    if not isinstance(session_id, str) or not session_id.strip():
        raise ValueError("session_id must be a non-empty string")
    return "/sessions/" + quote(session_id, safe="")


def _check_status(status: str | None) -> None:
    if status is not None and status not in SESSION_STATUSES:
        raise ValueError(f"status must be one of {list(SESSION_STATUSES)} or None, got {status!r}")


def _check_limit(limit: int, what: str) -> None:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE_SIZE:
        raise ValueError(f"{what} must be an integer from 1 to {MAX_PAGE_SIZE}, got {limit!r}")


class OrchSessionsResource:
    """Calls on ``/sessions``. A create is never replayed once it may have reached the server:
    it starts a billed browser, and a second one would be a second bill."""

    def __init__(self, caller: APICaller, *, clock: Callable[[], float]) -> None:
        self._caller = caller
        self._clock = clock

    async def create(
        self,
        *,
        session_name: str,
        description: str | None = None,
        duration: str = DEFAULT_DURATION,
        timeout: TimeoutLike | None = None,
    ) -> OrchSession:
        """Start a browser session that lives ``duration`` ("30m", "2h", "1h30m"; 1 minute
        to 24 hours). The session is active when this returns; ``cdp_url`` attaches a browser
        driver to it.

        A lost answer raises with ``outcome_unknown=True``: a session may exist; look for it
        with ``list(status="active")`` instead of creating again.
        """
        if not isinstance(session_name, str) or not session_name.strip():
            raise ValueError("session_name must be a non-empty string")
        if description is not None and not isinstance(description, str):
            raise ValueError("description must be a string or None")
        canonical = normalize_duration(duration)
        body: dict[str, Any] = {"session_name": session_name, "duration": canonical}
        if description is not None:
            body["description"] = description
        asked_at = self._clock()
        answer = await self._caller.call(
            "POST",
            "/sessions",
            json=body,
            replay=Replay.UNSAFE,
            timeout=timeout,
            default_timeout=CREATE_TIMEOUT,
        )
        session = OrchSession.from_json(answer.json())
        if session.status == "unknown":
            session = attrs.evolve(session, status="active")  # documented: active on return
        if session.expires_at is None:
            # No expiry in the answer: count the asked life from before the call, which can
            # only end earlier than the server's own count, never later.
            granted = datetime.fromtimestamp(asked_at, UTC) + timedelta(
                seconds=parse_duration(canonical)
            )
            session = attrs.evolve(session, expires_at=granted)
        return session

    async def get(self, session_id: str, *, timeout: TimeoutLike | None = None) -> OrchSession:
        """The session's details, including ``cdp_url``, ``vnc_url`` and ``vnc_password``."""
        answer = await self._caller.call("GET", session_path(session_id), timeout=timeout)
        return OrchSession.from_json(answer.json())

    async def extend(
        self, session_id: str, duration: str, *, timeout: TimeoutLike | None = None
    ) -> ExtendResult:
        """Add ``duration`` ("30m", "1h") to the session's life; returns the new ``expires_at``.

        Not replayed once it may have arrived: a replay would extend twice.
        """
        answer = await self._caller.call(
            "POST",
            session_path(session_id) + "/extend",
            json={"duration": normalize_duration(duration)},
            replay=Replay.UNSAFE,
            timeout=timeout,
        )
        return ExtendResult.from_json(answer.json())

    async def stop(self, session_id: str, *, timeout: TimeoutLike | None = None) -> bool:
        """Stop the session. True when this call stopped it; False when the server no longer
        knows it as running (404), which also means it holds nothing."""
        try:
            await self._caller.call("DELETE", session_path(session_id), timeout=timeout)
        except NotFoundError:
            return False
        return True

    async def list_page(
        self,
        *,
        status: str | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
        offset: int = 0,
        timeout: TimeoutLike | None = None,
    ) -> Page[OrchSession]:
        """One page of the organisation's sessions (``limit`` 1-100, default 25)."""
        _check_status(status)
        _check_limit(limit, "limit")
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
            raise ValueError(f"offset must be an integer >= 0, got {offset!r}")
        params: dict[str, str | int] = {"limit": limit, "offset": offset}
        if status is not None:
            params["status"] = status
        answer = await self._caller.call("GET", "/sessions", params=params, timeout=timeout)
        return parse_page(
            answer.json(), "sessions", OrchSession.from_json, limit=limit, offset=offset
        )

    def list(
        self,
        *,
        status: OrchSessionStatus | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        timeout: TimeoutLike | None = None,
    ) -> AsyncIterator[OrchSession]:
        """Every session (optionally of one ``status``), fetched a page at a time as the
        caller iterates; rows repeated by a shifting listing are yielded once."""
        _check_status(status)
        _check_limit(page_size, "page_size")

        async def fetch(limit: int, offset: int) -> Page[OrchSession]:
            return await self.list_page(status=status, limit=limit, offset=offset, timeout=timeout)

        return paginate(fetch, page_size=page_size)
