"""The root command group. Each subcommand lives in a module of its own, imported only when
that command runs: ``bbre-async --help`` and ``--version`` load click and nothing of the
client, the pool, rich or the emulator.
"""

from __future__ import annotations

import importlib
from typing import NamedTuple

import click

from bbre_async._version import __version__
from bbre_async.cli._state import (
    BBRE_API_KEY_ENV,
    BBRE_BASE_URL_ENV,
    PROVIDER_NAMES,
    CliState,
    configure_logging,
)


class LazyCommand(NamedTuple):
    """Where a subcommand lives, and its one-line help (``--help`` shows it without importing
    the module; a test keeps it equal to the command's own)."""

    module: str
    attribute: str
    summary: str


COMMANDS: dict[str, LazyCommand] = {
    "account": LazyCommand(
        "bbre_async.cli._account",
        "account_command",
        "Show the account and its usage statistics.",
    ),
    "balance": LazyCommand(
        "bbre_async.cli._account", "balance_command", "Show the account balance in USD."
    ),
    "demo": LazyCommand(
        "bbre_async.cli._demo",
        "demo_command",
        "Crawl synthetic URLs through a pool of sessions and show what the pool does.",
    ),
    "emulator": LazyCommand(
        "bbre_async.emulator._command",
        "emulator_command",
        "Serve the BBRE API locally: sessions, cap, clamp, billing, history, and faults.",
    ),
    "history": LazyCommand(
        "bbre_async.cli._history",
        "history_command",
        "Export usage history (tasks) as a table, CSV or JSON lines, newest first.",
    ),
    "sessions": LazyCommand(
        "bbre_async.cli._sessions",
        "sessions_group",
        "List, close and reap the account's remote sessions.",
    ),
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use (click's documented pattern)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is not None or cmd_name not in COMMANDS:
            return command
        return self.load(cmd_name)

    def load(self, name: str) -> click.Command:
        """Import subcommand ``name`` and keep it."""
        where = COMMANDS[name]
        command = getattr(importlib.import_module(where.module), where.attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{where.module}.{where.attribute} is not a click command")
        self.add_command(command, name)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = []
        for name in names:
            loaded = self.commands.get(name)
            if loaded is not None:
                if loaded.hidden:
                    continue
                rows.append((name, loaded.get_short_help_str(limit)))
            else:
                # click shortens a stand-in's help exactly as it would the command's own.
                stand_in = click.Command(name, help=COMMANDS[name].summary)
                rows.append((name, stand_in.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="bbre-async")
@click.option(
    "--api-key",
    envvar=BBRE_API_KEY_ENV,
    show_envvar=True,
    metavar="KEY",
    help="The account's API key (never printed).",
)
@click.option(
    "--base-url",
    envvar=BBRE_BASE_URL_ENV,
    show_envvar=True,
    metavar="URL",
    help="The API's base URL (default: the vendor's; an emulator's for tests).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    metavar="SECONDS",
    help="How long to wait for each API call [default: the client's per-call limits]. "
    "Every account command takes it too.",
)
@click.option(
    "-v",
    "--verbose",
    count=True,
    help="Log the library's INFO records to stderr; twice for DEBUG.",
)
@click.option(
    "--provider",
    type=click.Choice(PROVIDER_NAMES),
    default="bbre",
    show_default=True,
    help="Which session API the account commands talk to.",
)
@click.pass_context
def cli(
    ctx: click.Context,
    api_key: str | None,
    base_url: str | None,
    timeout: float | None,
    verbose: int,
    provider: str,
) -> None:
    """bbre-async: pooled, leak-free sessions for MyDisct Solver's BBRE API.

    Run `bbre-async demo` for a pooled crawl against the embedded emulator.
    """
    ctx.obj = CliState(
        api_key=api_key, base_url=base_url, provider=provider, verbose=verbose, timeout=timeout
    )
    configure_logging(ctx, verbose)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="bbre-async")
