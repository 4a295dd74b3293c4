"""Waking the waiters of one semaphore instance without polling.

Every script that frees capacity pushes the ids of the waiters now at the head of the line to
a per-instance Redis list; one task per instance blocks on that list with ``BLPOP`` (one
connection however many tasks wait) and sets the events of exactly those waiters. A list,
unlike pub/sub, keeps a wake-up that arrives before the waiter blocks.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

import anyio
from redis.asyncio import Redis

from bbre_async.coordination import _redis_scripts as scripts
from bbre_async.coordination._base import CoordinatorUnavailableError
from bbre_async.coordination._redis_keys import bounded, logger


class WakeUps:
    """The waiters of one semaphore instance and the task that wakes them.

    ``block`` is how long one ``BLPOP`` blocks; ``recheck`` how long to pause after Redis
    failed (every waiter is woken then, to see the failure for itself).
    """

    def __init__(self, client: Redis, *, block: float, op_timeout: float, recheck: float) -> None:
        self._client = client
        self._block = block
        self._op_timeout = op_timeout
        self._recheck = recheck
        self._waiters: dict[str, asyncio.Event] = {}
        self._present = asyncio.Event()
        self._none = asyncio.Event()
        self._none.set()
        self._task: asyncio.Task[None] | None = None

    def add(self, waiter_id: str, key: str) -> asyncio.Event:
        """Register a waiter; its event is set when a slot may be free for it. ``key`` is
        the instance's wake-up list (the task is started on first use)."""
        event = asyncio.Event()
        self._waiters[waiter_id] = event
        self._present.set()
        self._none.clear()
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(
                self._loop(key), name=f"bbre_async redis wake-ups {key}"
            )
        return event

    def remove(self, waiter_id: str) -> None:
        self._waiters.pop(waiter_id, None)
        if not self._waiters:
            self._present.clear()
            self._none.set()

    @property
    def in_use(self) -> bool:
        return bool(self._waiters) or self._task is not None

    def wake_all(self) -> None:
        self._wake(list(self._waiters))

    async def aclose(self, *, timeout: float) -> None:
        """Wake every waiter (to fail), stop the task, and give the waiters ``timeout``
        seconds to leave the line while the connections are still open."""
        self.wake_all()
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with anyio.CancelScope(shield=True):
                await asyncio.wait({task}, timeout=timeout)
            if task.done() and not task.cancelled() and task.exception() is not None:
                logger.error("the wake-up task had failed", exc_info=task.exception())
        with anyio.move_on_after(timeout, shield=True):
            await self._none.wait()

    def _wake(self, waiter_ids: Iterable[str]) -> None:
        for waiter_id in waiter_ids:
            event = self._waiters.get(waiter_id)
            if event is not None:
                event.set()

    async def _loop(self, key: str) -> None:
        """Block on the wake-up list and wake the waiters named in it."""
        client = self._client
        while True:
            await self._present.wait()
            try:
                reply = await bounded(
                    lambda: client.blpop([key], timeout=self._block),
                    timeout=self._block + self._op_timeout,
                    what="wait",
                )
                if reply is None:
                    continue
                woken = [str(reply[1])]
                more = await bounded(
                    lambda: client.lpop(key, scripts.WAKE_LIST_CAP),
                    timeout=self._op_timeout,
                    what="wait",
                )
                if more:
                    woken.extend(str(item) for item in more)
                self._wake(woken)
            except CoordinatorUnavailableError as exc:
                # Let every waiter re-check now: each sees the failure for itself and fails
                # closed, or succeeds if Redis is back.
                logger.debug("wake-up wait failed: %s", exc)
                self.wake_all()
                await anyio.sleep(self._recheck)
