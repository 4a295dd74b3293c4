"""A handle on one remote browser session."""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable, Mapping
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any

from bbre_async._errors import BBREError, SessionGoneError
from bbre_async._models import SessionInfo
from bbre_async._request_body import IDEMPOTENT_METHODS, target_request
from bbre_async._response import Response
from bbre_async._timeout import Timeout
from bbre_async._types import FormData, HTTPMethod, JSONValue, QueryParams
from bbre_async._verbs import VerbsMixin

if TYPE_CHECKING:
    from bbre_async._resources.sessions import SessionsResource

CLOSE_TIMEOUT = 10.0
logger = logging.getLogger("bbre_async.session")


class Session(VerbsMixin):
    """One remote session: its id, its server-given expiry, its cookies, and its calls.

    ``expires_at`` is the server's word (the server clamps the life it grants, whatever was
    asked). ``cookies`` follows the jar the server reports after each request. ``async with``
    closes the session on exit, shielded from cancellation and bounded in time.
    """

    def __init__(
        self,
        resource: SessionsResource,
        info: SessionInfo,
        *,
        clock: Callable[[], float],
    ) -> None:
        self._resource = resource
        self._clock = clock
        self.id = info.id
        self.mode = info.mode
        self.sensibility = info.sensibility
        self.created_at = info.created_at
        self.expires_at: datetime | None = info.expires_at
        # True when the create answer had no ``expiresAt`` and ``expires_at`` is this
        # client's cautious guess from its own clock, not the server's word.
        self.expiry_assumed = False
        self.profile: dict[str, Any] | None = info.profile
        self.cookies: dict[str, str] = {}
        self.request_count = 0
        self._closed = False

    def __repr__(self) -> str:
        remaining = self.remaining()
        left = "unknown" if math.isinf(remaining) else f"{remaining:.1f}s"
        state = "closed" if self._closed else "open"
        return f"<Session {self.id} mode={self.mode} {state} expires_in={left}>"

    def remaining(self) -> float:
        """Seconds of life left by the server's ``expiresAt`` (``inf`` when not known)."""
        if self.expires_at is None:
            return math.inf
        return self.expires_at.timestamp() - self._clock()

    def is_active(self) -> bool:
        """True while the session is neither closed by us nor past its expiry (local view)."""
        return not self._closed and self.remaining() > 0

    @property
    def closed(self) -> bool:
        return self._closed

    async def request(
        self,
        method: HTTPMethod,
        url: str,
        *,
        params: QueryParams | None = None,
        headers: Mapping[str, str] | None = None,
        json: JSONValue = None,
        data: FormData | None = None,
        body: str | None = None,
        cookies: Mapping[str, str] | None = None,
        fetch_timeout: float | None = None,
        allow_redirects: bool | None = None,
        verify_ssl: bool | None = None,
        idempotent: bool | None = None,
        timeout: Timeout | float | None = None,
        max_retries: int | None = None,
    ) -> Response:
        """Fetch ``url`` through the remote browser (charged).

        ``fetch_timeout`` is the remote browser's limit for the target; ``timeout`` how long
        this process waits (default: ``fetch_timeout`` + 30 s, at least 90 s). GET, HEAD and
        OPTIONS (and any method with ``idempotent=True``) are retried on a transient fault
        within ``timeout``; each try is billed and counted in ``Response.attempts``. Raises
        ``SessionExpiredError`` and kin when the session is gone (it is then marked closed).
        """
        payload = target_request(
            method,
            url,
            params=params,
            headers=headers,
            json=json,
            data=data,
            body=body,
            cookies=cookies,
            fetch_timeout=fetch_timeout,
            allow_redirects=allow_redirects,
            verify_ssl=verify_ssl,
        )
        payload["sessionId"] = self.id
        try:
            response = await self._resource.send(
                payload,
                idempotent=payload["method"] in IDEMPOTENT_METHODS
                if idempotent is None
                else idempotent,
                fetch_timeout=fetch_timeout,
                timeout=timeout,
                max_retries=max_retries,
            )
        except SessionGoneError:
            self._closed = True
            raise
        self.request_count += 1
        if response.cookies:
            self.cookies.update(response.cookies)
        if response.profile is not None:
            self.profile = response.profile
        return response

    async def status(self, *, timeout: Timeout | float | None = None) -> SessionInfo:
        """Ask the server; refreshes ``expires_at`` and notices expiry or closure."""
        info = await self._resource.status(self.id, timeout=timeout)
        if info.expires_at is not None:
            self.expires_at = info.expires_at
        if not info.is_active:
            self._closed = True
        return info

    async def close(self, *, timeout: Timeout | float | None = None) -> bool:
        """Close the session; True when this call closed it, False when it was already gone."""
        if self._closed:
            return False
        closed_now = await self._resource.close(self.id, timeout=timeout)
        self._closed = True
        return closed_now

    async def __aenter__(self) -> Session:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # A task of its own, so that a cancellation landing here cannot leave the remote
        # session open; this caller still sees its cancellation.
        closing = asyncio.ensure_future(self.close(timeout=CLOSE_TIMEOUT))
        try:
            await asyncio.wait_for(asyncio.shield(closing), CLOSE_TIMEOUT)
        except TimeoutError:
            logger.warning("closing session %s took longer than %ss", self.id, CLOSE_TIMEOUT)
        except BBREError as error:
            if exc is None:
                raise
            # Do not hide the body's own failure behind a cleanup failure.
            logger.warning("closing session %s failed: %s", self.id, error)
