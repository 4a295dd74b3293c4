"""Fixtures shared by the client-side unit tests of both vendors."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from aioresponses import aioresponses


class SleepRecorder:
    """Stands in for asyncio.sleep in a client: records the waits and returns at once."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


@pytest.fixture
def mocked() -> Iterator[aioresponses]:
    with aioresponses() as m:
        yield m
