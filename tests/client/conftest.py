from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from aioresponses import aioresponses

from bbre_async import BBREClient

BASE = "https://api.test"
SECRET_KEY = "sk_live_SECRET_1234567890abcdef"


class SleepRecorder:
    """Stands in for asyncio.sleep: records the waits and returns at once."""

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


@pytest.fixture
async def client(sleeps: SleepRecorder) -> AsyncIterator[BBREClient]:
    async with BBREClient(api_key=SECRET_KEY, base_url=BASE, sleep=sleeps) as c:
        yield c


def envelope(**payload: object) -> dict[str, object]:
    return {"success": True, "service": "MyDisct Solver BBRE", **payload}


def error_body(code: str, message: str = "nope", **details: object) -> dict[str, object]:
    error: dict[str, object] = {"code": code, "message": message}
    if details:
        error["details"] = details
    return {"success": False, "service": "MyDisct Solver BBRE", "error": error}
