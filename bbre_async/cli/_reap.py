"""``bbre-async sessions reap``: close sessions left behind by processes that are gone.

It applies the owner-is-gone rule the pool applies at start, and shows its plan before acting
on it. The plan is made and carried out in two runs of the event loop with the confirmation
prompt between them, outside any loop: Ctrl-C at the prompt then interrupts at once (exit 130,
nothing closed) instead of being held back by the loop's own interrupt handling.
"""

from __future__ import annotations

import os
import select
import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from bbre_async.cli._common import (
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    CliError,
    CliState,
    err_console,
    expires_in,
    new_table,
    out_console,
    pass_state,
    print_table,
    reports_errors,
    run,
    timeout_option,
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


def _interactive() -> bool:
    """Whether a human can answer a prompt (stdin and stdout are terminals)."""
    return sys.stdin.isatty() and sys.stdout.isatty()


@click.command("reap")
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
@timeout_option
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
    Ctrl-C at the question closes nothing and exits with 130.
    """
    me = OwnerInfo.current("cli")
    plan = run(_plan(state, foreign=foreign, stale_after=stale_after, ledger_path=ledger_path))
    console = out_console()
    if not plan.targets and not plan.orphans:
        console.print("Nothing to reap.")
        return
    if dry_run:
        console.print("Dry run: nothing was closed.")
        return
    if not assume_yes:
        if not _interactive():
            err_console().print(
                "Not closing anything: no terminal to confirm on; pass --yes to reap."
            )
            raise click.exceptions.Exit(EXIT_FAILURE)
        try:
            confirmed = _ask(_question(plan))
        except KeyboardInterrupt:
            raise CliError(
                "interrupted at the question: nothing was closed", EXIT_INTERRUPTED
            ) from None
        if not confirmed:
            console.print("Nothing was closed.")
            raise click.exceptions.Exit(EXIT_FAILURE)
    report = run(_execute(state, plan, me=me, stale_after=stale_after, ledger_path=ledger_path))
    _show_report(report)
    if report.failed:
        raise click.exceptions.Exit(EXIT_FAILURE)


def _ask(question: str) -> bool:
    """A yes/no question on the terminal, default no; end of input is no. Ctrl-C raises
    KeyboardInterrupt (click's own prompt would turn it into a generic abort)."""
    click.echo(f"{question} [y/N]: ", nl=False)
    try:
        _wait_for_a_line()
        answer = input()
    except EOFError:
        click.echo()
        return False
    return answer.strip().lower() in {"y", "yes"}


def _wait_for_a_line() -> None:
    """Wait for the answer waking every 0.1 s: Ctrl-C's SIGINT may land on a worker thread
    the event loop left behind, which does not interrupt a read blocked in the main thread,
    but the main thread notices the signal at its next wake-up."""
    if os.name != "posix":
        return
    try:
        fd = sys.stdin.fileno()
    except (OSError, ValueError):
        return
    while not select.select([fd], [], [], 0.1)[0]:
        pass


async def _ledger(ledger_path: Path | None, base_url: str, key_fingerprint: str) -> SqliteLedger:
    return await SqliteLedger.open(ledger_path or default_ledger_path(key_fingerprint, base_url))


async def _plan(
    state: CliState, *, foreign: bool, stale_after: float, ledger_path: Path | None
) -> ReapPlan:
    me = OwnerInfo.current("cli")
    async with state.client() as client:
        backend = state.provider_info.make_backend(client)
        ledger = await _ledger(ledger_path, client.base_url, client.key_fingerprint)
        try:
            # The listing is always read, so foreign sessions are shown even when they stay.
            plan = await plan_reap(
                backend, ledger, me=me, stale_after=stale_after, include_foreign=True
            )
        finally:
            await ledger.aclose()
    if not foreign:
        plan = _without_foreign(plan)
    _show_plan(plan, foreign=foreign)
    return plan


async def _execute(
    state: CliState, plan: ReapPlan, *, me: OwnerInfo, stale_after: float, ledger_path: Path | None
) -> ReapReport:
    async with state.client() as client:
        backend = state.provider_info.make_backend(client)
        ledger = await _ledger(ledger_path, client.base_url, client.key_fingerprint)
        try:
            return await execute_reap(backend, ledger, plan, me=me, stale_after=stale_after)
        finally:
            await ledger.aclose()


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
