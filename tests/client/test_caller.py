from __future__ import annotations

import asyncio
import logging

import pytest

import bbre_async as b
from bbre_async import BBREClient, TransportRequest, TransportResponse
from tests.conftest import SleepRecorder
from tests.mock_api import MockAPI, connection_lost, connection_refused, hang_forever

from .conftest import BASE, SECRET_KEY, envelope, error_body

STATUS_URL = f"{BASE}/session/status"
CREATE_URL = f"{BASE}/session/create"
SESSION = {"id": "s1", "status": "active", "expiresAt": 1706789012345, "createdAt": 1706788712345}


async def test_key_and_json_headers_are_sent(client: BBREClient, mocked: MockAPI) -> None:
    mocked.post(STATUS_URL, payload=envelope(session=SESSION))
    await client.sessions.status("s1")
    headers = mocked.calls("POST", STATUS_URL)[0].headers
    assert headers["X-API-KEY"] == SECRET_KEY  # case-insensitive
    assert headers["content-type"] == "application/json"
    assert headers["user-agent"].startswith("bbre-async/")


async def test_safe_calls_retry_service_errors_with_backoff(
    client: BBREClient, mocked: MockAPI, sleeps: SleepRecorder
) -> None:
    mocked.post(STATUS_URL, status=500, payload=error_body("SERVICE_ERROR"))
    mocked.post(STATUS_URL, status=502, body="<html>bad gateway</html>", content_type="text/html")
    mocked.post(STATUS_URL, payload=envelope(session=SESSION))
    info = await client.sessions.status("s1")
    assert info.id == "s1"
    assert len(sleeps.waits) == 2
    assert all(0 <= w <= 8 for w in sleeps.waits)


async def test_retries_are_bounded(
    client: BBREClient, mocked: MockAPI, sleeps: SleepRecorder
) -> None:
    for _ in range(5):
        mocked.post(STATUS_URL, status=500, payload=error_body("SERVICE_ERROR"))
    with pytest.raises(b.ServiceError):
        await client.sessions.status("s1")
    assert len(sleeps.waits) == 2  # max_retries=2: three attempts in all


async def test_retry_after_is_honoured(
    client: BBREClient, mocked: MockAPI, sleeps: SleepRecorder
) -> None:
    mocked.post(
        STATUS_URL,
        status=429,
        payload=error_body("RATE_LIMIT_EXCEEDED"),
        headers={"Retry-After": "3"},
    )
    mocked.post(STATUS_URL, payload=envelope(session=SESSION))
    await client.sessions.status("s1")
    assert sleeps.waits == [3.0]


async def test_retry_after_beyond_the_deadline_raises_at_once(
    client: BBREClient, mocked: MockAPI, sleeps: SleepRecorder
) -> None:
    mocked.post(
        STATUS_URL,
        status=429,
        payload=error_body("RATE_LIMIT_EXCEEDED"),
        headers={"Retry-After": "30"},
    )
    with pytest.raises(b.RateLimitError) as info:
        await client.sessions.status("s1", timeout=5)
    assert info.value.retry_after == 30.0
    assert sleeps.waits == []


async def test_retry_after_beyond_the_cap_raises(mocked: MockAPI, sleeps: SleepRecorder) -> None:
    policy = b.RetryPolicy(max_retry_after=10)
    async with BBREClient(
        api_key="k" * 8, base_url=BASE, retry=policy, sleep=sleeps, transport=mocked.transport
    ) as client:
        mocked.post(
            STATUS_URL,
            status=429,
            payload=error_body("RATE_LIMIT_EXCEEDED"),
            headers={"Retry-After": "11"},
        )
        with pytest.raises(b.RateLimitError):
            await client.sessions.status("s1")
    assert sleeps.waits == []


async def test_session_limit_is_never_retried(
    client: BBREClient, mocked: MockAPI, sleeps: SleepRecorder
) -> None:
    mocked.post(CREATE_URL, status=429, payload=error_body("SESSION_LIMIT_REACHED"))
    with pytest.raises(b.SessionLimitError) as info:
        await client.sessions.create()
    assert not info.value.outcome_unknown
    assert sleeps.waits == []


