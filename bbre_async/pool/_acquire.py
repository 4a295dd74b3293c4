"""``pool.acquire()``'s arguments and result: the "not given" sentinel, argument checks, and
the object that is both awaitable and an async context manager."""

from __future__ import annotations

import enum
import math
from collections.abc import Generator
from types import TracebackType
from typing import Any, Protocol

from bbre_async.pool._lease import PooledSession


class NotGiven(enum.Enum):
    """The type of ``NOT_GIVEN``: "use the pool's default", distinct from ``None``."""

    NOT_GIVEN = "NOT_GIVEN"


NOT_GIVEN = NotGiven.NOT_GIVEN


def check_seconds(name: str, value: object) -> None:
    """``None`` or a finite number >= 0; anything else fails now, not after a long wait."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a number of seconds or None, got {value!r}")
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")


class LeaseSource(Protocol):
    """What ``Acquire`` needs of its pool: a lease at once if one is free, or after a wait."""

    def lease_now(self, min_ttl: float | None) -> PooledSession | None: ...

    async def lease_after_wait(
        self, timeout: float | None, min_ttl: float | None
    ) -> PooledSession: ...


class Acquire:
    """``pool.acquire()``: an awaitable and an async context manager.

    An idle session is handed over without a wait of any kind; only a caller that must queue
    (or meets a closed pool) enters the slower path."""

    __slots__ = ("_lease", "_min_ttl", "_source", "_timeout")

    def __init__(self, source: LeaseSource, timeout: float | None, min_ttl: float | None) -> None:
        self._source = source
        self._timeout = timeout
        self._min_ttl = min_ttl
        self._lease: PooledSession | None = None

    def __await__(self) -> Generator[Any, None, PooledSession]:
        return self.__aenter__().__await__()

    async def __aenter__(self) -> PooledSession:
        lease = self._source.lease_now(self._min_ttl)
        if lease is None:
            lease = await self._source.lease_after_wait(self._timeout, self._min_ttl)
        self._lease = lease
        return lease

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        lease, self._lease = self._lease, None
        if lease is not None:
            lease._give_back()
