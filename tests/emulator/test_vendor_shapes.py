"""The vendor pages' JSON examples, used as shape fixtures: same keys, same JSON types.

Each example below is copied from the BBRE documentation pages (session listing, status, close,
usage history, and their error examples). The emulator's answer to the same situation must have
exactly the same keys at every level and the same JSON type for every value.
"""

from __future__ import annotations

from typing import Any

import orjson

from bbre_async.emulator import Emulator, ManualClock
from tests.emulator._helpers import Api

LISTING = orjson.loads("""{
"success": true, "service": "MyDisct Solver BBRE",
"sessions": [
{"id": "a1b2c3d4-e5f6-7890-abcd-ef1234567890", "mode": "adaptive", "sensibility": "medium",
 "status": "active", "requestCount": 15, "totalCharged": 0.075,
 "expiresAt": "2024-06-15T11:30:00.000Z", "createdAt": "2024-06-15T10:30:00.000Z",
 "closedAt": null},
{"id": "b2c3d4e5-f6a7-8901-bcde-f12345678901", "mode": "passive", "sensibility": "low",
 "status": "closed", "requestCount": 42, "totalCharged": 0.210,
 "expiresAt": "2024-06-14T16:00:00.000Z", "createdAt": "2024-06-14T14:00:00.000Z",
 "closedAt": "2024-06-14T15:45:00.000Z"}
],
"pagination": {"total": 42, "limit": 20, "offset": 0}
}""")

STATUS = orjson.loads("""{
"success": true, "service": "MyDisct Solver BBRE",
"session": {"id": "session_abc123def456", "status": "active", "mode": "adaptive",
 "sensibility": "high", "requestCount": 5, "totalCharged": 0.025,
 "expiresAt": 1706789012345, "createdAt": 1706788712345}
}""")

CLOSE = orjson.loads("""{
"success": true, "service": "MyDisct Solver BBRE",
"data": {"session": {"id": "session_abc123def456", "status": "closed"}}
}""")

HISTORY = orjson.loads("""{
"success": true, "service": "MyDisct Solver BBRE",
"tasks": [
{"id": "a1b2c3d4-e5f6-7890-abcd-ef1234567890", "type": "BBRE_REQUEST", "mode": "passive",
 "status": "completed", "url": "https://example.com/api/data", "method": "GET",
 "priceCharged": 0.005, "processingTime": 1234, "createdAt": "2024-06-15T10:30:00.000Z",
 "completedAt": "2024-06-15T10:30:01.234Z"},
{"id": "b2c3d4e5-f6a7-8901-bcde-f12345678901", "type": "BBRE_SESSION_REQUEST",
 "mode": "adaptive", "status": "completed", "url": "https://example.com/login",
 "method": "POST", "priceCharged": 0.012, "processingTime": 3456,
 "createdAt": "2024-06-15T10:28:00.000Z", "completedAt": "2024-06-15T10:28:03.456Z"}
],
"pagination": {"total": 15420, "limit": 50, "offset": 0}
}""")

ERRORS = {
    "API_KEY_REQUIRED": orjson.loads("""{"success": false, "service": "MyDisct Solver BBRE",
"error": {"code": "API_KEY_REQUIRED", "message":
"API key is required. Please provide your API key in the x-api-key or apikey header."}}"""),
    "INVALID_API_KEY": orjson.loads("""{"success": false, "service": "MyDisct Solver BBRE",
"error": {"code": "INVALID_API_KEY",
"message": "The provided API key is invalid or does not exist."}}"""),
    "ACCOUNT_SUSPENDED": orjson.loads("""{"success": false, "service": "MyDisct Solver BBRE",
"error": {"code": "ACCOUNT_SUSPENDED", "message":
"Your account has been suspended. Please contact support for more information."}}"""),
    "SESSION_ID_REQUIRED": orjson.loads("""{"success": false,
"service": "MyDisct Solver BBRE", "error": {"code": "SESSION_ID_REQUIRED",
"message": "Session ID is required.",
"details": {"hint": "Session ID is returned when you create a session"}}}"""),
    "SESSION_NOT_FOUND": orjson.loads("""{"success": false, "service": "MyDisct Solver BBRE",
"error": {"code": "SESSION_NOT_FOUND", "message": "Session not found."}}"""),
    "SESSION_CLOSED": orjson.loads("""{"success": false, "service": "MyDisct Solver BBRE",
"error": {"code": "SESSION_CLOSED", "message": "Session is already closed."}}"""),
}


def shape(value: Any) -> Any:
    """Keys and JSON types, recursively (lists by their items)."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(item) for item in value]
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "null"


async def test_listing_matches_the_vendor_example(
    api: Api, clock: ManualClock, emu: Emulator
) -> None:
    closed = await api.create(mode="passive", sensibility="low")
    await api.fetch(closed["id"], "https://example.com/")
    await api.ok("/session/close", {"sessionId": closed["id"]})
    clock.advance(1)
    active = await api.create(mode="adaptive")
    await api.fetch(active["id"], "https://example.com/")
    ours = await api.ok("/account/sessions")
    assert [r["status"] for r in ours["sessions"]] == ["active", "closed"]
    assert shape(ours) == shape(LISTING)


async def test_status_matches_the_vendor_example(api: Api) -> None:
    session = await api.create(mode="adaptive", sensibility="high")
    await api.fetch(session["id"], "https://example.com/")
    assert shape(await api.ok("/session/status", {"sessionId": session["id"]})) == shape(STATUS)


async def test_close_matches_the_vendor_example(api: Api) -> None:
    session = await api.create()
    assert shape(await api.ok("/session/close", {"sessionId": session["id"]})) == shape(CLOSE)


async def test_history_matches_the_vendor_example(api: Api, clock: ManualClock) -> None:
    session = await api.create(mode="adaptive")
    await api.fetch(session["id"], "https://example.com/login", method="POST")
    clock.advance(1)
    await api.ok("/request/create", {"url": "https://example.com/api/data"})
    clock.advance(5)
    ours = await api.ok("/account/history")
    assert [t["type"] for t in ours["tasks"]] == ["BBRE_REQUEST", "BBRE_SESSION_REQUEST"]
    assert shape(ours) == shape(HISTORY)


async def test_errors_match_the_vendor_examples(api: Api) -> None:
    session = await api.create()
    await api.ok("/session/close", {"sessionId": session["id"]})
    cases = {
        "API_KEY_REQUIRED": (api.as_key(None), {}),
        "INVALID_API_KEY": (api.as_key("nope"), {}),
        "ACCOUNT_SUSPENDED": (api.as_key("suspended-key"), {}),
        "SESSION_ID_REQUIRED": (api, {}),
        "SESSION_NOT_FOUND": (api, {"sessionId": "session_missing"}),
        "SESSION_CLOSED": (api, {"sessionId": session["id"]}),
    }
    for code, (caller, body) in cases.items():
        answer = await caller.call("/session/close", body)
        assert answer.json == ERRORS[code], code
