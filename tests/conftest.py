"""Fixtures shared by the client-side unit tests of both vendors."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Mapping
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


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop]:
    """The event loop the suite runs on: ``BBRE_TEST_LOOP=uvloop`` runs it on uvloop's."""
    if os.environ.get("BBRE_TEST_LOOP", "asyncio") == "uvloop":
        import uvloop

        return uvloop.new_event_loop
    return asyncio.new_event_loop


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> Mapping[str, Callable[[], asyncio.AbstractEventLoop]]:
    return {os.environ.get("BBRE_TEST_LOOP", "asyncio"): _loop_factory()}
