"""What every vendor client shares: the key and URL from arguments or the environment, one
transport, a repr without the secret, and ``async with``."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from types import TracebackType
from typing import ClassVar, Self

import aiohttp

from bbre_async._retry import RetryPolicy
from bbre_async._secrets import fingerprint, mask
from bbre_async._transport import Sleep, Timeouts, Transport


class APIClientBase:
    """Subclasses name their vendor, environment variables and auth header, and attach their
    resources (built on ``self._transport``) in ``_add_resources``."""

    vendor: ClassVar[str]
    api_key_env: ClassVar[str]
    base_url_env: ClassVar[str]
    default_base_url: ClassVar[str]

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        timeout: Timeouts | float | None = None,
        max_retries: int = 2,
        retry: RetryPolicy | None = None,
        session: aiohttp.ClientSession | None = None,
        verify_ssl: bool = True,
        connection_limit: int = 100,
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
        if max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        self._api_key = key.strip()
        self.base_url = url.rstrip("/")
        self.key_fingerprint = fingerprint(self._api_key)
        self.clock = clock
        self._transport = Transport(
            base_url=self.base_url,
            auth_headers=self._auth_headers(self._api_key),
            secrets=[self._api_key],
            timeouts=Timeouts.of(timeout),
            retry=retry or RetryPolicy(max_retries=max_retries),
            session=session,
            verify_ssl=verify_ssl,
            connection_limit=connection_limit,
            sleep=sleep,
        )
        self._add_resources(sleep)

    def _auth_headers(self, api_key: str) -> dict[str, str]:
        raise NotImplementedError

    def _add_resources(self, sleep: Sleep) -> None:
        """Attach the vendor's resource namespaces to ``self``."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__} base_url={self.base_url!r} api_key={mask(self._api_key)}>"

    @property
    def transport(self) -> Transport:
        return self._transport

    async def aclose(self) -> None:
        """Close the connection pool (if this client created it)."""
        await self._transport.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
