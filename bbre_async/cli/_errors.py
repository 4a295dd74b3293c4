"""Failures as the command line reports them: one line on stderr, a hint that says what to do,
and an exit code scripts can branch on; never a traceback, never the key.

Exit codes are part of the interface:

====  ==================================================================================
 0    success
 1    the command ran but did not finish its job (a close failed, a reap not confirmed)
 2    usage: a bad option, no API key, an unavailable provider
 3    authentication: the key is missing, unknown, or its account may not act
 4    the API answered with an error (balance, rate limit, service fault, unknown session),
      or something that is not the API answered
 5    connection: the server could not be reached or did not answer in time
130   interrupted (Ctrl-C)
====  ==================================================================================
"""

from __future__ import annotations

import asyncio
import functools
import html
import os
import re
import sys
from collections.abc import Callable, Coroutine
from typing import IO, Any, ParamSpec, TypeVar

import click

from bbre_async._errors import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    BBREError,
    InsufficientBalanceError,
    InvalidResponseError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServiceError,
    SessionLimitError,
    SessionNotFoundError,
    TaskNotFoundError,
)
from bbre_async.cli._state import CliState

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_AUTH = 3
EXIT_API = 4
EXIT_CONNECTION = 5
EXIT_INTERRUPTED = 130

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")

#: Gateways answer these on the API's behalf while it restarts: worth another try.
_GATEWAY_STATUSES = frozenset({502, 503, 504})
_TITLE = re.compile(r"<title[^>]*>(.*?)</title\s*>", re.IGNORECASE | re.DOTALL)
_TITLE_CHARS = 80


