"""Per-call and per-client options: timeouts per endpoint, ``with_options``, raw answers,
retries of idempotent target fetches, and the ``BBRE_LOG`` switch (issue 16)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

import bbre_async as b
from bbre_async import (
    BBREClient,
    SessionInfo,
    Timeout,
    TransportRequest,
    TransportResponse,
    last_api_response,
)
from tests.conftest import SleepRecorder
from tests.mock_api import MockAPI, connection_lost

from .conftest import BASE, envelope, error_body

RESULT: dict[str, object] = {
    "data": {"task": {"id": "t", "status": "completed", "result": {"statusCode": 200}}}
}
REQUEST_URL = BASE + "/session/request"
BALANCE_URL = BASE + "/account/balance"


def session(client: BBREClient) -> b.Session:
    return client.sessions.attach(SessionInfo(id="s1", status="active"))


@pytest.mark.parametrize(
    ("call", "path", "total"),
    [
        ("balance", "/account/balance", 30.0),
        ("status", "/session/status", 30.0),
        ("close", "/session/close", 30.0),
        ("create", "/session/create", 60.0),
        ("fetch", "/session/request", 90.0),
        ("slow fetch", "/session/request", 180.0),  # fetch_timeout=120, plus a margin
        ("execute", "/request/execute", 180.0),
    ],
)
async def test_each_endpoint_has_a_default_that_fits_it(
    client: BBREClient, mocked: MockAPI, call: str, path: str, total: float
) -> None:
    payloads: dict[str, dict[str, object]] = {
        "/account/balance": {"balance": 1},
        "/session/request": RESULT,
        "/request/execute": RESULT,
    }
    mocked.post(BASE + path, payload=envelope(**payloads.get(path, {"session": {"id": "s1"}})))
    calls: dict[str, Callable[[], Awaitable[object]]] = {
        "balance": lambda: client.account.balance(),
        "status": lambda: client.sessions.status("s1"),
        "close": lambda: client.sessions.close("s1"),
        "create": lambda: client.sessions.create(),
        "fetch": lambda: session(client).get("https://t.test"),
        "slow fetch": lambda: session(client).get("https://t.test", fetch_timeout=120),
        "execute": lambda: client.requests.execute("https://t.test"),
    }
    await calls[call]()
    assert mocked.sent[-1].timeout.total == total


async def test_per_call_beats_with_options_beats_the_endpoint_default(
    client: BBREClient, mocked: MockAPI
) -> None:
    mocked.post(BALANCE_URL, payload=envelope(balance=1), repeat=True)
    fast = client.with_options(timeout=5, max_retries=0)
    await fast.account.balance()
    assert mocked.sent[-1].timeout == Timeout(connect=5, read=5, total=5)
    await fast.account.balance(timeout=Timeout(connect=1, read=2, total=3))
    assert mocked.sent[-1].timeout.total == 3
    await client.account.balance()  # the original keeps its defaults
    assert mocked.sent[-1].timeout.total == 30
    assert fast.with_options(timeout=None).timeout is None
    assert fast.transport is client.transport  # one connection pool
    await fast.aclose()  # a copy closes nothing
    assert not mocked.transport.closed
    assert client.stats().calls == 3  # counters shared with copies


async def test_with_options_max_retries_applies_to_the_copy_only(
    client: BBREClient, mocked: MockAPI, sleeps: SleepRecorder
) -> None:
    mocked.post(BALANCE_URL, status=500, payload=error_body("SERVICE_ERROR"), repeat=True)
    with pytest.raises(b.ServiceError):
        await client.with_options(max_retries=0).account.balance()
    assert len(mocked.sent) == 1
    with pytest.raises(b.ServiceError):
        await client.account.balance()
    assert len(mocked.sent) == 4


@pytest.mark.parametrize("bad", [0, -1, float("nan"), float("inf"), "5", True])
async def test_bad_timeouts_are_refused_before_sending(
    client: BBREClient, mocked: MockAPI, bad: object
) -> None:
    with pytest.raises((ValueError, TypeError)):
        await client.account.balance(timeout=bad)  # type: ignore[arg-type]
    with pytest.raises((ValueError, TypeError)):
        client.with_options(timeout=bad)  # type: ignore[arg-type]
    assert not mocked.sent


async def test_raw_answers_on_results_and_on_errors(client: BBREClient, mocked: MockAPI) -> None:
    mocked.post(BALANCE_URL, payload=envelope(balance=2), headers={"X-Request-Id": "srv-1"})
    mocked.post(
        BALANCE_URL, status=403, payload=error_body("INVALID_API_KEY"), headers={"X-Trace": "9"}
    )
    assert await client.account.balance() == 2
    raw = last_api_response()
    assert raw is not None and raw.status_code == 200 and raw.request_id == "srv-1"
    assert raw.headers["x-request-id"] == "srv-1" and raw.json()["balance"] == 2
    with pytest.raises(b.AuthenticationError) as info:
        await client.account.balance()
    assert info.value.status == 403 and info.value.headers["x-trace"] == "9"
    assert info.value.request_id  # ours when the server sent none


async def test_get_is_retried_on_a_service_error_and_counted(
    client: BBREClient, mocked: MockAPI, sleeps: SleepRecorder
) -> None:
    mocked.post(REQUEST_URL, status=500, payload=error_body("SERVICE_ERROR"))
    mocked.post(REQUEST_URL, exception=connection_lost())
    mocked.post(REQUEST_URL, payload=envelope(**RESULT))
    response = await session(client).get("https://t.test")
    assert response.status_code == 200 and response.attempts == 3
    assert len(sleeps.waits) == 2
    stats = client.stats()
    assert (stats.calls, stats.attempts, stats.retries, stats.billed_retries) == (1, 3, 2, 2)


async def test_a_service_errors_retry_after_is_honoured(
    client: BBREClient, mocked: MockAPI, sleeps: SleepRecorder
) -> None:
    mocked.post(REQUEST_URL, status=500, payload=error_body("SERVICE_ERROR", retryAfter=3))
    mocked.post(REQUEST_URL, payload=envelope(**RESULT))
    await session(client).head("https://t.test")
    assert sleeps.waits == [3.0]


async def test_a_post_is_retried_only_when_marked_idempotent(
    client: BBREClient, mocked: MockAPI
) -> None:
    mocked.post(REQUEST_URL, status=500, payload=error_body("SERVICE_ERROR"))
    with pytest.raises(b.ServiceError) as info:
        await session(client).post("https://t.test", json={"a": 1})
    assert info.value.outcome_unknown and len(mocked.sent) == 1
    mocked.post(REQUEST_URL, status=500, payload=error_body("SERVICE_ERROR"))
    mocked.post(REQUEST_URL, payload=envelope(**RESULT))
    response = await session(client).post("https://t.test", json={"a": 1}, idempotent=True)
    assert response.attempts == 2


async def test_fetch_retries_are_configurable_per_call(client: BBREClient, mocked: MockAPI) -> None:
    mocked.post(REQUEST_URL, status=503, payload=error_body("SERVICE_ERROR"), repeat=True)
    with pytest.raises(b.ServiceError):
        await session(client).get("https://t.test", max_retries=0)
    assert len(mocked.sent) == 1


async def test_a_retry_wait_beyond_the_budget_raises_at_once(
    client: BBREClient, mocked: MockAPI, sleeps: SleepRecorder
) -> None:
    mocked.post(REQUEST_URL, status=500, payload=error_body("SERVICE_ERROR", retryAfter=30))
    with pytest.raises(b.ServiceError):
        await session(client).get("https://t.test", timeout=10)
    assert sleeps.waits == [] and len(mocked.sent) == 1


async def test_session_gone_is_never_retried(client: BBREClient, mocked: MockAPI) -> None:
    mocked.post(REQUEST_URL, status=400, payload=error_body("SESSION_EXPIRED"), repeat=True)
    with pytest.raises(b.SessionExpiredError):
        await session(client).get("https://t.test")
    assert len(mocked.sent) == 1


async def test_a_transport_can_wrap_another(mocked: MockAPI) -> None:
    seen: list[str] = []

    class Recording:
        def __init__(self, inner: b.AsyncTransport) -> None:
            self.inner = inner

        async def handle_async_request(self, request: TransportRequest) -> TransportResponse:
            response = await self.inner.handle_async_request(request)
            seen.append(f"{request.method} {request.url} {response.status_code}")
            return response

        async def aclose(self) -> None:
            await self.inner.aclose()

    mocked.post(BALANCE_URL, payload=envelope(balance=1))
    async with BBREClient(api_key="k" * 8, base_url=BASE, transport=Recording(mocked.transport)):
        pass
    assert mocked.transport.closed  # the wrapper's aclose reached the inner transport
    async with BBREClient(
        api_key="k" * 8, base_url=BASE, transport=Recording(b.MockTransport(mocked.handle))
    ) as client:
        assert await client.account.balance() == 1
    assert seen == [f"POST {BALANCE_URL} 200"]
    assert isinstance(Recording(mocked.transport), b.AsyncTransport)


def test_a_transport_without_the_protocol_is_refused_at_construction() -> None:
    with pytest.raises(TypeError, match="handle_async_request"):
        BBREClient(api_key="k" * 8, transport=object())  # type: ignore[arg-type]


def test_transport_and_session_are_exclusive() -> None:
    with pytest.raises(TypeError):
        BBREClient(
            api_key="k" * 8,
            transport=b.MockTransport(lambda r: TransportResponse(200)),
            session=object(),  # type: ignore[arg-type]
        )


def test_bbre_log_debug_prints_the_calls_to_stderr(tmp_path: Path) -> None:
    script = tmp_path / "call.py"
    script.write_text(
        "import asyncio\n"
        "from bbre_async import BBREClient, MockTransport, TransportResponse\n"
        "def answer(request):\n"
        "    return TransportResponse(200, json={'success': True, 'balance': 3})\n"
        "async def main():\n"
        "    async with BBREClient(api_key='sk_secret_123456', base_url='http://api.test',\n"
        "                          transport=MockTransport(answer)) as client:\n"
        "        print(await client.account.balance())\n"
        "asyncio.run(main())\n"
    )
    env = {**os.environ, "BBRE_LOG": "debug"}
    done = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=True,
    )
    assert done.stdout.strip() == "3.0"
    assert "DEBUG bbre_async.transport: POST /account/balance -> 200" in done.stderr
    assert "sk_secret_123456" not in done.stderr
    quiet = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        env={k: v for k, v in os.environ.items() if k != "BBRE_LOG"},
    )
    assert quiet.stderr == ""
