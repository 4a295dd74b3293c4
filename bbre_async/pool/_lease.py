"""The object a caller holds while it has a session from the pool."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Coroutine
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Protocol, Unpack

from bbre_async._errors import LeaseReleasedError, PoolClosedError, SessionExpiredError
from bbre_async._models import Response
from bbre_async._types import FetchOptions, HTTPMethod
from bbre_async._verbs import VerbsMixin
from bbre_async.pool._holder import Holder, HolderState


class LeaseHost(Protocol):
    """What a lease may ask of its pool, and nothing more."""

    def now(self) -> float: ...

    def release_holder(self, holder: Holder) -> None: ...

    def start_request(
        self, holder: Holder, call: Coroutine[Any, Any, Response]
    ) -> RunningRequest: ...


class RunningRequest(Protocol):
    """A lease's request running on its own; the pool judges the session by its end."""

    @property
    def outcome(self) -> asyncio.Future[Response]: ...

    def caller_left(self) -> None: ...


class PooledSession(VerbsMixin):
    """A leased session: exclusive to its holder until released, then detached for good.

    Requests through one lease run one at a time (the remote browser context is one), and a
    request is refused locally once the session is past its expiry, so nothing is ever sent
    through a dead session. ``close()`` retires the session: the pool closes it and makes
    a fresh one when needed (use it when a target blocked this session).
    """

    __slots__ = ("_entry", "_host")

    def __init__(self, host: LeaseHost, holder: Holder) -> None:
        self._host = host
        self._entry: Holder | None = holder

    def _live(self) -> Holder:
        entry = self._entry
        if entry is None:
            raise LeaseReleasedError("this session was released to the pool; acquire another")
        return entry

    @property
    def id(self) -> str:
        return self._live().id

    @property
    def released(self) -> bool:
        return self._entry is None

    @property
    def expires_at(self) -> datetime | None:
        """The server's word on the expiry (its clock), when it gave one."""
        server = self._live().server_expires_at
        return datetime.fromtimestamp(server, UTC) if server is not None else None

    def remaining(self) -> float:
        """Seconds of believed life left, measured on the pool's clock since the create."""
        return self._live().remaining(self._host.now())

    @property
    def cookies(self) -> dict[str, str]:
        entry = self._live()
        jar = entry.cookies()
        return {**(entry.pending_cookies or {}), **jar}

    @property
    def handle(self) -> Any:
        """The backend's own session object (a ``Session`` for BBRE)."""
        return self._live().handle

    @property
    def cdp_url(self) -> str | None:
        """The browser's DevTools URL, for backends that expose one (attach Playwright)."""
        return getattr(self._live().handle, "cdp_url", None)

    def __repr__(self) -> str:
        if self._entry is None:
            return "<PooledSession released>"
        left = self._entry.remaining(self._host.now())
        return (
            f"<PooledSession {self._entry.id} expires_in={left:.1f}s>"
            if math.isfinite(left)
            else (f"<PooledSession {self._entry.id}>")
        )

    async def request(
        self, method: HTTPMethod, url: str, **options: Unpack[FetchOptions]
    ) -> Response:
        """Fetch ``url`` through the leased session (see ``Session.request``).

        The call runs in a task of its own: if the caller is cancelled (a timeout around it),
        the request finishes in the background, at most ``request_grace`` seconds longer, and
        the session goes back to the pool instead of being thrown away.
        """
        entry = self._live()
        while (running := entry.in_flight) is not None and not running.done():
            # One request at a time: the remote browser context is one.
            await asyncio.wait((running,))
            entry = self._live()
        host = self._host
        if entry.state is HolderState.CLOSING or entry.state is HolderState.CLOSED:
            await asyncio.sleep(0)
            raise PoolClosedError(f"session {entry.id} was closed by the pool's shutdown")
        if entry.expires_at <= host.now():
            entry.retire_reason = entry.retire_reason or "expired"
            await asyncio.sleep(0)
            raise SessionExpiredError(
                f"session {entry.id} expired while leased; release it and acquire another",
                code="SESSION_EXPIRED",
            )
        request = getattr(entry.remote.handle, "request", None)
        if request is None:
            raise TypeError("this backend's sessions take no HTTP requests")
        carried = entry.pending_cookies
        if carried:
            options["cookies"] = {**carried, **(options.get("cookies") or {})}
        run = host.start_request(entry, request(method, url, **options))
        try:
            response = await run.outcome
        except asyncio.CancelledError:
            run.caller_left()
            raise
        if carried:
            entry.pending_cookies = None
        return response

    async def status(self) -> Any:
        """The server's view of this session."""
        return await self._live().handle.status()

    def retire(self, reason: str = "retired by its holder") -> None:
        """Mark the session for closing when it is released."""
        self._live().retire_reason = reason

    async def close(self) -> None:
        """Retire the session and give the lease back (closed and replaced by the pool)."""
        if self._entry is None:
            return
        self.retire("closed by its holder")
        self._give_back()

    async def release(self) -> None:
        """Give the session back to the pool; the lease is unusable afterwards."""
        self._give_back()

    def _give_back(self) -> None:
        entry, self._entry = self._entry, None
        if entry is not None:
            self._host.release_holder(entry)

    async def __aenter__(self) -> PooledSession:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._give_back()
