"""``client.system``: the autoscaler's status and the API's health."""

from __future__ import annotations

from bbre_async._caller import APICaller
from bbre_async._timeout import TimeoutLike
from bbre_async.orchestrator._models import HealthStatus, SystemStatus


class SystemResource:
    """``GET /status`` and ``GET /health`` (both read-only, so retried on transient faults)."""

    def __init__(self, caller: APICaller) -> None:
        self._caller = caller

    async def status(self, *, timeout: TimeoutLike | None = None) -> SystemStatus:
        """The autoscaler's server pool and this organisation's active-session count."""
        answer = await self._caller.call("GET", "/status", timeout=timeout)
        return SystemStatus.from_json(answer.json())

    async def health(self, *, timeout: TimeoutLike | None = None) -> HealthStatus:
        """The API's health and its dependencies'. A 5xx answer raises ``ServiceError``."""
        answer = await self._caller.call("GET", "/health", timeout=timeout)
        return HealthStatus.from_json(answer.json())
