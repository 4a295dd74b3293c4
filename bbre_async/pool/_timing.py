"""Waiting on the pool's injected clock: one helper so that no wait falls beside it."""

from __future__ import annotations

import asyncio

from bbre_async._clock import Clock


async def pause(clock: Clock, seconds: float) -> None:
    """Sleep ``seconds`` of ``clock``; a zero or negative wait is one loop turn, never a sleep
    that only a moving clock could end."""
    if seconds <= 0:
        await asyncio.sleep(0)
    else:
        await clock.sleep(seconds)
