"""The pytest plugin's fixtures, used the way a user's test suite would use them."""

from __future__ import annotations

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
