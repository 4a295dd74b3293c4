"""``AttemptTimer``: the one timer that bounds one attempt of an API call.

It does what ``asyncio.timeout_at`` does (cancel the task at the deadline, tell that
cancellation apart from any other) without the two coroutines that context manager creates
and awaits per use, which the request path paid on every call.
"""

from __future__ import annotations

import asyncio


class AttemptTimer:
    """Cancels ``task`` at ``when`` (loop time); ``stop()`` disarms it and says whether the
    task's cancellation was this timer's alone (so the caller raises a timeout, not
    ``CancelledError``). Call ``stop()`` once the awaited work ends, however it ends."""

    __slots__ = ("_cancelling", "_expired", "_handle", "_task")

    def __init__(self, loop: asyncio.AbstractEventLoop, when: float, task: asyncio.Task[object]):
        self._task = task
        self._cancelling = task.cancelling()
        self._expired = False
        self._handle = loop.call_at(when, self._expire)

    def _expire(self) -> None:
        self._expired = True
        self._task.cancel()

    def stop(self) -> bool:
        """Disarm. True when the timer fired and no other cancellation is pending; the
        timer's own cancellation request is withdrawn (once, however often this is called)."""
        self._handle.cancel()
        if not self._expired:
            return False
        self._expired = False
        return self._task.uncancel() <= self._cancelling
