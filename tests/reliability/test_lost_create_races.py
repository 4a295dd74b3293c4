"""Deterministic repros of the two reconciliation races the chaos run found.

A create whose answer is lost may have made a session; the pool looks for it in the account's
active listing. The listing lags (documented), and other creates of the same pool are in flight
at the same time, so "an active session nobody accounts for, created around then" is not
enough to say "ours".
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from bbre_async import BBREClient, BBREError
from bbre_async._bbre_backend import BBREBackend
from bbre_async.emulator import AccountSpec, EmulatorSettings, Faults, running_emulator
from bbre_async.pool import RemoteSession, SessionPool
from tests.waiting import eventually
from tests.waiting import eventually as wait_until

RICH = (AccountSpec(api_key="test-key", balance=1e9),)


async def test_a_lost_create_never_adopts_a_session_the_pool_just_closed(
    tmp_path: Path,
) -> None:
    settings = EmulatorSettings(accounts=RICH, faults=Faults(listing_lag=0.5), sweep_interval=0.05)
    async with running_emulator(settings) as emu:
        async with BBREClient(api_key="test-key", base_url=emu.base_url) as client:
            async with SessionPool(
                client, max_size=2, ledger_path=tmp_path / "l.db", reconcile_interval=None
            ) as pool:
                async with pool.acquire() as lease:
                    # Never used (a renewal's spare, an idle one retired): nothing tells it
                    # apart from a fresh session but the pool's memory of having closed it.
                    first = lease.id
                    # Once the lagging listing shows it, close it: the listing will go on
                    # showing it active for another 0.5 s.
                    await eventually(lambda: listed_active(client, first))
                    await lease.close()  # retired: the pool closes it and makes another
                await wait_until(lambda: emu.state.account().sessions_closed == 1)
                # The next create is processed but its answer is lost.
                emu.inject("lost_answer", endpoint="session/create")
                errors: list[BBREError] = []
                async with pool.acquire() as lease:
                    second = lease.id
                    try:
                        await lease.get("https://target.test/b")
                    except BBREError as error:
                        errors.append(error)
                stats = pool.stats()
            state = emu.state.account()
    assert stats.adopted == 0  # nothing proves whose the lost create's session is
    assert second != first, "the closed session was adopted as the lost create's"
    assert errors == []
    assert state.requests_on_closed == 0
    assert state.active_sessions <= 1, "only the lost session may be left, to expire"


async def listed_active(client: BBREClient, session_id: str) -> bool:
    return any([s.id == session_id async for s in client.account.sessions(status="active")])


class SlowAnswerBackend(BBREBackend):
    """BBRE whose create answer arrives late: the session exists (and is listed) before the
    pool hears of it, as with a real create that launches a browser."""

    def __init__(self, client: BBREClient) -> None:
        super().__init__(client)
        self.made: list[str] = []
        self.hold_answers = True
        self.release = asyncio.Event()

    async def create(self, *, deadline: float | None = None) -> RemoteSession:
        remote = await super().create(deadline=deadline)
        self.made.append(remote.id)
        if self.hold_answers:
            await self.release.wait()
        return remote


async def test_periodic_reconcile_leaves_in_flight_creates_alone(tmp_path: Path) -> None:
    settings = EmulatorSettings(accounts=RICH, sweep_interval=0.05)
    async with running_emulator(settings) as emu:
        async with BBREClient(api_key="test-key", base_url=emu.base_url) as client:
            backend = SlowAnswerBackend(client)
            async with SessionPool(
                backend, max_size=1, ledger_path=tmp_path / "l.db", reconcile_interval=0.05
            ) as pool:
                acquiring = asyncio.ensure_future(pool.acquire(timeout=10))
                await wait_until(lambda: len(backend.made) == 1)
                listings = emu.state.account().calls.get("account/sessions", 0)
                # Two periodic reconciliations run while the create's answer is on its way.
                await wait_until(
                    lambda: emu.state.account().calls.get("account/sessions", 0) >= listings + 2
                )
                backend.release.set()
                lease = await acquiring
                closed_meanwhile = emu.state.account().sessions_closed
                try:
                    await lease.get("https://target.test/x")
                finally:
                    await lease.release()
            state = emu.state.account()
    assert closed_meanwhile == 0, "the reconciler closed the session of an in-flight create"
    assert state.requests_on_closed == 0
    assert state.sessions_created == 1
