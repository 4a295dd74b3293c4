"""``bbre-async sessions``: list the account's sessions, close some, reap what nobody will close.

The account holds at most 10 active sessions; a process that died without cleanup keeps its
slots for up to five minutes. ``reap`` (``_reap``) gives them back from the command line.
Each provider lists its sessions with its own fields (``_providers.SessionListing``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import click

from bbre_async._errors import (
    APIConnectionError,
    AuthenticationError,
    BBREError,
    NotFoundError,
    PermissionDeniedError,
)
from bbre_async._models import Page
from bbre_async._paging import paginate
from bbre_async.cli._common import (
    EXIT_API,
    EXIT_USAGE,
    ChunkedTable,
    CliError,
    CliState,
    PageCounter,
    api_failure,
    counting,
    err_console,
    out_console,
    pass_state,
    reports_errors,
    run,
    timeout_option,
)
from bbre_async.cli._providers import SessionListing
from bbre_async.cli._reap import reap_command

#: Sessions per listing call; the listing is read lazily, a page at a time.
PAGE_SIZE = 100
#: Concurrent closes for ``sessions close``.
CLOSE_CONCURRENCY = 10


@click.group("sessions")
def sessions_group() -> None:
    """List, close and reap the account's remote sessions."""


sessions_group.add_command(reap_command, name="reap")


# -- list -----------------------------------------------------------------------------------


def _status_filter(listing: SessionListing[Any], status: str | None, provider: str) -> str | None:
    if status is None:
        return None
    wanted = listing.aliases.get(status, status)
    if wanted not in listing.statuses:
        known = ", ".join(sorted({*listing.statuses, *listing.aliases}))
        raise CliError(
            f"--status {status}: {provider} has no such status; use one of {known}", EXIT_USAGE
        )
    return wanted


@sessions_group.command("list")
@click.option(
    "--status",
    metavar="STATUS",
    help="Only sessions in this state: active, closed, expired (BBRE); active, stopped, "
    "failed... (OrchestratorHQ). The listing can lag: an `active` row may be past due.",
)
@click.option(
    "--limit",
    type=click.IntRange(min=0),
    default=50,
    show_default=True,
    help="Show at most N sessions, newest first; 0 shows them all.",
)
@click.option("--json", "as_json", is_flag=True, help="JSON lines, one object per session.")
@timeout_option
@pass_state
@reports_errors("listing sessions")
def list_command(state: CliState, status: str | None, limit: int, as_json: bool) -> None:
    """List the account's sessions, newest first, fetching pages only as they are shown.

    On a narrow terminal the id, status and cost stay whole; other columns are left out.
    """
    provider = state.provider_info
    listing = provider.load_listing()
    wanted = _status_filter(listing, status, provider.title)
    run(_list(state, listing, status=wanted, limit=limit, as_json=as_json))


async def _list(
    state: CliState, listing: SessionListing[Any], *, status: str | None, limit: int, as_json: bool
) -> None:
    console = out_console()
    counter = PageCounter()
    page_size = min(limit, PAGE_SIZE) if limit else PAGE_SIZE
    columns = listing.columns
    table = ChunkedTable(
        console,
        tuple(c.header for c in columns),
        right=tuple(c.header for c in columns if c.right),
        fold=[c.fold for c in columns],
    )
    shown = 0
    async with state.client() as client:

        async def fetch(size: int, offset: int) -> Page[Any]:
            return await client.account.sessions_page(status=status, limit=size, offset=offset)

        now = datetime.now(UTC)
        async for row in paginate(counting(fetch, counter), page_size=page_size):
            shown += 1
            if as_json:
                click.echo(json.dumps(listing.record(row), ensure_ascii=False))
            else:
                table.add(*(column.cell(row, now) for column in columns))
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

CLOSED = "closed"
ALREADY_CLOSED = "already closed"
UNKNOWN = "unknown"


@sessions_group.command("close")
@click.argument("session_ids", metavar="ID...", nargs=-1, required=True)
@timeout_option
@pass_state
@reports_errors("closing sessions")
def close_command(state: CliState, session_ids: tuple[str, ...]) -> None:
    """Close sessions by id.

    A session that is already closed or expired holds no slot: that is a success. An id the
    account does not know is reported and makes the exit status non-zero (4), so that a typo
    never reads as a closed session while the real one keeps billing.
    """
    ids = list(dict.fromkeys(s.strip() for s in session_ids))
    if any(not s for s in ids):
        raise click.BadParameter("a session id must not be empty", param_hint="ID")
    unknown, failed = run(_close(state, ids))
    problems = []
    if unknown:
        problems.append(f"{unknown} unknown id(s)")
    if failed:
        problems.append(f"{failed} failed")
    if problems:
        raise CliError(
            f"{' and '.join(problems)} out of {len(ids)}; nothing else was changed", EXIT_API
        )


async def _close(state: CliState, ids: Sequence[str]) -> tuple[int, int]:
    """Close ``ids``; returns how many were unknown and how many failed."""
    console = out_console()
    gate = asyncio.Semaphore(CLOSE_CONCURRENCY)
    async with state.client() as client:

        async def close_one(session_id: str) -> str | BBREError:
            async with gate:
                try:
                    if await client.sessions.close(session_id):
                        return CLOSED
                    # Not closed by this call: already over, or never this account's.
                    await client.sessions.status(session_id)
                except NotFoundError:
                    return UNKNOWN
                except BBREError as error:
                    return error
                return ALREADY_CLOSED

        outcomes = await asyncio.gather(*(close_one(sid) for sid in ids))
    for outcome in outcomes:
        if isinstance(outcome, _FATAL):
            raise outcome
    unknown = failed = 0
    width = max(len(s) for s in ids)
    for session_id, outcome in zip(ids, outcomes, strict=True):
        if outcome == CLOSED:
            console.print(f"closed          {session_id}")
        elif outcome == ALREADY_CLOSED:
            console.print(f"already closed  {session_id.ljust(width)}  (holds no slot)")
        elif outcome == UNKNOWN:
            unknown += 1
            err_console().print(
                f"unknown         {session_id.ljust(width)}  "
                "no such session on this account: check the id"
            )
        else:
            assert isinstance(outcome, BBREError)
            failed += 1
            err_console().print(
                f"failed          {session_id.ljust(width)}  "
                f"{api_failure('closing it', outcome).format_message()}"
            )
    return unknown, failed
