from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bbre_async import BBREClient
from tests.conftest import SleepRecorder
from tests.mock_api import MockAPI

BASE = "https://api.test"
SECRET_KEY = "sk_live_SECRET_1234567890abcdef"


@pytest.fixture
async def client(sleeps: SleepRecorder, mocked: MockAPI) -> AsyncIterator[BBREClient]:
    async with BBREClient(
        api_key=SECRET_KEY, base_url=BASE, sleep=sleeps, transport=mocked.transport
    ) as c:
        yield c


def envelope(**payload: object) -> dict[str, object]:
    return {"success": True, "service": "MyDisct Solver BBRE", **payload}


def error_body(code: str, message: str = "nope", **details: object) -> dict[str, object]:
    error: dict[str, object] = {"code": code, "message": message}
    if details:
        error["details"] = details
    return {"success": False, "service": "MyDisct Solver BBRE", "error": error}
