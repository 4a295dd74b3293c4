"""``pool.map``: jobs over leased sessions that survive session loss, one outcome each.

A job is ``fn(session, item)``. The engine runs at most ``concurrency`` jobs at once (by
default the pool's usable capacity, so no job waits in the acquire queue merely for standing
in line), retries a job on a fresh session when its session was lost under it, and yields one
``Outcome`` per item: its value or its error, never aborting the rest.

Memory stays bounded whatever the input: workers take an item only while fewer than
``2 * concurrency`` items are taken and not yet handed to the consumer, so a slow consumer
(or, in input order, a slow head item) pauses the input instead of buffering it.

The workers are tasks this iterator owns. They hold no reference to the iterator, so a
consumer that stops iterating and drops it (or leaves ``async with``, or is cancelled) has
every worker cancelled and every lease given back.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
)
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, cast

from bbre_async._errors import PoolClosedError
from bbre_async.pool._events import EventKind, PoolEvent
from bbre_async.pool._job import (
    DEFAULT_RETRIES,
    POOL_DEFAULT,
    Job,
    JobAttempts,
    check_count,
    check_seconds,
)
from bbre_async.pool._outcome import ItemT, MapProgress, Outcome, ProgressHook, ResultT

if TYPE_CHECKING:
    from bbre_async.pool._pool import SessionPool

logger = logging.getLogger("bbre_async.pool")

# Cancelled workers give their leases back at once; this only bounds a job that ignores it.
CLEANUP_TIMEOUT = 10.0


class _Shared:
    """What the workers and the consumer share. Never the iterator itself: a dropped
    iterator must be collectable while its workers still run."""

    __slots__ = (
        "async_items",
        "closed_by",
        "consumer",
        "crash",
        "exhausted",
        "gate",
        "limit",
        "next_index",
        "ordered",
        "pending",
        "pull_lock",
        "ready",
        "running",
        "space",
        "sync_items",
        "taken",
        "window",
    )

    def __init__(
        self,
        items: Iterable[Any] | AsyncIterable[Any],
        *,
        ordered: bool,
        window: int,
        limit: int,
    ) -> None:
        self.sync_items: Iterator[Any] | None = None
        self.async_items: AsyncIterator[Any] | None = None
        if isinstance(items, AsyncIterable):
            self.async_items = aiter(items)
        else:
            self.sync_items = iter(items)
        self.pull_lock = asyncio.Lock()
        self.next_index = 0
        self.exhausted = False
        # At most ``window`` items taken and not yet handed to the consumer (a plain count:
        # the hot path is one comparison, a semaphore costs more per item).
        self.window = window
        self.taken = 0
        self.space = asyncio.Event()
        self.ordered = ordered
        self.ready: deque[Outcome[Any, Any]] = deque()
        self.pending: dict[int, Outcome[Any, Any]] = {}
        self.consumer: asyncio.Future[None] | None = None  # set while the consumer waits
        self.running = 0
        self.crash: BaseException | None = None
        self.closed_by: PoolClosedError | None = None  # the pool closed: take no more items
        self.limit = limit  # workers with an index at or above it wait (usable capacity)
        self.gate = asyncio.Event()

    async def pull(self) -> tuple[int, Any] | None:
        """The next (index, item), or None once the input is exhausted."""
        if self.exhausted:
            return None
        if self.sync_items is not None:
            try:
                item = next(self.sync_items)
            except StopIteration:
                self.exhausted = True
                return None
        else:
            async with self.pull_lock:
                if self.exhausted:
                    return None
                assert self.async_items is not None
                try:
                    item = await anext(self.async_items)
                except StopAsyncIteration:
                    self.exhausted = True
                    return None
        index = self.next_index
        self.next_index += 1
        return index, item

    async def take_slot(self) -> None:
        while self.taken >= self.window:
            self.space.clear()
            await self.space.wait()
        self.taken += 1

    def give_slot(self) -> None:
        self.taken -= 1
        if self.taken == self.window - 1:
            self.space.set()

    def deliver(self, outcome: Outcome[Any, Any]) -> None:
        if self.ordered:
            self.pending[outcome.index] = outcome
        else:
            self.ready.append(outcome)
        self.wake_consumer()

    def wake_consumer(self) -> None:
        consumer = self.consumer
        if consumer is not None and not consumer.done():
            consumer.set_result(None)

    async def wait_for_outcomes(self) -> None:
        self.consumer = asyncio.get_running_loop().create_future()
        try:
            await self.consumer
        finally:
            self.consumer = None

    def set_limit(self, limit: int) -> None:
        if limit != self.limit:
            self.limit = limit
            self.wake_gated()

    def wake_gated(self) -> None:
        """Let workers waiting above the limit look again (the limit or the input changed)."""
        self.gate.set()
        self.gate = asyncio.Event()

    @property
    def finished(self) -> bool:
        """No item will be taken any more."""
        return self.exhausted or self.closed_by is not None


async def _worker(
    number: int, shared: _Shared, attempts: JobAttempts, hook: ProgressHook | None
) -> None:
    progress = attempts.progress
    try:
        while not shared.finished:
            if number >= shared.limit:
                await shared.gate.wait()
                continue
            await shared.take_slot()
            pulled = None if shared.finished else await shared.pull()
            if pulled is None:
                shared.give_slot()
                shared.wake_gated()  # workers above the limit: nothing left to wait for
                return
            progress.started += 1
            outcome = await attempts.outcome(*pulled)
            error = outcome.error
            if error is None:
                progress.done += 1
            else:
                progress.failed += 1
                progress.errors[type(error).__name__] += 1
                if isinstance(error, PoolClosedError) and attempts.pool.closed:
                    shared.closed_by = error
                    shared.wake_gated()
            shared.deliver(outcome)
            if hook is not None:
                try:
                    hook(progress)
                except Exception:
                    logger.exception("map progress hook %r failed", hook)
    finally:
        shared.running -= 1
        shared.wake_consumer()


def _note_crash(shared: _Shared, task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None and shared.crash is None:
        shared.crash = task.exception()
        shared.wake_consumer()


class MapRun(Generic[ItemT, ResultT]):
    """A running ``pool.map``: iterate it for outcomes.

    Use ``async with pool.map(...) as outcomes: async for outcome in outcomes: ...`` when
    you may stop early: leaving the block cancels the remaining work at once and gives
    every session back. A plain ``async for`` works too; breaking out of it cancels the work
    when the iterator is dropped. ``progress`` holds live counters.

    When the pool closes (``aclose``, a signal) before the input is exhausted, the items
    already taken get their outcomes (``PoolClosedError`` for those that could not start),
    then the iteration raises ``PoolClosedError``: a map over an endless source ends with
    its pool instead of failing item after item.
    """

    def __init__(
        self,
        pool: SessionPool,
        fn: Job[ItemT, ResultT],
        items: Iterable[ItemT] | AsyncIterable[ItemT],
        *,
        concurrency: int | None = None,
        ordered: bool = False,
        retries: int = DEFAULT_RETRIES,
        timeout: float | None = None,
        acquire_timeout: float | None = POOL_DEFAULT,
        progress: ProgressHook | None = None,
    ) -> None:
        if not callable(fn):
            raise TypeError(f"fn must be an async callable taking (session, item), got {fn!r}")
        if not isinstance(items, Iterable | AsyncIterable) or isinstance(items, str | bytes):
            raise TypeError(f"items must be an iterable or an async iterable, got {items!r}")
        if concurrency is not None:
            check_count("concurrency", concurrency, 1)
        check_count("retries", retries, 0)
        check_seconds("timeout", timeout)
        if acquire_timeout is not POOL_DEFAULT:
            check_seconds("acquire_timeout", acquire_timeout)
        if progress is not None and not callable(progress):
            raise TypeError(f"progress must be a callable taking MapProgress, got {progress!r}")
        self.progress = MapProgress(total=_length(items))
        self._pool = pool
        self._items = items
        self._concurrency = concurrency
        self._ordered = bool(ordered)
        self._hook = progress
        self._attempts = JobAttempts(
            pool,
            cast(Job[Any, Any], fn),
            retries=retries,
            timeout=timeout,
            acquire_timeout=acquire_timeout,
            progress=self.progress,
        )
        self._outcomes: AsyncGenerator[Outcome[ItemT, ResultT], None] = self._start()

    def __aiter__(self) -> MapRun[ItemT, ResultT]:
        return self

    def __anext__(self) -> Awaitable[Outcome[ItemT, ResultT]]:
        return self._outcomes.__anext__()

    async def aclose(self) -> None:
        """Stop: cancel the jobs in flight and give their sessions back."""
        await self._outcomes.aclose()

    async def __aenter__(self) -> MapRun[ItemT, ResultT]:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def collect(self) -> list[Outcome[ItemT, ResultT]]:
        """Every outcome, in the order this map yields them (bounded inputs only)."""
        return [outcome async for outcome in self]

    def _start(self) -> AsyncGenerator[Outcome[ItemT, ResultT], None]:
        return _outcomes(
            self._pool, self._items, self._concurrency, self._ordered, self._attempts, self._hook
        )


def _workers_wanted(pool: SessionPool, concurrency: int | None) -> tuple[int, int, bool]:
    """(workers to start, how many may run now, whether to follow capacity changes)."""
    if concurrency is not None:
        return concurrency, concurrency, False
    # Usable capacity: what the pool may hold now, below max_size while others hold slots
    # of the account. Workers above it wait for it to grow back.
    capacity = max(1, pool.stats().capacity)
    return max(capacity, pool.config.max_size), capacity, True


async def _outcomes(
    pool: SessionPool,
    items: Iterable[Any] | AsyncIterable[Any],
    concurrency: int | None,
    ordered: bool,
    attempts: JobAttempts,
    hook: ProgressHook | None,
) -> AsyncGenerator[Outcome[Any, Any], None]:
    """The consumer side. It references no ``MapRun``, so dropping one finalizes this."""
    workers, limit, adaptive = _workers_wanted(pool, concurrency)
    shared = _Shared(items, ordered=ordered, window=2 * max(workers, limit), limit=limit)
    remove_listener = pool.add_listener(_capacity_listener(pool, shared)) if adaptive else None
    tasks: list[asyncio.Task[None]] = []
    for number in range(workers):
        task = asyncio.create_task(_worker(number, shared, attempts, hook))
        task.add_done_callback(lambda t: _note_crash(shared, t))
        tasks.append(task)
    shared.running = workers
    try:
        next_index = 0
        while True:
            if shared.crash is not None:
                raise shared.crash
            if shared.ordered:
                outcome = shared.pending.pop(next_index, None)
                if outcome is not None:
                    next_index += 1
                    shared.give_slot()
                    yield outcome
                    continue
            elif shared.ready:
                shared.give_slot()
                yield shared.ready.popleft()
                continue
            if shared.running == 0:
                if shared.crash is not None:
                    raise shared.crash
                if shared.closed_by is not None and not shared.exhausted:
                    raise PoolClosedError(
                        f"the pool closed after {shared.next_index} items; the rest of the "
                        "input was not taken"
                    ) from shared.closed_by
                return
            await shared.wait_for_outcomes()
    finally:
        if remove_listener is not None:
            remove_listener()
        await _stop(tasks)


def _capacity_listener(pool: SessionPool, shared: _Shared) -> Callable[[PoolEvent], None]:
    def on_event(event: PoolEvent) -> None:
        if event.kind is EventKind.CAPACITY:
            shared.set_limit(max(1, pool.stats().capacity))

    return on_event


async def _stop(tasks: list[asyncio.Task[None]]) -> None:
    """Cancel the workers and wait (bounded) until each has given its lease back."""
    live = [task for task in tasks if not task.done()]
    for task in live:
        task.cancel()
    if live:
        _done, stuck = await asyncio.wait(live, timeout=CLEANUP_TIMEOUT)
        if stuck:
            logger.warning("%d map jobs ignored cancellation for %ss", len(stuck), CLEANUP_TIMEOUT)


def _length(items: object) -> int | None:
    try:
        return len(items)  # type: ignore[arg-type]
    except TypeError:
        return None
