"""Issue-15 knobs at the user's level: a skewed server clock, odd expiry forms, a proxy 502
before the create, failing closes. Judged by the answers and the emulator's counters, over
real loopback sockets (raw aiohttp, and a real ``BBREClient`` where it matters)."""

from __future__ import annotations

import asyncio
import re
from email.utils import formatdate, parsedate_to_datetime

import aiohttp
import pytest

from bbre_async import BBREClient, BBREError, ServiceError
from bbre_async.emulator import Emulator, EmulatorSettings, Faults, ManualClock, running_emulator
from tests.emulator._helpers import Api, make_settings
from tests.emulator.conftest import START
from tests.waiting import eventually

START_MS = int(START * 1000)


# -- the server's clock ---------------------------------------------------------------------


@pytest.mark.parametrize("settings", [make_settings(clock_offset=-120.0)])
async def test_a_clock_offset_moves_every_timestamp_and_the_date_header(
    api: Api, emu: Emulator, clock: ManualClock
) -> None:
    created = await api.call("/session/create", {"timeout": 300})
    session = created.json["session"]
    assert session["createdAt"] == START_MS - 120_000
    assert session["expiresAt"] == START_MS - 120_000 + 300_000
    assert parsedate_to_datetime(created.headers["Date"]).timestamp() == START - 120
    status = (await api.ok("/session/status", {"sessionId": session["id"]}))["session"]
    assert (status["createdAt"], status["expiresAt"]) == (
        session["createdAt"],
        session["expiresAt"],
    )
    await api.fetch(session["id"], "https://a.test/")
    [row] = (await api.ok("/account/sessions"))["sessions"]
    assert row["createdAt"] == "2024-06-15T10:28:00.000Z"  # START is 10:30:00 on the clock
    [task] = (await api.ok("/account/history"))["tasks"]
    assert task["createdAt"] == "2024-06-15T10:28:00.000Z"
    # date filters are read on the server's clock too
    assert (await api.ok("/account/history", {"startDate": "2024-06-15T10:28:00Z"}))["tasks"]
    assert not (await api.ok("/account/history", {"startDate": "2024-06-15T10:29:00Z"}))["tasks"]
    # ... while the life still runs on the emulator's clock: 300 s, not 180 s
    clock.advance(299)
    await api.fetch(session["id"], "https://a.test/")
    clock.advance(1)
    await api.err(
        "/session/request",
        {"sessionId": session["id"], "url": "https://a.test/"},
        400,
        "SESSION_EXPIRED",
    )
    assert emu.state.account().requests_on_expired == 1
    assert emu.state.clock_offset == -120.0


async def test_the_offset_reaches_a_real_client_and_can_change_mid_run(
    emu: Emulator, clock: ManualClock
) -> None:
    async with BBREClient(api_key="test-key", base_url=emu.base_url) as client:
        first = await client.sessions.create()
        emu.set_clock_offset(120)
        info = await first.status()
        assert info.created_at is not None and info.expires_at is not None
        assert info.created_at.timestamp() == START + 120
        assert info.expires_at.timestamp() == START + 120 + 300
        emu.set_clock_offset(0)
        info = await first.status()
        assert info.created_at is not None and info.created_at.timestamp() == START
        await first.close()
    assert emu.state.account().sessions_closed == 1


async def test_the_date_header_follows_an_injected_clock(api: Api, clock: ManualClock) -> None:
    clock.advance(3600)
    answer = await api.call("/account/balance", method="GET")
    assert answer.headers["Date"] == formatdate(START + 3600, usegmt=True)


async def test_the_orchestrator_api_speaks_the_same_skewed_clock(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    emu.set_clock_offset(-60)
    headers = {"Authorization": f"Bearer {emu.orchestrator_key}"}
    async with http.post(
        f"{emu.orchestrator_url}/sessions",
        json={"session_name": "skew", "duration": "1h"},
        headers=headers,
    ) as response:
        session = await response.json()
        date = parsedate_to_datetime(response.headers["Date"]).timestamp()
    assert session["created_at"] == "2024-06-15T10:29:00Z"
    assert session["expires_at"] == "2024-06-15T11:29:00Z"
    assert date == START - 60


# -- expiry forms ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("form", "said"),
    [
        ("normal", START_MS + 300_000),
        ("past", START_MS - 60_000),
        ("equal_created", START_MS),
        ("day_too_far", START_MS + 300_000 + 86_400_000),
        ("unparsable", "not-a-timestamp"),
    ],
)
async def test_expiry_forms_change_what_create_and_status_say(
    api: Api, emu: Emulator, form: str, said: object
) -> None:
    emu.set_expiry_form(form)  # type: ignore[arg-type]  # each documented form
    session = await api.create(timeout=300)
    assert session["expiresAt"] == said
    assert session["createdAt"] == START_MS
    status = (await api.ok("/session/status", {"sessionId": session["id"]}))["session"]
    assert status["expiresAt"] == said
    [row] = (await api.ok("/account/sessions"))["sessions"]
    assert row["expiresAt"] == "2024-06-15T10:35:00.000Z"  # the listing keeps the truth


