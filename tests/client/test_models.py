from __future__ import annotations

from datetime import UTC, datetime

import pytest

import bbre_async as b
from bbre_async._models import (
    AccountInfo,
    Balance,
    Response,
    SessionInfo,
    Task,
    TaskResult,
    parse_page,
)
from bbre_async._timeutil import parse_timestamp, to_iso

# Shapes copied from the vendor pages.
STATUS_ANSWER = {
    "success": True,
    "service": "MyDisct Solver BBRE",
    "session": {
        "id": "session_abc123def456",
        "status": "active",
        "mode": "adaptive",
        "sensibility": "high",
        "requestCount": 5,
        "totalCharged": 0.025,
        "expiresAt": 1706789012345,
        "createdAt": 1706788712345,
    },
}
CLOSE_ANSWER = {
    "success": True,
    "service": "MyDisct Solver BBRE",
    "data": {"session": {"id": "session_abc123def456", "status": "closed"}},
}
LISTING_ROW = {
    "id": "a1b2c3d4-e5f6-7890-abcd-ef1234567890",
    "mode": "adaptive",
    "sensibility": "medium",
    "status": "active",
    "requestCount": 15,
    "totalCharged": 0.075,
    "expiresAt": "2024-06-15T11:30:00.000Z",
    "createdAt": "2024-06-15T10:30:00.000Z",
    "closedAt": None,
}
HISTORY_ROW = {
    "id": "b2c3d4e5-f6a7-8901-bcde-f12345678901",
    "type": "BBRE_SESSION_REQUEST",
    "mode": "adaptive",
    "status": "completed",
    "url": "https://example.com/login",
    "method": "POST",
    "priceCharged": 0.012,
    "processingTime": 3456,
    "createdAt": "2024-06-15T10:28:00.000Z",
    "completedAt": "2024-06-15T10:28:03.456Z",
}


def test_status_answer_with_epoch_milliseconds() -> None:
    info = SessionInfo.from_json(STATUS_ANSWER)
    assert info.id == "session_abc123def456"
    assert info.expires_at == datetime(2024, 2, 1, 12, 3, 32, 345000, tzinfo=UTC)
    assert info.expires_at - info.created_at == (  # type: ignore[operator]
        datetime.fromtimestamp(300, UTC) - datetime.fromtimestamp(0, UTC)
    )
    assert (info.request_count, info.total_charged, info.is_active) == (5, 0.025, True)


def test_close_answer_under_data() -> None:
    info = SessionInfo.from_json(CLOSE_ANSWER)
    assert (info.id, info.status, info.is_active) == ("session_abc123def456", "closed", False)


def test_listing_row_with_iso_strings() -> None:
    info = SessionInfo.from_json(LISTING_ROW)
    assert info.created_at == datetime(2024, 6, 15, 10, 30, tzinfo=UTC)
    assert info.closed_at is None
    assert info.expires_at is not None and info.expires_at.tzinfo is not None


def test_both_placements_and_forms_agree() -> None:
    top = SessionInfo.from_json({"session": {"id": "x", "expiresAt": 1718451000000}})
    under = SessionInfo.from_json(
        {"data": {"session": {"id": "x", "expiresAt": "2024-06-15T11:30:00.000Z"}}}
    )
    flat = SessionInfo.from_json({"sessionId": "x", "expiresAt": "1718451000000"})
    assert top.expires_at == under.expires_at == flat.expires_at


def test_response_from_session_request_answer() -> None:
    payload = {
        "success": True,
        "data": {
            "task": {
                "id": "t1",
                "status": "completed",
                "result": {
                    "statusCode": 200,
                    "headers": {"content-type": "text/html"},
                    "body": "<html></html>",
                    "cookies": [{"name": "sid", "value": "1"}],
                    "profile": {"userAgent": "UA"},
                },
            }
        },
    }
    response = Response.from_json(payload)
    assert (response.status_code, response.task_id, response.cookies) == (200, "t1", {"sid": "1"})
    assert response.profile == {"userAgent": "UA"} and response.ok


def test_json_bodies_are_kept_as_text() -> None:
    response = Response.from_json({"result": {"statusCode": 200, "body": {"a": 1}}})
    assert response.json() == {"a": 1}


def test_task_result_states() -> None:
    processing = TaskResult.from_json({"status": "processing"}, "t9")
    assert processing.status is b.TaskStatus.PROCESSING and processing.response is None
    done = TaskResult.from_json(
        {"status": "completed", "result": {"statusCode": 201, "body": "ok"}}, "t9"
    )
    assert done.response is not None and done.response.status_code == 201
    nested = TaskResult.from_json(
        {"data": {"task": {"id": "t9", "status": "failed", "error": {"message": "dns"}}}}, "t9"
    )
    assert (nested.status, nested.error) == (b.TaskStatus.FAILED, "dns")
    with pytest.raises(b.InvalidResponseError):
        TaskResult.from_json({"status": "weird"}, "t9")


def test_history_row_and_page() -> None:
    page = parse_page(
        {"tasks": [HISTORY_ROW], "pagination": {"total": 15420, "limit": 50, "offset": 0}},
        "tasks",
        Task.from_json,
        limit=50,
        offset=0,
    )
    assert page.total == 15420 and page.has_more
    task = page.items[0]
    assert (task.type, task.price_charged, task.processing_time_ms) == (
        "BBRE_SESSION_REQUEST",
        0.012,
        3456.0,
    )


def test_account_info_and_balance() -> None:
    info = AccountInfo.from_json(
        {
            "account": {
                "username": "u",
                "email": "e@x",
                "status": "active",
                "balance": 9.5,
                "createdAt": "2024-01-01T00:00:00Z",
            },
            "statistics": {"totalRequests": 10, "successRate": 90.0, "activeSessions": 2},
        }
    )
    assert (info.balance, info.statistics.total_requests, info.statistics.active_sessions) == (
        9.5,
        10,
        2,
    )
    assert Balance.from_json({"balance": 12.25}).amount == 12.25
    assert Balance.from_json({"data": {"balance": "3.5"}}).amount == 3.5


@pytest.mark.parametrize(
    "payload",
    [
        {"session": {"id": "x", "expiresAt": "yesterday"}},
        {"session": {"id": "x", "requestCount": "many"}},
        {"session": {"id": None}},
        {"sessions": "nope"},
        {"session": {"id": "x", "totalCharged": float("nan")}},
    ],
)
def test_wrong_types_are_typed_errors(payload: dict[str, object]) -> None:
    with pytest.raises(b.InvalidResponseError):
        SessionInfo.from_json(payload)


def test_timestamp_forms() -> None:
    ms = parse_timestamp(1718445600000)
    assert ms == parse_timestamp(1718445600) == parse_timestamp("2024-06-15T10:00:00Z")
    assert parse_timestamp("2024-06-15T12:00:00+02:00") == ms
    assert to_iso(ms) == "2024-06-15T10:00:00.000Z"
    with pytest.raises(ValueError, match="naive"):
        to_iso(datetime(2024, 1, 1))
