"""``bbre-async sessions``: list the account's sessions, close some, reap what nobody will close.

The account holds at most 10 active sessions; a process that died without cleanup keeps its
slots for up to five minutes. ``reap`` gives them back from the command line with the same
owner-is-gone rule the pool applies at start, and shows its plan before acting on it.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import click

from bbre_async._errors import (
    APIConnectionError,
    AuthenticationError,
    BBREError,
    PermissionDeniedError,
)
from bbre_async._models import Page, SessionInfo
from bbre_async._paging import paginate
from bbre_async.cli._common import (
    EXIT_API,
    EXIT_FAILURE,
    ChunkedTable,
    CliError,
    CliState,
    PageCounter,
    api_failure,
    counting,
    err_console,
    expires_in,
    iso,
    new_table,
    out_console,
    pass_state,
    print_table,
    reports_errors,
    run,
    short_time,
    usd,
)
from bbre_async.coordination import (
    EntryState,
    LedgerEntry,
    OwnerInfo,
    SqliteLedger,
    default_ledger_path,
)
from bbre_async.pool import ActiveSession, ReapPlan, ReapReport, execute_reap, plan_reap

LEDGER_PATH_ENV = "BBRE_LEDGER_PATH"
#: Sessions per listing call; the listing is read lazily, a page at a time.
PAGE_SIZE = 100
#: Concurrent closes for ``sessions close``.
CLOSE_CONCURRENCY = 10


@click.group("sessions")
def sessions_group() -> None:
    """List, close and reap the account's remote sessions."""


# -- list -----------------------------------------------------------------------------------

_LIST_HEADERS = ("id", "mode", "status", "requests", "charged", "created (UTC)", "expires in")


def session_json(info: SessionInfo) -> dict[str, object]:
    """One session as a JSON object (snake_case keys, ISO-8601 UTC times)."""
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


@sessions_group.command("list")
@click.option(
    "--status",
    type=click.Choice(["active", "closed", "expired"]),
    help="Only sessions in this state. The listing can lag: an `active` row may be past due.",
)
@click.option(
    "--limit",
    type=click.IntRange(min=0),
    default=50,
    show_default=True,
    help="Show at most N sessions, newest first; 0 shows them all.",
)
@click.option("--json", "as_json", is_flag=True, help="JSON lines, one object per session.")
@pass_state
@reports_errors("listing sessions")
def list_command(state: CliState, status: str | None, limit: int, as_json: bool) -> None:
    """List the account's sessions, newest first, fetching pages only as they are shown."""
    run(_list(state, status=status, limit=limit, as_json=as_json))


async def _list(state: CliState, *, status: str | None, limit: int, as_json: bool) -> None:
    console = out_console()
    counter = PageCounter()
    page_size = min(limit, PAGE_SIZE) if limit else PAGE_SIZE
    table = ChunkedTable(console, _LIST_HEADERS, right=("requests", "charged", "expires in"))
    shown = 0
    async with state.client() as client:

        async def fetch(size: int, offset: int) -> Page[SessionInfo]:
            return await client.account.sessions_page(status=status, limit=size, offset=offset)

        now = datetime.now(UTC)
        async for info in paginate(counting(fetch, counter), page_size=page_size):
            shown += 1
            if as_json:
                click.echo(json.dumps(session_json(info), ensure_ascii=False))
            else:
                table.add(
                    info.id,
                    info.mode or "-",
                    info.status,
                    str(info.request_count),
                    usd(info.total_charged),
                    short_time(info.created_at),
                    expires_in(info.status, info.expires_at, now),
                )
                if table.count % page_size == 0:
                    table.flush()
            if limit and shown >= limit:
                break  # before the iterator asks for a page nobody will see
    if as_json:
        return
    table.flush()
    what = f"{status} sessions" if status else "sessions"
    if shown == 0:
        console.print(f"No {what}.")
    elif counter.total is not None and counter.total > shown:
        console.print(f"{shown} of {counter.total} {what} shown; --limit 0 shows all.")


