"""Balance, charges, refunds, 402, and /account/info statistics."""

from __future__ import annotations

import pytest

from bbre_async.emulator import AccountSpec, Emulator, ManualClock, Prices
from tests.emulator._helpers import Api, make_settings


async def test_balance_answers_a_float_by_get_and_post(api: Api) -> None:
    for method in ("GET", "POST"):
        payload = await api.ok("/account/balance", method=method)
        assert payload["balance"] == 100.0 and isinstance(payload["balance"], float)


async def test_charges_follow_the_price_settings(api: Api, emu: Emulator) -> None:
    passive = await api.create(mode="passive")
    adaptive = await api.create(mode="adaptive")
    await api.fetch(passive["id"], "https://a.test/")
    await api.fetch(adaptive["id"], "https://a.test/")
    balance = (await api.ok("/account/balance"))["balance"]
    assert balance == pytest.approx(100 - 0.01 * 2 - 0.005 - 0.012)
    assert emu.state.account().total_charged == pytest.approx(0.037)
    assert emu.state.account().balance == balance


@pytest.mark.parametrize(
    "settings",
    [
        make_settings(
            accounts=[AccountSpec(api_key="test-key", balance=0.012)],
            prices=Prices(session_create=0.01, session_request_passive=0.005),
        )
    ],
)
async def test_insufficient_balance_is_402_and_charges_nothing(api: Api, emu: Emulator) -> None:
    session = await api.create()
    error = await api.err(
        "/session/request",
        {"sessionId": session["id"], "url": "https://a.test/"},
        402,
        "INSUFFICIENT_BALANCE",
    )
    assert error["details"] == {"required": 0.005, "balance": 0.002}
    await api.err("/session/create", {}, 402, "INSUFFICIENT_BALANCE")
    await api.err("/request/create", {"url": "https://a.test/"}, 402, "INSUFFICIENT_BALANCE")
    await api.err("/request/execute", {"url": "https://a.test/"}, 402, "INSUFFICIENT_BALANCE")
    assert (await api.ok("/account/balance"))["balance"] == 0.002
    status = (await api.ok("/session/status", {"sessionId": session["id"]}))["session"]
    assert status["requestCount"] == 0
    assert emu.state.account().insufficient_balance == 4
    assert (await api.ok("/account/history"))["tasks"] == []


async def test_failed_stateless_tasks_are_refunded(
    api: Api, emu: Emulator, clock: ManualClock
) -> None:
    emu.script("https://fail.test/*", outcome="failed")
    await api.ok("/request/create", {"url": "https://fail.test/", "mode": "adaptive"})
    assert (await api.ok("/account/balance"))["balance"] == pytest.approx(100 - 0.012)
    clock.advance(2)
    await api.ok("/account/history")  # settles due tasks
    assert (await api.ok("/account/balance"))["balance"] == 100.0
    assert emu.state.account().total_charged == 0.0


async def test_runtime_balance_changes(api: Api, emu: Emulator) -> None:
    emu.update_account("default", balance=0.0)
    await api.err("/session/create", {}, 402, "INSUFFICIENT_BALANCE")
    emu.update_account("default", balance=5)
    await api.create()


async def test_info_reports_account_and_statistics(
    api: Api, emu: Emulator, clock: ManualClock
) -> None:
    emu.script("https://fail.test/*", outcome="failed")
    session = await api.create()
    await api.fetch(session["id"], "https://a.test/")
    await api.fetch(session["id"], "https://a.test/2")
    await api.ok("/request/create", {"url": "https://fail.test/"})
    clock.advance(2)
    for method in ("GET", "POST"):
        payload = await api.ok("/account/info", method=method)
        account = payload["account"]
        assert set(account) == {"username", "email", "status", "balance", "createdAt"}
        assert account["username"] == "default" and account["status"] == "active"
        assert account["balance"] == pytest.approx(100 - 0.01 - 0.01)
        assert account["createdAt"] == "2024-06-15T10:30:00.000Z"
        assert payload["statistics"] == {
            "totalRequests": 3,
            "todayRequests": 3,
            "completedRequests": 2,
            "failedRequests": 1,
            "successRate": 66.67,
            "activeSessions": 1,
        }


async def test_today_requests_count_since_utc_midnight(api: Api, clock: ManualClock) -> None:
    session = await api.create(timeout=300)
    await api.fetch(session["id"], "https://a.test/")
    clock.advance(14 * 3600)  # 00:30 the next day
    session = await api.create(timeout=300)
    await api.fetch(session["id"], "https://a.test/")
    stats = (await api.ok("/account/info"))["statistics"]
    assert (stats["totalRequests"], stats["todayRequests"]) == (2, 1)