@pytest.mark.parametrize(
    "failure",
    [
        {"status": 500, "payload": error_body("SERVICE_ERROR")},
        {"status": 502, "body": "<html>proxy</html>", "content_type": "text/html"},
        {"exception": connection_lost()},
        {"exception": connection_lost("Connection reset by peer")},
        {"exception": TimeoutError()},
        {"status": 200, "body": '{"success": true, "sess'},
    ],
    ids=["500", "html-502", "disconnect", "reset", "timeout", "truncated"],
)
async def test_create_is_never_replayed_once_it_may_have_arrived(
    client: BBREClient, mocked: MockAPI, sleeps: SleepRecorder, failure: dict[str, object]
) -> None:
    mocked.post(CREATE_URL, **failure)
    mocked.post(CREATE_URL, payload=envelope(session=SESSION))
    with pytest.raises(b.BBREError) as info:
        await client.sessions.create()
    assert info.value.outcome_unknown
    assert len(mocked.calls("POST", CREATE_URL)) == 1
    assert sleeps.waits == []


async def test_create_is_retried_when_the_connection_was_never_made(
    client: BBREClient, mocked: MockAPI, sleeps: SleepRecorder
) -> None:
    mocked.post(CREATE_URL, exception=connection_refused())
    mocked.post(CREATE_URL, payload=envelope(session=SESSION))
    session = await client.sessions.create()
    assert session.id == "s1"
    assert len(sleeps.waits) == 1


async def test_create_is_retried_after_a_rate_limit_refusal(
    client: BBREClient, mocked: MockAPI, sleeps: SleepRecorder
) -> None:
    mocked.post(CREATE_URL, status=429, payload=error_body("RATE_LIMIT_EXCEEDED", retryAfter=1))
    mocked.post(CREATE_URL, payload=envelope(session=SESSION))
    assert (await client.sessions.create()).id == "s1"
    assert sleeps.waits == [1.0]


async def test_redirects_are_not_followed(client: BBREClient, mocked: MockAPI) -> None:
    mocked.post(STATUS_URL, status=302, headers={"Location": "https://evil.test/steal"})
    with pytest.raises(b.BBREError, match="redirected"):
        await client.sessions.status("s1")
    assert [r.url for r in mocked.sent] == [STATUS_URL]


async def test_cancellation_passes_through(client: BBREClient, mocked: MockAPI) -> None:
    started = asyncio.Event()

    async def hang(request: TransportRequest) -> TransportResponse:
        started.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    mocked.post(STATUS_URL, callback=hang)
    task = asyncio.create_task(client.sessions.status("s1"))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_the_key_never_reaches_reprs_errors_or_logs(
    client: BBREClient, mocked: MockAPI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="bbre_async")
    mocked.post(STATUS_URL, status=500, body=f"<html>echo {SECRET_KEY}</html>", repeat=True)
    with pytest.raises(b.GatewayError) as info:
        await client.sessions.status("s1")
    texts = [repr(client), str(info.value), repr(info.value), str(info.value.details), caplog.text]
    assert caplog.records, "debug logging produced nothing to check"
    for text in texts:
        assert SECRET_KEY not in text
        assert SECRET_KEY[:12] not in text


def test_a_missing_key_fails_at_construction(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BBRE_API_KEY", raising=False)
    with pytest.raises(ValueError, match="BBRE_API_KEY"):
        BBREClient()


async def test_environment_supplies_key_and_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BBRE_API_KEY", "envkey-123456")
    monkeypatch.setenv("BBRE_BASE_URL", "http://127.0.0.1:9/")
    client = BBREClient()
    assert client.base_url == "http://127.0.0.1:9"
    assert "envkey-123456" not in repr(client)
    await client.aclose()


async def test_a_timed_out_call_leaves_no_cancellation_behind(
    client: BBREClient, mocked: MockAPI
) -> None:
    mocked.post(STATUS_URL, callback=hang_forever)
    with pytest.raises(b.APITimeoutError) as info:
        await client.sessions.status("s1", timeout=0.05)
    assert isinstance(info.value.__cause__, TimeoutError)
    task = asyncio.current_task()
    assert task is not None and task.cancelling() == 0
    await asyncio.sleep(0)  # a leaked cancellation request would land here


async def test_an_outer_deadline_stays_the_callers(client: BBREClient, mocked: MockAPI) -> None:
    """The caller's own ``asyncio.timeout`` firing first is its cancellation, not the call's
    timeout: it surfaces as the builtin ``TimeoutError``, never as ``APITimeoutError``."""
    mocked.post(STATUS_URL, callback=hang_forever)
    with pytest.raises(TimeoutError) as info:
        async with asyncio.timeout(0.05):
            await client.sessions.status("s1", timeout=60)
    assert not isinstance(info.value, b.BBREError)
