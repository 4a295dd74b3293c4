"""A create the server made but answered in a form that cannot be read (a body cut in half):
the pool closes that session by the id its first bytes carry, instead of holding a slot and
leaving a paid session active until it expires."""

from __future__ import annotations

from pathlib import Path

from bbre_async import BBREClient
from bbre_async.emulator import EmulatorSettings, running_emulator
from bbre_async.pool import SessionPool
from tests.waiting import eventually

from .conftest import RICH


async def test_a_garbled_create_answer_is_closed_by_the_id_it_carried(tmp_path: Path) -> None:
    async with running_emulator(EmulatorSettings(accounts=RICH)) as emu:
        emu.inject("garbled_answer", endpoint="session/create")
        async with (
            BBREClient(api_key="test-key", base_url=emu.base_url) as client,
            SessionPool(
                client, max_size=2, ledger_path=tmp_path / "l.db", handle_signals=False
            ) as pool,
        ):
            async with pool.acquire(timeout=30) as lease:
                response = await lease.get("https://target.test/")
            assert response.status_code == 200
            # 300 s lives: only a close by id settles the garbled create within the wait.
            await eventually(lambda: pool.stats().unresolved == 0, 30, what="settled")
            state = emu.state.account()
            assert state.sessions_created == 2
            assert state.active_sessions == 1  # the lease's session, idle in the pool
        assert emu.state.account().active_sessions == 0
