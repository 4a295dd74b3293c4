"""Fixtures shared by the client-side unit tests of both vendors."""

from __future__ import annotations

import pytest

from tests.mock_api import MockAPI


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
def mocked() -> MockAPI:
    """Canned API answers; the ``client`` fixtures send through ``mocked.transport``."""
    return MockAPI()
