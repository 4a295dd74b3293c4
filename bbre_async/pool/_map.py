"""``pool.map`` and ``pool.run``: jobs over leased sessions that survive session loss.

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
import math
from collections import Counter, deque
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
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

import attrs

from bbre_async._errors import LeaseReleasedError, PoolClosedError, SessionGoneError
from bbre_async.pool._events import EventKind, PoolEvent
from bbre_async.pool._lease import PooledSession

if TYPE_CHECKING:
    from bbre_async.pool._pool import SessionPool

logger = logging.getLogger("bbre_async.pool")

ItemT = TypeVar("ItemT")
ResultT = TypeVar("ResultT")

Job = Callable[[PooledSession, ItemT], Awaitable[ResultT]]

DEFAULT_RETRIES = 2
# Cancelled workers give their leases back at once; this only bounds a job that ignores it.
CLEANUP_TIMEOUT = 10.0
POOL_DEFAULT: Any = object()  # acquire_timeout not given: the pool's own default


@attrs.define(slots=True, frozen=True)
class Outcome(Generic[ItemT, ResultT]):
    """What became of one item: its ``value`` or its ``error``, after ``attempts`` tries.

    ``index`` is the item's position in the input. ``result()`` returns the value or
    raises the error.
    """

    index: int
    item: ItemT
    value: ResultT | None = None
    error: Exception | None = None
    attempts: int = 1

    @property
    def ok(self) -> bool:
        return self.error is None

    def result(self) -> ResultT:
        if self.error is not None:
            raise self.error
        return cast(ResultT, self.value)


@attrs.define(slots=True)
class MapProgress:
    """Live counters of a running map, for progress displays (read, do not write).

    ``total`` is known when the input has a length. ``retried`` counts extra attempts made
    because a session was lost mid-job; ``errors`` counts failed outcomes by error class.
    """

    total: int | None = None
    started: int = 0
    done: int = 0
    failed: int = 0
    retried: int = 0
    errors: Counter[str] = attrs.field(factory=Counter)

    @property
    def finished(self) -> int:
        return self.done + self.failed

    @property
    def in_flight(self) -> int:
        return self.started - self.finished


ProgressHook = Callable[[MapProgress], None]


def _check_count(name: str, value: object, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")


def _check_seconds(name: str, value: object) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a number of seconds or None, got {value!r}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0 or None, got {value!r}")


def _status_of(value: object) -> int | None:
    status = getattr(value, "status_code", None)
    return status if isinstance(status, int) else None


class _Attempts:
    """The retry rule of one job, shared by ``map`` and ``run``."""

    __slots__ = ("acquire_timeout", "fn", "pool", "progress", "retries", "statuses", "timeout")

    def __init__(
        self,
        pool: SessionPool,
        fn: Job[Any, Any],
        *,
        retries: int,
        timeout: float | None,
        acquire_timeout: Any,
        progress: MapProgress,
    ) -> None:
        self.pool = pool
        self.fn = fn
        self.retries = retries
        self.timeout = timeout
        self.acquire_timeout = acquire_timeout
        self.progress = progress
        self.statuses = pool.config.retire_statuses

    def lost(self, error: Exception) -> bool:
        """True when the session, not the job, failed: the job deserves a fresh session."""
        if isinstance(error, SessionGoneError):
            return True
        if isinstance(error, PoolClosedError | LeaseReleasedError):
            # The pool took this session away (a renewal or retirement mid-job); while the
            # pool itself is open, another session will do.
            return not self.pool.closed
        return _status_of(getattr(error, "response", None)) in self.statuses

    async def outcome(self, index: int, item: Any) -> Outcome[Any, Any]:
        """Run the job for ``item`` until it has an outcome (within ``timeout`` if set)."""
        tries = [0]
        if self.timeout is None:
            return await self._attempt(index, item, tries)
        try:
            async with asyncio.timeout(self.timeout):
                return await self._attempt(index, item, tries)
        except TimeoutError as error:  # the job's own errors became outcomes: this is ours
            limit = TimeoutError(f"item {index} had no outcome within {self.timeout}s")
            limit.__cause__ = error
            return Outcome(index, item, None, limit, tries[0])

    async def _attempt(self, index: int, item: Any, tries: list[int]) -> Outcome[Any, Any]:
        pool, progress = self.pool, self.progress
        while True:
            tries[0] += 1
            if tries[0] > 1:
                progress.retried += 1
            try:
                if self.acquire_timeout is POOL_DEFAULT:
                    lease = await pool.acquire()
                else:
                    lease = await pool.acquire(timeout=self.acquire_timeout)
            except Exception as error:
                return Outcome(index, item, None, error, tries[0])
            try:
                value = await self.fn(lease, item)
            except Exception as error:
                retry = self.lost(error)
                if retry and not lease.released:
                    lease.retire(f"lost mid-job: {type(error).__name__}")
                await lease.release()
                if retry and tries[0] <= self.retries:
                    continue
                return Outcome(index, item, None, error, tries[0])
            except BaseException:
                await lease.release()
                raise
            blocked = _status_of(value) in self.statuses
            if blocked and not lease.released:
                lease.retire(f"target answered {_status_of(value)}")
            await lease.release()
            if blocked and tries[0] <= self.retries:
                continue
            return Outcome(index, item, value, None, tries[0])


class _Shared:
    """What the workers and the consumer share. Never the iterator itself: a dropped
    iterator must be collectable while its workers still run."""

    __slots__ = (
        "async_items",
        "closed_by",
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
        "sync_items",
        "wakeup",
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
        self.window = asyncio.Semaphore(window)
        self.ordered = ordered
        self.ready: deque[Outcome[Any, Any]] = deque()
        self.pending: dict[int, Outcome[Any, Any]] = {}
        self.wakeup = asyncio.Event()
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

    def deliver(self, outcome: Outcome[Any, Any]) -> None:
        if self.ordered:
            self.pending[outcome.index] = outcome
        else:
            self.ready.append(outcome)
        self.wakeup.set()

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
    number: int, shared: _Shared, attempts: _Attempts, hook: ProgressHook | None
) -> None:
    progress = attempts.progress
    try:
        while not shared.finished:
            if number >= shared.limit:
                await shared.gate.wait()
                continue
            await shared.window.acquire()
            pulled = None if shared.finished else await shared.pull()
            if pulled is None:
                shared.window.release()
                shared.wake_gated()  # workers above the limit: nothing left to wait for
                return
            progress.started += 1
            outcome = await attempts.outcome(*pulled)
            if outcome.error is None:
                progress.done += 1
            else:
                progress.failed += 1
                progress.errors[type(outcome.error).__name__] += 1
            if isinstance(outcome.error, PoolClosedError) and attempts.pool.closed:
                shared.closed_by = outcome.error
                shared.wake_gated()
            shared.deliver(outcome)
            if hook is not None:
                try:
                    hook(progress)
                except Exception:
                    logger.exception("map progress hook %r failed", hook)
    finally:
        shared.running -= 1
        shared.wakeup.set()


def _note_crash(shared: _Shared, task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None and shared.crash is None:
        shared.crash = task.exception()
        shared.wakeup.set()


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
            _check_count("concurrency", concurrency, 1)
        _check_count("retries", retries, 0)
        _check_seconds("timeout", timeout)
        if acquire_timeout is not POOL_DEFAULT:
            _check_seconds("acquire_timeout", acquire_timeout)
        if progress is not None and not callable(progress):
            raise TypeError(f"progress must be a callable taking MapProgress, got {progress!r}")
        self.progress = MapProgress(total=_length(items))
        self._pool = pool
        self._items = items
        self._concurrency = concurrency
        self._ordered = bool(ordered)
        self._hook = progress
        self._attempts = _Attempts(
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

    async def __anext__(self) -> Outcome[ItemT, ResultT]:
        return await self._outcomes.__anext__()

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
    attempts: _Attempts,
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
                    shared.window.release()
                    yield outcome
                    continue
            elif shared.ready:
                shared.window.release()
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
            shared.wakeup.clear()
            await shared.wakeup.wait()
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


async def run_job(
    pool: SessionPool,
    fn: Callable[..., Awaitable[ResultT]],
    args: tuple[Any, ...],
    *,
    retries: int = DEFAULT_RETRIES,
    timeout: float | None = None,
    acquire_timeout: float | None = POOL_DEFAULT,
) -> ResultT:
    """``pool.run``: ``fn(session, *args)`` with ``map``'s retry rule; its value or its error."""
    if not callable(fn):
        raise TypeError(f"fn must be an async callable taking (session, ...), got {fn!r}")
    _check_count("retries", retries, 0)
    _check_seconds("timeout", timeout)
    if acquire_timeout is not POOL_DEFAULT:
        _check_seconds("acquire_timeout", acquire_timeout)

    async def job(session: PooledSession, _item: None) -> ResultT:
        return await fn(session, *args)

    attempts = _Attempts(
        pool,
        job,
        retries=retries,
        timeout=timeout,
        acquire_timeout=acquire_timeout,
        progress=MapProgress(total=1),
    )
    outcome = await attempts.outcome(0, None)
    if outcome.error is not None:
        await asyncio.sleep(0)  # a failing coroutine is a checkpoint
    return cast(ResultT, outcome.result())
