"""/session/create, /session/request, /session/status, /session/close over real sockets."""

from __future__ import annotations

import asyncio

import pytest

from bbre_async.emulator import Emulator, Latency, ManualClock
from tests.emulator._helpers import Api, make_settings

NOW_MS = 1_718_447_400_000


async def test_create_answers_the_documented_session(api: Api) -> None:
    session = await api.create(mode="adaptive", sensibility="high", timeout=120)
    assert set(session) == {"id", "status", "mode", "sensibility", "expiresAt", "createdAt"}
    assert session["id"].startswith("session_")
    assert session["status"] == "active"
    assert (session["mode"], session["sensibility"]) == ("adaptive", "high")
    assert session["createdAt"] == NOW_MS
    assert session["expiresAt"] == NOW_MS + 120_000


async def test_create_defaults_to_passive_medium_300s(api: Api) -> None:
    session = await api.create()
    assert (session["mode"], session["sensibility"]) == ("passive", "medium")
    assert session["expiresAt"] - session["createdAt"] == 300_000


@pytest.mark.parametrize(
    ("timeout", "life_ms"),
    [(60, 60_000), (299.5, 299_500), (300, 300_000), (600, 300_000), (3600, 300_000)],
)
async def test_the_controller_clamps_the_life_to_300s(
    api: Api, timeout: float, life_ms: int
) -> None:
    session = await api.create(timeout=timeout)
    assert session["expiresAt"] - session["createdAt"] == life_ms


@pytest.mark.parametrize("settings", [make_settings(time_scale=100.0)])
@pytest.mark.parametrize(("timeout", "life_ms"), [(300, 3_000), (600, 3_000), (60, 600)])
async def test_time_scale_compresses_the_life_but_not_the_timestamps(
    api: Api, timeout: int, life_ms: int
) -> None:
    session = await api.create(timeout=timeout)
    assert session["createdAt"] == NOW_MS
    assert session["expiresAt"] == NOW_MS + life_ms


@pytest.mark.parametrize("timeout", [59, 59.99, 3601, 0, -5, "300", True, None.__class__.__name__])
async def test_the_validator_accepts_60_to_3600_only(api: Api, timeout: object) -> None:
    error = await api.err("/session/create", {"timeout": timeout}, 400, "INVALID_REQUEST")
    assert error["details"]["field"] == "timeout"


@pytest.mark.parametrize(
    "body",
    [
        {"mode": "turbo"},
        {"sensibility": "extreme"},
        {"mode": 1},
        {"fingerprint": "x"},
        {"proxy": 42},
    ],
)
async def test_bad_create_bodies_are_invalid_requests(api: Api, body: dict[str, object]) -> None:
    await api.err("/session/create", body, 400, "INVALID_REQUEST")


async def test_the_eleventh_active_session_is_refused(api: Api, emu: Emulator) -> None:
    ids = [(await api.create())["id"] for _ in range(10)]
    error = await api.err("/session/create", {}, 429, "SESSION_LIMIT_REACHED")
    assert error["details"] == {"limit": 10, "active": 10}
    await api.ok("/session/close", {"sessionId": ids[0]})
    await api.create()
    state = emu.state.account()
    assert state.cap_rejections == 1
    assert state.peak_active_sessions == 10
    assert state.sessions_created == 11
    assert state.active_sessions == 10


async def test_the_cap_is_per_account(api: Api) -> None:
    for _ in range(10):
        await api.create()
    await api.as_key("other-key").create()


async def test_a_past_due_session_holds_its_slot_until_processed(
    api: Api, emu: Emulator, clock: ManualClock
) -> None:
    for _ in range(10):
        await api.create(timeout=60)
    clock.advance(61)
    assert emu.state.account().active_sessions == 0  # by the clock
    await api.err("/session/create", {}, 429, "SESSION_LIMIT_REACHED")  # the documented lag
    assert emu.sweep() == 10
    await api.create()


@pytest.mark.parametrize("settings", [make_settings(cap_counts_unswept=False)])
async def test_without_the_lag_a_past_due_session_frees_its_slot(
    api: Api, clock: ManualClock
) -> None:
    for _ in range(10):
        await api.create(timeout=60)
    clock.advance(60)
    await api.create()


