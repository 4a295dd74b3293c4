"""Waiting on the pool's injected clock: one place, so that no wait or bound falls beside it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import TypeVar

import anyio

from bbre_async._clock import Clock, SystemClock

T = TypeVar("T")


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


async def within(clock: Clock, seconds: float, work: Awaitable[T]) -> T:
    """Await ``work``, raising ``TimeoutError`` after ``seconds`` of ``clock``; on the real
    clock one stdlib timer, light enough for every request."""
    if isinstance(clock, SystemClock):
        async with asyncio.timeout(seconds):
            return await work
    with _failing(clock, seconds):
        return await work
    raise AssertionError("unreachable: the bound raises or the work returns")  # pragma: no cover


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
