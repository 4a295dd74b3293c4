"""The ``bbre-async`` command line."""

from bbre_async.cli._app import cli, main

__all__ = ["cli", "main"]
