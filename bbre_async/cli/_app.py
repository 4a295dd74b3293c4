"""The root command group; each subcommand lives in a module of its own."""

from __future__ import annotations

import click

from bbre_async._version import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="bbre-async")
def cli() -> None:
    """bbre-async: pooled, leak-free sessions for MyDisct Solver's BBRE API.

    Run `bbre-async demo` for a pooled crawl against the embedded emulator.
    """


def _register() -> None:
    from bbre_async.emulator._command import emulator_command

    cli.add_command(emulator_command, name="emulator")


def main() -> None:
    """Console-script entry point."""
    _register()
    cli(prog_name="bbre-async")
