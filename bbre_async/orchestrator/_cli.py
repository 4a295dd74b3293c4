"""OrchestratorHQ behind the ``bbre-async`` command line (``--provider orchestrator``).

    bbre-async --provider orchestrator sessions list [--status active|stopped|...]
    bbre-async --provider orchestrator sessions close sess_abc123
    bbre-async --provider orchestrator sessions reap [--dry-run]

The key comes from ``--api-key`` or ``ORCHESTRATOR_API_KEY``, the base URL from
``--base-url`` or ``ORCHESTRATOR_BASE_URL`` (an emulator's is ``http://HOST:PORT/api``).
The commands drive the surface ``bbre_async.cli._providers.ApiClient`` describes; this module
gives an ``OrchestratorClient`` that surface, and the listing OrchestratorHQ's own fields:
name, status (its own words: ``stopped``, ``failed``...), expiry, and whether the CDP and VNC
endpoints are available. ``--status closed`` is accepted as ``stopped``. OrchestratorHQ has no
balance, account or history endpoints: those stop with a usage error (exit 2).
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from types import TracebackType
from typing import Self

import attrs

from bbre_async._errors import BBREError
from bbre_async._models import AccountInfo, Page, Task
from bbre_async._timeout import Timeout
from bbre_async.cli._errors import EXIT_USAGE, CliError
from bbre_async.cli._formats import expires_in, iso, short_time
from bbre_async.cli._providers import ApiClient, Column, SessionListing
from bbre_async.orchestrator._backend import OrchestratorBackend
from bbre_async.orchestrator._client import OrchestratorClient
from bbre_async.orchestrator._models import OrchSession
from bbre_async.orchestrator._sessions import MAX_PAGE_SIZE
from bbre_async.pool import SessionBackend

#: OrchestratorHQ's session statuses (its list endpoint filters on these).
STATUSES = ("creating", "queued", "active", "stopping", "stopped", "failed")
#: Statuses in which a session still runs towards its ``expires_at``.
_RUNNING = frozenset({"creating", "queued", "active"})
#: Detail lookups (for the CDP/VNC columns) in flight at once while a page is shown.
_DETAIL_CONCURRENCY = 8


def not_offered(command: str, reason: str) -> CliError:
    return CliError(f"`{command}` is not offered by OrchestratorHQ: {reason}", EXIT_USAGE)


@attrs.frozen(kw_only=True)
class ListedSession:
    """A listing row with what its details say about the connection endpoints (None when the
    session does not run, or the details could not be read)."""

    session: OrchSession
    cdp: bool | None = None
    vnc: bool | None = None

    @property
    def id(self) -> str:
        return self.session.id


def _availability(value: bool | None) -> str:
    return "-" if value is None else "yes" if value else "no"


def listed_record(row: ListedSession) -> dict[str, object]:
    """One OrchestratorHQ session as a JSON object: its own fields, never the endpoints'
    URLs or the VNC password (secrets), only whether they are available."""
    session = row.session
    return {
        "id": session.id,
        "name": session.session_name,
        "status": session.status,
        "created_at": iso(session.created_at) or None,
        "expires_at": iso(session.expires_at) or None,
        "last_accessed_at": iso(session.last_accessed_at) or None,
        "cdp_available": row.cdp,
        "vnc_available": row.vnc,
    }


def _expires(row: ListedSession, now: datetime) -> str:
    status = row.session.status
    if status not in _RUNNING:
        return "-"
    return expires_in("active", row.session.expires_at, now)


ORCHESTRATOR_LISTING: SessionListing[ListedSession] = SessionListing(
    statuses=STATUSES,
    aliases={"closed": "stopped"},
    columns=(
        Column(header="id", cell=lambda r, now: r.session.id),
        Column(header="name", cell=lambda r, now: r.session.session_name or "-", fold=2),
        Column(header="status", cell=lambda r, now: r.session.status),
        Column(header="expires in", cell=_expires, right=True, fold=3),
        Column(header="cdp", cell=lambda r, now: _availability(r.cdp), fold=1),
        Column(header="vnc", cell=lambda r, now: _availability(r.vnc), fold=1),
        Column(
            header="created (UTC)", cell=lambda r, now: short_time(r.session.created_at), fold=0
        ),
    ),
    record=listed_record,
)


class _Account:
    """``client.account`` for the commands: the session listing, and refusals."""

    def __init__(self, client: OrchestratorClient) -> None:
        self._client = client

    async def sessions_page(
        self, *, status: str | None = None, limit: int = 20, offset: int = 0
    ) -> Page[ListedSession]:
        page = await self._client.sessions.list_page(
            status=status, limit=max(1, min(limit, MAX_PAGE_SIZE)), offset=offset
        )
        gate = asyncio.Semaphore(_DETAIL_CONCURRENCY)
        rows = await asyncio.gather(*(self._with_details(row, gate) for row in page.items))
        return Page(items=list(rows), total=page.total, limit=page.limit, offset=page.offset)

    async def _with_details(self, row: OrchSession, gate: asyncio.Semaphore) -> ListedSession:
        """The listing does not carry the endpoints; a running session's details do."""
        if row.status not in _RUNNING:
            return ListedSession(session=row)
        async with gate:
            try:
                details = await self._client.sessions.get(row.id)
            except BBREError:
                return ListedSession(session=row)  # it may have stopped meanwhile
        return ListedSession(session=row, cdp=bool(details.cdp_url), vnc=bool(details.vnc_url))

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

    async def status(self, session_id: str) -> OrchSession:
        """The session as the API knows it; ``NotFoundError`` for an id it does not know."""
        return await self._client.sessions.get(session_id)


class OrchestratorCliClient:
    """An ``OrchestratorClient`` (``inner``) with the calls the commands make."""

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: Timeout | None = None,
    ) -> None:
        self.inner = OrchestratorClient(api_key=api_key, base_url=base_url, timeout=timeout)
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
