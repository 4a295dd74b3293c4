from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

import bbre_async as b
from bbre_async import BBREClient, TransportRequest, TransportResponse
from tests.conftest import SleepRecorder
from tests.mock_api import MockAPI

from .conftest import BASE, envelope, error_body


def sent_json(mocked: MockAPI, path: str, index: int = -1) -> dict[str, object]:
    return mocked.sent_json("POST", BASE + path, index)  # type: ignore[no-any-return]


async def test_create_sends_options_and_trusts_the_granted_expiry(
    client: BBREClient, mocked: MockAPI
) -> None:
    now = datetime.now(UTC)
    granted = now + timedelta(seconds=300)
    mocked.post(
        BASE + "/session/create",
        payload=envelope(
            session={"id": "s1", "expiresAt": int(granted.timestamp() * 1000), "mode": "adaptive"}
        ),
    )
    session = await client.sessions.create(mode="adaptive", sensibility="high", lifetime=600)
    assert sent_json(mocked, "/session/create") == {
        "mode": "adaptive",
        "sensibility": "high",
        "timeout": 600,
    }
    assert 295 < session.remaining() <= 300
    assert session.is_active() and "s1" in repr(session)


async def test_create_without_expiry_assumes_the_shortest_grant(
    client: BBREClient, mocked: MockAPI
) -> None:
    mocked.post(BASE + "/session/create", payload=envelope(data={"session": {"id": "s2"}}))
    session = await client.sessions.create(lifetime=3600)
    assert 295 < session.remaining() <= 300


@pytest.mark.parametrize(
    "kwargs",
    [
        {"mode": "turbo"},
        {"sensibility": "max"},
        {"lifetime": 59},
        {"lifetime": 3601},
        {"lifetime": True},
    ],
)
async def test_create_rejects_bad_arguments_before_sending(
    client: BBREClient, mocked: MockAPI, kwargs: dict[str, object]
) -> None:
    with pytest.raises(ValueError):
        await client.sessions.create(**kwargs)  # type: ignore[arg-type]
    assert not mocked.sent


async def test_session_request_tracks_cookies_and_profile(
    client: BBREClient, mocked: MockAPI
) -> None:
    mocked.post(
        BASE + "/session/create", payload=envelope(session={"id": "s1", "expiresAt": 4102444800000})
    )
    result = {
        "statusCode": 200,
        "body": "hi",
        "cookies": {"sid": "abc"},
        "profile": {"userAgent": "UA"},
    }
    mocked.post(
        BASE + "/session/request",
        payload=envelope(data={"task": {"id": "t", "status": "completed", "result": result}}),
    )
    mocked.post(
        BASE + "/session/request",
        payload=envelope(
            data={
                "task": {
                    "status": "completed",
                    "result": {"statusCode": 404, "cookies": {"x": "1"}},
                }
            }
        ),
    )
    async with await client.sessions.create() as session:
        first = await session.post(
            "https://target.test/login", json={"user": "u"}, headers={"X-A": "1"}
        )
        second = await session.get("https://target.test/next", cookies={"extra": "2"})
        mocked.post(
            BASE + "/session/close",
            payload=envelope(data={"session": {"id": "s1", "status": "closed"}}),
        )
    assert first.status_code == 200 and second.status_code == 404
    assert session.cookies == {"sid": "abc", "x": "1"}
    assert session.profile == {"userAgent": "UA"} and session.request_count == 2
    sent = sent_json(mocked, "/session/request", 0)
    assert sent == {
        "url": "https://target.test/login",
        "method": "POST",
        "body": {"user": "u"},
        "headers": {"X-A": "1", "Content-Type": "application/json"},
        "sessionId": "s1",
    }
    assert sent_json(mocked, "/session/request", 1)["cookies"] == {"extra": "2"}
    assert session.closed and sent_json(mocked, "/session/close") == {"sessionId": "s1"}


async def test_request_argument_errors(client: BBREClient) -> None:
    with pytest.raises(TypeError, match="at most one"):
        await client.sessions.request("s1", "POST", "https://t.test", json={}, data="x")
    with pytest.raises(ValueError, match="absolute"):
        await client.sessions.request("s1", "GET", "/relative")
    with pytest.raises(ValueError, match="method"):
        await client.sessions.request("s1", "BREW", "https://t.test")  # type: ignore[arg-type]