# -- close ----------------------------------------------------------------------------------

# Errors that concern every id alike: report them once and stop.
_FATAL = (AuthenticationError, PermissionDeniedError, APIConnectionError)


@sessions_group.command("close")
@click.argument("session_ids", metavar="ID...", nargs=-1, required=True)
@pass_state
@reports_errors("closing sessions")
def close_command(state: CliState, session_ids: tuple[str, ...]) -> None:
    """Close sessions by id. A session already closed, expired or unknown is reported as
    already gone: either way it holds no slot any more."""
    ids = list(dict.fromkeys(s.strip() for s in session_ids))
    if any(not s for s in ids):
        raise click.BadParameter("a session id must not be empty", param_hint="ID")
    failed = run(_close(state, ids))
    if failed:
        raise CliError(f"{failed} of {len(ids)} session(s) could not be closed", EXIT_API)


async def _close(state: CliState, ids: Sequence[str]) -> int:
    console = out_console()
    gate = asyncio.Semaphore(CLOSE_CONCURRENCY)
    async with state.client() as client:

        async def close_one(session_id: str) -> bool | BBREError:
            async with gate:
                try:
                    return await client.sessions.close(session_id)
                except BBREError as error:
                    return error

        outcomes = await asyncio.gather(*(close_one(sid) for sid in ids))
    for outcome in outcomes:
        if isinstance(outcome, _FATAL):
            raise outcome
    failed = 0
    width = max(len(s) for s in ids)
    for session_id, outcome in zip(ids, outcomes, strict=True):
        if outcome is True:
            console.print(f"closed        {session_id}")
        elif outcome is False:
            console.print(f"already gone  {session_id.ljust(width)}  (closed, expired or unknown)")
        else:
            failed += 1
            err_console().print(
                f"failed        {session_id.ljust(width)}  "
                f"{api_failure('closing it', outcome).format_message()}"
            )
    return failed


# -- reap -----------------------------------------------------------------------------------


def _interactive() -> bool:
    """Whether a human can answer a prompt (stdin and stdout are terminals)."""
    return sys.stdin.isatty() and sys.stdout.isatty()


@sessions_group.command("reap")
@click.option(
    "--foreign",
    is_flag=True,
    help="Also close active sessions no ledger on this host knows (other programs, hosts, "
    "or pools sharing the key through Redis). Use with care.",
)
@click.option("--dry-run", is_flag=True, help="Show what would be closed, change nothing.")
@click.option("--yes", "-y", "assume_yes", is_flag=True, help="Do not ask for confirmation.")
@click.option(
    "--stale-after",
    type=click.FloatRange(min=0),
    default=30.0,
    show_default=True,
    help="Seconds without a heartbeat after which a ledger owner counts as gone.",
)
@click.option(
    "--ledger-path",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar=LEDGER_PATH_ENV,
    hidden=True,
    help="The session ledger file (default: the one pools on this key and URL use).",
)
@pass_state
@reports_errors("reaping sessions")
def reap_command(
    state: CliState,
    foreign: bool,
    dry_run: bool,
    assume_yes: bool,
    stale_after: float,
    ledger_path: Path | None,
) -> None:
    """Close sessions left behind by processes that are gone.

    Reads this host's session ledger (the one every pool on this API key and base URL
    writes), finds entries whose owner died or stopped heartbeating, and closes their
    sessions. Shows the plan first and asks before acting, unless --yes or --dry-run.
    """
    ok = run(
        _reap(
            state,
            foreign=foreign,
            dry_run=dry_run,
            assume_yes=assume_yes,
            stale_after=stale_after,
            ledger_path=ledger_path,
        )
    )
    if not ok:
        raise click.exceptions.Exit(EXIT_FAILURE)


