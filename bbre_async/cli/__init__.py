"""The ``bbre-async`` command line. It needs the ``cli`` extra (click and rich):
``pip install 'bbre-async[cli]'``; the library itself does not."""

from __future__ import annotations

import sys
from importlib.util import find_spec
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bbre_async.cli._app import cli

__all__ = ["cli", "main"]

#: The command line's own dependencies (the ``cli`` extra).
CLI_REQUIREMENTS = ("click", "rich")


def missing_requirements() -> list[str]:
    """The command line's dependencies that are not installed (or are blocked: a ``None``
    entry in ``sys.modules``)."""
    return [name for name in CLI_REQUIREMENTS if not _installed(name)]


def _installed(name: str) -> bool:
    if name in sys.modules:
        return sys.modules[name] is not None
    return find_spec(name) is not None


def main() -> None:
    """Console-script entry point: says how to install the ``cli`` extra when it is missing
    (exit 2) instead of failing with an ImportError."""
    missing = missing_requirements()
    if missing:
        sys.stderr.write(
            f"error: the bbre-async command line needs {' and '.join(missing)}, which "
            "the library alone does not install; run: pip install 'bbre-async[cli]'\n"
        )
        raise SystemExit(2)
    from bbre_async.cli._app import main as run_cli

    run_cli()


def __getattr__(name: str) -> object:
    if name == "cli":
        from bbre_async.cli._app import cli

        return cli
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
