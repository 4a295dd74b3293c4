"""/account/sessions: ISO times, newest first, filters, paging, and the documented lag."""

from __future__ import annotations

import re

import pytest

from bbre_async.emulator import (
    AccountSpec,
    Emulator,
    EmulatorSettings,
    ManualClock,
    running_emulator,
)
from tests.emulator._helpers import Api, make_settings
from tests.waiting import eventually

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


async def test_rows_have_iso_times_and_closed_at(api: Api, clock: ManualClock) -> None:
    session = await api.create(timeout=120)
    await api.fetch(session["id"], "https://a.test/")
    clock.advance(5)
    await api.ok("/session/close", {"sessionId": session["id"]})
    payload = await api.ok("/account/sessions", {})
    [row] = payload["sessions"]
    assert row == {
        "id": session["id"],
        "mode": "passive",
        "sensibility": "medium",
        "status": "closed",
        "requestCount": 1,
        "totalCharged": 0.005,
        "expiresAt": "2024-06-15T10:32:00.000Z",
        "createdAt": "2024-06-15T10:30:00.000Z",
        "closedAt": "2024-06-15T10:30:05.000Z",
    }
    assert payload["pagination"] == {"total": 1, "limit": 20, "offset": 0}


async def test_newest_first_with_default_limit_20(api: Api, clock: ManualClock) -> None:
    ids = []
    for _ in range(25):
        session = await api.create(timeout=60)
        ids.append(session["id"])
        await api.ok("/session/close", {"sessionId": session["id"]})
        clock.advance(1)
    payload = await api.ok("/account/sessions")
    assert [r["id"] for r in payload["sessions"]] == ids[::-1][:20]
    assert payload["pagination"] == {"total": 25, "limit": 20, "offset": 0}
    page = await api.ok("/account/sessions", {"limit": 10, "offset": 20})
    assert [r["id"] for r in page["sessions"]] == ids[::-1][20:]
    assert page["pagination"] == {"total": 25, "limit": 10, "offset": 20}
    assert all(ISO.match(r["createdAt"]) for r in page["sessions"])
    empty = await api.ok("/account/sessions", {"offset": 100})
    assert empty["sessions"] == [] and empty["pagination"]["total"] == 25


async def test_status_filters_and_unknown_values(
    api: Api, clock: ManualClock, emu: Emulator
) -> None:
    active = await api.create(timeout=300)
    closed = await api.create(timeout=300)
    await api.ok("/session/close", {"sessionId": closed["id"]})
    expired = await api.create(timeout=60)
    clock.advance(61)
    emu.sweep()

    async def ids(status: object) -> list[str]:
        payload = await api.ok("/account/sessions", {"status": status})
        assert payload["pagination"]["total"] == len(payload["sessions"])
        return [r["id"] for r in payload["sessions"]]

    assert await ids("active") == [active["id"]]
    assert await ids("closed") == [closed["id"]]
    assert await ids("expired") == [expired["id"]]
    assert await ids("Active") == []  # case-sensitive
    assert await ids("running") == []
    rows = (await api.ok("/account/sessions"))["sessions"]
    [exp_row] = [r for r in rows if r["id"] == expired["id"]]
    assert exp_row["closedAt"] is None


@pytest.mark.parametrize(
    ("body", "limit", "offset"),
    [
        ({"limit": -1}, 1, 0),
        ({"limit": 0}, 1, 0),
        ({"offset": -5}, 20, 0),
        ({"limit": "2"}, 2, 0),
        ({"limit": 1.5}, 1, 0),
        ({"offset": True}, 20, 0),
        ({"limit": "many", "offset": [1]}, 20, 0),
        ({"limit": None, "offset": "1"}, 20, 1),
        ({"limit": 1e300, "offset": 1e30}, 1_000_000_000, 1_000_000_000),
    ],
)
async def test_invalid_paging_values_are_ignored_or_clamped(
    api: Api, body: dict[str, object], limit: int, offset: int
) -> None:
    """The page calls the endpoint lenient and lists only 401/403/500: never a 400."""
    for _ in range(3):
        await api.create()
    payload = await api.ok("/account/sessions", body)
    assert payload["pagination"] == {"total": 3, "limit": limit, "offset": offset}
    assert len(payload["sessions"]) == max(0, min(limit, 3 - offset))


async def test_only_the_callers_sessions_are_listed(api: Api) -> None:
    await api.create()
    payload = await api.as_key("other-key").ok("/account/sessions")
    assert payload["sessions"] == [] and payload["pagination"]["total"] == 0


async def test_expiry_shows_in_the_listing_only_after_the_sweep(
    api: Api, clock: ManualClock, emu: Emulator
) -> None:
    session = await api.create(timeout=60)
    clock.advance(120)

    async def listed_status() -> str:
        return str((await api.ok("/account/sessions"))["sessions"][0]["status"])

    assert await listed_status() == "active"  # the documented lag
    assert emu.state.account().active_sessions == 0  # the truth, by the clock
    assert emu.sweep() == 1
    assert await listed_status() == "expired"
    assert emu.state.account().sessions_expired == 1
    assert emu.sweep() == 0
    del session


async def test_status_processes_the_expiry_for_the_listing_too(
    api: Api, clock: ManualClock
) -> None:
    session = await api.create(timeout=60)
    clock.advance(61)
    await api.ok("/session/status", {"sessionId": session["id"]})
    assert (await api.ok("/account/sessions"))["sessions"][0]["status"] == "expired"


async def test_the_background_sweep_runs_on_its_own(http: object) -> None:
    clock = ManualClock()
    settings = EmulatorSettings(sweep_interval=0.02)
    async with running_emulator(settings, clock=clock) as emu:
        api = Api(http, emu.base_url)  # type: ignore[arg-type]
        await api.create(timeout=60)
        clock.advance(61)

        async def swept() -> bool:
            rows = (await api.ok("/account/sessions", {"status": "expired"}))["sessions"]
            return len(rows) == 1

        await eventually(swept)
    assert not emu.running


@pytest.mark.parametrize("settings", [make_settings(time_scale=10.0)])
async def test_a_lagging_listing_hides_new_sessions_and_recent_closes(
    api: Api, clock: ManualClock, emu: Emulator
) -> None:
    old = await api.create()
    clock.advance(1)
    emu.set_faults(listing_lag=5.0)  # 5 emulated seconds = 0.5 s of clock at time_scale 10
    await api.ok("/session/close", {"sessionId": old["id"]})
    new = await api.create()
    rows = (await api.ok("/account/sessions"))["sessions"]
    assert [(r["id"], r["status"], r["closedAt"]) for r in rows] == [(old["id"], "active", None)]
    clock.advance(0.5)
    rows = (await api.ok("/account/sessions"))["sessions"]
    assert [(r["id"], r["status"]) for r in rows] == [(new["id"], "active"), (old["id"], "closed")]


async def test_accounts_added_at_runtime_work(api: Api, emu: Emulator) -> None:
    emu.add_account(AccountSpec(api_key="late-key", name="late", balance=1.0))
    late = api.as_key("late-key")
    await late.create()
    assert emu.state.account("late").sessions_created == 1
