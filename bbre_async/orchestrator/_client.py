"""``OrchestratorClient``: the typed async client for OrchestratorHQ's session API."""

from __future__ import annotations

from bbre_async._base_client import APIClientBase
from bbre_async._session_backend import SessionOptions
from bbre_async.orchestrator._backend import OrchestratorBackend
from bbre_async.orchestrator._sessions import OrchSessionsResource
from bbre_async.orchestrator._system import SystemResource

DEFAULT_BASE_URL = "https://api.orchestratorhq.com/api"
API_KEY_ENV = "ORCHESTRATOR_API_KEY"
BASE_URL_ENV = "ORCHESTRATOR_BASE_URL"


class OrchestratorClient(APIClientBase):
    """An async client for OrchestratorHQ browser sessions.

    Use it as ``async with OrchestratorClient() as client:`` (or call ``aclose()``). The key
    (``orch_...``) and base URL come from the arguments or from ``ORCHESTRATOR_API_KEY`` /
    ``ORCHESTRATOR_BASE_URL``; the key travels only in ``Authorization: Bearer`` and is kept
    out of reprs, logs and error messages. The options are ``BBREClient``'s (``timeout``,
    ``max_retries``, ``transport``, ``session``, ...), and so is ``with_options``.

    Resources: ``client.sessions`` and ``client.system``.
    """

    backend_name = "orchestrator"
    vendor = "OrchestratorHQ"
    api_key_env = API_KEY_ENV
    base_url_env = BASE_URL_ENV
    default_base_url = DEFAULT_BASE_URL

    def _add_resources(self) -> None:
        self.sessions = OrchSessionsResource(self._caller, clock=self.clock)
        self.system = SystemResource(self._caller)

    def _auth_headers(self, api_key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {api_key}"}

    def session_backend(self, options: SessionOptions | None = None) -> OrchestratorBackend:
        """This client behind the pool's backend protocol (``SessionPool(client)`` calls it).

        Sessions get the backend's default duration; build an ``OrchestratorBackend`` yourself
        for another duration or account cap. BBRE's mode and sensibility do not apply here.
        """
        return OrchestratorBackend(self)
