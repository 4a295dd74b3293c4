"""What ``pool.map`` yields and reports: one ``Outcome`` per item, live ``MapProgress``."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Generic, TypeVar, cast

import attrs

ItemT = TypeVar("ItemT")
ResultT = TypeVar("ResultT")


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