@pytest.mark.parametrize("settings", [make_settings(expiry_form="missing")])
async def test_a_missing_expiry_is_absent_but_the_session_lives_its_life(
    api: Api, emu: Emulator, clock: ManualClock
) -> None:
    session = await api.create(timeout=300)
    assert "expiresAt" not in session
    assert (
        "expiresAt"
        not in (await api.ok("/session/status", {"sessionId": session["id"]}))["session"]
    )
    clock.advance(299)
    await api.fetch(session["id"], "https://a.test/")
    clock.advance(1)
    status = (await api.ok("/session/status", {"sessionId": session["id"]}))["session"]
    assert status["status"] == "expired"
    assert emu.state.expiry_form == "missing"


async def test_an_unknown_expiry_form_is_refused(emu: Emulator) -> None:
    with pytest.raises(ValueError, match="unknown expiry form"):
        emu.set_expiry_form("later")  # type: ignore[arg-type]  # what a typo looks like
    with pytest.raises(ValueError, match="expiry_form"):
        EmulatorSettings(expiry_form="later")  # type: ignore[arg-type]


# -- a proxy's 502 before the create ----------------------------------------------------------


@pytest.mark.parametrize("settings", [make_settings(faults=Faults(create_bad_gateway=1.0))])
async def test_a_proxy_502_before_the_create_creates_nothing(api: Api, emu: Emulator) -> None:
    answer = await api.call("/session/create", {"timeout": 300})
    assert answer.status == 502
    assert answer.headers["content-type"].startswith("text/html")
    assert "<title>502 Bad Gateway</title>" in answer.text
    state = emu.state.account()
    assert state.sessions_created == 0 and state.stored_sessions == 0
    assert state.balance == 100.0
    assert state.faults == {"create_bad_gateway": 1}
    assert (await api.ok("/account/sessions"))["sessions"] == []  # other calls pass
    emu.set_faults(create_bad_gateway=0.0, lost_answer=1.0, endpoints=["session/create"])
    with pytest.raises(aiohttp.ClientError):
        await api.call("/session/create", {"timeout": 300})
    assert emu.state.account().sessions_created == 1  # the lost answer's session exists


@pytest.mark.parametrize(
    "settings", [make_settings(faults=Faults(garbled_answer=1.0, endpoints=["session/create"]))]
)
async def test_a_garbled_create_answer_still_made_the_session(api: Api, emu: Emulator) -> None:
    answer = await api.call("/session/create", {"timeout": 300})
    assert answer.status == 200
    assert answer.json is None  # half a JSON document
    assert answer.text.startswith('{"success":true')
    state = emu.state.account()
    assert state.sessions_created == 1 and state.active_sessions == 1
    assert state.faults == {"garbled_answer": 1}
    async with BBREClient(api_key="test-key", base_url=emu.base_url) as client:
        with pytest.raises(BBREError):
            await client.sessions.create()
    assert emu.state.account().sessions_created == 2


async def test_create_502_rate_is_drawn_per_create(emu: Emulator, api: Api) -> None:
    emu.set_faults(create_bad_gateway=0.5)
    statuses = []
    for _ in range(40):
        answer = await api.call("/session/create", {"timeout": 60})
        statuses.append(answer.status)
        if answer.status == 200:
            await api.ok("/session/close", {"sessionId": answer.json["session"]["id"]})
    assert {200, 502} == set(statuses)
    state = emu.state.account()
    assert state.sessions_created == statuses.count(200)
    assert state.faults["create_bad_gateway"] == statuses.count(502)


# -- failing closes -----------------------------------------------------------------------


async def test_failing_closes_answer_500_for_a_window_and_the_session_stays(
    api: Api, emu: Emulator, clock: ManualClock
) -> None:
    session = await api.create(timeout=300)
    emu.fail_closes("error", duration=30)
    await api.err("/session/close", {"sessionId": session["id"]}, 500, "SERVICE_ERROR")
    await api.err("/session/close", {"sessionId": session["id"]}, 500, "SERVICE_ERROR")
    status = (await api.ok("/session/status", {"sessionId": session["id"]}))["session"]
    assert status["status"] == "active"
    state = emu.state
    assert state.account().closes_failed == 2 and state.account().active_sessions == 1
    assert state.failing_closes == "error"
    clock.advance(30)  # the window is over
    await api.ok("/session/close", {"sessionId": session["id"]})
    assert emu.state.account().sessions_closed == 1 and emu.state.failing_closes is None


