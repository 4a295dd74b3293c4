"""``bbre-async demo``: a ``pool.map`` crawl against the embedded emulator, shown live."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.table import Table

from bbre_async.cli._common import CliError, CliState, pass_state
from bbre_async.cli._demo_crawl import DemoConfig, DemoResult, run_crawl
from bbre_async.pool import MapProgress, SessionPool

T = TypeVar("T")
INTERRUPTED = 130  # what a shell reports for a program stopped by Ctrl-C (128 + SIGINT)


@click.command("demo")
@click.option("--requests", "total", default=2000, show_default=True, help="URLs to fetch.")
@click.option(
    "--workers",
    type=int,
    default=None,
    help="Jobs in flight (default: the pool's usable capacity, so no job waits behind the cap).",
)
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
    "--uvloop",
    "use_uvloop",
    is_flag=True,
    help="Run on uvloop (pip install 'bbre-async[uvloop]').",
)
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
    workers: int | None,
    sessions: int,
    latency: float,
    time_scale: float,
    error_rate: float,
    lost_rate: float,
    seed: int,
    as_json: bool,
    use_uvloop: bool,
    real: bool,
    yes: bool,
) -> None:
    """Crawl synthetic URLs through a pool of sessions and show what the pool does.

    The crawl is one pool.map over the URLs. By default everything runs offline against
    the embedded emulator, sessions age fast so renewals happen in front of you, and the
    summary checks the server's own counters. Ctrl-C stops the crawl, closes every session
    and exits with status 130.
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
    loop_factory = _loop_factory(use_uvloop)
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
    console = Console()
    try:
        if as_json:
            result = _run(run_crawl(config), loop_factory)
            click.echo(json.dumps(result.to_json(), indent=2))
        else:
            live = console.is_terminal
            result = _run(
                _crawl_live(config, console) if live else _crawl_plain(config), loop_factory
            )
            console.print(summary_table(result))
            console.print(verdict(result))
    except KeyboardInterrupt:
        # The crawl was cancelled and the pool closed every session before we got here.
        err.print("interrupted: the crawl stopped and every session was closed")
        sys.exit(INTERRUPTED)
    if result.cap_respected is False or result.active_after:
        sys.exit(1)


def _loop_factory(use_uvloop: bool) -> Callable[[], asyncio.AbstractEventLoop] | None:
    if not use_uvloop:
        return None
    try:
        import uvloop
    except ImportError:
        raise CliError(
            "--uvloop needs uvloop: pip install 'bbre-async[uvloop]'", exit_code=2
        ) from None
    return uvloop.new_event_loop


def _run(
    coro: Coroutine[Any, Any, T], loop_factory: Callable[[], asyncio.AbstractEventLoop] | None
) -> T:
    """``asyncio.run`` on the chosen loop; Ctrl-C cancels the crawl, then raises here."""
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        return runner.run(coro)


async def _crawl_live(config: DemoConfig, console: Console) -> DemoResult:
    from bbre_async.pool import RichMapProgress

    pools: list[SessionPool] = []
    bar = RichMapProgress(
        "crawl",
        total=config.requests,
        console=console,
        extra=lambda: pool_table(pools[0] if pools else None),
    )
    with bar:
        return await run_crawl(config, bar, on_pool=pools.append)


async def _crawl_plain(config: DemoConfig) -> DemoResult:
    """No terminal: a line per tenth of the work, no escape codes."""
    pools: list[SessionPool] = []
    step = max(1, config.requests // 10)

    def report(progress: MapProgress) -> None:
        if progress.finished % step == 0 or progress.finished == config.requests:
            renewed = pools[0].stats().renewed if pools else 0
            click.echo(
                f"{progress.finished}/{config.requests} done, {progress.retried} retried, "
                f"{renewed} renewals so far"
            )

    return await run_crawl(config, report, on_pool=pools.append)


def pool_table(pool: SessionPool | None) -> Table:
    table = Table(title="pool", show_header=True, header_style="bold")
    for column in ("leased", "idle", "creating", "waiters", "created", "renewed", "cost"):
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
    table.add_row("retried on a fresh session", str(result.retried))
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
    table.add_row("event loop", result.event_loop)
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
