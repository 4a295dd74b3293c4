"""The transport seam: one async method that turns a request into a response.

Everything above this seam (timeouts, retries, envelopes, errors) is the client's; everything
below it (sockets, TLS, pooling) is the transport's. ``AiohttpTransport`` is the default;
``MockTransport`` answers from a function, for tests; a transport can wrap another (tracing,
recording) by holding it and delegating::

    class Logged:
        def __init__(self, inner: AsyncTransport) -> None:
            self.inner = inner

        async def handle_async_request(self, request: TransportRequest) -> TransportResponse:
            response = await self.inner.handle_async_request(request)
            print(request.method, request.url, response.status_code)
            return response

        async def aclose(self) -> None:
            await self.inner.aclose()

A transport raises ``APIConnectionError`` (``request_sent=False`` when the request provably
never left the process) or ``APITimeoutError`` for what goes wrong on the wire; it never
interprets status codes. The client bounds every call by its ``Timeout.total`` whatever the
transport does, so a transport that hangs cannot hang its caller.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol, runtime_checkable

from multidict import CIMultiDict, CIMultiDictProxy

from bbre_async import _json
from bbre_async._timeout import Timeout

__all__ = [
    "AsyncTransport",
    "MockTransport",
    "TransportRequest",
    "TransportResponse",
]


class TransportRequest:
    """One HTTP request as the client built it: absolute ``url`` (query included), final
    ``headers``, the encoded body in ``content``, the call's ``timeout`` (a transport honours
    at least ``timeout.connect``) and ``max_response_size`` (bytes, ``None`` for no limit)."""

    __slots__ = ("content", "headers", "max_response_size", "method", "timeout", "url")

    def __init__(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        content: bytes | None = None,
        timeout: Timeout,
        max_response_size: int | None = None,
    ) -> None:
        self.method = method
        self.url = url
        self.headers = headers
        self.content = content
        self.timeout = timeout
        self.max_response_size = max_response_size

    def json(self) -> Any:
        """The body decoded as JSON (``None`` without a body); handy in mock handlers."""
        return None if self.content is None else _json.loads(self.content)

    def __repr__(self) -> str:
        return f"<TransportRequest {self.method} {self.url}>"


class TransportResponse:
    """One HTTP answer: status, case-insensitive multi-valued headers, the body bytes and the
    URL that answered. ``json=`` builds a JSON answer (for mock handlers)."""

    __slots__ = ("content", "headers", "status_code", "url")

    def __init__(
        self,
        status_code: int,
        *,
        headers: CIMultiDictProxy[str] | Mapping[str, str] | None = None,
        content: bytes = b"",
        json: Any = None,
        url: str = "",
    ) -> None:
        if type(headers) is not CIMultiDictProxy:
            merged: CIMultiDict[str] = CIMultiDict(headers or {})
            if json is not None:
                merged.setdefault("Content-Type", "application/json")
            headers = CIMultiDictProxy(merged)
        if json is not None:
            content = _json.dumps(json)
        self.status_code = status_code
        self.headers: CIMultiDictProxy[str] = headers
        self.content = content
        self.url = url

    def __repr__(self) -> str:
        return f"<TransportResponse [{self.status_code}] {len(self.content)} bytes>"


@runtime_checkable
class AsyncTransport(Protocol):
    """What ``BBREClient(transport=...)`` and ``OrchestratorClient(transport=...)`` accept."""

    async def handle_async_request(self, request: TransportRequest) -> TransportResponse:
        """Send ``request`` and return the whole answer, or raise ``APIConnectionError``."""
        ...

    async def aclose(self) -> None:
        """Release connections; the client calls it once when it closes."""
        ...


Handler = Callable[[TransportRequest], TransportResponse | Awaitable[TransportResponse]]


class MockTransport:
    """A transport that answers every request by calling ``handler(request)`` (plain or
    async), for tests without a network::

        def handler(request: TransportRequest) -> TransportResponse:
            return TransportResponse(200, json={"success": True, "balance": 12.5})

        client = BBREClient(api_key="k", transport=MockTransport(handler))

    A handler may raise ``APIConnectionError`` / ``APITimeoutError`` to play a broken wire.
    """

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.closed = False

    async def handle_async_request(self, request: TransportRequest) -> TransportResponse:
        answer = self.handler(request)
        if inspect.isawaitable(answer):
            answer = await answer
        if not isinstance(answer, TransportResponse):
            raise TypeError(
                f"a MockTransport handler must return a TransportResponse, got {answer!r}"
            )
        return answer

    async def aclose(self) -> None:
        self.closed = True