class CliError(click.ClickException):
    """A failure reported as one line on stderr with a chosen exit code, never a traceback."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILURE) -> None:
        super().__init__(message)
        # click declares exit_code per class; one class with a per-error code keeps the
        # mapping from library errors to exit codes in one table (`_hint`).
        self.exit_code = exit_code  # type: ignore[misc]

    def format_message(self) -> str:
        return redact(self.message)

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"error: {self.format_message()}", file=file, err=file is None)


def redact(text: str) -> str:
    """Remove the current invocation's API key from ``text`` (belt and braces: the client
    never puts it in a message, and this keeps any other path from printing it)."""
    from bbre_async.cli._providers import registered_providers

    ctx = click.get_current_context(silent=True)
    state = ctx.find_object(CliState) if ctx is not None else None
    keys = [os.environ.get(env, "") for env in {p.api_key_env for p in registered_providers()}]
    if state is not None and state.api_key:
        keys.append(state.api_key)
    for key in keys:
        key = key.strip()
        if len(key) >= 4 and key in text:
            text = text.replace(key, "***")
    return text


# -- hints ----------------------------------------------------------------------------------


def page_title(error: BBREError) -> str | None:
    """The ``<title>`` of the HTML page a server answered with, when there was one."""
    for key in ("title", "page_title"):
        value = error.details.get(key)
        if isinstance(value, str) and value.strip():
            return _clean_title(value)
    for text in (error.details.get("body_start"), error.message):
        if isinstance(text, str):
            match = _TITLE.search(text)
            if match is not None and match.group(1).strip():
                return _clean_title(match.group(1))
    return None


def _clean_title(raw: str) -> str:
    title = " ".join(html.unescape(raw).split())
    return title if len(title) <= _TITLE_CHARS else title[: _TITLE_CHARS - 1] + "…"


def _not_the_api(error: BBREError) -> bool:
    """True when the answer did not come from the API: the API names every error with a code
    in its JSON envelope, so an HTTP error without one (an HTML page, a web server's 404 for
    a path it does not serve, a framework's JSON) is some other server's."""
    if isinstance(error, APIConnectionError) or error.status is None:
        return False
    return isinstance(error, InvalidResponseError) or (error.status >= 400 and not error.code)


def _unknown_endpoint(error: BBREError) -> bool:
    """True for a 404 that is not about a session or task id: the server has no such path,
    so the base URL (its path, usually) is not the API's."""
    return isinstance(error, NotFoundError) and not isinstance(
        error, SessionNotFoundError | TaskNotFoundError
    )


def _base_url_option(env_name: str) -> str:
    ctx = click.get_current_context(silent=True)
    state = ctx.find_object(CliState) if ctx is not None else None
    url = state.base_url if state is not None and state.base_url else os.environ.get(env_name)
    return f"--base-url ({url})" if url else "--base-url"


def _foreign_answer_hint(error: BBREError, api: str, env_name: str) -> str:
    title = page_title(error)
    page = f' (its page is titled "{title}")' if title else ""
    where = _base_url_option(env_name)
    if error.status in _GATEWAY_STATUSES:
        return (
            f"a gateway answered instead of the {api} API{page}; try again in a few seconds, "
            f"and if it persists check {where} or {env_name}"
        )
    return (
        f"the server does not look like the {api} API{page}; check {where} or {env_name}: "
        "it should be the API's base URL"
    )


def _hint(error: BBREError) -> tuple[str, int]:
    """What to do about ``error``, and the exit code it maps to."""
    from bbre_async.cli._providers import current_provider

    provider = current_provider()
    if _not_the_api(error):
        return _foreign_answer_hint(error, provider.title, provider.base_url_env), EXIT_API
    if _unknown_endpoint(error):
        where = _base_url_option(provider.base_url_env)
        return (
            f"the server has no such endpoint, so {where} does not look like the "
            f"{provider.title} API's base URL; check it or {provider.base_url_env}",
            EXIT_API,
        )
    if isinstance(error, AuthenticationError):
        return f"check --api-key or {provider.api_key_env}", EXIT_AUTH
    if isinstance(error, PermissionDeniedError):
        return "the account is suspended or inactive; check it in the dashboard", EXIT_AUTH
    if isinstance(error, APITimeoutError):
        return "the server did not answer in time; try again later or raise --timeout", (
            EXIT_CONNECTION
        )
    if isinstance(error, APIConnectionError):
        return f"check --base-url or {provider.base_url_env} and the network", EXIT_CONNECTION
    if isinstance(error, InsufficientBalanceError):
        return "top up the account balance", EXIT_API
    if isinstance(error, SessionLimitError):
        return "close a session first (bbre-async sessions reap)", EXIT_API
    if isinstance(error, RateLimitError):
        wait = f" {error.retry_after:g} s" if error.retry_after is not None else " a moment"
        return f"rate limited; wait{wait} and try again", EXIT_API
    if isinstance(error, ServiceError):
        return "a server fault; try again in a few seconds", EXIT_API
    if isinstance(error, InvalidResponseError):
        return f"the answer was not the API's JSON; check --base-url or {provider.base_url_env}", (
            EXIT_API
        )
    if isinstance(error, NotFoundError):
        return "no such session or task on this account; check the id", EXIT_API
    if isinstance(error, BadRequestError):
        return "the server rejected the request; check the options", EXIT_API
    return "run again with -vv to see each request and its answer", EXIT_API


def api_failure(action: str, error: BBREError) -> CliError:
    """One line: what failed, the server's message and code, and what to do."""
    hint, code = _hint(error)
    facts = [part for part in (error.code, f"HTTP {error.status}" if error.status else "") if part]
    where = f" ({', '.join(facts)})" if facts else ""
    message = error.message.rstrip(". ")
    return CliError(f"{action} failed: {message}{where}; {hint}", code)


def reports_errors(action: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Turn library errors raised by a command into one clear line and a distinct exit code.

    ``action`` names what failed ("listing sessions"). A ``BBREError`` (connection problems
    included) never shows a traceback; a reader of stdout that went away (``| head``) is a
    normal end (exit 0), as it is for ``cat`` and ``grep``.
    """

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return fn(*args, **kwargs)
            except BBREError as error:
                raise api_failure(action, error) from None
            except KeyboardInterrupt:
                raise CliError(f"{action} interrupted", EXIT_INTERRUPTED) from None
            except BrokenPipeError:
                silence_stdout()
                raise click.exceptions.Exit(EXIT_OK) from None

        return wrapper

    return decorate


def silence_stdout() -> None:
    """After the reader of stdout went away, point stdout at /dev/null so the interpreter's
    final flush does not raise a second BrokenPipeError."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass  # not a real file descriptor (a test runner's buffer): nothing to silence


def run(main: Coroutine[Any, Any, T]) -> T:
    """Run one command's coroutine to completion on a fresh event loop."""
    return asyncio.run(main)
