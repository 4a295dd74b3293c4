"""The root command group; each subcommand lives in a module of its own."""

from __future__ import annotations

import click

from bbre_async._client import API_KEY_ENV, BASE_URL_ENV
from bbre_async._version import __version__
from bbre_async.cli._common import PROVIDER_NAMES, CliState, configure_logging


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="bbre-async")
@click.option(
    "--api-key",
    envvar=API_KEY_ENV,
    show_envvar=True,
    metavar="KEY",
    help="The account's API key (never printed).",
)
@click.option(
    "--base-url",
    envvar=BASE_URL_ENV,
    show_envvar=True,
    metavar="URL",
    help="The API's base URL (default: the vendor's; an emulator's for tests).",
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
    ctx: click.Context, api_key: str | None, base_url: str | None, verbose: int, provider: str
) -> None:
    """bbre-async: pooled, leak-free sessions for MyDisct Solver's BBRE API.

    Run `bbre-async demo` for a pooled crawl against the embedded emulator.
    """
    ctx.obj = CliState(api_key=api_key, base_url=base_url, provider=provider, verbose=verbose)
    configure_logging(ctx, verbose)


def _register() -> None:
    from bbre_async.cli._account import account_command, balance_command
    from bbre_async.cli._demo import demo_command
    from bbre_async.cli._history import history_command
    from bbre_async.cli._sessions import sessions_group
    from bbre_async.emulator._command import emulator_command

    cli.add_command(demo_command, name="demo")
    cli.add_command(emulator_command, name="emulator")
    cli.add_command(sessions_group, name="sessions")
    cli.add_command(balance_command, name="balance")
    cli.add_command(account_command, name="account")
    cli.add_command(history_command, name="history")


def main() -> None:
    """Console-script entry point."""
    _register()
    cli(prog_name="bbre-async")
