"""OrchestratorClient against canned answers: shapes, errors, retries, paging, secrets."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

import bbre_async as b
from bbre_async import TransportRequest
from bbre_async.orchestrator import OrchestratorClient, OrchSession
from tests.conftest import SleepRecorder
from tests.mock_api import MockAPI, connection_lost, connection_refused

from .conftest import BASE, SECRET_KEY, VNC_SECRET, orch_error, session_json

SESSION_URL = BASE + "/sessions/sess_abc123def456"
LIST_URL = re.compile(re.escape(BASE) + r"/sessions\?.*")


def calls(mocked: MockAPI, method: str) -> list[TransportRequest]:
    return mocked.calls(method)


def query(request: TransportRequest) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(request.url).query))


def sent_json(mocked: MockAPI, method: str, index: int = -1) -> dict[str, Any]:
    return mocked.sent_json(method, None, index)  # type: ignore[no-any-return]


# -- construction --------------------------------------------------------------------------


def test_key_and_url_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORCHESTRATOR_API_KEY", "orch_from_env_123456")
    monkeypatch.setenv("ORCHESTRATOR_BASE_URL", "http://localhost:9/api/")
    client = OrchestratorClient()
    assert client.base_url == "http://localhost:9/api"
    assert client.key_fingerprint and "orch_from_env_123456" not in repr(client)


def test_default_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ORCHESTRATOR_BASE_URL", raising=False)
    assert OrchestratorClient("orch_k").base_url == "https://api.orchestratorhq.com/api"


def test_missing_key_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ORCHESTRATOR_API_KEY", raising=False)
    with pytest.raises(ValueError, match="ORCHESTRATOR_API_KEY"):
        OrchestratorClient()


@pytest.mark.parametrize("kwargs", [{"base_url": "ftp://x"}, {"max_retries": -1}])
def test_bad_settings_are_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        OrchestratorClient("orch_k", **kwargs)


# -- endpoints -----------------------------------------------------------------------------


async def test_create_sends_the_documented_body_with_bearer_auth(
    client: OrchestratorClient, mocked: MockAPI
) -> None:
    mocked.post(BASE + "/sessions", status=201, payload=session_json())
    session = await client.sessions.create(
        session_name="My Test Session", description="why", duration="90m"
    )
    assert sent_json(mocked, "POST") == {
        "session_name": "My Test Session",
        "description": "why",
        "duration": "1h30m",
    }
    headers = calls(mocked, "POST")[0].headers
    assert headers["Authorization"] == f"Bearer {SECRET_KEY}"
    assert session.id == "sess_abc123def456" and session.is_active
    assert session.cdp_url and session.cdp_url.startswith("ws://")
    assert session.vnc_password == VNC_SECRET
    assert session.expires_at == datetime(2025, 1, 15, 12, 30, tzinfo=UTC)


async def test_create_defaults_to_two_hours_and_omits_no_description(
    client: OrchestratorClient, mocked: MockAPI
) -> None:
    mocked.post(BASE + "/sessions", payload=session_json())
    await client.sessions.create(session_name="n")
    assert sent_json(mocked, "POST") == {"session_name": "n", "duration": "2h"}


async def test_create_tolerates_nesting_and_a_missing_expiry(
    client: OrchestratorClient, mocked: MockAPI
) -> None:
    mocked.post(BASE + "/sessions", payload={"data": {"session": {"id": "sess_1"}}})
    before = datetime.now(UTC).timestamp()
    session = await client.sessions.create(session_name="n", duration="30m")
    assert session.status == "active"  # documented: active when the call returns
    remaining = session.remaining()
    assert remaining is not None and 1790 < remaining <= 1800
    assert session.expires_at is not None and session.expires_at.timestamp() >= before + 1800 - 1


@pytest.mark.parametrize(
    "kwargs",
    [
        {"session_name": ""},
        {"session_name": "n", "duration": "25h"},
        {"session_name": "n", "duration": "45s"},
        {"session_name": "n", "duration": "0m"},
        {"session_name": "n", "description": 5},
    ],
)
async def test_create_refuses_bad_arguments_before_sending(
    client: OrchestratorClient, mocked: MockAPI, kwargs: dict[str, Any]
) -> None:
    with pytest.raises(ValueError):
        await client.sessions.create(**kwargs)
    assert not mocked.sent


async def test_get_parses_every_documented_field(
    client: OrchestratorClient, mocked: MockAPI
) -> None:
    mocked.get(SESSION_URL, payload=session_json())
    s = await client.sessions.get("sess_abc123def456")
    assert (s.session_name, s.description, s.status) == (
        "My Test Session",
        "Session for testing automation scripts",
        "active",
    )
    assert s.started_at == datetime(2025, 1, 15, 10, 31, tzinfo=UTC)
    assert s.last_accessed_at == datetime(2025, 1, 15, 11, 15, tzinfo=UTC)
    assert s.vnc_url == "wss://browser-node-1.orchestratorhq.com:6080/websockify"
    assert (s.user_id, s.organization_id, s.organization_role) == ("user_123", "org_456", "member")
    assert (s.autoscaler_workload_id, s.autoscaler_server_id, s.autoscaler_server_ip) == (
        "workload_789",
        "server_101",
        "10.0.1.50",
    )
    assert calls(mocked, "GET")[0].content is None  # a GET sends no body


async def test_session_ids_are_escaped_into_the_path(
    client: OrchestratorClient, mocked: MockAPI
) -> None:
    mocked.get(BASE + "/sessions/a%2F..%2Fstatus", payload=session_json("a/../status"))
    assert (await client.sessions.get("a/../status")).id == "a/../status"
    with pytest.raises(ValueError):
        await client.sessions.get(" ")


async def test_extend_sends_a_duration_and_returns_the_new_expiry(
    client: OrchestratorClient, mocked: MockAPI
) -> None:
    mocked.post(
        SESSION_URL + "/extend",
        payload={
            "id": "sess_abc123def456",
            "session_name": "My Test Session",
            "status": "active",
            "expires_at": "2025-01-15T13:00:00Z",
            "message": "Session extended by 30 minutes",
        },
    )
    result = await client.sessions.extend("sess_abc123def456", "30m")
    assert sent_json(mocked, "POST") == {"duration": "30m"}
    assert result.expires_at == datetime(2025, 1, 15, 13, 0, tzinfo=UTC)
    assert result.message == "Session extended by 30 minutes"
    with pytest.raises(ValueError):
        await client.sessions.extend("sess_abc123def456", "24h1m")


async def test_stop_is_true_then_false_when_gone(
    client: OrchestratorClient, mocked: MockAPI
) -> None:
    mocked.delete(
        SESSION_URL,
        payload={"message": "Session stopped successfully", "session_id": "sess_abc123def456"},
    )
    mocked.delete(SESSION_URL, status=404, payload=orch_error("SESSION_NOT_FOUND", 404))
    assert await client.sessions.stop("sess_abc123def456") is True
    assert await client.sessions.stop("sess_abc123def456") is False
    assert all(call.content is None for call in calls(mocked, "DELETE"))


async def test_system_status_and_health(client: OrchestratorClient, mocked: MockAPI) -> None:
    mocked.get(
        BASE + "/status",
        payload={
            "autoscaler": {
                "status": "healthy",
                "pool_status": {
                    "total": 10,
                    "idle": 3,
                    "busy": 5,
                    "provisioning": 1,
                    "launching": 1,
                    "terminating": 0,
                },
            },
            "current_load": {"active_sessions": 5, "organization_id": "org_456"},
            "timestamp": "2025-01-15T11:30:00Z",
        },
    )
    mocked.get(
        BASE + "/health",
        payload={
            "status": "healthy",
            "service": "orchestrator-api",
            "version": "1.0.0",
            "timestamp": "2025-01-15T11:30:00Z",
            "dependencies": {"database": "healthy", "autoscaler": "healthy"},
        },
    )
    status = await client.system.status()
    assert status.autoscaler_status == "healthy" and status.active_sessions == 5
    assert (status.pool.total, status.pool.idle, status.pool.busy) == (10, 3, 5)
    assert status.organization_id == "org_456"
    health = await client.system.health()
    assert health.healthy and health.dependencies == {
        "database": "healthy",
        "autoscaler": "healthy",
    }
    assert health.version == "1.0.0" and health.service == "orchestrator-api"


# -- paging --------------------------------------------------------------------------------


def row(n: int) -> dict[str, object]:
    return {"id": f"sess_{n}", "session_name": f"s{n}", "status": "active"}


async def test_list_page_passes_the_filters(client: OrchestratorClient, mocked: MockAPI) -> None:
    mocked.get(
        LIST_URL,
        payload={"sessions": [row(1)], "total": 15, "pagination": {"limit": 10, "offset": 5}},
    )
    page = await client.sessions.list_page(status="active", limit=10, offset=5)
    assert query(calls(mocked, "GET")[0]) == {"limit": "10", "offset": "5", "status": "active"}
    assert (page.total, page.limit, page.offset, page.has_more) == (15, 10, 5, True)
    assert [s.id for s in page.items] == ["sess_1"]


async def test_list_walks_every_page_and_dedupes_shifted_rows(
    client: OrchestratorClient, mocked: MockAPI
) -> None:
    pages = [[row(1), row(2)], [row(2), row(3)], [row(4)]]  # a new session shifted row 2
    for items in pages:
        mocked.get(
            LIST_URL,
            payload={"sessions": items, "total": 5, "pagination": {"limit": 2, "offset": 0}},
        )
    seen = [s.id async for s in client.sessions.list(page_size=2)]
    assert seen == ["sess_1", "sess_2", "sess_3", "sess_4"]
    offsets = [query(call)["offset"] for call in calls(mocked, "GET")]
    assert offsets == ["0", "2", "4"]


@pytest.mark.parametrize(
    "kwargs",
    [{"status": "running"}, {"limit": 0}, {"limit": 101}, {"offset": -1}, {"limit": True}],
)
async def test_list_page_refuses_bad_arguments(
    client: OrchestratorClient, mocked: MockAPI, kwargs: dict[str, Any]
) -> None:
    with pytest.raises(ValueError):
        await client.sessions.list_page(**kwargs)
    assert not mocked.sent


@pytest.mark.parametrize("kwargs", [{"status": "expired"}, {"page_size": 0}, {"page_size": 500}])
def test_list_refuses_bad_arguments_at_once(
    client: OrchestratorClient, kwargs: dict[str, Any]
) -> None:
    with pytest.raises(ValueError):
        client.sessions.list(**kwargs)


# -- errors --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code", "cls"),
    [
        (400, "INVALID_DURATION", b.BadRequestError),
        (401, "UNAUTHORIZED", b.AuthenticationError),
        (402, "INSUFFICIENT_CREDITS", b.InsufficientBalanceError),
        (404, "SESSION_NOT_FOUND", b.SessionNotFoundError),
        (429, "SESSION_LIMIT_EXCEEDED", b.SessionLimitError),
        (503, "NO_SERVERS_AVAILABLE", b.ServiceError),
    ],
)
async def test_every_documented_code_becomes_its_typed_error(
    client: OrchestratorClient,
    mocked: MockAPI,
    sleeps: SleepRecorder,
    status: int,
    code: str,
    cls: type[b.BBREError],
) -> None:
    mocked.get(
        SESSION_URL,
        status=status,
        payload=orch_error(code, status, "it failed", session_id="sess_abc123def456"),
        repeat=True,
    )
    with pytest.raises(cls) as caught:
        await client.sessions.get("sess_abc123def456")
    error = caught.value
    assert (error.code, error.status, error.message) == (code, status, "it failed")
    assert error.details == {"session_id": "sess_abc123def456"}
    retried = status == 503  # a read is retried on a transient fault, nothing else
    assert len(sleeps.waits) == (2 if retried else 0)


async def test_a_429_at_the_cap_is_never_retried(
    client: OrchestratorClient, mocked: MockAPI, sleeps: SleepRecorder
) -> None:
    mocked.post(BASE + "/sessions", status=429, payload=orch_error("SESSION_LIMIT_EXCEEDED", 429))
    with pytest.raises(b.SessionLimitError):
        await client.sessions.create(session_name="n")
    assert len(calls(mocked, "POST")) == 1 and not sleeps.waits


@pytest.mark.parametrize(
    "failure",
    [
        {"exception": connection_lost()},
        {"status": 500, "payload": orch_error("INTERNAL_ERROR", 500)},
        {"status": 502, "body": "<html>bad gateway</html>", "content_type": "text/html"},
    ],
)
async def test_create_is_not_replayed_once_it_may_have_arrived(
    client: OrchestratorClient, mocked: MockAPI, failure: dict[str, Any]
) -> None:
    mocked.post(BASE + "/sessions", **failure)
    mocked.post(BASE + "/sessions", payload=session_json())
    with pytest.raises(b.BBREError) as caught:
        await client.sessions.create(session_name="n")
    assert caught.value.outcome_unknown
    assert len(calls(mocked, "POST")) == 1


async def test_extend_is_not_replayed_either(client: OrchestratorClient, mocked: MockAPI) -> None:
    mocked.post(SESSION_URL + "/extend", exception=connection_lost())
    mocked.post(SESSION_URL + "/extend", payload={"id": "x", "expires_at": "2025-01-15T13:00:00Z"})
    with pytest.raises(b.APIConnectionError) as caught:
        await client.sessions.extend("sess_abc123def456", "30m")
    assert caught.value.outcome_unknown
    assert len(calls(mocked, "POST")) == 1


async def test_a_create_that_never_left_is_retried(
    client: OrchestratorClient, mocked: MockAPI
) -> None:
    mocked.post(BASE + "/sessions", exception=connection_refused())
    mocked.post(BASE + "/sessions", payload=session_json())
    assert (await client.sessions.create(session_name="n")).id == "sess_abc123def456"
    assert len(calls(mocked, "POST")) == 2


async def test_reads_and_stops_are_retried_on_transient_faults(
    client: OrchestratorClient, mocked: MockAPI
) -> None:
    mocked.delete(SESSION_URL, exception=connection_lost())
    mocked.delete(SESSION_URL, payload={"message": "Session stopped successfully"})
    assert await client.sessions.stop("sess_abc123def456") is True


async def test_a_malformed_answer_is_a_typed_error(
    client: OrchestratorClient, mocked: MockAPI
) -> None:
    mocked.get(SESSION_URL, payload={"id": "x", "expires_at": "yesterday-ish"})
    with pytest.raises(b.InvalidResponseError, match="expires_at"):
        await client.sessions.get("sess_abc123def456")


# -- secrets -------------------------------------------------------------------------------


@pytest.fixture
async def debug_logs(caplog: pytest.LogCaptureFixture) -> AsyncIterator[pytest.LogCaptureFixture]:
    with caplog.at_level(logging.DEBUG, logger="bbre_async"):
        yield caplog


async def test_secrets_never_reach_reprs_errors_or_logs(
    client: OrchestratorClient,
    mocked: MockAPI,
    debug_logs: pytest.LogCaptureFixture,
) -> None:
    mocked.post(BASE + "/sessions", payload=session_json())
    mocked.get(SESSION_URL, payload=session_json())
    mocked.get(
        BASE + "/status",
        status=401,
        payload=orch_error("UNAUTHORIZED", 401, f"key {SECRET_KEY} is not valid"),
    )
    mocked.get(SESSION_URL, exception=connection_lost(), repeat=True)
    session = await client.sessions.create(session_name="n")
    again = await client.sessions.get(session.id)
    with pytest.raises(b.AuthenticationError) as auth_error:
        await client.system.status()
    with pytest.raises(b.APIConnectionError) as conn_error:
        await client.sessions.get(session.id)
    shown = [
        repr(client),
        str(client),
        repr(session),
        str(session),
        repr(again),
        repr([session]),
        str(auth_error.value),
        repr(auth_error.value),
        str(conn_error.value),
        debug_logs.text,
    ]
    assert debug_logs.records  # the transport did log at DEBUG
    for text in shown:
        assert SECRET_KEY not in text
        assert VNC_SECRET not in text
    assert "vnc_password='***'" in repr(session)
    assert "***" in auth_error.value.message


def test_a_malformed_password_is_dropped_not_quoted() -> None:
    session = OrchSession.from_json(session_json(vnc_password={"oops": VNC_SECRET}))
    assert session.vnc_password is None
