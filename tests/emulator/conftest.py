"""Shared fixtures: an emulator on a ManualClock (no background sweep) and a raw HTTP caller.

Tests talk to the emulator over real loopback sockets with plain aiohttp, never through the
bbre_async client, so the emulator is checked against the vendor's documented wire format.
Override ``settings`` with ``@pytest.mark.parametrize("settings", [make_settings(...)])``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
import pytest_asyncio

from bbre_async.emulator import Emulator, EmulatorSettings, ManualClock, running_emulator
from tests.emulator._helpers import Api, make_settings

START = 1_718_447_400.0  # 2024-06-15T10:30:00Z


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def settings() -> EmulatorSettings:
    return make_settings()


@pytest_asyncio.fixture
async def emu(settings: EmulatorSettings, clock: ManualClock) -> AsyncIterator[Emulator]:
    async with running_emulator(settings, clock=clock) as emulator:
        yield emulator


@pytest_asyncio.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def api(emu: Emulator, http: aiohttp.ClientSession) -> Api:
    return Api(http, emu.base_url)
