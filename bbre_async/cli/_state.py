"""The root group's options and the logging they switch on.

This module is on the path of ``bbre-async --help`` and ``--version``, so it imports only
click and the standard library: the client, rich and the pool load when a command runs.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from bbre_async.cli._providers import ApiClient, Provider

#: The BBRE client's environment variables (``bbre_async._client`` reads the same names;
#: spelled out here so that ``--help`` does not import the client).
BBRE_API_KEY_ENV = "BBRE_API_KEY"
BBRE_BASE_URL_ENV = "BBRE_BASE_URL"

#: Names ``--provider`` accepts; a name without a registered provider is reported as not
#: available rather than hidden, so the option's help stays stable across versions.
PROVIDER_NAMES = ("bbre", "orchestrator")

FC = TypeVar("FC", bound=Callable[..., Any])


class CliState:
    """The root group's options, handed to every command through ``ctx.obj``."""

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        provider: str = "bbre",
        verbose: int = 0,
        timeout: float | None = None,
    ) -> None:
        self.api_key = api_key
        self.base_url = base_url
        self.provider = provider
        self.verbose = verbose
        #: Seconds to wait for each API call; None keeps the client's own defaults.
        self.timeout = timeout

    def __repr__(self) -> str:  # never the key
        return (
            f"CliState(base_url={self.base_url!r}, provider={self.provider!r}, "
            f"verbose={self.verbose}, timeout={self.timeout!r})"
        )

    @property
    def provider_info(self) -> Provider:
        from bbre_async.cli._providers import get_provider

        return get_provider(self.provider)

    def client(self) -> ApiClient:
        """A client for the chosen provider; call it inside the event loop that uses it.

        A missing key or a malformed base URL becomes a usage error (exit 2) whose text names
        the option and the provider's environment variable, and never the key. A command the
        provider has no counterpart for is a usage error too.
        """
        from bbre_async.cli._providers import build_client

        return build_client(self)


pass_state = click.make_pass_decorator(CliState, ensure=True)


def _set_timeout(ctx: click.Context, param: click.Parameter, value: float | None) -> None:
    if value is not None:
        ctx.ensure_object(CliState).timeout = value


def timeout_option(fn: FC) -> FC:
    """``--timeout SECONDS`` on a command, the same as the root group's option (either place
    works; the command's wins)."""
    option = click.option(
        "--timeout",
        type=click.FloatRange(min=0, min_open=True),
        metavar="SECONDS",
        expose_value=False,
        is_eager=True,
        callback=_set_timeout,
        help="How long to wait for each API call [default: the client's per-call limits].",
    )
    return option(fn)


# -- logging --------------------------------------------------------------------------------


class _StderrHandler(logging.Handler):
    """Writes to whatever ``sys.stderr`` is at the time (a test runner swaps it), redacted."""

    def emit(self, record: logging.LogRecord) -> None:
        from bbre_async.cli._errors import redact

        try:
            sys.stderr.write(redact(self.format(record)) + "\n")
        except Exception:
            self.handleError(record)


def configure_logging(ctx: click.Context, verbose: int) -> None:
    """``-v`` shows the library's INFO records on stderr, ``-vv`` its DEBUG records; the
    handler is removed when the command ends, so repeated invocations do not stack up."""
    if verbose <= 0:
        return
    logger = logging.getLogger("bbre_async")
    handler = _StderrHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO if verbose == 1 else logging.DEBUG)

    def undo() -> None:
        logger.removeHandler(handler)
        logger.setLevel(previous)

    ctx.call_on_close(undo)