async def _reap(
    state: CliState,
    *,
    foreign: bool,
    dry_run: bool,
    assume_yes: bool,
    stale_after: float,
    ledger_path: Path | None,
) -> bool:
    console = out_console()
    provider = state.provider_info
    me = OwnerInfo.current("cli")
    async with state.client() as client:
        backend = provider.make_backend(client)
        path = ledger_path or default_ledger_path(client.key_fingerprint, client.base_url)
        ledger = await SqliteLedger.open(path)
        try:
            # The listing is always read, so foreign sessions are shown even when they stay.
            plan = await plan_reap(
                backend, ledger, me=me, stale_after=stale_after, include_foreign=True
            )
            if not foreign:
                plan = _without_foreign(plan)
            _show_plan(plan, foreign=foreign)
            if not plan.targets and not plan.orphans:
                console.print("Nothing to reap.")
                return True
            if dry_run:
                console.print("Dry run: nothing was closed.")
                return True
            if not assume_yes:
                if not _interactive():
                    err_console().print(
                        "Not closing anything: no terminal to confirm on; pass --yes to reap."
                    )
                    return False
                if not click.confirm(_question(plan), default=False):
                    console.print("Nothing was closed.")
                    return False
            report = await execute_reap(backend, ledger, plan, me=me, stale_after=stale_after)
        finally:
            await ledger.aclose()
    _show_report(report)
    return not report.failed


def _question(plan: ReapPlan) -> str:
    if plan.targets:
        return f"Close {len(plan.targets)} session(s)?"
    return f"Clear {len(plan.orphans)} stale ledger entr{'y' if len(plan.orphans) == 1 else 'ies'}?"


def _without_foreign(plan: ReapPlan) -> ReapPlan:
    foreign_ids = {row.id for row in plan.foreign}
    targets = {sid: why for sid, why in plan.targets.items() if sid not in foreign_ids}
    return ReapPlan(orphans=plan.orphans, targets=targets, foreign=plan.foreign)


def _owner(entry: LedgerEntry) -> str:
    return f"{entry.owner.host}:{entry.owner.pid}"


def _show_plan(plan: ReapPlan, *, foreign: bool) -> None:
    console = out_console()
    now = datetime.now(UTC)
    by_session = {e.session_id: e for e in plan.orphans if e.session_id}
    rows_by_id: dict[str, ActiveSession] = {row.id: row for row in plan.foreign}
    if plan.targets:
        table = new_table("session", "why", "owner", "expires in", right=("expires in",))
        table.title = f"Sessions to close ({len(plan.targets)})"
        for session_id, why in plan.targets.items():
            entry = by_session.get(session_id)
            owner = _owner(entry) if entry is not None else "-"
            expiry: datetime | None = entry.expires_at if entry is not None else None
            row = rows_by_id.get(session_id)
            if expiry is None and row is not None and row.expires_at is not None:
                expiry = datetime.fromtimestamp(row.expires_at, UTC)
            table.add_row(session_id, why, owner, expires_in("active", expiry, now))
        print_table(console, table)
    intents = sum(1 for e in plan.orphans if e.state is EntryState.INTENT)
    if intents:
        console.print(
            f"{intents} ledger entr{'y' if intents == 1 else 'ies'} of gone owners recorded a "
            "create whose answer never came; they will be cleared."
        )
    if plan.foreign and not foreign:
        left = ", ".join(row.id for row in plan.foreign[:5])
        more = f" and {len(plan.foreign) - 5} more" if len(plan.foreign) > 5 else ""
        console.print(
            f"{len(plan.foreign)} active session(s) belong to no ledger on this host "
            f"({left}{more}); they may be another program's. --foreign closes them too."
        )


def _show_report(report: ReapReport) -> None:
    console = out_console()
    parts = [f"closed {report.closed}", f"already gone {report.already_gone}"]
    if report.foreign_closed:
        parts.append(f"foreign closed {report.foreign_closed}")
    parts.append(f"ledger entries settled {report.orphans}")
    console.print("Reaped: " + ", ".join(parts) + ".")
    if report.failed:
        err_console().print(
            f"Could not close {len(report.failed)}: {', '.join(report.failed)}; "
            f"run again later (-v shows why)."
        )