async def test_status_answers_epoch_ms_and_reconciles_expiry(
    api: Api, clock: ManualClock, emu: Emulator
) -> None:
    created = await api.create(timeout=60, mode="adaptive")
    status = (await api.ok("/session/status", {"sessionId": created["id"]}))["session"]
    assert status == {
        "id": created["id"],
        "status": "active",
        "mode": "adaptive",
        "sensibility": "medium",
        "requestCount": 0,
        "totalCharged": 0.0,
        "expiresAt": created["expiresAt"],
        "createdAt": created["createdAt"],
    }
    clock.advance(59.999)
    status = (await api.ok("/session/status", {"sessionId": created["id"]}))["session"]
    assert status["status"] == "active"
    clock.advance(0.001)
    status = (await api.ok("/session/status", {"sessionId": created["id"]}))["session"]
    assert status["status"] == "expired"
    assert emu.state.account().sessions_expired == 1


async def test_session_id_errors(api: Api) -> None:
    for path in ("/session/status", "/session/close", "/session/request"):
        error = await api.err(path, {"url": "https://a.test/"}, 400, "SESSION_ID_REQUIRED")
        assert error["details"] == {"hint": "Session ID is returned when you create a session"}
        await api.err(
            path, {"sessionId": "session_nope", "url": "https://a.test/"}, 404, "SESSION_NOT_FOUND"
        )
        await api.err(path, {"sessionId": 7, "url": "https://a.test/"}, 400, "INVALID_REQUEST")


async def test_another_accounts_session_is_not_found(api: Api) -> None:
    mine = await api.create()
    other = api.as_key("other-key")
    for path in ("/session/status", "/session/close"):
        await other.err(path, {"sessionId": mine["id"]}, 404, "SESSION_NOT_FOUND")
    await other.err(
        "/session/request",
        {"sessionId": mine["id"], "url": "https://a.test/"},
        404,
        "SESSION_NOT_FOUND",
    )


async def test_close_then_close_again(api: Api, emu: Emulator) -> None:
    session = await api.create()
    payload = await api.ok("/session/close", {"sessionId": session["id"]})
    assert payload["data"] == {"session": {"id": session["id"], "status": "closed"}}
    error = await api.err("/session/close", {"sessionId": session["id"]}, 400, "SESSION_CLOSED")
    assert error["message"] == "Session is already closed."
    status = (await api.ok("/session/status", {"sessionId": session["id"]}))["session"]
    assert status["status"] == "closed"
    assert emu.state.account().sessions_closed == 1


async def test_closing_an_expired_session_says_not_active(
    api: Api, clock: ManualClock, emu: Emulator
) -> None:
    session = await api.create(timeout=60)
    clock.advance(61)
    error = await api.err("/session/close", {"sessionId": session["id"]}, 400, "SESSION_CLOSED")
    assert error["details"] == {"status": "expired"}
    status = (await api.ok("/session/status", {"sessionId": session["id"]}))["session"]
    assert status["status"] == "expired"
    assert emu.state.account().sessions_closed == 0


@pytest.mark.parametrize("settings", [make_settings(close_expired="expired")])
async def test_close_expired_can_answer_session_expired(api: Api, clock: ManualClock) -> None:
    session = await api.create(timeout=60)
    clock.advance(61)
    await api.err("/session/close", {"sessionId": session["id"]}, 400, "SESSION_EXPIRED")


@pytest.mark.parametrize("settings", [make_settings(close_expired="close")])
async def test_close_expired_can_succeed(api: Api, clock: ManualClock) -> None:
    session = await api.create(timeout=60)
    clock.advance(61)
    await api.ok("/session/close", {"sessionId": session["id"]})
    status = (await api.ok("/session/status", {"sessionId": session["id"]}))["session"]
    assert status["status"] == "closed"


async def test_request_answers_data_task_result(api: Api) -> None:
    session = await api.create()
    task = await api.fetch(session["id"], "https://example.com/api/data")
    assert task["status"] == "completed"
    assert isinstance(task["id"], str) and task["id"]
    result = task["result"]
    assert set(result) >= {"statusCode", "headers", "body", "cookies", "profile"}
    assert result["statusCode"] == 200
    assert "https://example.com/api/data" in result["body"]
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in result["headers"].items())
    assert result["profile"]["userAgent"].startswith("Mozilla/5.0")


