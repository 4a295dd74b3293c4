"""``BBREClient``: the typed async client for the whole BBRE API."""

from __future__ import annotations

from bbre_async._base_client import APIClientBase
from bbre_async._bbre_backend import BBREBackend
from bbre_async._resources.account import AccountResource
from bbre_async._resources.requests import RequestsResource
from bbre_async._resources.sessions import SessionsResource
from bbre_async._session_backend import SessionOptions
from bbre_async._transport import Sleep

DEFAULT_BASE_URL = "https://bbre-solver-api.mydisct.com"
API_KEY_ENV = "BBRE_API_KEY"
BASE_URL_ENV = "BBRE_BASE_URL"


class BBREClient(APIClientBase):
    """An async client for MyDisct Solver's Browser-Backed Request Engine.

    Use it as ``async with BBREClient() as client:`` (or call ``aclose()``). The key and base
    URL come from the arguments or from ``BBRE_API_KEY`` / ``BBRE_BASE_URL``. An
    ``aiohttp.ClientSession`` passed as ``session`` is borrowed and never closed here.
    Keyword options: ``timeout`` (seconds or ``Timeouts``), ``max_retries``, ``retry``,
    ``session``, ``verify_ssl``, ``connection_limit``, ``clock``, ``sleep``.

    Resources: ``client.sessions``, ``client.requests``, ``client.account``.
    """

    backend_name = "bbre"
    vendor = "BBRE"
    api_key_env = API_KEY_ENV
    base_url_env = BASE_URL_ENV
    default_base_url = DEFAULT_BASE_URL

    def _add_resources(self, sleep: Sleep) -> None:
        self.sessions = SessionsResource(self._transport, clock=self.clock)
        self.requests = RequestsResource(self._transport, sleep=sleep)
        self.account = AccountResource(self._transport)

    def _auth_headers(self, api_key: str) -> dict[str, str]:
        return {"x-api-key": api_key}

    def session_backend(self, options: SessionOptions | None = None) -> BBREBackend:
        """This client behind the pool's backend protocol (``SessionPool(client)`` calls it)."""
        return BBREBackend(self, options)
