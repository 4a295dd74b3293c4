"""/_emulator/state and the other admin endpoints; the in-process state object."""

from __future__ import annotations

import aiohttp
import orjson
import pytest

from bbre_async.emulator import Emulator, ManualClock
from bbre_async.emulator._targets import Targets
from tests.emulator._helpers import Api, make_settings

COUNTER_KEYS = {
    "name",
    "status",
    "balance",
    "total_charged",
    "sessions_created",
    "sessions_closed",
    "sessions_expired",
    "active_sessions",
    "peak_active_sessions",
    "cap_rejections",
    "insufficient_balance",
    "requests_total",
    "requests_on_expired",
    "requests_on_closed",
    "concurrent_request_violations",
    "max_in_flight_per_session",
    "closes_failed",
    "stored_sessions",
    "tasks_created",
    "lost_answers",
    "faults",
    "calls",
    "active_session_ids",
}


async def admin(
    http: aiohttp.ClientSession,
    emu: Emulator,
    path: str,
    body: object = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, object]:
    method = "GET" if path == "state" else "POST"
    async with http.request(
        method,
        f"{emu.base_url}/_emulator/{path}",
        data=None if body is None else orjson.dumps(body),
        headers=headers,
    ) as response:
        return response.status, orjson.loads(await response.read())


async def test_state_json_shape_and_counters(
    api: Api, emu: Emulator, http: aiohttp.ClientSession, clock: ManualClock
) -> None:
    kept = await api.create(timeout=300)
    await api.create(timeout=60)
    closed = await api.create(timeout=300)
    await api.ok("/session/close", {"sessionId": closed["id"]})
    clock.advance(61)
    emu.sweep()
    await api.fetch(kept["id"], "https://a.test/")
    status, state = await admin(http, emu, "state")
    assert status == 200
    assert isinstance(state, dict)
    assert set(state) == {
        "now",
        "time_scale",
        "accounts",
        "faults",
        "lost_answers",
        "internal_errors",
        "clock_offset",
        "expiry_form",
        "failing_closes",
        "stored_sessions",
        "orchestrator",  # the OrchestratorHQ API served under /api
    }
    assert (state["clock_offset"], state["expiry_form"], state["failing_closes"]) == (
        0.0,
        "normal",
        None,
    )
    assert state["stored_sessions"] == 3
    assert set(state["accounts"]) == {"default", "other", "suspended", "inactive"}
    default = state["accounts"]["default"]
    assert set(default) == COUNTER_KEYS
    assert default["sessions_created"] == 3
    assert default["sessions_closed"] == 1
    assert default["sessions_expired"] == 1
    assert default["active_sessions"] == 1
    assert default["peak_active_sessions"] == 3
    assert default["active_session_ids"] == [kept["id"]]
    assert default["requests_total"] == 1
    assert default["stored_sessions"] == 3
    assert default["closes_failed"] == 0
    assert default["balance"] == pytest.approx(100 - 0.03 - 0.005)
    assert default["total_charged"] == pytest.approx(0.035)
    assert "test-key" not in orjson.dumps(state).decode()
    assert emu.state.to_json() == {**state, "now": emu.state.now}


async def test_peak_counts_by_the_clock(api: Api, emu: Emulator, clock: ManualClock) -> None:
    await api.create(timeout=60)
    await api.create(timeout=60)
    clock.advance(60)  # both past due, neither processed
    await api.create(timeout=60)
    assert emu.state.account().peak_active_sessions == 2


async def test_admin_steering(api: Api, emu: Emulator, http: aiohttp.ClientSession) -> None:
    status, faults = await admin(http, emu, "faults", {"service_error": 1.0})
    assert status == 200 and isinstance(faults, dict) and faults["service_error"] == 1.0
    assert (await api.call("/account/balance", method="GET")).status == 500
    await admin(http, emu, "faults", {"service_error": 0.0})
    await admin(http, emu, "inject", {"kind": "rate_limit", "endpoint": "session/create"})
    assert (await api.call("/session/create", {})).status == 429
    status, _ = await admin(http, emu, "script", {"pattern": "https://x.test/*", "status": 418})
    assert status == 200
    session = await api.create()
    assert (await api.fetch(session["id"], "https://x.test/"))["result"]["statusCode"] == 418
    await admin(http, emu, "script", {"clear": True})
    assert (await api.fetch(session["id"], "https://x.test/"))["result"]["statusCode"] == 200
    status, latency = await admin(http, emu, "latency", {"endpoints": {"account/info": 0.01}})
    assert latency == {
        "default": 0.0,
        "endpoints": {"account/info": 0.01},
        "modes": {},
        "jitter": 0.0,
    }
    await admin(http, emu, "accounts", {"api_key": "new-key", "name": "new"})
    await api.as_key("new-key").ok("/account/balance", method="GET")
    await admin(http, emu, "accounts", {"name": "new", "status": "inactive"})
    await api.as_key("new-key").err("/account/balance", None, 403, "ACCOUNT_INACTIVE", method="GET")
    status, swept = await admin(http, emu, "sweep")
    assert (status, swept) == (200, {"expired": 0})
    status, error = await admin(http, emu, "faults", {"service_error": 7})
    assert status == 400 and isinstance(error, dict) and error["error"] == "INVALID_REQUEST"
    status, _ = await admin(http, emu, "reset")
    assert status == 200
    assert emu.state.account().sessions_created == 0
    assert "new" not in emu.state.accounts


@pytest.mark.parametrize("settings", [make_settings(admin_token="s3cret")])
async def test_admin_token(emu: Emulator, http: aiohttp.ClientSession) -> None:
    status, _ = await admin(http, emu, "state")
    assert status == 401
    status, _ = await admin(http, emu, "state", headers={"x-emulator-token": "nope"})
    assert status == 401
    status, _ = await admin(http, emu, "state", headers={"x-emulator-token": "s3cret"})
    assert status == 200
    assert "s3cret" not in repr(emu.settings)


async def test_internal_errors_become_service_errors(
    api: Api, emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(Targets, "fetch", explode)
    session = await api.create()
    await api.err(
        "/session/request",
        {"sessionId": session["id"], "url": "https://a.test/"},
        500,
        "SERVICE_ERROR",
    )
    assert emu.state.internal_errors == 1
