"""What every account command shares: the global options, the provider's client factory, the
error-to-exit-code policy, consoles, and the parsing of durations and dates.

Exit codes are part of the interface, so scripts can tell what went wrong without reading text:

====  ==================================================================================
 0    success
 1    the command ran but did not finish its job (a close failed, a reap not confirmed)
 2    usage: a bad option, no API key, an unavailable provider
 3    authentication: the key is missing, unknown, or its account may not act
 4    the API answered with an error (balance, rate limit, service fault, bad answer)
 5    connection: the server could not be reached or did not answer in time
130   interrupted (Ctrl-C)
====  ==================================================================================
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import re
import sys
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from datetime import UTC, date, datetime, time, timedelta
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any, ParamSpec, Protocol, Self, TypeVar

import attrs
import click
from click.core import ParameterSource
from rich import box
from rich.console import Console
from rich.table import Table

from bbre_async._client import API_KEY_ENV, BASE_URL_ENV, BBREClient
from bbre_async._errors import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    BBREError,
    InsufficientBalanceError,
    InvalidResponseError,
    PermissionDeniedError,
    RateLimitError,
    ServiceError,
    SessionLimitError,
)
from bbre_async._models import AccountInfo, Page, SessionInfo, Task
from bbre_async.orchestrator._client import API_KEY_ENV as ORCHESTRATOR_API_KEY_ENV
from bbre_async.orchestrator._client import BASE_URL_ENV as ORCHESTRATOR_BASE_URL_ENV
from bbre_async.pool import SessionBackend

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_AUTH = 3
EXIT_API = 4
EXIT_CONNECTION = 5
EXIT_INTERRUPTED = 130

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")


class AccountApi(Protocol):
    """What the commands call on ``client.account``."""

    async def balance(self) -> float: ...

    async def info(self) -> AccountInfo: ...

    async def sessions_page(
        self, *, status: str | None = None, limit: int = 20, offset: int = 0
    ) -> Page[SessionInfo]: ...

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


class CliError(click.ClickException):
    """A failure reported as one line on stderr with a chosen exit code, never a traceback."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILURE) -> None:
        super().__init__(message)
        # click declares exit_code per class; one class with a per-error code keeps the
        # mapping from library errors to exit codes in one table (`_hint`).
        self.exit_code = exit_code  # type: ignore[misc]

    def format_message(self) -> str:
        return redact(self.message)

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"error: {self.format_message()}", file=file, err=file is None)


# -- providers ------------------------------------------------------------------------------

ClientFactory = Callable[[str | None, str | None], ApiClient]
BackendFactory = Callable[[ApiClient], SessionBackend]


@attrs.frozen(kw_only=True)
class Provider:
    """How to reach one session API: a client from (api key, base URL), and the pool backend
    the reaper drives on top of that client.

    ``api_key_env`` / ``base_url_env`` are read when ``--api-key`` / ``--base-url`` are not
    given. ``not_offered`` maps a command the API has no counterpart for to the reason
    (``bbre-async --provider NAME COMMAND`` stops with it, exit 2).
    """

    name: str
    make_client: ClientFactory
    make_backend: BackendFactory
    label: str = ""
    api_key_env: str = API_KEY_ENV
    base_url_env: str = BASE_URL_ENV
    not_offered: Mapping[str, str] = attrs.field(factory=dict)

    @property
    def title(self) -> str:
        return self.label or self.name


#: Names ``--provider`` accepts; a name without a registered `Provider` is reported as not
#: available rather than hidden, so the option's help stays stable across versions.
PROVIDER_NAMES = ("bbre", "orchestrator")

_PROVIDERS: dict[str, Provider] = {}


def register_provider(provider: Provider) -> None:
    """Make ``--provider NAME`` usable (called once per provider when the CLI is built)."""
    if provider.name not in PROVIDER_NAMES:
        raise ValueError(f"unknown provider {provider.name!r}; add it to PROVIDER_NAMES first")
    _PROVIDERS[provider.name] = provider


def _bbre_client(api_key: str | None, base_url: str | None) -> ApiClient:
    return BBREClient(api_key=api_key, base_url=base_url)


def _bbre_backend(client: ApiClient) -> SessionBackend:
    if not isinstance(client, BBREClient):
        raise TypeError(f"the bbre provider needs a BBREClient, got {type(client).__name__}")
    return client.session_backend()


def _orchestrator_client(api_key: str | None, base_url: str | None) -> ApiClient:
    from bbre_async.orchestrator._cli import OrchestratorCliClient  # it imports this module

    return OrchestratorCliClient(api_key=api_key, base_url=base_url)


