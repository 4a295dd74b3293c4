"""Cleanup calls to Redis (give a slot back, leave the queue): shielded from cancellation,
bounded, their failures logged and never raised. Whatever a failed cleanup leaves behind
lapses on its own TTL, so a cleanup never makes a caller wait on a Redis that is down."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio

from bbre_async.coordination._base import CoordinatorUnavailableError, SlotTimeoutError
from bbre_async.coordination._redis_keys import logger

#: Runs one script: ``(what, deadline, script, *args)``, as ``RedisSlotSemaphore._call``.
ScriptCall = Callable[..., Awaitable[Any]]


class CleanupCalls:
    """Cleanup calls in tasks of their own, tracked until they end."""

    def __init__(self, call: ScriptCall, *, op_timeout: float, lease_ttl: float) -> None:
        self._call = call
        self._op_timeout = op_timeout
        self._lease_ttl = lease_ttl
        self._tasks: set[asyncio.Task[None]] = set()

    async def run(
        self, what: str, script: Any, *extra: str | int, timeout: float | None = None
    ) -> None:
        """Run one cleanup call and wait for it.

        The call runs in a task of its own: an anyio shield stops scope cancellation, and
        ``asyncio.shield`` keeps the call going if the caller's task is cancelled natively
        (``Task.cancel()``) a second time. The caller's cancellation still propagates.
        """
        task = self.start(what, script, *extra, timeout=timeout)
        with anyio.CancelScope(shield=True):
            await asyncio.shield(task)

    def start(
        self, what: str, script: Any, *extra: str | int, timeout: float | None = None
    ) -> asyncio.Task[None]:
        """Start one cleanup call without waiting for it."""
        limit = self._op_timeout if timeout is None else timeout

        async def attempt() -> None:
            try:
                await self._call(what, time.monotonic() + limit, script, *extra)
            except (CoordinatorUnavailableError, SlotTimeoutError) as exc:
                logger.warning(
                    "Redis %s failed during cleanup (%s); what it held lapses within %.3gs",
                    what,
                    exc,
                    self._lease_ttl,
                )

        task = asyncio.get_running_loop().create_task(attempt())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def wait(self) -> None:
        """Let the calls still running end, at most ``op_timeout`` (for close)."""
        if self._tasks:
            with anyio.CancelScope(shield=True):
                await asyncio.wait(set(self._tasks), timeout=self._op_timeout)
