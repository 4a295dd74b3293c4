"""OrchestratorHQ: remote browser sessions reachable over CDP and VNC, extendable in place.

The client (key from ``api_key=`` or ``ORCHESTRATOR_API_KEY``, an ``orch_...`` Bearer key;
base URL from ``base_url=`` or ``ORCHESTRATOR_BASE_URL``, default the vendor's ``.../api``)::

    async with OrchestratorClient() as client:
        session = await client.sessions.create(session_name="scrape", duration="30m")
        browser = await playwright.chromium.connect_over_cdp(session.cdp_url)
        ...
        await client.sessions.extend(session.id, "30m")  # same browser, 30 more minutes
        await client.sessions.stop(session.id)

``client.sessions`` also lists (``list()``, lazily paged) and reads (``get()``) sessions;
``client.system`` has ``status()`` and ``health()``. Durations are ``"<hours>h<minutes>m"``
strings from 1 minute to 24 hours; a bad one fails before any request.

Pooled, within the organisation's concurrency cap: ``SessionPool`` takes the client (it wraps
it in ``OrchestratorBackend`` with the defaults) or a backend configured explicitly. Unlike a
BBRE session, an idle OrchestratorHQ session is renewed by extending it, so a lease keeps the
same browser (and its logins, pages and CDP endpoint) across renewals. A lease's ``cdp_url``
is the DevTools URL to attach a browser driver to (Playwright is not a dependency)::

    backend = OrchestratorBackend(client, duration="30m", account_cap=10)
    async with SessionPool(backend, max_size=10) as pool:
        async with pool.acquire() as lease:
            browser = await playwright.chromium.connect_over_cdp(lease.cdp_url)
            page = await browser.new_page()
            ...

``lease.handle`` is an ``OrchSessionHandle`` (``await lease.status()`` refreshes the details,
including ``vnc_url``). Sessions take no HTTP requests through the pool: drive them over CDP.

Locally, the emulator (``bbre_async.emulator.running_emulator()``, or ``bbre-async
emulator``) serves this API under ``/api`` beside BBRE: point the client at
``emu.base_url + "/api"`` with ``emu.orchestrator_key`` (``orch_test_key``). From a shell,
``bbre-async --provider orchestrator sessions list|close|reap`` manage the sessions.
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
