"""One soak, both session APIs, one emulator: BBRE at its root, OrchestratorHQ under ``/api``.

At ``time_scale=300`` a BBRE session (300 s) and an OrchestratorHQ one (``"5m"``) both live one
real second, so a few seconds cover several lives. Many workers share a pool at the account
cap; the emulator's own counters then say whether the cap held, whether anything was left
running, and (for the extending backend) whether a session ever ran out.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bbre_async import BBREClient
from bbre_async.emulator import AccountSpec, Emulator, EmulatorSettings, running_emulator
from bbre_async.orchestrator import OrchestratorBackend, OrchestratorClient
from bbre_async.pool import EventKind, PooledSession, PoolEvent, SessionPool

CAP = 10
WORKERS = 40
LIVES = 3  # every pooled session is renewed about this many times
TIME_SCALE = 300.0  # 300 s -> 1 s


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    settings = EmulatorSettings(
        accounts=(AccountSpec(api_key="test-key", balance=1e9),),
        time_scale=TIME_SCALE,
        sweep_interval=0.05,
    )
    async with running_emulator(settings) as emulator:
        yield emulator


@contextlib.asynccontextmanager
async def pool_for(api: str, emu: Emulator, tmp_path: Path) -> AsyncIterator[SessionPool]:
    settings: dict[str, Any] = {
        "max_size": CAP,
        "ledger_path": tmp_path / "l.db",
        "acquire_timeout": 10,
        "max_margin_fraction": 0.5,  # renew at half life: slack for a busy test machine
    }
    if api == "bbre":
        async with BBREClient(api_key=emu.api_key, base_url=emu.base_url) as client:
            yield SessionPool(client, lifetime=300, **settings)
    else:
        async with OrchestratorClient(emu.orchestrator_key, emu.base_url + "/api") as client:
            backend = OrchestratorBackend(client, duration="5m", account_cap=CAP)
            yield SessionPool(backend, **settings)


async def use(api: str, lease: PooledSession, n: int) -> None:
    """One real call through the leased session: a fetch (BBRE) or a details read."""
    if api == "bbre":
        response = await lease.get(f"https://target.test/{n}")
        assert response.status_code == 200
    else:
        await lease.status()
        assert lease.cdp_url is not None


def renewals(pool: SessionPool, target: int) -> asyncio.Event:
    reached = asyncio.Event()
    seen = 0

    def listen(event: PoolEvent) -> None:
        nonlocal seen
        if event.kind in (EventKind.RENEWED, EventKind.EXTENDED):
            seen += 1
            if seen >= target:
                reached.set()

    pool.add_listener(listen)
    return reached


@pytest.mark.parametrize("api", ["bbre", "orchestrator"])
async def test_soak_many_workers_over_several_lives(
    api: str, emu: Emulator, tmp_path: Path
) -> None:
    failures: list[BaseException] = []
    async with pool_for(api, emu, tmp_path) as pool, pool:
        enough = renewals(pool, CAP * LIVES)

        async def worker(n: int) -> None:
            i = 0
            while not enough.is_set():
                async with pool.acquire() as lease:
                    try:
                        await use(api, lease, n * 10_000 + i)
                    except Exception as error:
                        failures.append(error)
                i += 1

        async with asyncio.timeout(12):
            await asyncio.gather(*(worker(n) for n in range(WORKERS)))
    stats = pool.stats()  # after the close: no create or renewal still under way
    assert failures == []
    assert stats.renewed >= CAP * LIVES and stats.failed_requests == 0
    if api == "bbre":
        account = emu.state.account()
        assert 0 < account.peak_active_sessions <= CAP
        assert account.cap_rejections == 0
        assert account.requests_on_expired == 0 and account.requests_on_closed == 0
        assert account.concurrent_request_violations == 0
        assert account.sessions_created == stats.created > CAP  # renewal made successors
        assert account.active_sessions == 0  # nothing left running
    else:
        state = emu.orchestrator_state
        assert 0 < state.peak_active <= CAP
        assert state.cap_rejections == 0
        assert state.expired == 0  # every session was extended in time
        assert state.created == stats.created <= CAP  # and never replaced
        assert state.extended == stats.renewed
        assert state.active == 0  # nothing left running
        assert emu.state.account().sessions_created == 0  # the BBRE side saw nothing
