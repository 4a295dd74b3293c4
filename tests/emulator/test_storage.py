"""Issue 19: what the emulator keeps stays bounded (ended sessions are forgotten after the
retention), listings stay right while it prunes, and task ids stay unique and UUID-shaped."""

from __future__ import annotations

import re

import aiohttp
import pytest

from bbre_async.emulator import Emulator, ManualClock
from bbre_async.emulator.orchestrator import OrchestratorSettings
from tests.emulator._helpers import Api, make_settings

UUID_SHAPE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@pytest.mark.parametrize("settings", [make_settings(session_retention=60.0)])
async def test_ended_sessions_are_forgotten_after_the_retention(
    api: Api, emu: Emulator, clock: ManualClock
) -> None:
    ended = []
    for _ in range(30):
        session = await api.create(timeout=60)
        await api.ok("/session/close", {"sessionId": session["id"]})
        ended.append(session["id"])
    kept = await api.create(timeout=300)
    assert emu.state.account().stored_sessions == 31
    clock.advance(59)
    emu.sweep()
    assert emu.state.stored_sessions == 31  # still inside the retention
    assert (
        len((await api.ok("/account/sessions", {"status": "closed", "limit": 50}))["sessions"])
        == 30
    )
    clock.advance(2)
    emu.sweep()
    state = emu.state
    assert state.stored_sessions == 1 and state.account().stored_sessions == 1
    assert state.account().sessions_closed == 30  # the counters remember what happened
    await api.err("/session/status", {"sessionId": ended[0]}, 404, "SESSION_NOT_FOUND")
    await api.err("/session/close", {"sessionId": ended[-1]}, 404, "SESSION_NOT_FOUND")
    payload = await api.ok("/account/sessions")
    assert [r["id"] for r in payload["sessions"]] == [kept["id"]]
    assert payload["pagination"]["total"] == 1


@pytest.mark.parametrize("settings", [make_settings(session_retention=10.0, time_scale=10.0)])
async def test_creates_prune_too_so_memory_stays_bounded_without_a_sweep(
    api: Api, emu: Emulator, clock: ManualClock
) -> None:
    """No background sweep here: a long run of create/close keeps a bounded store."""
    peak = 0
    for _ in range(200):
        session = await api.create(timeout=60)
        await api.ok("/session/close", {"sessionId": session["id"]})
        clock.advance(0.1)  # 200 sessions over 20 s; the retention is 1 clock second
        peak = max(peak, emu.state.stored_sessions)
    assert emu.state.account().sessions_created == 200
    assert peak <= 12


@pytest.mark.parametrize("settings", [make_settings(session_retention=60.0)])
async def test_expired_sessions_are_forgotten_like_closed_ones(
    api: Api, emu: Emulator, clock: ManualClock
) -> None:
    session = await api.create(timeout=60)
    clock.advance(60)
    emu.sweep()
    expired = await api.ok("/account/sessions", {"status": "expired"})
    assert [r["id"] for r in expired["sessions"]] == [session["id"]]
    clock.advance(61)
    emu.sweep()
    assert emu.state.stored_sessions == 0
    assert (await api.ok("/account/sessions", {"status": "expired"}))["sessions"] == []


async def test_active_and_unfiltered_pages_stay_right_among_many_ended_sessions(
    api: Api, emu: Emulator, clock: ManualClock
) -> None:
    active = []
    for i in range(60):
        session = await api.create(timeout=300)
        clock.advance(1)
        if i % 10 == 0:
            active.append(session["id"])
        else:
            await api.ok("/session/close", {"sessionId": session["id"]})
    newest_first = active[::-1]
    page = await api.ok("/account/sessions", {"status": "active", "limit": 4, "offset": 1})
    assert [r["id"] for r in page["sessions"]] == newest_first[1:5]
    assert page["pagination"] == {"total": 6, "limit": 4, "offset": 1}
    everything = await api.ok("/account/sessions", {"limit": 100})
    assert everything["pagination"]["total"] == 60
    ids = [r["id"] for r in everything["sessions"]]
    assert [i for i in ids if i in active] == newest_first
    closed = await api.ok("/account/sessions", {"status": "closed", "limit": 5, "offset": 50})
    assert closed["pagination"]["total"] == 54 and len(closed["sessions"]) == 4


async def test_task_ids_are_unique_and_uuid_shaped(api: Api) -> None:
    session = await api.create()
    ids = [(await api.fetch(session["id"], f"https://a.test/{i}"))["id"] for i in range(50)]
    ids += [(await api.ok("/request/create", {"url": "https://a.test/"}))["taskId"]]
    assert len(set(ids)) == len(ids)
    assert all(UUID_SHAPE.fullmatch(task_id) for task_id in ids)


@pytest.mark.parametrize(
    "settings",
    [make_settings(orchestrator=OrchestratorSettings(session_retention=120.0))],
)
async def test_orchestrator_sessions_are_forgotten_after_the_retention(
    emu: Emulator, http: aiohttp.ClientSession, clock: ManualClock
) -> None:
    headers = {"Authorization": f"Bearer {emu.orchestrator_key}"}
    url = emu.orchestrator_url
    ids = []
    for _ in range(5):
        async with http.post(
            f"{url}/sessions", json={"session_name": "s", "duration": "1m"}, headers=headers
        ) as response:
            ids.append((await response.json())["id"])
    async with http.delete(f"{url}/sessions/{ids[0]}", headers=headers) as response:
        assert response.status == 200
    clock.advance(60 + 121)  # four expire at 60 s; all ended more than 120 s ago
    async with http.get(f"{url}/sessions", headers=headers) as response:
        listing = await response.json()
    assert listing["sessions"] == [] and listing["total"] == 0
    async with http.get(f"{url}/sessions/{ids[1]}", headers=headers) as response:
        assert response.status == 404
    state = emu.orchestrator_state
    assert (state.created, state.stopped, state.expired) == (5, 1, 4)
