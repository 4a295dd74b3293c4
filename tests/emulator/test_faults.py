"""Fault injection: each kind, scripts, seeded rates, endpoint selection, counters."""

from __future__ import annotations

import aiohttp
import pytest

from bbre_async.emulator import Emulator, Faults, Latency
from tests.emulator._helpers import Api, make_settings


async def test_service_error_processes_nothing(api: Api, emu: Emulator) -> None:
    emu.inject("service_error", endpoint="session/create")
    await api.err("/session/create", {}, 500, "SERVICE_ERROR")
    assert emu.state.account().sessions_created == 0
    await api.create()  # the script was for one call only
    assert emu.state.account().faults == {"service_error": 1}


async def test_rate_limit_sends_retry_after(api: Api, emu: Emulator) -> None:
    emu.set_faults(retry_after=2)
    emu.inject("rate_limit")
    error = await api.err("/account/balance", None, 429, "RATE_LIMIT_EXCEEDED", method="GET")
    assert error["details"] == {"retryAfter": 2}
    answer = await api.call("/account/balance", method="GET")
    assert answer.status == 200
    emu.set_faults(retry_after=0.25)
    emu.inject("rate_limit")
    answer = await api.call("/account/balance", method="GET")
    assert answer.headers["Retry-After"] == "0.25"


async def test_rate_limit_header_is_whole_seconds_by_default(api: Api, emu: Emulator) -> None:
    emu.inject("rate_limit")
    answer = await api.call("/session/create", {})
    assert answer.status == 429 and answer.headers["Retry-After"] == "1"


async def test_bad_gateway_is_an_html_page(api: Api, emu: Emulator) -> None:
    emu.inject("bad_gateway", endpoint="session/status")
    answer = await api.call("/session/status", {"sessionId": "x"})
    assert answer.status == 502
    assert answer.headers["content-type"].startswith("text/html")
    assert "502 Bad Gateway" in answer.text and answer.json is None


async def test_drop_aborts_before_processing(api: Api, emu: Emulator) -> None:
    emu.inject("drop", endpoint="session/create")
    with pytest.raises(aiohttp.ClientError):
        await api.call("/session/create", {})
    assert emu.state.account().sessions_created == 0
    assert emu.state.faults == {"drop": 1}


async def test_lost_answer_creates_the_session_but_never_answers(api: Api, emu: Emulator) -> None:
    emu.inject("lost_answer", endpoint="session/create")
    with pytest.raises(aiohttp.ClientError):
        await api.call("/session/create", {"timeout": 120})
    state = emu.state.account()
    assert state.sessions_created == 1 and state.active_sessions == 1
    assert state.lost_answers == {"session/create": 1}
    assert state.faults == {"lost_answer": 1}
    assert state.balance == pytest.approx(99.99)  # charged all the same
    [row] = (await api.ok("/account/sessions", {"status": "active"}))["sessions"]
    assert row["id"] == state.active_session_ids[0]


async def test_lost_answer_on_close_still_closes(api: Api, emu: Emulator) -> None:
    session = await api.create()
    emu.inject("lost_answer", endpoint="session/close")
    with pytest.raises(aiohttp.ClientError):
        await api.call("/session/close", {"sessionId": session["id"]})
    await api.err("/session/close", {"sessionId": session["id"]}, 400, "SESSION_CLOSED")


async def test_scripts_count_down_and_select_endpoints(api: Api, emu: Emulator) -> None:
    emu.inject("service_error", endpoint="session/create", count=2)
    assert (await api.call("/account/balance", method="GET")).status == 200
    assert (await api.call("/session/create", {})).status == 500
    assert (await api.call("/session/create", {})).status == 500
    assert (await api.call("/session/create", {})).status == 200


async def _statuses(api: Api, n: int) -> list[int]:
    return [(await api.call("/account/balance", method="GET")).status for _ in range(n)]


@pytest.mark.parametrize("settings", [make_settings(seed=7, faults=Faults(service_error=0.3))])
async def test_rates_are_seeded_and_reproducible(api: Api, emu: Emulator) -> None:
    first = await _statuses(api, 60)
    assert 5 <= first.count(500) <= 35 and first.count(200) + first.count(500) == 60
    emu.reset()
    assert await _statuses(api, 60) == first
    assert emu.state.faults["service_error"] == first.count(500)


async def test_rates_can_be_limited_to_endpoints(api: Api, emu: Emulator) -> None:
    emu.set_faults(Faults(service_error=1.0, endpoints=["session/status"]))
    assert await _statuses(api, 5) == [200] * 5
    assert (await api.call("/session/status", {"sessionId": "x"})).status == 500
    emu.clear_faults()
    assert (await api.call("/session/status", {"sessionId": "x"})).status == 404


async def test_unattributed_faults_count_globally(api: Api, emu: Emulator) -> None:
    emu.inject("service_error")
    assert (await api.as_key(None).call("/account/balance", method="GET")).status == 500
    assert emu.state.faults == {"service_error": 1}
    assert all(not a.faults for a in emu.state.accounts.values())


@pytest.mark.parametrize(
    "kwargs",
    [
        {"service_error": 1.5},
        {"service_error": 0.6, "lost_answer": 0.6},
        {"endpoints": ["session/nope"]},
        {"retry_after": -1},
    ],
)
def test_fault_settings_are_validated(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        Faults(**kwargs)  # type: ignore[arg-type]


def test_unknown_scripted_kinds_are_refused(emu: Emulator) -> None:
    with pytest.raises(ValueError, match="unknown fault kind"):
        emu.inject("meteor")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown endpoint"):
        emu.inject("drop", endpoint="session/open")


@pytest.mark.parametrize("settings", [make_settings(latency=Latency(default=0.05))])
async def test_latency_is_real_time(api: Api) -> None:
    import time

    started = time.perf_counter()
    await api.ok("/account/balance", method="GET")
    assert time.perf_counter() - started >= 0.05


def test_latency_adds_endpoint_mode_and_jitter() -> None:
    import random

    latency = Latency(
        default=0.01, endpoints={"session/request": 0.05}, modes={"adaptive": 0.1}, jitter=0.02
    )
    rng = random.Random(1)
    assert latency.delay("session/create", None, rng) >= 0.01
    value = latency.delay("session/request", "adaptive", rng)
    assert 0.15 <= value <= 0.17
    assert not Latency().enabled and latency.enabled
    with pytest.raises(ValueError, match="unknown endpoint"):
        Latency(endpoints={"nope": 1.0})
