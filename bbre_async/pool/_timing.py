"""Waiting on the pool's injected clock: one place, so that no wait or bound falls beside it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol

import anyio

from bbre_async._clock import Clock, SystemClock


class Cancellable(Protocol):
    def cancel(self) -> object: ...


async def pause(clock: Clock, seconds: float) -> None:
    """Sleep ``seconds`` of ``clock``; a zero or negative wait is one loop turn, never a sleep
    that only a moving clock could end."""
    if seconds <= 0:
        await asyncio.sleep(0)
    else:
        await clock.sleep(seconds)


def move_on_after(clock: Clock, seconds: float) -> AbstractContextManager[anyio.CancelScope]:
    """A cancel scope that ends after ``seconds`` of ``clock``.

    On the real clock this is anyio's own deadline (no task, no cost); on any other clock a
    watchdog sleeps on it, so a test that moves time by hand also ends the bounds on remote
    calls, and a bound never ends early because the wall clock ran on."""
    if isinstance(clock, SystemClock):
        return anyio.move_on_after(seconds)
    return _watched(clock, seconds)


def fail_after(clock: Clock, seconds: float) -> AbstractContextManager[anyio.CancelScope]:
    """:func:`move_on_after`, raising ``TimeoutError`` when the bound ended the block."""
    if isinstance(clock, SystemClock):
        return anyio.fail_after(seconds)
    return _failing(clock, seconds)


def call_later(clock: Clock, seconds: float, callback: Callable[[], object]) -> Cancellable:
    """Call ``callback`` after ``seconds`` of ``clock`` unless cancelled first: on the real
    clock one loop timer, on any other a watchdog task sleeping on that clock."""
    if isinstance(clock, SystemClock):
        return asyncio.get_running_loop().call_later(seconds, callback)

    async def later() -> None:
        await pause(clock, seconds)
        callback()

    return asyncio.ensure_future(later())


@contextmanager
def _watched(clock: Clock, seconds: float) -> Iterator[anyio.CancelScope]:
    scope = anyio.CancelScope()

    async def watchdog() -> None:
        await pause(clock, seconds)
        scope.cancel()

    watching = asyncio.ensure_future(watchdog())
    try:
        with scope:
            yield scope
    finally:
        watching.cancel()


@contextmanager
def _failing(clock: Clock, seconds: float) -> Iterator[anyio.CancelScope]:
    with _watched(clock, seconds) as scope:
        yield scope
    if scope.cancelled_caught:
        raise TimeoutError(f"no answer within {seconds:g}s")
