"""``bbre-async demo``: a pooled crawl against the embedded emulator, shown live."""

from __future__ import annotations

import asyncio
import json
import sys

import click
from rich.console import Console, Group
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
from rich.progress import Progress as RichProgress
from rich.table import Table

from bbre_async.cli._common import CliError, CliState, pass_state
from bbre_async.cli._demo_crawl import DemoConfig, DemoResult, Progress, run_crawl
from bbre_async.pool import SessionPool

REFRESH = 0.1


@click.command("demo")
@click.option("--requests", "total", default=2000, show_default=True, help="URLs to fetch.")
@click.option("--workers", default=50, show_default=True, help="Concurrent tasks.")
@click.option(
    "--sessions", default=10, show_default=True, help="Pool size (the account cap is 10)."
)
@click.option(
    "--latency", default=0.05, show_default=True, help="Emulated server time per request (s)."
)
@click.option(
    "--time-scale",
    default=60.0,
    show_default=True,
    help="How much faster emulated sessions age (60: a 300 s session lives 5 s).",
)
@click.option("--error-rate", default=0.0, show_default=True, help="Share of 500 answers.")
@click.option(
    "--lost-rate", default=0.0, show_default=True, help="Share of answers lost after the work."
)
@click.option("--seed", default=0, show_default=True, help="Seed for the emulator's randomness.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON only.")
@click.option(
    "--real",
    is_flag=True,
    help="Run against the account of --base-url/--api-key instead of the emulator (costs money).",
)
@click.option("--yes", is_flag=True, help="Do not ask before spending money with --real.")
@pass_state
def demo_command(
    state: CliState,
    total: int,
    workers: int,
    sessions: int,
    latency: float,
    time_scale: float,
    error_rate: float,
    lost_rate: float,
    seed: int,
    as_json: bool,
    real: bool,
    yes: bool,
) -> None:
    """Crawl synthetic URLs through a pool of sessions and show what the pool does.

    By default everything runs offline against the embedded emulator, sessions age fast so
    renewals happen in front of you, and the summary checks the server's own counters.
    """
    try:
        config = DemoConfig(
            requests=total,
            workers=workers,
            sessions=sessions,
            latency=latency,
            time_scale=time_scale,
            error_rate=error_rate,
            lost_rate=lost_rate,
            seed=seed,
            base_url=state.base_url if real else None,
            api_key=state.api_key if real else None,
        )
    except (ValueError, TypeError) as error:
        raise CliError(f"bad demo setting: {error}", exit_code=2) from None
    err = Console(stderr=True)
    if real:
        if not state.base_url or not state.api_key:
            raise CliError(
                "--real needs --base-url and --api-key (or their variables)", exit_code=2
            )
        err.print(
            f"[bold yellow]Warning:[/] this creates real sessions and sends {total} billed "
            f"requests to {state.base_url}."
        )
        if not yes and not click.confirm("Spend money on this run?", default=False, err=True):
            raise CliError("cancelled", exit_code=1)
    progress = Progress(total=total)
    console = Console()
    if as_json:
        result = asyncio.run(run_crawl(config, progress))
        click.echo(json.dumps(result.to_json(), indent=2))
    elif console.is_terminal:
        result = asyncio.run(_run_live(config, progress, console))
        console.print(summary_table(result))
        console.print(verdict(result))
    else:
        result = asyncio.run(_run_plain(config, progress))
        console.print(summary_table(result))
        console.print(verdict(result))
    if result.cap_respected is False or result.active_after:
        sys.exit(1)


async def _run_live(config: DemoConfig, progress: Progress, console: Console) -> DemoResult:
    bar = RichProgress(
        TextColumn("[bold]crawl"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]:>7.1f} req/s"),
        TimeRemainingColumn(),
        console=console,
    )
    task = bar.add_task("crawl", total=progress.total, rate=0.0)
    pools: list[SessionPool] = []

    async def refresh(live: Live) -> None:
        while True:
            elapsed = max(1e-6, asyncio.get_running_loop().time() - start)
            bar.update(task, completed=progress.finished, rate=progress.done / elapsed)
            live.update(Group(bar, pool_table(pools[0] if pools else None, progress)))
            await asyncio.sleep(REFRESH)

    start = asyncio.get_running_loop().time()
    with Live(console=console, refresh_per_second=10, transient=False) as live:
        refresher = asyncio.create_task(refresh(live))
        try:
            result = await run_crawl(config, progress, on_pool=pools.append)
        finally:
            refresher.cancel()
        bar.update(task, completed=progress.finished)
        live.update(Group(bar, pool_table(pools[0] if pools else None, progress)))
    return result


async def _run_plain(config: DemoConfig, progress: Progress) -> DemoResult:
    """No terminal: a line per tenth of the work, no escape codes."""
    pools: list[SessionPool] = []

    async def report() -> None:
        next_mark = progress.total / 10
        while True:
            if progress.finished >= next_mark:
                stats = pools[0].stats() if pools else None
                renewed = stats.renewed if stats else 0
                click.echo(f"{progress.finished}/{progress.total} done, {renewed} renewals so far")
                next_mark += progress.total / 10
            await asyncio.sleep(REFRESH)

    reporter = asyncio.create_task(report())
    try:
        return await run_crawl(config, progress, on_pool=pools.append)
    finally:
        reporter.cancel()


def pool_table(pool: SessionPool | None, progress: Progress) -> Table:
    table = Table(title="pool", show_header=True, header_style="bold")
    for column in ("leased", "idle", "creating", "waiters", "created", "renewed", "cost", "failed"):
        table.add_column(column, justify="right")
    if pool is None:
        return table
    stats = pool.stats()
    table.add_row(
        str(stats.leased),
        str(stats.idle),
        str(stats.creating),
        str(stats.waiters),
        str(stats.created),
        str(stats.renewed),
        f"${stats.cost or 0:.2f}",
        str(progress.failed),
    )
    return table


def summary_table(result: DemoResult) -> Table:
    stats = result.stats
    table = Table(title="summary", show_header=False)
    table.add_column("what")
    table.add_column("value", justify="right")
    table.add_row("requests ok", f"{result.ok} of {result.requests}")
    failures = ", ".join(f"{k}: {v}" for k, v in sorted(result.failures.items())) or "none"
    table.add_row("failures", failures)
    table.add_row("time", f"{result.seconds:.1f} s")
    table.add_row("throughput", f"{result.throughput:.1f} req/s")
    if result.limit:
        table.add_row(
            "against the session limit",
            f"{result.utilization or 0:.1%} of {result.limit:.0f} req/s "
            f"({result.cap} sessions / {result.cap / result.limit * 1000:.0f} ms a request)",
        )
    table.add_row(
        "acquire wait p50 / p99",
        f"{stats.acquire_wait_p50 * 1000:.1f} / {stats.acquire_wait_p99 * 1000:.1f} ms",
    )
    table.add_row(
        "sessions created / renewed / closed", f"{stats.created} / {stats.renewed} / {stats.closed}"
    )
    if result.spent is not None:
        table.add_row("money spent", f"${result.spent:.2f}")
    return table


def verdict(result: DemoResult) -> str:
    if result.peak_active is None:
        shutdown = result.shutdown
        return f"Pool closed: {shutdown.closed} sessions closed, {len(shutdown.failed)} failed."
    ok = result.cap_respected and result.active_after == 0
    mark = "[green]OK[/]" if ok else "[red]PROBLEM[/]"
    return (
        f"{mark} server counters: peak of {result.peak_active} active sessions "
        f"(cap {result.cap}), {result.active_after} left active after the pool closed."
    )
