"""``pool.map`` and ``pool.run``: jobs done over the pool's sessions, with the retry rule of
``_job``. A mixin, so the pool class keeps to wiring and leasing."""

from __future__ import annotations

from collections.abc import AsyncIterable, Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any, cast

from bbre_async.pool._job import DEFAULT_RETRIES, POOL_DEFAULT, Job, run_job
from bbre_async.pool._map import MapRun
from bbre_async.pool._outcome import ItemT, ProgressHook, ResultT

if TYPE_CHECKING:
    from bbre_async.pool._pool import SessionPool


class Workloads:
    """The job-level API of ``SessionPool``."""

    def map(
        self,
        fn: Job[ItemT, ResultT],
        items: Iterable[ItemT] | AsyncIterable[ItemT],
        *,
        concurrency: int | None = None,
        ordered: bool = False,
        retries: int = DEFAULT_RETRIES,
        timeout: float | None = None,
        acquire_timeout: float | None = POOL_DEFAULT,
        progress: ProgressHook | None = None,
    ) -> MapRun[ItemT, ResultT]:
        """Run ``await fn(session, item)`` for every item; iterate for one ``Outcome`` each.

        At most ``concurrency`` jobs at once (default: the pool's usable capacity). A job
        whose session is lost (``SessionGoneError``, a target answer in ``retire_statuses``,
        the session taken away mid-job) is retried on a fresh session up to ``retries``
        times; any other error is the item's outcome. Outcomes come in completion order, or
        in input order with ``ordered=True``. ``timeout`` bounds each item, retries
        included. Items may be an async iterator; memory stays bounded. See ``MapRun``.
        """
        return MapRun(
            cast("SessionPool", self),
            fn,
            items,
            concurrency=concurrency,
            ordered=ordered,
            retries=retries,
            timeout=timeout,
            acquire_timeout=acquire_timeout,
            progress=progress,
        )

    async def run(
        self,
        fn: Callable[..., Awaitable[ResultT]],
        *args: Any,
        retries: int = DEFAULT_RETRIES,
        timeout: float | None = None,
        acquire_timeout: float | None = POOL_DEFAULT,
    ) -> ResultT:
        """``await fn(session, *args)`` with ``map``'s retry rule: its value, or its error.

        A retry starts on a fresh session with a fresh cookie jar: a job that needs state
        from earlier calls (a login) must redo those steps inside ``fn``.
        """
        return await run_job(
            cast("SessionPool", self),
            fn,
            args,
            retries=retries,
            timeout=timeout,
            acquire_timeout=acquire_timeout,
        )