async def test_request_counts_and_charges_the_session(api: Api) -> None:
    session = await api.create(mode="adaptive")
    for _ in range(3):
        await api.fetch(session["id"], "https://example.com/")
    status = (await api.ok("/session/status", {"sessionId": session["id"]}))["session"]
    assert status["requestCount"] == 3
    assert status["totalCharged"] == pytest.approx(0.036)


async def test_cookies_persist_and_merge_across_requests(api: Api) -> None:
    session = await api.create()
    first = await api.fetch(session["id"], "https://shop.test/a", cookies={"lang": "en"})
    jar = first["result"]["cookies"]
    assert jar["lang"] == "en"
    site_cookies = {k: v for k, v in jar.items() if k != "lang"}
    assert len(site_cookies) == 1  # the cookie shop.test sets
    second = await api.fetch(
        session["id"],
        "https://other.test/",
        cookies=[{"name": "consent", "value": "yes", "domain": "x"}],
    )
    jar2 = second["result"]["cookies"]
    assert jar2["lang"] == "en" and jar2["consent"] == "yes"
    assert site_cookies.items() <= jar2.items()
    assert len(jar2) == 4  # lang, consent, and one cookie per host
    again = await api.fetch(session["id"], "https://shop.test/b")
    assert again["result"]["cookies"] == jar2


async def test_the_profile_is_stable_per_session(api: Api) -> None:
    one, two = await api.create(), await api.create()
    a1 = (await api.fetch(one["id"], "https://a.test/"))["result"]["profile"]
    a2 = (await api.fetch(one["id"], "https://b.test/"))["result"]["profile"]
    assert a1 == a2
    assert set(a1) >= {"userAgent", "platform", "screen"}
    b = (await api.fetch(two["id"], "https://a.test/"))["result"]["profile"]
    assert isinstance(b, dict)


async def test_requests_on_closed_and_expired_sessions(
    api: Api, clock: ManualClock, emu: Emulator
) -> None:
    closed = await api.create()
    await api.ok("/session/close", {"sessionId": closed["id"]})
    await api.err(
        "/session/request",
        {"sessionId": closed["id"], "url": "https://a.test/"},
        400,
        "SESSION_CLOSED",
    )
    expiring = await api.create(timeout=60)
    clock.advance(60)
    await api.err(
        "/session/request",
        {"sessionId": expiring["id"], "url": "https://a.test/"},
        400,
        "SESSION_EXPIRED",
    )
    state = emu.state.account()
    assert (state.requests_total, state.requests_on_closed, state.requests_on_expired) == (2, 1, 1)


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"url": "ftp://x"},
        {"url": 5},
        {"url": "https://a.test/", "method": "FETCH"},
        {"url": "https://a.test/", "headers": []},
        {"url": "https://a.test/", "cookies": 3},
        {"url": "https://a.test/", "allowRedirects": "yes"},
        {"url": "https://a.test/", "verifySSL": 1},
        {"url": "https://a.test/", "method": 7},
        {"url": "", "method": "GET"},
        {"url": "https://a.test/", "timeout": -1},
        {"url": "https://a.test/", "timeout": "soon"},
    ],
)
async def test_bad_request_bodies(api: Api, body: dict[str, object]) -> None:
    session = await api.create()
    error = await api.err(
        "/session/request", {"sessionId": session["id"], **body}, 400, "INVALID_REQUEST"
    )
    assert error["details"]["field"] in (set(body) | {"url"})


async def test_method_names_are_case_insensitive_and_default_to_get(api: Api) -> None:
    session = await api.create()
    for sent, seen in [("post", "POST"), ("", "GET"), (None, "GET"), ("GET", "GET")]:
        await api.fetch(session["id"], "https://a.test/", method=sent)
        assert (await api.ok("/account/history"))["tasks"][0]["method"] == seen


@pytest.mark.parametrize(
    "settings", [make_settings(latency=Latency(endpoints={"session/request": 0.2}))]
)
async def test_two_requests_at_once_on_one_session_are_a_violation(api: Api, emu: Emulator) -> None:
    session = await api.create()
    other = await api.create()
    await asyncio.gather(
        api.fetch(session["id"], "https://a.test/1"),
        api.fetch(session["id"], "https://a.test/2"),
        api.fetch(other["id"], "https://a.test/3"),
    )
    state = emu.state.account()
    assert state.concurrent_request_violations == 1
    assert state.max_in_flight_per_session == 2
