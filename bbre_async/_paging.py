"""Lazy auto-paging over limit/offset listings that stays correct while totals shift.

The listings are newest first, so a row created during iteration pushes older rows one offset
further: the same row can come back on the next page. Rows are deduplicated by id within a
bounded window (the rows a shift can repeat are the most recent ones seen), which keeps memory
constant over hundreds of thousands of rows.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Protocol, TypeVar

from bbre_async._models import Page


class HasId(Protocol):
    @property
    def id(self) -> str: ...


ItemT = TypeVar("ItemT", bound=HasId)

FetchPage = Callable[[int, int], Awaitable[Page[ItemT]]]


async def paginate(
    fetch: FetchPage[ItemT],
    *,
    page_size: int,
    dedupe_window: int | None = None,
    max_items: int | None = None,
) -> AsyncIterator[ItemT]:
    """Yield every row of a listing once, fetching pages only as the caller consumes them.

    ``fetch(limit, offset)`` returns one page. ``dedupe_window`` bounds how many recent ids
    are remembered (default: ten pages' worth).
    """
    if page_size < 1:
        raise ValueError("page_size must be >= 1")
    window = dedupe_window if dedupe_window is not None else max(1000, page_size * 10)
    seen: OrderedDict[str, None] = OrderedDict()
    offset = 0
    yielded = 0
    while True:
        page = await fetch(page_size, offset)
        for item in page.items:
            if item.id in seen:
                continue
            seen[item.id] = None
            if len(seen) > window:
                seen.popitem(last=False)
            yield item
            yielded += 1
            if max_items is not None and yielded >= max_items:
                return
        if not page.items:
            return
        offset += len(page.items)
        if offset >= page.total:
            return
