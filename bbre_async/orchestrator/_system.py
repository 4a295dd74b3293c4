"""``client.system``: the autoscaler's status and the API's health."""

from __future__ import annotations

from bbre_async._transport import Transport
from bbre_async.orchestrator._models import HealthStatus, SystemStatus


class SystemResource:
    """``GET /status`` and ``GET /health`` (both read-only, so retried on transient faults)."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    async def status(self) -> SystemStatus:
        """The autoscaler's server pool and this organisation's active-session count."""
        return SystemStatus.from_json(await self._transport.call("GET", "/status"))

    async def health(self) -> HealthStatus:
        """The API's health and its dependencies'. A 5xx answer raises ``ServiceError``."""
        return HealthStatus.from_json(await self._transport.call("GET", "/health"))
