"""``Deadlines``: the bounds on a client's call attempts, all kept by one loop timer.

A loop timer per attempt (``loop.call_at``, then its cancel) cost about as much CPU as the
rest of the client's own work on a call: asyncio's timer handles, their heap and its
clean-up are Python code. Here an attempt puts its deadline in a set and takes it out when it
ends. One loop timer stays armed at the earliest deadline that may still matter; when it
fires, it cancels the attempts whose deadline has passed and re-arms for the earliest left.
Each attempt is still cancelled at its own deadline, as a timer of its own would cancel it.
"""

from __future__ import annotations

import asyncio
import math


class Deadline:
    """One attempt's bound: cancels ``task`` at loop time ``when`` unless stopped first."""

    __slots__ = ("_cancelling", "_expired", "_owner", "task", "when")

    def __init__(self, owner: Deadlines, task: asyncio.Task[object], when: float) -> None:
        self._owner = owner
        self.task = task
        self.when = when
        self._cancelling = task.cancelling()
        self._expired = False

    def expire(self) -> None:
        self._expired = True
        self.task.cancel()

    def stop(self) -> bool:
        """Disarm. True when the deadline passed and no other cancellation is pending; its
        own cancellation request is withdrawn (once, however often this is called)."""
        self._owner.active.discard(self)
        if not self._expired:
            return False
        self._expired = False
        return self.task.uncancel() <= self._cancelling


class Deadlines:
    """The deadlines of one client's attempts in flight (on the loop the client runs in)."""

    def __init__(self) -> None:
        self.active: set[Deadline] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = math.inf

    def watch(
        self, loop: asyncio.AbstractEventLoop, task: asyncio.Task[object], when: float
    ) -> Deadline:
        """Cancel ``task`` at loop time ``when``; ``stop()`` the result once the work ends."""
        deadline = Deadline(self, task, when)
        self.active.add(deadline)
        if when < self._timer_at or loop is not self._loop:
            self._arm(loop, when)
        return deadline

    def _arm(self, loop: asyncio.AbstractEventLoop, when: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._loop = loop
        self._timer_at = when
        self._timer = loop.call_at(when, self._fire)

    def _fire(self) -> None:
        loop = self._loop
        self._timer = None
        self._timer_at = math.inf
        if loop is None:
            return
        now = loop.time()
        earliest = math.inf
        for deadline in list(self.active):
            if deadline.when <= now:
                self.active.discard(deadline)
                deadline.expire()
            elif deadline.when < earliest:
                earliest = deadline.when
        if earliest < math.inf:
            self._arm(loop, earliest)
