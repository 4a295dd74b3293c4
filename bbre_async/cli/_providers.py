"""The session APIs the account commands can talk to: how to build a client for each, the pool
backend ``sessions reap`` drives, and how each one's session listing is shown.

Providers are registered here; ``--provider NAME`` picks one. A command a provider's API has no
counterpart for (OrchestratorHQ keeps no history) stops with a usage error.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from types import TracebackType
from typing import Any, Generic, Protocol, Self, TypeVar

import attrs
import click
from click.core import ParameterSource

from bbre_async._client import API_KEY_ENV, BASE_URL_ENV, BBREClient
from bbre_async._models import AccountInfo, Page, SessionInfo, Task
from bbre_async.cli._errors import EXIT_USAGE, CliError
from bbre_async.cli._formats import expires_in, iso, short_time, usd
from bbre_async.cli._state import PROVIDER_NAMES, CliState
from bbre_async.orchestrator._client import API_KEY_ENV as ORCHESTRATOR_API_KEY_ENV
from bbre_async.orchestrator._client import BASE_URL_ENV as ORCHESTRATOR_BASE_URL_ENV
from bbre_async.pool import SessionBackend

T = TypeVar("T")
Row = TypeVar("Row")


class AccountApi(Protocol):
    """What the commands call on ``client.account``."""

    async def balance(self) -> float: ...

    async def info(self) -> AccountInfo: ...

    async def sessions_page(
        self, *, status: str | None = None, limit: int = 20, offset: int = 0
    ) -> Page[Any]: ...

    async def history_page(
        self,
        *,
        status: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> Page[Task]: ...


class SessionsApi(Protocol):
    """What the commands call on ``client.sessions``."""

    async def close(self, session_id: str) -> bool: ...

    async def status(self, session_id: str) -> object: ...


class ApiClient(Protocol):
    """The client surface the commands drive: a ``BBREClient``, or a provider's adapter
    offering the same calls (``bbre_async.orchestrator._cli`` for OrchestratorHQ)."""

    @property
    def base_url(self) -> str: ...

    @property
    def key_fingerprint(self) -> str: ...

    @property
    def account(self) -> AccountApi: ...

    @property
    def sessions(self) -> SessionsApi: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


@attrs.frozen(kw_only=True)
class Column(Generic[Row]):
    """One column of ``sessions list``: its header, how to fill a cell, and whether it may be
    dropped on a narrow terminal (``fold`` order: lower goes first; None: always shown)."""

    header: str
    cell: Callable[[Row, datetime], str]
    right: bool = False
    fold: int | None = None


@attrs.frozen(kw_only=True)
class SessionListing(Generic[Row]):
    """How one provider's session listing is filtered and shown: the ``--status`` values its
    API knows (and the command line's aliases for them), the table columns and the JSON."""

    statuses: tuple[str, ...]
    columns: tuple[Column[Row], ...]
    record: Callable[[Row], dict[str, object]]
    aliases: Mapping[str, str] = attrs.field(factory=dict)


#: (API key, base URL or None for the provider's default, seconds per call or None for the
#: client's own limits) -> client.
ClientFactory = Callable[[str, str | None, float | None], ApiClient]
BackendFactory = Callable[[ApiClient], SessionBackend]


@attrs.frozen(kw_only=True)
class Provider:
    """How to reach one session API: a client from (API key, base URL, timeout), the pool
    backend the reaper drives on top of that client, and how its sessions are listed.

    ``api_key_env`` / ``base_url_env`` are read when ``--api-key`` / ``--base-url`` are not
    given. ``not_offered`` maps a command the API has no counterpart for to the reason
    (``bbre-async --provider NAME COMMAND`` stops with it, exit 2).
    """

    name: str
    make_client: ClientFactory
    make_backend: BackendFactory
    #: How its sessions are listed; a function, so a provider's modules load only when used.
    load_listing: Callable[[], SessionListing[Any]]
    label: str = ""
    api_key_env: str = API_KEY_ENV
    base_url_env: str = BASE_URL_ENV
    not_offered: Mapping[str, str] = attrs.field(factory=dict)

    @property
    def title(self) -> str:
        return self.label or self.name


_PROVIDERS: dict[str, Provider] = {}


def register_provider(provider: Provider) -> None:
    """Make ``--provider NAME`` usable (called once per provider when the CLI is built)."""
    if provider.name not in PROVIDER_NAMES:
        raise ValueError(f"unknown provider {provider.name!r}; add it to PROVIDER_NAMES first")
    _PROVIDERS[provider.name] = provider


def registered_providers() -> tuple[Provider, ...]:
    return tuple(_PROVIDERS.values())


def get_provider(name: str) -> Provider:
    try:
        return _PROVIDERS[name]
    except KeyError:
        raise CliError(
            f"the {name!r} provider is not available yet in this version; use --provider bbre",
            EXIT_USAGE,
        ) from None


def current_provider() -> Provider:
    """The provider of the command being run (BBRE outside a command)."""
    ctx = click.get_current_context(silent=True)
    state = ctx.find_object(CliState) if ctx is not None else None
    return _PROVIDERS.get(state.provider if state is not None else "bbre") or _PROVIDERS["bbre"]


def build_client(state: CliState) -> ApiClient:
    """``CliState.client``: the chosen provider's client, configured from the root options."""
    provider = get_provider(state.provider)
    command = _top_command()
    reason = provider.not_offered.get(command or "")
    if reason is not None:
        raise CliError(f"`{command}` is not offered by {provider.title}: {reason}", EXIT_USAGE)
    key = _own_value("api_key", state.api_key, provider.api_key_env != API_KEY_ENV)
    if key is None:
        key = os.environ.get(provider.api_key_env)
    if not key or not key.strip():
        raise CliError(f"no API key: pass --api-key or set {provider.api_key_env}", EXIT_USAGE)
    base_url = _own_value("base_url", state.base_url, provider.base_url_env != BASE_URL_ENV)
    try:
        # A base URL of None: the client reads the provider's variable, else the vendor's.
        # The timeout goes to the client's constructor as seconds, which it turns into its
        # own timeout object (connect, read and total limits).
        return provider.make_client(key, base_url, state.timeout)
    except ValueError as exc:
        raise CliError(f"{exc} (--base-url or {provider.base_url_env})", EXIT_USAGE) from None


def _own_value(name: str, value: str | None, provider_has_own_env: bool) -> str | None:
    """A root option's value; None when it was read from BBRE's environment variable (the
    root options' fallback) while the chosen provider has a variable of its own."""
    if value is None or not provider_has_own_env:
        return value
    ctx = click.get_current_context(silent=True)
    source = ctx.find_root().get_parameter_source(name) if ctx is not None else None
    return None if source is ParameterSource.ENVIRONMENT else value


def _top_command() -> str | None:
    """The name of the command given right after the root group (``sessions``, ``balance``)."""
    ctx = click.get_current_context(silent=True)
    while ctx is not None and ctx.parent is not None and ctx.parent.parent is not None:
        ctx = ctx.parent
    if ctx is None or ctx.parent is None:
        return None
    return ctx.info_name


# -- BBRE -----------------------------------------------------------------------------------


def _bbre_client(api_key: str, base_url: str | None, timeout: float | None) -> ApiClient:
    return BBREClient(api_key=api_key, base_url=base_url, timeout=timeout)


def _bbre_backend(client: ApiClient) -> SessionBackend:
    if not isinstance(client, BBREClient):
        raise TypeError(f"the bbre provider needs a BBREClient, got {type(client).__name__}")
    return client.session_backend()


def bbre_session_record(info: SessionInfo) -> dict[str, object]:
    """One BBRE session as a JSON object (snake_case keys, ISO-8601 UTC times)."""
    return {
        "id": info.id,
        "mode": info.mode,
        "sensibility": info.sensibility,
        "status": info.status,
        "request_count": info.request_count,
        "total_charged": info.total_charged,
        "created_at": iso(info.created_at) or None,
        "expires_at": iso(info.expires_at) or None,
        "closed_at": iso(info.closed_at) or None,
    }


BBRE_LISTING: SessionListing[SessionInfo] = SessionListing(
    statuses=("active", "closed", "expired"),
    columns=(
        Column(header="id", cell=lambda s, now: s.id),
        Column(header="mode", cell=lambda s, now: s.mode or "-", fold=1),
        Column(header="status", cell=lambda s, now: s.status),
        Column(header="requests", cell=lambda s, now: str(s.request_count), right=True, fold=2),
        Column(header="charged", cell=lambda s, now: usd(s.total_charged), right=True),
        Column(header="created (UTC)", cell=lambda s, now: short_time(s.created_at), fold=0),
        Column(
            header="expires in",
            cell=lambda s, now: expires_in(s.status, s.expires_at, now),
            right=True,
            fold=3,
        ),
    ),
    record=bbre_session_record,
)


# -- OrchestratorHQ -------------------------------------------------------------------------


def _orchestrator_client(api_key: str, base_url: str | None, timeout: float | None) -> ApiClient:
    from bbre_async.orchestrator._cli import OrchestratorCliClient  # it imports this module

    return OrchestratorCliClient(api_key=api_key, base_url=base_url, timeout=timeout)


def _orchestrator_backend(client: ApiClient) -> SessionBackend:
    from bbre_async.orchestrator._cli import make_backend

    return make_backend(client)


def _orchestrator_listing() -> SessionListing[Any]:
    from bbre_async.orchestrator._cli import ORCHESTRATOR_LISTING

    return ORCHESTRATOR_LISTING


register_provider(
    Provider(
        name="bbre",
        label="BBRE",
        make_client=_bbre_client,
        make_backend=_bbre_backend,
        load_listing=lambda: BBRE_LISTING,
    )
)
register_provider(
    Provider(
        name="orchestrator",
        label="OrchestratorHQ",
        make_client=_orchestrator_client,
        make_backend=_orchestrator_backend,
        load_listing=_orchestrator_listing,
        api_key_env=ORCHESTRATOR_API_KEY_ENV,
        base_url_env=ORCHESTRATOR_BASE_URL_ENV,
        not_offered={
            "balance": "its API has no balance endpoint (a create it cannot pay for is "
            "refused with 402 INSUFFICIENT_CREDITS)",
            "account": "its API has no account endpoint; `sessions list` shows the "
            "organisation's sessions",
            "history": "its API keeps no usage history",
        },
    )
)


# -- paging ---------------------------------------------------------------------------------


@attrs.define
class PageCounter:
    """How many pages a lazy listing fetched, and the server's latest total."""

    pages: int = 0
    total: int | None = None
    on_page: Callable[[PageCounter], None] | None = None


def counting(
    fetch: Callable[[int, int], Awaitable[Page[T]]], counter: PageCounter
) -> Callable[[int, int], Awaitable[Page[T]]]:
    """Wrap a page fetcher so ``counter`` follows the pages and the server's total."""

    async def fetch_counted(limit: int, offset: int) -> Page[T]:
        page = await fetch(limit, offset)
        counter.pages += 1
        counter.total = page.total
        if counter.on_page is not None:
            counter.on_page(counter)
        return page

    return fetch_counted