def _orchestrator_backend(client: ApiClient) -> SessionBackend:
    from bbre_async.orchestrator._cli import make_backend

    return make_backend(client)


register_provider(
    Provider(name="bbre", label="BBRE", make_client=_bbre_client, make_backend=_bbre_backend)
)
register_provider(
    Provider(
        name="orchestrator",
        label="OrchestratorHQ",
        make_client=_orchestrator_client,
        make_backend=_orchestrator_backend,
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


def get_provider(name: str) -> Provider:
    try:
        return _PROVIDERS[name]
    except KeyError:
        raise CliError(
            f"the {name!r} provider is not available yet in this version; use --provider bbre",
            EXIT_USAGE,
        ) from None


# -- global options -------------------------------------------------------------------------


@attrs.define(kw_only=True)
class CliState:
    """The root group's options, handed to every command through ``ctx.obj``."""

    api_key: str | None = attrs.field(default=None, repr=False)
    base_url: str | None = None
    provider: str = "bbre"
    verbose: int = 0

    @property
    def provider_info(self) -> Provider:
        return get_provider(self.provider)

    def client(self) -> ApiClient:
        """A client for the chosen provider; call it inside the event loop that uses it.

        A missing key or a malformed base URL becomes a usage error (exit 2) whose text names
        the option and the provider's environment variable, and never the key. A command the
        provider has no counterpart for is a usage error too.
        """
        provider = self.provider_info
        command = _top_command()
        reason = provider.not_offered.get(command or "")
        if reason is not None:
            raise CliError(f"`{command}` is not offered by {provider.title}: {reason}", EXIT_USAGE)
        key = _own_value("api_key", self.api_key, provider.api_key_env != API_KEY_ENV)
        if key is None:
            key = os.environ.get(provider.api_key_env)
        if not key or not key.strip():
            raise CliError(f"no API key: pass --api-key or set {provider.api_key_env}", EXIT_USAGE)
        base_url = _own_value("base_url", self.base_url, provider.base_url_env != BASE_URL_ENV)
        try:
            # A base URL of None: the client reads the provider's variable, else the vendor's.
            return provider.make_client(key, base_url)
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


pass_state = click.make_pass_decorator(CliState, ensure=True)


def redact(text: str) -> str:
    """Remove the current invocation's API key from ``text`` (belt and braces: the client
    never puts it in a message, and this keeps any other path from printing it)."""
    ctx = click.get_current_context(silent=True)
    state = ctx.find_object(CliState) if ctx is not None else None
    keys = [os.environ.get(env, "") for env in {p.api_key_env for p in _PROVIDERS.values()}]
    if state is not None and state.api_key:
        keys.append(state.api_key)
    for key in keys:
        key = key.strip()
        if len(key) >= 4 and key in text:
            text = text.replace(key, "***")
    return text


# -- logging --------------------------------------------------------------------------------


class _StderrHandler(logging.Handler):
    """Writes to whatever ``sys.stderr`` is at the time (a test runner swaps it), redacted."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(redact(self.format(record)) + "\n")
        except Exception:
            self.handleError(record)


def configure_logging(ctx: click.Context, verbose: int) -> None:
    """``-v`` shows the library's INFO records on stderr, ``-vv`` its DEBUG records; the
    handler is removed when the command ends, so repeated invocations do not stack up."""
    if verbose <= 0:
        return
    logger = logging.getLogger("bbre_async")
    handler = _StderrHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO if verbose == 1 else logging.DEBUG)

    def undo() -> None:
        logger.removeHandler(handler)
        logger.setLevel(previous)

    ctx.call_on_close(undo)


# -- errors ---------------------------------------------------------------------------------


def _current_provider() -> Provider:
    ctx = click.get_current_context(silent=True)
    state = ctx.find_object(CliState) if ctx is not None else None
    return _PROVIDERS.get(state.provider if state is not None else "bbre") or _PROVIDERS["bbre"]


def _hint(error: BBREError) -> tuple[str, int]:
    """What to do about ``error``, and the exit code it maps to."""
    provider = _current_provider()
    if isinstance(error, AuthenticationError):
        return f"check --api-key or {provider.api_key_env}", EXIT_AUTH
    if isinstance(error, PermissionDeniedError):
        return "the account is suspended or inactive; check it in the dashboard", EXIT_AUTH
    if isinstance(error, APITimeoutError):
        return "the server did not answer in time; try again later", EXIT_CONNECTION
    if isinstance(error, APIConnectionError):
        return f"check --base-url or {provider.base_url_env} and the network", EXIT_CONNECTION
    if isinstance(error, InsufficientBalanceError):
        return "top up the account balance", EXIT_API
    if isinstance(error, SessionLimitError):
        return "close a session first (bbre-async sessions reap)", EXIT_API
    if isinstance(error, RateLimitError):
        wait = f" {error.retry_after:g} s" if error.retry_after is not None else " a moment"
        return f"rate limited; wait{wait} and try again", EXIT_API
    if isinstance(error, ServiceError):
        return "a transient server fault; try again in a few seconds", EXIT_API
    if isinstance(error, InvalidResponseError):
        return "the answer was not the API's JSON; check --base-url", EXIT_API
    if isinstance(error, BadRequestError):
        return "the server rejected the request; check the options", EXIT_API
    return "see the message above; try again with -vv for details", EXIT_API


def api_failure(action: str, error: BBREError) -> CliError:
    """One line: what failed, the server's message and code, and what to do."""
    hint, code = _hint(error)
    facts = [part for part in (error.code, f"HTTP {error.status}" if error.status else "") if part]
    where = f" ({', '.join(facts)})" if facts else ""
    message = error.message.rstrip(". ")
    return CliError(f"{action} failed: {message}{where}; {hint}", code)


def reports_errors(action: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Turn library errors raised by a command into one clear line and a distinct exit code.

    ``action`` names what failed ("listing sessions"). A ``BBREError`` (connection problems
    included) never shows a traceback; a broken stdout pipe (``| head``) ends quietly.
    """

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return fn(*args, **kwargs)
            except BBREError as error:
                raise api_failure(action, error) from None
            except KeyboardInterrupt:
                raise CliError(f"{action} interrupted", EXIT_INTERRUPTED) from None
            except BrokenPipeError:
                _silence_stdout()
                raise click.exceptions.Exit(EXIT_FAILURE) from None

        return wrapper

    return decorate


def _silence_stdout() -> None:
    """After the reader of stdout went away, point stdout at /dev/null so the interpreter's
    final flush does not raise a second BrokenPipeError."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass  # not a real file descriptor (a test runner's buffer): nothing to silence


def run(main: Coroutine[Any, Any, T]) -> T:
    """Run one command's coroutine to completion on a fresh event loop."""
    return asyncio.run(main)


# -- consoles -------------------------------------------------------------------------------

# Piped output has no terminal width; a generous one keeps table rows (and ids) on one line.
_PIPE_WIDTH = 200


def _console(*, stderr: bool) -> Console:
    probe = Console(stderr=stderr)
    width = None
    if not probe.is_terminal and "COLUMNS" not in os.environ:
        width = _PIPE_WIDTH
    # No file is bound: rich looks up sys.stdout / sys.stderr on every write, which lets a live
    # progress display (and a test runner) redirect it. markup and highlighting are off so that
    # data (urls, ids with brackets) prints as it is.
    return Console(stderr=stderr, width=width, markup=False, highlight=False, emoji=False)


def out_console() -> Console:
    """The data console: tables and messages on stdout; plain text when not a terminal."""
    return _console(stderr=False)


def err_console() -> Console:
    """Progress, notes and summaries that must not mix with data on stdout."""
    return _console(stderr=True)


def new_table(*headers: str, right: tuple[str, ...] = (), title: str | None = None) -> Table:
    """A plain table (no heavy borders: it reads well piped into a file as well)."""
    table = Table(
        box=box.SIMPLE_HEAD, title=title, title_justify="left", pad_edge=False, show_edge=False
    )
    for header in headers:
        table.add_column(header, justify="right" if header in right else "left", no_wrap=True)
    return table


def print_table(console: Console, table: Table) -> None:
    """Print ``table``; off a terminal, without the cell padding that would end every line
    in spaces (piped output is read by diff, grep and editors as well as people)."""
    if console.is_terminal:
        console.print(table)
        return
    with console.capture() as captured:
        console.print(table)
    text = "\n".join(line.rstrip() for line in captured.get().splitlines())
    console.file.write(text + "\n")


class ChunkedTable:
    """A table printed a chunk of rows at a time, so a long listing renders in constant
    memory; chunks after the first repeat the first chunk's column widths and skip the
    header, so the output reads as one table."""

    def __init__(
        self, console: Console, headers: tuple[str, ...], *, right: tuple[str, ...] = ()
    ) -> None:
        self._console = console
        self._headers = headers
        self._right = right
        self._rows: list[tuple[str, ...]] = []
        self._widths: list[int] | None = None
        self.count = 0

    def add(self, *cells: str) -> None:
        self._rows.append(cells)
        self.count += 1

    def flush(self) -> None:
        if not self._rows:
            return
        table = new_table(*self._headers, right=self._right)
        if self._widths is None:
            self._widths = [
                max(len(h), *(len(r[i]) for r in self._rows)) for i, h in enumerate(self._headers)
            ]
        else:
            table.show_header = False
            for column, width in zip(table.columns, self._widths, strict=True):
                column.min_width = width
        for row in self._rows:
            table.add_row(*row)
        self._rows.clear()
        print_table(self._console, table)


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


# -- durations, money, dates ----------------------------------------------------------------


def human_duration(seconds: float) -> str:
    """``45s``, ``2m 13s``, ``1h 02m``, ``3d 4h``: short enough for a table cell."""
    total = max(0, int(seconds))
    days, rest = divmod(total, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def expires_in(status: str, expires_at: datetime | None, now: datetime) -> str:
    """Time left on an active session; ``expired`` past its end (the listing can lag behind
    the clock, so an ``active`` row may already be over), ``-`` for closed ones."""
    if status == "closed":
        return "-"
    if status == "expired" or expires_at is None:
        return "expired" if status == "expired" else "?"
    left = (expires_at - now).total_seconds()
    return human_duration(left) if left > 0 else "expired"


def usd(amount: float) -> str:
    """Dollars with cents, and more digits only when the amount has them (prices are often
    fractions of a cent): ``$12.50``, ``$0.005``."""
    text = f"{amount:.6f}".rstrip("0")
    whole, _, frac = text.partition(".")
    sign = "-" if whole.startswith("-") else ""
    return f"{sign}${int(whole.lstrip('-') or 0):,}.{frac.ljust(2, '0')}"


def iso(moment: datetime | None) -> str:
    """An aware datetime as ISO-8601 in UTC with a ``Z`` (empty when unknown)."""
    if moment is None:
        return ""
    utc = moment.astimezone(UTC)
    spec = "milliseconds" if utc.microsecond % 1000 == 0 else "microseconds"
    return utc.isoformat(timespec=spec).replace("+00:00", "Z")


def short_time(moment: datetime | None) -> str:
    """A table cell: ``2024-06-15 10:30:00`` in UTC."""
    if moment is None:
        return "-"
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


_RELATIVE = re.compile(r"(\d+)\s*([wdhms])", re.IGNORECASE)
_RELATIVE_FULL = re.compile(r"(?:\d+\s*[wdhms]\s*)+", re.IGNORECASE)
_UNIT_SECONDS = {"w": 604_800, "d": 86_400, "h": 3_600, "m": 60, "s": 1}


def parse_relative(text: str) -> timedelta | None:
    """``7d``, ``24h``, ``1h30m``, ``2w`` as a duration; None when ``text`` is not one."""
    compact = text.strip()
    if not compact or not _RELATIVE_FULL.fullmatch(compact):
        return None
    seconds = sum(int(n) * _UNIT_SECONDS[u.lower()] for n, u in _RELATIVE.findall(compact))
    return timedelta(seconds=seconds)


def parse_when(text: str, *, now: datetime, end_of_day: bool = False) -> datetime:
    """A point in time from the command line, timezone-aware.

    Accepts ``now``, a relative age (``7d``, ``24h``, ``90m``: that long before ``now``), an
    ISO date (``2024-06-01``: midnight UTC, or the last millisecond of that day with
    ``end_of_day``, so ``--since D --until D`` covers the day D), or an ISO datetime
    (``2024-06-01T10:00``, ``...Z``, ``...+02:00``; a naive one is UTC).
    Raises ``ValueError`` with a message fit for the user.
    """
    raw = text.strip()
    if raw.lower() == "now":
        return now
    delta = parse_relative(raw)
    if delta is not None:
        return now - delta
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
            start = datetime.combine(date.fromisoformat(raw), time(0), tzinfo=UTC)
            return start + timedelta(days=1, milliseconds=-1) if end_of_day else start
        candidate = raw[:-1] + "+00:00" if raw.endswith(("Z", "z")) else raw
        moment = datetime.fromisoformat(candidate)
    except ValueError as exc:
        raise ValueError(
            f"{text!r} is not a date ({exc}): use an ISO date or datetime (2024-06-01, "
            "2024-06-01T10:00:00Z) or an age such as 7d, 24h, 30m"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


if TYPE_CHECKING:
    _DateParam = click.ParamType[datetime, Any]
else:  # click < 8.3 has no generic ParamType
    _DateParam = click.ParamType


class WhenType(_DateParam):
    """A click parameter for `parse_when`; ``end_of_day`` for ``--until``."""

    name = "date"

    def __init__(self, *, end_of_day: bool = False) -> None:
        self.end_of_day = end_of_day

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            return parse_when(str(value), now=datetime.now(UTC), end_of_day=self.end_of_day)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)
