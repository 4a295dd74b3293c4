"""Issue 15, defect 2, as a user meets it: the create answer has no ``expiresAt``. The pool
must see that the expiry is missing (not a 300 s guess from the client's clock) and use its
safe short life, so no request ever reaches a session the server has already expired."""

from __future__ import annotations

import asyncio

from bbre_async import BBREClient, SessionPool
from bbre_async.emulator import EmulatorSettings, running_emulator

KEY = "test-key"
# 300 emulated seconds pass in 3 real ones: a session the client would guess lives 300 s
# is dead on the server after 3 s.
TIME_SCALE = 100.0
SESSIONS_TO_SEE = 4  # enough renewals to outlive several real session lives
BOUND = 120.0  # a generous bound on the run, never an assertion on speed


async def test_a_missing_expiry_gets_the_safe_short_life() -> None:
    settings = EmulatorSettings(expiry_form="missing", time_scale=TIME_SCALE)
    async with (
        running_emulator(settings) as emu,
        BBREClient(api_key=KEY, base_url=emu.base_url) as client,
    ):
        session = await client.sessions.create()
        assert session.expiry_assumed  # the client's own guess, and it says so
        await session.close()
        async with SessionPool(
            client, max_size=2, ledger_path=None, handle_signals=False, fallback_life=2.0
        ) as pool:
            async with asyncio.timeout(BOUND):
                while emu.state.account().sessions_created < 1 + SESSIONS_TO_SEE:
                    async with pool.acquire() as lease:
                        response = await lease.get("https://shop.test/item")
                        assert response.status_code == 200
        account = emu.state.account()
    assert account.sessions_created >= 1 + SESSIONS_TO_SEE
    assert account.requests_total > 0
    assert account.requests_on_expired == 0
    assert account.active_sessions == 0
