"""OrchestratorHQ behind the ``bbre-async`` command line (``--provider orchestrator``).

    bbre-async --provider orchestrator sessions list [--status active|closed]
    bbre-async --provider orchestrator sessions close sess_abc123
    bbre-async --provider orchestrator sessions reap [--dry-run]

The key comes from ``--api-key`` or ``ORCHESTRATOR_API_KEY``, the base URL from
``--base-url`` or ``ORCHESTRATOR_BASE_URL`` (an emulator's is ``http://HOST:PORT/api``).
The commands drive the surface ``bbre_async.cli._common.ApiClient`` describes; this module
gives an ``OrchestratorClient`` that surface. Listing rows speak the command line's words:
``stopped`` shows as ``closed``, and ``--status closed`` lists stopped sessions. OrchestratorHQ
has no ``expired`` status (a session that ran out is stopped) and no balance, account or
history endpoints: those stop with a usage error (exit 2).
"""

from __future__ import annotations

from datetime import datetime
from types import TracebackType
from typing import Self

from bbre_async._models import AccountInfo, Page, SessionInfo, Task
from bbre_async.cli._common import EXIT_USAGE, ApiClient, CliError
from bbre_async.orchestrator._backend import OrchestratorBackend
from bbre_async.orchestrator._client import OrchestratorClient
from bbre_async.orchestrator._models import OrchSession
from bbre_async.orchestrator._sessions import MAX_PAGE_SIZE
from bbre_async.pool import SessionBackend

#: The command line's ``--status`` values, as OrchestratorHQ names them.
_STATUS_FILTER = {"active": "active", "closed": "stopped"}
#: OrchestratorHQ's statuses, as the command line shows them.
_STATUS_SHOWN = {"stopped": "closed"}
#: Statuses in which a session still runs towards its ``expires_at``.
_RUNNING = frozenset({"creating", "queued", "active"})


def not_offered(command: str, reason: str) -> CliError:
    return CliError(f"`{command}` is not offered by OrchestratorHQ: {reason}", EXIT_USAGE)


def session_info(session: OrchSession) -> SessionInfo:
    """A listing row in the command line's terms (no mode, requests or charges: OrchestratorHQ
    reports none of them)."""
    return SessionInfo(
        id=session.id,
        status=_STATUS_SHOWN.get(session.status, session.status),
        expires_at=session.expires_at if session.status in _RUNNING else None,
        created_at=session.created_at,
    )


class _Account:
    """``client.account`` for the commands: the session listing, and refusals."""

    def __init__(self, client: OrchestratorClient) -> None:
        self._client = client

    async def sessions_page(
        self, *, status: str | None = None, limit: int = 20, offset: int = 0
    ) -> Page[SessionInfo]:
        if status is not None and status not in _STATUS_FILTER:
            raise not_offered(
                f"--status {status}",
                "it has no such status; a session that ran out is listed as stopped "
                "(--status closed)",
            )
        page = await self._client.sessions.list_page(
            status=_STATUS_FILTER.get(status or ""),
            limit=max(1, min(limit, MAX_PAGE_SIZE)),
            offset=offset,
        )
        return Page(
            items=[session_info(row) for row in page.items],
            total=page.total,
            limit=page.limit,
            offset=page.offset,
        )

    async def balance(self) -> float:
        raise not_offered("balance", "its API has no balance endpoint")

    async def info(self) -> AccountInfo:
        raise not_offered("account", "its API has no account endpoint")

    async def history_page(
        self,
        *,
        status: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> Page[Task]:
        raise not_offered("history", "its API keeps no usage history")


class _Sessions:
    """``client.sessions`` for the commands: closing is stopping."""

    def __init__(self, client: OrchestratorClient) -> None:
        self._client = client

    async def close(self, session_id: str) -> bool:
        """True when stopped now; False when it was not running (stopped, expired, unknown)."""
        return await self._client.sessions.stop(session_id)


class OrchestratorCliClient:
    """An ``OrchestratorClient`` (``inner``) with the calls the commands make."""

    def __init__(self, api_key: str | None = None, base_url: str | None = None) -> None:
        self.inner = OrchestratorClient(api_key=api_key, base_url=base_url)
        self.base_url = self.inner.base_url
        self.key_fingerprint = self.inner.key_fingerprint
        self.account = _Account(self.inner)
        self.sessions = _Sessions(self.inner)

    def __repr__(self) -> str:
        return f"<OrchestratorCliClient {self.inner!r}>"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.inner.aclose()


def make_backend(client: ApiClient) -> SessionBackend:
    """The pool backend ``sessions reap`` drives: the one pools on this key and URL use, so
    it reads the same ledger they write."""
    if not isinstance(client, OrchestratorCliClient):
        raise TypeError(f"expected an OrchestratorCliClient, got {type(client).__name__}")
    return OrchestratorBackend(client.inner)
