"""One job over a leased session, and the retry rule ``pool.map`` and ``pool.run`` share.

A job that lost its session (``SessionGoneError``, a target answer in ``retire_statuses``, the
session taken away by the pool mid-job) is retried on a fresh session, up to ``retries``
times; the lost session is retired, never handed on. Any other error is the job's outcome.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, cast

from bbre_async._errors import LeaseReleasedError, PoolClosedError, SessionGoneError
from bbre_async.pool._lease import PooledSession
from bbre_async.pool._outcome import ItemT, MapProgress, Outcome, ResultT

if TYPE_CHECKING:
    from bbre_async.pool._pool import SessionPool

Job = Callable[[PooledSession, ItemT], Awaitable[ResultT]]

DEFAULT_RETRIES = 2
POOL_DEFAULT: Any = object()  # acquire_timeout not given: the pool's own default


def check_count(name: str, value: object, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")


def check_seconds(name: str, value: object) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a number of seconds or None, got {value!r}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0 or None, got {value!r}")


def _status_of(value: object) -> int | None:
    status = getattr(value, "status_code", None)
    return status if isinstance(status, int) else None


class JobAttempts:
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

    def outcome(self, index: int, item: Any) -> Awaitable[Outcome[Any, Any]]:
        """Run the job for ``item`` until it has an outcome (within ``timeout`` if set)."""
        if self.timeout is None:
            return self._attempt(index, item, [0])
        return self._bounded(index, item)

    async def _bounded(self, index: int, item: Any) -> Outcome[Any, Any]:
        tries = [0]
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
    check_count("retries", retries, 0)
    check_seconds("timeout", timeout)
    if acquire_timeout is not POOL_DEFAULT:
        check_seconds("acquire_timeout", acquire_timeout)

    async def job(session: PooledSession, _item: None) -> ResultT:
        return await fn(session, *args)

    attempts = JobAttempts(
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
