"""OrchestratorHQ: browser sessions reachable over CDP and VNC, extendable in place.

    async with OrchestratorClient() as client:          # env: ORCHESTRATOR_API_KEY
        session = await client.sessions.create(session_name="scrape", duration="30m")
        ...  # attach Playwright to session.cdp_url
        await client.sessions.stop(session.id)

``OrchestratorBackend`` puts the same sessions behind ``SessionPool``, which then renews idle
sessions by extending them instead of replacing them.
"""

from bbre_async.orchestrator._backend import (
    DEFAULT_ACCOUNT_CAP,
    OrchestratorBackend,
    OrchSessionHandle,
)
from bbre_async.orchestrator._client import OrchestratorClient
from bbre_async.orchestrator._duration import (
    DEFAULT_DURATION,
    MAX_SECONDS,
    MIN_SECONDS,
    format_duration,
    normalize_duration,
    parse_duration,
)
from bbre_async.orchestrator._models import (
    SESSION_STATUSES,
    AutoscalerPool,
    ExtendResult,
    HealthStatus,
    OrchSession,
    SystemStatus,
)
from bbre_async.orchestrator._sessions import OrchSessionsResource
from bbre_async.orchestrator._system import SystemResource

__all__ = [
    "DEFAULT_ACCOUNT_CAP",
    "DEFAULT_DURATION",
    "MAX_SECONDS",
    "MIN_SECONDS",
    "SESSION_STATUSES",
    "AutoscalerPool",
    "ExtendResult",
    "HealthStatus",
    "OrchSession",
    "OrchSessionHandle",
    "OrchSessionsResource",
    "OrchestratorBackend",
    "OrchestratorClient",
    "SystemResource",
    "SystemStatus",
    "format_duration",
    "normalize_duration",
    "parse_duration",
]