async def test_a_real_client_meets_failing_closes(emu: Emulator) -> None:
    emu.fail_closes("error")
    async with BBREClient(api_key="test-key", base_url=emu.base_url) as client:
        session = await client.sessions.create()
        with pytest.raises(ServiceError):
            await session.close()
        assert emu.state.account().closes_failed >= 1
        assert emu.state.account().active_sessions == 1
        emu.fail_closes(None)
        await client.sessions.close(session.id)
    assert emu.state.account().active_sessions == 0


async def test_timed_out_closes_are_held_unanswered_until_lifted(api: Api, emu: Emulator) -> None:
    session = await api.create(timeout=300)
    emu.fail_closes("timeout", duration=3600)
    pending = asyncio.ensure_future(api.call("/session/close", {"sessionId": session["id"]}))
    await eventually(lambda: emu.state.account().closes_failed == 1, what="the close is held")
    assert not pending.done()
    emu.fail_closes(None)  # lifted: the held call is dropped, never answered
    with pytest.raises(aiohttp.ClientError):
        await asyncio.wait_for(pending, 10)
    status = (await api.ok("/session/status", {"sessionId": session["id"]}))["session"]
    assert status["status"] == "active"
    await api.ok("/session/close", {"sessionId": session["id"]})


async def test_stopping_the_emulator_releases_held_closes(clock: ManualClock) -> None:
    settings = make_settings(faults=Faults(failing_closes="timeout"))
    async with running_emulator(settings, clock=clock) as emu, aiohttp.ClientSession() as http:
        api = Api(http, emu.base_url)
        session = await api.create(timeout=300)
        pending = asyncio.ensure_future(api.call("/session/close", {"sessionId": session["id"]}))
        await eventually(lambda: emu.state.account().closes_failed == 1, what="the close is held")
        await asyncio.wait_for(emu.stop(), 10)
        with pytest.raises(aiohttp.ClientError):
            await asyncio.wait_for(pending, 10)


# -- the same knobs over HTTP, for an emulator in another process --------------------------


async def test_the_admin_api_flips_the_knobs_mid_run(
    api: Api, emu: Emulator, http: aiohttp.ClientSession
) -> None:
    async def admin(path: str, body: object) -> dict[str, object]:
        async with http.post(f"{emu.base_url}/_emulator/{path}", json=body) as response:
            assert response.status == 200, await response.text()
            return dict(await response.json())

    assert await admin("clock", {"offset": 90.5}) == {"clock_offset": 90.5}
    assert await admin("expiry", {"form": "equal_created"}) == {"expiry_form": "equal_created"}
    session = await api.create()
    assert session["createdAt"] == session["expiresAt"] == START_MS + 90_500
    assert await admin("closes", {"kind": "error", "duration": 5}) == {
        "failing_closes": "error",
        "remaining": 5.0,
    }
    await api.err("/session/close", {"sessionId": session["id"]}, 500, "SERVICE_ERROR")
    assert await admin("closes", {"kind": None}) == {"failing_closes": None, "remaining": None}
    await api.ok("/session/close", {"sessionId": session["id"]})
    faults = await admin("faults", {"create_bad_gateway": 1.0})
    assert faults["create_bad_gateway"] == 1.0
    assert (await api.call("/session/create", {})).status == 502
    async with http.get(f"{emu.base_url}/_emulator/state") as response:
        state = await response.json()
    assert state["clock_offset"] == 90.5 and state["expiry_form"] == "equal_created"
    assert state["accounts"]["default"]["closes_failed"] == 1
    for path, body in [
        ("clock", {"offset": "soon"}),
        ("expiry", {"form": "later"}),
        ("closes", {"kind": "explode"}),
        ("closes", {"kind": "error", "duration": -1}),
    ]:
        async with http.post(f"{emu.base_url}/_emulator/{path}", json=body) as response:
            assert response.status == 400, (path, body)


async def test_reset_restores_the_settings_knobs(api: Api, emu: Emulator) -> None:
    emu.set_clock_offset(30)
    emu.set_expiry_form("past")
    emu.fail_closes("error")
    emu.reset()
    state = emu.state
    assert (state.clock_offset, state.expiry_form, state.failing_closes) == (0.0, "normal", None)
    session = await api.create(timeout=300)
    assert session["expiresAt"] == START_MS + 300_000


def test_knob_settings_are_validated() -> None:
    with pytest.raises(ValueError, match="clock_offset"):
        EmulatorSettings(clock_offset=float("nan"))
    with pytest.raises(ValueError, match="failing_closes"):
        Faults(failing_closes="maybe")  # type: ignore[arg-type]  # not a documented kind
    with pytest.raises(ValueError, match="create_bad_gateway"):
        Faults(create_bad_gateway=1.5)
    assert re.fullmatch(r"[a-z_]+", EmulatorSettings().expiry_form)
