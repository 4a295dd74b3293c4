"""The wait queue: first come, first served, every operation O(1) in the number of waiters.

Two FIFO queues share one arrival sequence: waiters content with the pool's default
``min_ttl``, and waiters that asked for more. A session goes to the earliest-arrived head it
satisfies, so a demanding waiter at the head never blocks the plain waiters behind it.
Waiting, handing off, cancelling and timing out each touch one dict entry.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Waiter(Generic[T]):
    __slots__ = ("future", "min_ttl", "seq")

    def __init__(self, future: asyncio.Future[T], min_ttl: float | None, seq: int) -> None:
        self.future = future
        self.min_ttl = min_ttl
        self.seq = seq


class WaiterQueue(Generic[T]):
    def __init__(self) -> None:
        self._plain: OrderedDict[int, Waiter[T]] = OrderedDict()
        self._demanding: OrderedDict[int, Waiter[T]] = OrderedDict()
        self._seq = itertools.count()

    def __len__(self) -> int:
        return len(self._plain) + len(self._demanding)

    def push(self, min_ttl: float | None) -> Waiter[T]:
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        waiter = Waiter(future, min_ttl, next(self._seq))
        (self._plain if min_ttl is None else self._demanding)[waiter.seq] = waiter
        return waiter

    def discard(self, waiter: Waiter[T]) -> None:
        queue = self._plain if waiter.min_ttl is None else self._demanding
        queue.pop(waiter.seq, None)

    def _head(self, queue: OrderedDict[int, Waiter[T]]) -> Waiter[T] | None:
        """The first waiter still waiting (a cancelled one may linger until its task runs)."""
        while queue:
            seq, waiter = next(iter(queue.items()))
            if not waiter.future.done():
                return waiter
            del queue[seq]
        return None

    def demanding_head(self) -> Waiter[T] | None:
        return self._head(self._demanding)

    def pop_for(self, accepts: Callable[[float | None], bool]) -> Waiter[T] | None:
        """The earliest-arrived head whose ``min_ttl`` ``accepts`` allows, taken off its queue."""
        best: Waiter[T] | None = None
        for queue in (self._plain, self._demanding):
            head = self._head(queue)
            if head is not None and (best is None or head.seq < best.seq) and accepts(head.min_ttl):
                best = head
        if best is not None:
            self.discard(best)
        return best

    def fail_all(self, error: BaseException) -> None:
        for queue in (self._plain, self._demanding):
            while queue:
                _, waiter = queue.popitem(last=False)
                if not waiter.future.done():
                    waiter.future.set_exception(error)

    def fail_oldest(self, error: BaseException) -> None:
        """Tell the longest waiter why nothing comes (a persistent create failure)."""
        heads = [h for h in (self._head(self._plain), self._head(self._demanding)) if h]
        if heads:
            oldest = min(heads, key=lambda w: w.seq)
            self.discard(oldest)
            if not oldest.future.done():
                oldest.future.set_exception(error)