async def test_expired_session_raises_and_is_marked_closed(
    client: BBREClient, mocked: MockAPI
) -> None:
    mocked.post(
        BASE + "/session/create", payload=envelope(session={"id": "s1", "expiresAt": 4102444800000})
    )
    mocked.post(BASE + "/session/request", status=400, payload=error_body("SESSION_EXPIRED"))
    session = await client.sessions.create()
    with pytest.raises(b.SessionExpiredError):
        await session.get("https://t.test")
    assert session.closed and not session.is_active()
    assert await session.close() is False  # nothing is sent for a session known to be gone


@pytest.mark.parametrize(
    ("status", "code"),
    [(400, "SESSION_CLOSED"), (404, "SESSION_NOT_FOUND"), (400, "SESSION_EXPIRED")],
)
async def test_close_treats_gone_as_closed(
    client: BBREClient, mocked: MockAPI, status: int, code: str
) -> None:
    mocked.post(BASE + "/session/close", status=status, payload=error_body(code))
    assert await client.sessions.close("s1") is False


async def test_close_success_and_real_failures(client: BBREClient, mocked: MockAPI) -> None:
    mocked.post(
        BASE + "/session/close",
        payload=envelope(data={"session": {"id": "s1", "status": "closed"}}),
    )
    assert await client.sessions.close("s1") is True
    mocked.post(BASE + "/session/close", status=403, payload=error_body("INVALID_API_KEY"))
    with pytest.raises(b.AuthenticationError):
        await client.sessions.close("s1")


async def test_status_refresh_notices_expiry(client: BBREClient, mocked: MockAPI) -> None:
    mocked.post(
        BASE + "/session/create", payload=envelope(session={"id": "s1", "expiresAt": 4102444800000})
    )
    mocked.post(
        BASE + "/session/status",
        payload=envelope(session={"id": "s1", "status": "expired", "expiresAt": 1000}),
    )
    session = await client.sessions.create()
    info = await session.status()
    assert info.status == "expired" and not session.is_active()


async def test_run_polls_with_growing_intervals(
    client: BBREClient, mocked: MockAPI, sleeps: SleepRecorder
) -> None:
    mocked.post(BASE + "/request/create", payload=envelope(taskId="t1"))
    for _ in range(3):
        mocked.post(BASE + "/request/result", payload=envelope(status="processing"))
    mocked.post(
        BASE + "/request/result",
        payload=envelope(status="completed", result={"statusCode": 200, "body": "done"}),
    )
    response = await client.requests.run(
        "https://t.test/x", mode="adaptive", poll_interval=2, max_poll_interval=4
    )
    assert response.body == "done"
    assert sleeps.waits == [2, 3.0, 4]
    assert sent_json(mocked, "/request/result") == {"taskId": "t1"}
    assert sent_json(mocked, "/request/create")["mode"] == "adaptive"


async def test_run_raises_for_failed_tasks(client: BBREClient, mocked: MockAPI) -> None:
    mocked.post(BASE + "/request/create", payload=envelope(data={"task": {"id": "t2"}}))
    mocked.post(BASE + "/request/result", payload=envelope(data={"task": {"status": "timeout"}}))
    with pytest.raises(b.TaskFailedError) as info:
        await client.requests.run("https://t.test/x")
    assert info.value.details["status"] == "timeout"


async def test_wait_gives_up_at_its_deadline(client: BBREClient, mocked: MockAPI) -> None:
    mocked.post(BASE + "/request/result", payload=envelope(status="processing"), repeat=True)
    with pytest.raises(b.APITimeoutError, match="still processing"):
        await client.requests.wait("t3", poll_interval=5, timeout=1)


async def test_execute_returns_the_completed_result(client: BBREClient, mocked: MockAPI) -> None:
    mocked.post(
        BASE + "/request/execute",
        payload=envelope(
            data={
                "task": {
                    "id": "t4",
                    "status": "completed",
                    "result": {"statusCode": 200, "body": "x"},
                }
            }
        ),
    )
    response = await client.requests.execute("https://t.test", method="POST", data={"a": "1"})
    assert response.task_id == "t4"
    assert sent_json(mocked, "/request/execute")["body"] == "a=1"


async def test_account_balance_and_info(client: BBREClient, mocked: MockAPI) -> None:
    mocked.post(BASE + "/account/balance", payload=envelope(balance=42.5))
    mocked.post(
        BASE + "/account/info",
        payload=envelope(
            account={"username": "u", "status": "active", "balance": 1}, statistics={}
        ),
    )
    assert await client.account.balance() == 42.5
    assert (await client.account.info()).username == "u"


