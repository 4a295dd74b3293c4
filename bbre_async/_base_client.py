"""What every vendor client shares: the key and URL from arguments or the environment, one
transport, per-client options and cheap ``with_options`` copies, a repr without the secret,
and ``async with``."""

from __future__ import annotations

import asyncio
import copy
import enum
import logging
import os
import time
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, ClassVar, Self

from bbre_async._aiohttp_transport import AiohttpTransport
from bbre_async._caller import DEFAULT_MAX_RESPONSE_SIZE, APICaller, Sleep
from bbre_async._retry import RetryPolicy
from bbre_async._secrets import Redactor, fingerprint, mask
from bbre_async._stats import ClientStats
from bbre_async._timeout import Timeout, TimeoutLike
from bbre_async._transport import AsyncTransport

if TYPE_CHECKING:
    import aiohttp

LOG_ENV = "BBRE_LOG"


class _Unset(enum.Enum):
    UNSET = "unset"


_UNSET = _Unset.UNSET


class APIClientBase:
    """Subclasses name their vendor, environment variables and auth header, and attach their
    resources (built on ``self._caller``) in ``_add_resources``."""

    vendor: ClassVar[str]
    api_key_env: ClassVar[str]
    base_url_env: ClassVar[str]
    default_base_url: ClassVar[str]

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        timeout: TimeoutLike | None = None,
        max_retries: int = 2,
        retry: RetryPolicy | None = None,
        transport: AsyncTransport | None = None,
        session: aiohttp.ClientSession | None = None,
        verify_ssl: bool = True,
        connection_limit: int = 100,
        max_response_size: int | None = DEFAULT_MAX_RESPONSE_SIZE,
        clock: Callable[[], float] = time.time,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        key = api_key if api_key is not None else os.environ.get(self.api_key_env, "")
        if not isinstance(key, str) or not key.strip():
            raise ValueError(
                f"no {self.vendor} API key: pass api_key=... or set the {self.api_key_env} "
                "environment variable"
            )
        url = base_url or os.environ.get(self.base_url_env) or self.default_base_url
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must start with http:// or https://, got {url!r}")
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
            raise ValueError("max_retries must be an integer >= 0")
        if transport is not None and session is not None:
            raise TypeError("pass transport= or session=, not both")
        if transport is not None and not isinstance(transport, AsyncTransport):
            raise TypeError(
                "transport= must have async handle_async_request(request) and aclose() "
                f"(an AsyncTransport), got {type(transport).__name__}"
            )
        _check_size(max_response_size)
        configure_logging_from_env()
        self._api_key = key.strip()
        self.base_url = url.rstrip("/")
        self.key_fingerprint = fingerprint(self._api_key)
        self.clock = clock
        self._sleep = sleep
        self._owns_transport = True
        self._caller = APICaller(
            transport=transport
            or AiohttpTransport(
                session=session, verify_ssl=verify_ssl, connection_limit=connection_limit
            ),
            base_url=self.base_url,
            auth_headers=self._auth_headers(self._api_key),
            redact=Redactor([self._api_key]),
            retry=retry or RetryPolicy(max_retries=max_retries),
            timeout=Timeout.of(timeout) if timeout is not None else None,
            max_response_size=max_response_size,
            sleep=sleep,
        )
        self._add_resources()

    def _auth_headers(self, api_key: str) -> dict[str, str]:
        raise NotImplementedError

    def _add_resources(self) -> None:
        """Attach the vendor's resource namespaces to ``self`` (built on ``self._caller``)."""
        raise NotImplementedError

    def with_options(
        self,
        *,
        timeout: TimeoutLike | _Unset | None = _UNSET,
        max_retries: int | None = None,
        max_response_size: int | _Unset | None = _UNSET,
    ) -> Self:
        """A cheap copy with other defaults, sharing this client's connection pool::

            fast = client.with_options(timeout=5, max_retries=0)
            await fast.account.balance()

        ``timeout=None`` restores the per-endpoint defaults. The copy borrows the pool:
        closing it closes nothing; close the original.
        """
        caller = self._caller
        retry = caller.retry
        if max_retries is not None:
            if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
                raise ValueError("max_retries must be an integer >= 0")
            retry = RetryPolicy(
                max_retries=max_retries,
                initial_delay=retry.initial_delay,
                max_delay=retry.max_delay,
                max_retry_after=retry.max_retry_after,
            )
        new_timeout = caller.timeout
        if not isinstance(timeout, _Unset):
            new_timeout = None if timeout is None else Timeout.of(timeout)
        size = caller.max_response_size
        if not isinstance(max_response_size, _Unset):
            _check_size(max_response_size)
            size = max_response_size
        clone = copy.copy(self)
        clone._owns_transport = False
        clone._caller = caller.with_options(
            timeout=new_timeout, retry=retry, max_response_size=size
        )
        clone._add_resources()
        return clone

    def __repr__(self) -> str:
        return f"<{type(self).__name__} base_url={self.base_url!r} api_key={mask(self._api_key)}>"

    @property
    def transport(self) -> AsyncTransport:
        """The transport every call goes through (``AiohttpTransport`` unless one was given)."""
        return self._caller.transport

    @property
    def timeout(self) -> Timeout | None:
        """The client-wide timeout, or None when each endpoint uses its own default."""
        return self._caller.timeout

    def stats(self) -> ClientStats:
        """Calls, attempts and retries so far (shared with ``with_options`` copies)."""
        return self._caller.counters.snapshot()

    async def aclose(self) -> None:
        """Close the transport (a borrowed ``session`` stays open; a copy closes nothing)."""
        if self._owns_transport:
            await self._caller.transport.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


def _check_size(size: object) -> None:
    if size is None:
        return
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"max_response_size must be an integer >= 1 or None, got {size!r}")


_configured = False


def configure_logging_from_env() -> None:
    """``BBRE_LOG=debug`` (or ``info``) sends this package's log lines to stderr, once per
    process, without touching the application's own logging setup."""
    global _configured
    level_name = os.environ.get(LOG_ENV, "").strip().upper()
    if _configured or level_name not in ("DEBUG", "INFO", "WARNING"):
        return
    _configured = True
    package_logger = logging.getLogger("bbre_async")
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    package_logger.addHandler(handler)
    package_logger.setLevel(level_name)
