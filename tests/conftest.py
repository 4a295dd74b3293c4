"""Fixtures shared by the client-side unit tests of both vendors."""

from __future__ import annotations

from pathlib import Path

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


@pytest.fixture(scope="session")
def mypy_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A mypy cache shared by the typing-contract tests of one run."""
    return tmp_path_factory.mktemp("mypy-cache")
