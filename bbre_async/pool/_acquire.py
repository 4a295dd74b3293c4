"""``pool.acquire()``'s arguments and result: the "not given" sentinel, argument checks, and
the object that is both awaitable and an async context manager."""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Coroutine, Generator
from types import TracebackType
from typing import Any

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


class Acquire:
    """``pool.acquire()``: an awaitable and an async context manager."""

    __slots__ = ("_lease", "_start")

    def __init__(self, start: Callable[[], Coroutine[Any, Any, PooledSession]]) -> None:
        self._start = start
        self._lease: PooledSession | None = None

    def __await__(self) -> Generator[Any, None, PooledSession]:
        return self._start().__await__()

    async def __aenter__(self) -> PooledSession:
        self._lease = await self._start()
        return self._lease

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        lease, self._lease = self._lease, None
        if lease is not None:
            await lease.release()
