"""``AiohttpTransport``: the default transport, and the only module that imports aiohttp's
client. Its exceptions become ``APIConnectionError`` / ``APITimeoutError`` here.

Only the connect limit is armed per request (on new connections only): the client bounds the
whole call with one timer of its own, so no per-read timer is re-armed on every chunk.
Redirects are not followed, so an API key never travels to another host.
"""

from __future__ import annotations

import ssl

import aiohttp

from bbre_async._errors import APIConnectionError, APITimeoutError, ResponseTooLargeError
from bbre_async._transport import TransportRequest, TransportResponse


class AiohttpTransport:
    """Sends requests over one ``aiohttp.ClientSession`` (one connection pool).

    A ``session`` passed in is borrowed: ``aclose`` leaves it open. Otherwise the session is
    created on first use (inside the running loop) and closed by ``aclose``.
    """

    def __init__(
        self,
        *,
        session: aiohttp.ClientSession | None = None,
        verify_ssl: bool = True,
        connection_limit: int = 100,
    ) -> None:
        if connection_limit < 1:
            raise ValueError("connection_limit must be >= 1")
        self._session = session
        self._owns_session = session is None
        self._verify_ssl = verify_ssl
        self._connection_limit = connection_limit
        self._closed = False
        self._timeouts: dict[float, aiohttp.ClientTimeout] = {}

    def _client_session(self) -> aiohttp.ClientSession:
        if self._closed:
            raise APIConnectionError(
                "the client is closed", code="CLIENT_CLOSED", request_sent=False
            )
        session = self._session
        if session is None:
            connector = aiohttp.TCPConnector(limit=self._connection_limit, ssl=self._verify_ssl)
            session = self._session = aiohttp.ClientSession(connector=connector)
        return session

    def _client_timeout(self, connect: float) -> aiohttp.ClientTimeout:
        cached = self._timeouts.get(connect)
        if cached is None:
            # total/sock_read stay off: the caller's single timer bounds the whole call.
            cached = aiohttp.ClientTimeout(
                total=None, connect=connect, sock_connect=connect, sock_read=None
            )
            self._timeouts[connect] = cached
        return cached

    async def handle_async_request(self, request: TransportRequest) -> TransportResponse:
        session = self._client_session()
        limit = request.max_response_size
        try:
            async with session.request(
                request.method,
                request.url,
                data=request.content,
                headers=request.headers,
                timeout=self._client_timeout(request.timeout.connect),
                allow_redirects=False,
            ) as response:
                if limit is None:
                    body = await response.read()
                else:
                    length = response.content_length
                    if length is not None and length > limit:
                        raise _too_large(request, limit)
                    if length is None:
                        body = await _read_at_most(response, request, limit)
                    else:
                        body = await response.read()
                        if len(body) > limit:  # a compressed answer can grow when decoded
                            raise _too_large(request, limit)
                # Redirects are not followed, so the URL that answered is the one asked.
                return TransportResponse(
                    response.status, headers=response.headers, content=body, url=request.url
                )
        except aiohttp.ClientConnectorCertificateError as exc:
            raise APIConnectionError(
                f"TLS certificate verification failed for {_origin(request)}",
                code="TLS_ERROR",
                request_sent=False,
            ) from exc
        except aiohttp.ClientSSLError as exc:
            raise APIConnectionError(
                f"TLS error talking to {_origin(request)}", code="TLS_ERROR", request_sent=False
            ) from exc
        except aiohttp.ConnectionTimeoutError as exc:
            raise APITimeoutError(
                f"connecting to {_origin(request)} timed out after {request.timeout.connect:g}s",
                code="CONNECT_TIMEOUT",
                request_sent=False,
            ) from exc
        except aiohttp.ClientConnectorError as exc:
            reason = exc.strerror or type(exc.os_error).__name__
            raise APIConnectionError(
                f"cannot connect to {_origin(request)}: {reason}",
                code="CONNECT_ERROR",
                request_sent=False,
            ) from exc
        except (aiohttp.ClientError, ssl.SSLError, OSError) as exc:
            raise APIConnectionError(
                f"{request.method} {_path(request)} lost its connection: {type(exc).__name__}",
                code="CONNECTION_LOST",
            ) from exc

    async def aclose(self) -> None:
        """Close the connection pool if this transport created it."""
        self._closed = True
        session, self._session = self._session, None
        if session is not None and self._owns_session and not session.closed:
            await session.close()


async def _read_at_most(
    response: aiohttp.ClientResponse, request: TransportRequest, limit: int
) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_any():
        size += len(chunk)
        if size > limit:
            raise _too_large(request, limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(request: TransportRequest, limit: int) -> ResponseTooLargeError:
    return ResponseTooLargeError(
        f"{request.method} {_path(request)}: the answer is larger than max_response_size "
        f"({limit} bytes)",
        details={"max_response_size": limit},
    )


def _origin(request: TransportRequest) -> str:
    scheme, _, rest = request.url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"


def _path(request: TransportRequest) -> str:
    _, _, rest = request.url.partition("://")
    path = "/" + rest.split("/", 1)[1] if "/" in rest else "/"
    return path.split("?", 1)[0]