def _rows(prefix: str, ids: range) -> list[dict[str, object]]:
    return [
        {"id": f"{prefix}{i}", "status": "active", "createdAt": "2024-06-15T10:30:00.000Z"}
        for i in ids
    ]


async def test_session_paging_dedupes_when_totals_shift(
    client: BBREClient, mocked: MockAPI
) -> None:
    # Page 1 holds s9..s8; then a new session appears, so page 2 repeats s8.
    mocked.post(
        BASE + "/account/sessions",
        payload=envelope(
            sessions=_rows("s", range(9, 7, -1)), pagination={"total": 5, "limit": 2, "offset": 0}
        ),
    )
    mocked.post(
        BASE + "/account/sessions",
        payload=envelope(
            sessions=_rows("s", range(8, 6, -1)), pagination={"total": 6, "limit": 2, "offset": 2}
        ),
    )
    mocked.post(
        BASE + "/account/sessions",
        payload=envelope(
            sessions=_rows("s", range(6, 4, -1)), pagination={"total": 6, "limit": 2, "offset": 4}
        ),
    )
    ids = [info.id async for info in client.account.sessions(status="active", page_size=2)]
    assert ids == ["s9", "s8", "s7", "s6", "s5"]
    assert sent_json(mocked, "/account/sessions", 0) == {
        "limit": 2,
        "offset": 0,
        "status": "active",
    }
    assert sent_json(mocked, "/account/sessions", 2)["offset"] == 4


async def test_paging_is_lazy(client: BBREClient, mocked: MockAPI) -> None:
    mocked.post(
        BASE + "/account/sessions",
        payload=envelope(
            sessions=_rows("s", range(3)), pagination={"total": 100, "limit": 3, "offset": 0}
        ),
    )
    iterator = client.account.sessions(page_size=3)
    first = await anext(iterator)
    assert first.id == "s0"
    assert len(mocked.calls("POST", BASE + "/account/sessions")) == 1


async def test_history_freezes_the_end_and_sends_iso_dates(
    client: BBREClient, mocked: MockAPI
) -> None:
    seen_ends: list[object] = []

    def page(request: TransportRequest) -> TransportResponse:
        body = request.json()
        seen_ends.append(body["endDate"])
        rows = (
            []
            if body["offset"]
            else [{"id": "t1", "status": "failed"}, {"id": "t2", "status": "failed"}]
        )
        return TransportResponse(
            200,
            json=envelope(
                tasks=rows, pagination={"total": 3, "limit": 2, "offset": body["offset"]}
            ),
        )

    mocked.post(BASE + "/account/history", callback=page, repeat=True)
    start = datetime(2024, 6, 1, tzinfo=UTC)
    tasks = [t.id async for t in client.account.history(status="failed", start=start, page_size=2)]
    assert tasks == ["t1", "t2"]
    assert len(seen_ends) == 2 and seen_ends[0] == seen_ends[1]
    assert sent_json(mocked, "/account/history", 0)["startDate"] == "2024-06-01T00:00:00.000Z"


async def test_listing_arguments_are_validated(client: BBREClient) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        client.account.history(start=datetime(2024, 1, 1))
    with pytest.raises(ValueError, match="status"):
        client.account.sessions(status="ACTIVE")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="limit"):
        await client.account.sessions_page(limit=0)


async def test_fetch_timeout_goes_to_the_remote_browser_and_timeout_stays_here(
    client: BBREClient, mocked: MockAPI
) -> None:
    result = {"statusCode": 200}
    mocked.post(BASE + "/session/request", payload=envelope(data={"task": {"result": result}}))
    handle = client.sessions.attach(b.SessionInfo(id="s1", status="active"))
    await handle.get("https://t.test", fetch_timeout=20, timeout=45)
    sent = sent_json(mocked, "/session/request")
    assert sent["timeout"] == 20  # the API's own word for the remote fetch limit
    assert mocked.sent[-1].timeout.total == 45  # how long this process waited
    mocked.post(BASE + "/session/request", payload=envelope(data={"task": {"result": result}}))
    await handle.get("https://t.test", timeout=45)
    assert "timeout" not in sent_json(mocked, "/session/request")
