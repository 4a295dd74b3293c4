"""The pytest plugin's fixtures, used the way a user's test suite would use them."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from bbre_async.emulator import AccountSpec, Emulator, EmulatorSettings, ManualClock


@pytest.fixture
def bbre_emulator_settings() -> EmulatorSettings:
    return EmulatorSettings(accounts=[AccountSpec(api_key="plugin-key")], time_scale=10.0)


@pytest.fixture
def bbre_emulator_clock() -> ManualClock:
    return ManualClock(1_000.0)


async def test_the_emulator_fixture_runs_with_overridden_settings(bbre_emulator: Emulator) -> None:
    assert bbre_emulator.running
    assert bbre_emulator.api_key == "plugin-key"
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{bbre_emulator.base_url}/session/create", json={}, headers={"apikey": "plugin-key"}
        ) as response,
    ):
        session = (await response.json())["session"]
    assert (session["createdAt"], session["expiresAt"]) == (1_000_000, 1_030_000)
    assert bbre_emulator.state.account().sessions_created == 1


async def test_the_orchestrator_client_fixture_uses_the_mounted_api(
    bbre_emulator: Emulator, orchestrator_client: Any
) -> None:
    from bbre_async.orchestrator import OrchestratorClient

    assert isinstance(orchestrator_client, OrchestratorClient)
    assert orchestrator_client.base_url == bbre_emulator.base_url + "/api"
    session = await orchestrator_client.sessions.create(session_name="plugin", duration="1m")
    assert session.created_at is not None and session.expires_at is not None
    assert session.created_at.timestamp() == 1_000.0  # the emulator's clock ...
    assert session.expires_at.timestamp() == 1_006.0  # ... and time scale (60 s / 10)
    assert bbre_emulator.orchestrator_state.created == 1
