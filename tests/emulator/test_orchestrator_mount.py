"""One emulator, two APIs: OrchestratorHQ under ``/api`` beside BBRE at the root.

Raw loopback HTTP for the wire (keys, shapes, state JSON), plus the in-process handles.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from bbre_async.emulator import Emulator, EmulatorSettings, ManualClock, running_emulator
from bbre_async.emulator.orchestrator import OrchestratorSettings, OrgSpec
from tests.emulator._helpers import Api, make_settings

ORCH_KEY = "orch_test_key"


async def orch(
    http: aiohttp.ClientSession,
    emu: Emulator,
    method: str,
    path: str,
    body: Any = None,
    *,
    key: str | None = ORCH_KEY,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    sent = dict(headers or {})
    if key is not None:
        sent["Authorization"] = f"Bearer {key}"
    async with http.request(method, emu.base_url + "/api" + path, json=body, headers=sent) as r:
        return r.status, await r.json(content_type=None)


async def test_both_apis_answer_on_one_server(
    api: Api, emu: Emulator, http: aiohttp.ClientSession, clock: ManualClock
) -> None:
    bbre = await api.create(timeout=300)
    status, session = await orch(
        http, emu, "POST", "/sessions", {"session_name": "s", "duration": "30m"}
    )
    assert status == 201 and session["status"] == "active"
    assert session["cdp_url"].startswith("ws://")
    assert emu.orchestrator_url == emu.base_url + "/api"
    assert emu.orchestrator_key == ORCH_KEY
    assert emu.orchestrator.base_url == emu.orchestrator_url
    assert emu.orchestrator.api_key == ORCH_KEY

    async with http.get(emu.base_url + "/_emulator/state") as response:
        state = await response.json()
    assert state["accounts"]["default"]["active_session_ids"] == [bbre["id"]]
    assert state["orchestrator"]["created"] == 1
    assert state["orchestrator"]["orgs"]["default"]["active_session_ids"] == [session["id"]]
    assert ORCH_KEY not in str(state)
    assert emu.state.to_json() == {**state, "now": clock.time()}
    for snapshot in (emu.state.orchestrator, emu.orchestrator_state, emu.orchestrator.state):
        assert snapshot is not None
        assert (snapshot.created, snapshot.active) == (1, 1)
    assert emu.state.account().sessions_created == 1  # the BBRE counters are untouched


async def test_each_api_takes_only_its_own_keys(
    api: Api, emu: Emulator, http: aiohttp.ClientSession
) -> None:
    # A BBRE key on the OrchestratorHQ API, in either header style.
    assert (await orch(http, emu, "GET", "/sessions", key="test-key"))[0] == 401
    status, body = await orch(
        http, emu, "GET", "/sessions", key=None, headers={"x-api-key": ORCH_KEY}
    )
    assert (status, body["error"]) == (401, "UNAUTHORIZED")
    # An OrchestratorHQ key on BBRE.
    await api.as_key(ORCH_KEY).err("/account/balance", None, 403, "INVALID_API_KEY")
    # /health needs no key, as the vendor documents; unknown paths keep each API's shape.
    status, health = await orch(http, emu, "GET", "/health", key=None)
    assert (status, health["status"]) == (200, "healthy")
    status, missing = await orch(http, emu, "GET", "/nowhere")
    assert (status, missing["error"]) == (404, "NOT_FOUND")
    assert emu.orchestrator_state.unauthorized == 2


@pytest.mark.parametrize("settings", [make_settings(time_scale=60.0)])
async def test_the_apis_share_the_clock_and_the_time_scale(
    api: Api, emu: Emulator, http: aiohttp.ClientSession, clock: ManualClock
) -> None:
    bbre = await api.create(timeout=300)
    assert bbre["expiresAt"] - bbre["createdAt"] == 5_000  # 300 s at 60x
    _, session = await orch(http, emu, "POST", "/sessions", {"session_name": "s", "duration": "1m"})
    assert session["expires_at"] == "2024-06-15T10:30:01Z"  # one emulated minute, 1 s
    assert session["created_at"] == "2024-06-15T10:30:00Z"  # the emulator's clock
    clock.advance(1.0)
    state = emu.orchestrator_state
    assert (state.expired, state.active) == (1, 0)
    assert emu.state.account().active_sessions == 1  # BBRE's lives 5 s


async def test_reset_and_faults_reach_the_right_api(
    api: Api, emu: Emulator, http: aiohttp.ClientSession
) -> None:
    emu.orchestrator.inject("service_error", endpoint="sessions/list")
    assert (await orch(http, emu, "GET", "/sessions"))[0] == 500
    await api.ok("/account/balance")  # an OrchestratorHQ fault leaves BBRE alone
    emu.inject("service_error")
    assert (await orch(http, emu, "GET", "/sessions"))[0] == 200  # and the other way round
    await api.err("/account/balance", None, 500, "SERVICE_ERROR")

    await orch(http, emu, "POST", "/sessions", {"session_name": "s"})
    async with http.post(emu.base_url + "/_emulator/reset") as response:
        assert response.status == 200
    assert emu.orchestrator_state.created == 0
    await orch(http, emu, "POST", "/sessions", {"session_name": "s"})
    emu.reset()
    assert emu.orchestrator_state.created == 0


@pytest.mark.parametrize("settings", [make_settings(admin_token="adm1n-token")])
async def test_the_admin_token_guards_both_state_routes(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    for path in ("/_emulator/state", "/api/_emulator/state"):
        async with http.get(emu.base_url + path) as response:
            assert response.status == 401
        async with http.get(
            emu.base_url + path, headers={"x-emulator-token": "adm1n-token"}
        ) as response:
            assert response.status == 200


@pytest.mark.parametrize(
    "settings",
    [
        make_settings(
            orchestrator=OrchestratorSettings(
                orgs=[OrgSpec(api_key="orch_a", name="a"), OrgSpec(api_key="orch_b", name="b")],
                session_cap=1,
            )
        )
    ],
)
async def test_orchestrator_settings_are_honoured(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    assert emu.orchestrator_key == "orch_a"
    body = {"session_name": "s"}
    assert (await orch(http, emu, "POST", "/sessions", body, key="orch_a"))[0] == 201
    status, error = await orch(http, emu, "POST", "/sessions", body, key="orch_a")
    assert (status, error["error"]) == (429, "SESSION_LIMIT_EXCEEDED")
    assert (await orch(http, emu, "POST", "/sessions", body, key="orch_b"))[0] == 201
    assert set(emu.orchestrator_state.orgs) == {"a", "b"}


async def test_the_orchestrator_api_can_be_left_out(http: aiohttp.ClientSession) -> None:
    async with running_emulator(make_settings(orchestrator=None)) as emu:
        status, body = await orch(http, emu, "GET", "/sessions")
        assert (status, body["error"]["code"]) == (404, "NOT_FOUND")  # BBRE's envelope
        assert "orchestrator" not in emu.state.to_json()
        assert emu.state.orchestrator is None
        for name in ("orchestrator", "orchestrator_url", "orchestrator_key", "orchestrator_state"):
            with pytest.raises(RuntimeError, match="no OrchestratorHQ API"):
                getattr(emu, name)


def test_the_time_scale_is_set_once_for_both() -> None:
    with pytest.raises(ValueError, match=r"EmulatorSettings\.time_scale"):
        EmulatorSettings(time_scale=10, orchestrator=OrchestratorSettings(time_scale=5))
    same = EmulatorSettings(time_scale=10, orchestrator=OrchestratorSettings(time_scale=10))
    assert same.orchestrator is not None
    with pytest.raises(TypeError):
        EmulatorSettings(orchestrator="yes")  # type: ignore[arg-type]


async def test_the_orchestrator_url_needs_a_started_emulator() -> None:
    emu = Emulator(make_settings())
    assert emu.orchestrator_key == ORCH_KEY
    assert emu.orchestrator_state.created == 0  # observable before start
    with pytest.raises(RuntimeError, match="not been started"):
        _ = emu.orchestrator_url
