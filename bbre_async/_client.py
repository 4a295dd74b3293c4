"""``BBREClient``: the typed async client for the whole BBRE API."""

from __future__ import annotations

from bbre_async._base_client import APIClientBase
from bbre_async._bbre_backend import BBREBackend
from bbre_async._resources.account import AccountResource
from bbre_async._resources.requests import RequestsResource
from bbre_async._resources.sessions import SessionsResource
from bbre_async._session_backend import SessionOptions

DEFAULT_BASE_URL = "https://bbre-solver-api.mydisct.com"
API_KEY_ENV = "BBRE_API_KEY"
BASE_URL_ENV = "BBRE_BASE_URL"


class BBREClient(APIClientBase):
    """An async client for MyDisct Solver's Browser-Backed Request Engine.

    Use it as ``async with BBREClient() as client:`` (or call ``aclose()``). The key and base
    URL come from the arguments or from ``BBRE_API_KEY`` / ``BBRE_BASE_URL``.

    Keyword options: ``timeout`` (seconds or a ``Timeout``; unset, each endpoint uses its
    own default, see the README's table), ``max_retries``, ``retry`` (a ``RetryPolicy``),
    ``transport`` (any ``AsyncTransport``, e.g. ``MockTransport`` in tests), ``session`` (an
    ``aiohttp.ClientSession`` to borrow; never closed here), ``verify_ssl``,
    ``connection_limit``, ``max_response_size`` (bytes, default 32 MiB), ``clock``, ``sleep``.
    ``with_options(timeout=..., max_retries=...)`` returns a cheap copy on the same pool.

    Resources: ``client.sessions``, ``client.requests``, ``client.account``.
    """

    backend_name = "bbre"
    vendor = "BBRE"
    api_key_env = API_KEY_ENV
    base_url_env = BASE_URL_ENV
    default_base_url = DEFAULT_BASE_URL

    def _add_resources(self) -> None:
        self.sessions = SessionsResource(self._caller, clock=self.clock)
        self.requests = RequestsResource(self._caller, sleep=self._sleep)
        self.account = AccountResource(self._caller)

    def _auth_headers(self, api_key: str) -> dict[str, str]:
        return {"x-api-key": api_key}

    def session_backend(self, options: SessionOptions | None = None) -> BBREBackend:
        """This client behind the pool's backend protocol (``SessionPool(client)`` calls it)."""
        return BBREBackend(self, options)
