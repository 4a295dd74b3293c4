"""The one bounded wait the tests use for facts no event announces (another process, the
emulator's real-time sweep, a socket closing): poll a condition, fail loudly at the deadline."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable

Condition = Callable[[], bool | Awaitable[bool]]


async def eventually(
    condition: Condition, timeout: float = 10.0, *, interval: float = 0.01, what: str = "condition"
) -> None:
    """Return once ``condition()`` (sync or async) is true; ``AssertionError`` after ``timeout``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = condition()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return
        if loop.time() > deadline:
            raise AssertionError(f"{what} not met within {timeout}s")
        await asyncio.sleep(interval)
