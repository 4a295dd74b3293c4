"""The one place that speaks HTTP: aiohttp in, typed payloads or typed errors out.

Nothing above this module sees an aiohttp exception. Every call gets a client request id,
finite timeouts, bounded retries that respect the caller's deadline, and a secret-free log
line. Redirects are not followed, so an API key never travels to another host.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import random
import ssl
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import aiohttp
import attrs

from bbre_async import _json
from bbre_async._envelope import RawResponse, decode
from bbre_async._errors import APIConnectionError, APITimeoutError, BBREError
from bbre_async._retry import Replay, RetryPolicy, is_retryable
from bbre_async._version import __version__

logger = logging.getLogger("bbre_async.transport")

Sleep = Callable[[float], Awaitable[None]]


def _positive(_instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{attribute.name} must be a finite number > 0, got {value!r}")


@attrs.frozen(kw_only=True)
class Timeouts:
    """Finite limits for one HTTP attempt.

    ``read`` must exceed the server's own limit on blocking calls (``/request/execute``
    waits up to 120 s), or the client would give up on answers the server still sends.
    """

    connect: float = attrs.field(default=10.0, validator=_positive)
    read: float = attrs.field(default=150.0, validator=_positive)
    total: float = attrs.field(default=180.0, validator=_positive)

    @classmethod
    def of(cls, value: Timeouts | float | None) -> Timeouts:
        if value is None:
            return cls()
        if isinstance(value, Timeouts):
            return value
        seconds = float(value)
        return cls(connect=min(10.0, seconds), read=seconds, total=seconds)


class Redactor:
    """Removes secrets from any text that could reach a log line or an error message."""

    def __init__(self, secrets: Sequence[str]) -> None:
        self._secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, "***")
        return text


class Transport:
    """A JSON-over-HTTP caller bound to one base URL and one set of auth headers.

    One ``aiohttp.ClientSession`` (and so one connection pool) serves every call. A session
    passed in is borrowed: this object never closes it.
    """

    def __init__(
        self,
        *,
        base_url: str,
        auth_headers: Mapping[str, str],
        secrets: Sequence[str] = (),
        timeouts: Timeouts | None = None,
        retry: RetryPolicy | None = None,
        session: aiohttp.ClientSession | None = None,
        verify_ssl: bool = True,
        connection_limit: int = 100,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeouts = timeouts or Timeouts()
        self.retry = retry or RetryPolicy()
        self._headers = {
            **auth_headers,
            "Accept": "application/json",
            "User-Agent": f"bbre-async/{__version__}",
        }
        self._redact = Redactor(secrets)
        self._session = session
        self._owns_session = session is None
        self._verify_ssl = verify_ssl
        self._connection_limit = connection_limit
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._closed = False
        # Unique per process and per call, without a uuid4 on the hot path.
        self._id_prefix = f"req_{uuid.uuid4().hex[:12]}_"
        self._ids = itertools.count(1)
        self._timeouts_cache: dict[Timeouts, aiohttp.ClientTimeout] = {}

    def _client_timeout(self, timeouts: Timeouts) -> aiohttp.ClientTimeout:
        cached = self._timeouts_cache.get(timeouts)
        if cached is None:
            cached = aiohttp.ClientTimeout(
                total=timeouts.total, sock_connect=timeouts.connect, sock_read=timeouts.read
            )
            self._timeouts_cache[timeouts] = cached
        return cached

    @property
    def redact(self) -> Redactor:
        return self._redact

    def _client_session(self) -> aiohttp.ClientSession:
        if self._closed:
            raise APIConnectionError("the client is closed")
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=self._connection_limit, ssl=self._verify_ssl)
            self._session = aiohttp.ClientSession(connector=connector, json_serialize=_dumps_str)
        return self._session

    async def aclose(self) -> None:
        """Close the connection pool if this transport created it."""
        self._closed = True
        session, self._session = self._session, None
        if session is not None and self._owns_session and not session.closed:
            await session.close()

    async def call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, str | int] | None = None,
        replay: Replay = Replay.SAFE,
        deadline: float | None = None,
        timeouts: Timeouts | None = None,
    ) -> dict[str, Any]:
        """Send one API call, retrying what is safe to retry, and return its payload.

        ``deadline`` (seconds from now) bounds the whole call including retries and waits: a
        server-requested wait that would overrun it raises at once instead.
        """
        started = time.monotonic()
        limit_at = started + deadline if deadline is not None else None
        attempt = 0
        while True:
            request_id = f"{self._id_prefix}{next(self._ids):x}"
            try:
                return await self._attempt(
                    method, path, json, params, request_id, timeouts or self.timeouts, limit_at
                )
            except _AttemptFailed as failure:
                error = failure.error
                if replay is Replay.UNSAFE and failure.sent and _may_have_acted(error):
                    error.outcome_unknown = True
                retry = (
                    failure.retryable
                    and attempt < self.retry.max_retries
                    and is_retryable(error, replay, sent=failure.sent)
                )
                if not retry:
                    raise error from failure.cause
                wait = self.retry.delay_for(error, attempt, self._rng)
                if error.retry_after is not None and wait > self.retry.max_retry_after:
                    raise error from failure.cause
                if limit_at is not None and time.monotonic() + wait >= limit_at:
                    raise error from failure.cause
                logger.debug(
                    "retrying %s %s in %.2fs after %s (attempt %d)",
                    method,
                    path,
                    wait,
                    type(error).__name__,
                    attempt + 1,
                )
                attempt += 1
                await self._sleep(wait)

    async def _attempt(
        self,
        method: str,
        path: str,
        body: Any,
        params: Mapping[str, str | int] | None,
        request_id: str,
        timeouts: Timeouts,
        limit_at: float | None,
    ) -> dict[str, Any]:
        total = timeouts.total
        if limit_at is None:
            client_timeout = self._client_timeout(timeouts)
        else:
            total = min(total, max(0.001, limit_at - time.monotonic()))
            client_timeout = aiohttp.ClientTimeout(
                total=total, sock_connect=timeouts.connect, sock_read=timeouts.read
            )
        headers = {**self._headers, "x-request-id": request_id}
        if body is not None:
            # Only with a body: some servers reject a JSON content type on an empty GET/DELETE.
            headers["Content-Type"] = "application/json"
        url = self.base_url + path
        started = time.perf_counter()
        try:
            session = self._client_session()
            async with session.request(
                method,
                url,
                data=_json.dumps(body) if body is not None else None,
                params=params,
                headers=headers,
                timeout=client_timeout,
                allow_redirects=False,
            ) as response:
                raw_body = await response.read()
                raw = RawResponse(
                    status=response.status,
                    headers=response.headers,
                    body=raw_body,
                    request_id=request_id,
                )
        except aiohttp.ClientConnectorCertificateError as exc:
            raise _AttemptFailed(
                APIConnectionError(
                    f"TLS certificate verification failed for {self.base_url}",
                    request_id=request_id,
                ),
                exc,
                sent=False,
                retryable=False,
            ) from exc
        except aiohttp.ClientSSLError as exc:
            raise _AttemptFailed(
                APIConnectionError(f"TLS error talking to {self.base_url}", request_id=request_id),
                exc,
                sent=False,
                retryable=False,
            ) from exc
        except aiohttp.ConnectionTimeoutError as exc:
            raise _AttemptFailed(
                APITimeoutError(
                    f"connecting to {self.base_url} timed out after {timeouts.connect}s",
                    request_id=request_id,
                ),
                exc,
                sent=False,
            ) from exc
        except aiohttp.ClientConnectorError as exc:
            raise _AttemptFailed(
                APIConnectionError(
                    f"cannot connect to {self.base_url}: {_os_reason(exc)}", request_id=request_id
                ),
                exc,
                sent=False,
            ) from exc
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise _AttemptFailed(
                APITimeoutError(
                    f"{method} {path} got no answer within {total:.1f}s", request_id=request_id
                ),
                exc,
                sent=True,
            ) from exc
        except (aiohttp.ClientError, ssl.SSLError, OSError) as exc:
            raise _AttemptFailed(
                APIConnectionError(
                    f"{method} {path} lost its connection: {type(exc).__name__}",
                    request_id=request_id,
                ),
                exc,
                sent=True,
            ) from exc
        elapsed_ms = (time.perf_counter() - started) * 1000
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "%s %s -> %d in %.1f ms [%s]", method, path, raw.status, elapsed_ms, request_id
            )
        if 300 <= raw.status < 400:
            raise _AttemptFailed(
                BBREError(
                    f"{method} {path} was redirected (HTTP {raw.status}); redirects are not "
                    "followed so that the API key stays on the configured host",
                    status=raw.status,
                    request_id=request_id,
                ),
                None,
                sent=True,
                retryable=False,
            )
        try:
            return decode(raw, redact=self._redact)
        except BBREError as error:
            raise _AttemptFailed(error, None, sent=True) from error


class _AttemptFailed(Exception):
    """One attempt's failure, with what the retry decision needs to know."""

    def __init__(
        self,
        error: BBREError,
        cause: BaseException | None,
        *,
        sent: bool,
        retryable: bool = True,
    ) -> None:
        super().__init__(str(error))
        self.error = error
        self.cause = cause
        self.sent = sent
        self.retryable = retryable


def _may_have_acted(error: BBREError) -> bool:
    """After a request was sent, could the server have acted although we saw a failure?"""
    if isinstance(error, APIConnectionError):
        return True
    status = error.status or 0
    # A JSON error with a 4xx status is a definite refusal; 5xx or a garbled answer is not.
    return status >= 500 or (error.code is None and status < 400)


def _os_reason(exc: aiohttp.ClientConnectorError) -> str:
    return exc.strerror or type(exc.os_error).__name__


def _dumps_str(value: Any) -> str:
    return _json.dumps(value).decode()
