"""``OrchestratorClient``: the typed async client for OrchestratorHQ's session API."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from types import TracebackType

import aiohttp

from bbre_async._retry import RetryPolicy
from bbre_async._secrets import fingerprint, mask
from bbre_async._transport import Sleep, Timeouts, Transport
from bbre_async.orchestrator._sessions import OrchSessionsResource
from bbre_async.orchestrator._system import SystemResource

DEFAULT_BASE_URL = "https://api.orchestratorhq.com/api"
API_KEY_ENV = "ORCHESTRATOR_API_KEY"
BASE_URL_ENV = "ORCHESTRATOR_BASE_URL"


class OrchestratorClient:
    """An async client for OrchestratorHQ browser sessions.

    Use it as ``async with OrchestratorClient() as client:`` (or call ``aclose()``). The key
    (``orch_...``) and base URL come from the arguments or from ``ORCHESTRATOR_API_KEY`` /
    ``ORCHESTRATOR_BASE_URL``; the key travels only in ``Authorization: Bearer`` and is kept
    out of reprs, logs and error messages. An ``aiohttp.ClientSession`` passed as ``session``
    is borrowed and never closed here.

    Resources: ``client.sessions`` and ``client.system``.
    """

    backend_name = "orchestrator"

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
                f"no OrchestratorHQ API key: pass api_key=... or set the {API_KEY_ENV} "
                "environment variable"
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
            auth_headers={"Authorization": f"Bearer {self._api_key}"},
            secrets=[self._api_key],
            timeouts=Timeouts.of(timeout),
            retry=retry or RetryPolicy(max_retries=max_retries),
            session=session,
            verify_ssl=verify_ssl,
            connection_limit=connection_limit,
            sleep=sleep,
        )
        self.sessions = OrchSessionsResource(self._transport, clock=clock)
        self.system = SystemResource(self._transport)

    def __repr__(self) -> str:
        return f"<OrchestratorClient base_url={self.base_url!r} api_key={mask(self._api_key)}>"

    @property
    def transport(self) -> Transport:
        return self._transport

    async def aclose(self) -> None:
        """Close the connection pool (if this client created it)."""
        await self._transport.aclose()

    async def __aenter__(self) -> OrchestratorClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
