"""``BBREClient``: the typed async client for the whole BBRE API."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from types import TracebackType

import aiohttp

from bbre_async._resources.account import AccountResource
from bbre_async._resources.requests import RequestsResource
from bbre_async._resources.sessions import SessionsResource
from bbre_async._retry import RetryPolicy
from bbre_async._secrets import fingerprint, mask
from bbre_async._transport import Sleep, Timeouts, Transport

DEFAULT_BASE_URL = "https://bbre-solver-api.mydisct.com"
API_KEY_ENV = "BBRE_API_KEY"
BASE_URL_ENV = "BBRE_BASE_URL"


class BBREClient:
    """An async client for MyDisct Solver's Browser-Backed Request Engine.

    Use it as ``async with BBREClient() as client:`` (or call ``aclose()``). The key and base
    URL come from the arguments or from ``BBRE_API_KEY`` / ``BBRE_BASE_URL``. An
    ``aiohttp.ClientSession`` passed as ``session`` is borrowed and never closed here.

    Resources: ``client.sessions``, ``client.requests``, ``client.account``.
    """

    backend_name = "bbre"

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
        key = api_key if api_key is not None else os.environ.get(API_KEY_ENV, "")
        if not isinstance(key, str) or not key.strip():
            raise ValueError(
                f"no BBRE API key: pass api_key=... or set the {API_KEY_ENV} environment variable"
            )
        url = base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL
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
            auth_headers={"x-api-key": self._api_key},
            secrets=[self._api_key],
            timeouts=Timeouts.of(timeout),
            retry=retry or RetryPolicy(max_retries=max_retries),
            session=session,
            verify_ssl=verify_ssl,
            connection_limit=connection_limit,
            sleep=sleep,
        )
        self.sessions = SessionsResource(self._transport, clock=clock)
        self.requests = RequestsResource(self._transport, sleep=sleep)
        self.account = AccountResource(self._transport)

    def __repr__(self) -> str:
        return f"<BBREClient base_url={self.base_url!r} api_key={mask(self._api_key)}>"

    @property
    def transport(self) -> Transport:
        return self._transport

    async def aclose(self) -> None:
        """Close the connection pool (if this client created it)."""
        await self._transport.aclose()

    async def __aenter__(self) -> BBREClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
