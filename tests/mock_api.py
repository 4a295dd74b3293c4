"""Canned API answers behind the public ``MockTransport`` seam, for the client unit tests.

``api.post(url, payload=...)`` queues one answer for ``POST url`` (``repeat=True`` keeps it);
answers for one route are served in order. ``url`` may be a compiled regex. A request with no
answer queued fails like a refused connection. Every request sent is kept in ``api.sent``.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from bbre_async import APIConnectionError, MockTransport, TransportRequest, TransportResponse, _json

Callback = Callable[[TransportRequest], TransportResponse | Awaitable[TransportResponse]]


class _Route:
    def __init__(
        self,
        method: str,
        url: str | re.Pattern[str],
        answer: TransportResponse | None,
        exception: BaseException | None,
        callback: Callback | None,
        repeat: bool,
    ) -> None:
        self.method = method
        self.url = url
        self.answer = answer
        self.exception = exception
        self.callback = callback
        self.repeat = repeat

    def matches(self, request: TransportRequest) -> bool:
        if request.method != self.method:
            return False
        if isinstance(self.url, re.Pattern):
            return self.url.fullmatch(request.url) is not None
        return request.url == self.url or request.url.split("?", 1)[0] == self.url


class MockAPI:
    """Routes and records; ``transport`` is the ``MockTransport`` to give a client."""

    def __init__(self) -> None:
        self._routes: list[_Route] = []
        self.sent: list[TransportRequest] = []
        self.transport = MockTransport(self.handle)

    def add(
        self,
        method: str,
        url: str | re.Pattern[str],
        *,
        status: int = 200,
        payload: Any = None,
        body: str | bytes | None = None,
        headers: Mapping[str, str] | None = None,
        content_type: str | None = None,
        exception: BaseException | None = None,
        callback: Callback | None = None,
        repeat: bool = False,
    ) -> None:
        answer = None
        if exception is None and callback is None:
            all_headers = dict(headers or {})
            if payload is not None:
                all_headers.setdefault("Content-Type", "application/json")
                content = _json.dumps(payload)
            else:
                content = body.encode() if isinstance(body, str) else (body or b"")
            if content_type is not None:
                all_headers["Content-Type"] = content_type
            answer = TransportResponse(status, headers=all_headers, content=content)
        self._routes.append(_Route(method, url, answer, exception, callback, repeat))

    def post(self, url: str | re.Pattern[str], **kwargs: Any) -> None:
        self.add("POST", url, **kwargs)

    def get(self, url: str | re.Pattern[str], **kwargs: Any) -> None:
        self.add("GET", url, **kwargs)

    def delete(self, url: str | re.Pattern[str], **kwargs: Any) -> None:
        self.add("DELETE", url, **kwargs)

    async def handle(self, request: TransportRequest) -> TransportResponse:
        self.sent.append(request)
        for route in self._routes:
            if route.matches(request):
                if not route.repeat:
                    self._routes.remove(route)
                if route.exception is not None:
                    raise route.exception
                if route.callback is not None:
                    result = route.callback(request)
                    return result if isinstance(result, TransportResponse) else await result
                assert route.answer is not None
                return route.answer
        raise APIConnectionError(
            f"no mocked answer for {request.method} {request.url}",
            code="CONNECT_ERROR",
            request_sent=False,
        )

    def calls(self, method: str, url: str | None = None) -> list[TransportRequest]:
        """Requests sent with ``method`` (to ``url``, query ignored, when given)."""
        return [
            r
            for r in self.sent
            if r.method == method and (url is None or r.url.split("?", 1)[0] == url)
        ]

    def sent_json(self, method: str, url: str | None = None, index: int = -1) -> Any:
        return self.calls(method, url)[index].json()


def connection_lost(message: str = "server disconnected") -> APIConnectionError:
    """The error a transport raises when the connection breaks after sending."""
    return APIConnectionError(message, code="CONNECTION_LOST")


def connection_refused() -> APIConnectionError:
    return APIConnectionError("connection refused", code="CONNECT_ERROR", request_sent=False)


def api_json(request: TransportRequest) -> Any:
    return _json.loads(request.content or b"null")


async def hang_forever(request: TransportRequest) -> TransportResponse:
    """A server that never answers (a ``callback`` for ``MockAPI.post``)."""
    await asyncio.Event().wait()
    raise AssertionError("unreachable")
