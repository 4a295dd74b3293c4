"""SessionPool over OrchestratorBackend and the emulator: renewal by extend, not replacement.

The emulator runs at ``time_scale=60``, so a "1m" session lives one real second and a few
lives pass in a few seconds. Tests wait on pool events, never on fixed sleeps.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from bbre_async.emulator.orchestrator import (
    OrchestratorEmulator,
    OrchestratorSettings,
    running_orchestrator_emulator,
)
from bbre_async.orchestrator import OrchestratorBackend, OrchestratorClient
from bbre_async.pool import EventKind, PoolEvent, SessionPool

POOL_SIZE = 3
LIVES = 3  # each session must outlive this many of its own lives


@pytest.fixture
async def scaled() -> AsyncIterator[tuple[OrchestratorEmulator, OrchestratorClient]]:
    async with running_orchestrator_emulator(OrchestratorSettings(time_scale=60)) as emu:
        async with OrchestratorClient(emu.api_key, emu.base_url) as client:
            yield emu, client


def make_pool(client: OrchestratorClient) -> SessionPool:
    return SessionPool(
        OrchestratorBackend(client, duration="1m", account_cap=POOL_SIZE),
        ledger_path=None,
        max_size=POOL_SIZE,
        renew_margin=30,  # adapts down to a quarter of the 1 s life the server grants
        idle_timeout=None,
        acquire_timeout=5,
    )


def counter(pool: SessionPool, kind: EventKind, target: int) -> asyncio.Event:
    """An event set once the pool has emitted ``kind`` ``target`` times."""
    reached = asyncio.Event()
    seen = 0

    def listen(event: PoolEvent) -> None:
        nonlocal seen
        if event.kind is kind:
            seen += 1
            if seen >= target:
                reached.set()

    pool.add_listener(listen)
    return reached


async def run_workers(pool: SessionPool, until: asyncio.Event, seen: dict[str, str | None]) -> None:
    """Workers lease, use (a real call to the session) and release until ``until`` is set."""

    async def worker() -> None:
        while not until.is_set():
            async with pool.acquire() as lease:
                seen[lease.id] = lease.cdp_url
                await lease.status()  # the handle's GET, over loopback

    async with asyncio.timeout(12):
        await asyncio.gather(*(worker() for _ in range(2 * POOL_SIZE)))


async def test_idle_sessions_are_extended_in_place_and_never_replaced(
    scaled: tuple[OrchestratorEmulator, OrchestratorClient],
) -> None:
    emu, client = scaled
    seen: dict[str, str | None] = {}
    async with make_pool(client) as pool:
        enough = counter(pool, EventKind.EXTENDED, POOL_SIZE * LIVES)
        await run_workers(pool, enough, seen)
        state = emu.state
        stats = pool.stats()
    assert state.expired == 0
    assert state.created == stats.created == len(seen) == POOL_SIZE
    assert stats.renewed >= POOL_SIZE * LIVES
    assert state.extended == stats.renewed
    assert state.cap_rejections == 0 and state.peak_active == POOL_SIZE
    assert all(url and url.startswith("ws://") for url in seen.values())
    assert emu.state.active == 0  # the pool stopped every session on close
    assert emu.state.stopped == POOL_SIZE


async def test_a_failing_extend_falls_back_to_replacement(
    scaled: tuple[OrchestratorEmulator, OrchestratorClient],
) -> None:
    emu, client = scaled
    emu.inject("service_error", endpoint="sessions/extend", count=None)
    seen: dict[str, str | None] = {}
    async with make_pool(client) as pool:
        replaced = counter(pool, EventKind.RENEWED, POOL_SIZE)
        await run_workers(pool, replaced, seen)
        state = emu.state
        stats = pool.stats()
    assert state.extended == 0 and state.faults["service_error"] >= POOL_SIZE
    assert stats.renewed >= POOL_SIZE
    assert state.created == stats.created > POOL_SIZE  # successors were made
    assert state.peak_active <= POOL_SIZE and state.cap_rejections == 0
    assert emu.state.active == 0


async def test_a_lost_create_is_never_adopted(
    scaled: tuple[OrchestratorEmulator, OrchestratorClient],
) -> None:
    emu, client = scaled
    emu.inject("lost_answer", endpoint="sessions/create")
    async with make_pool(client) as pool:
        async with pool.acquire() as lease:
            # The session of the lost answer may be another client's: a fresh one is made.
            assert lease.cdp_url and lease.cdp_url.startswith("ws://")
            await lease.status()
        assert pool.stats().adopted == 0
        assert emu.state.created == 2


async def test_backend_basics(scaled: tuple[OrchestratorEmulator, OrchestratorClient]) -> None:
    _, client = scaled
    backend = OrchestratorBackend(client, duration="90m")
    assert (backend.duration, backend.account_cap, backend.supports_extend) == ("1h30m", 10, True)
    remote = await backend.create()
    assert remote.granted_life == pytest.approx(90, abs=0.01)  # 90 min / 60
    assert remote.expires_at is not None
    active, expires = await backend.status(remote.id)
    assert active and expires == pytest.approx(remote.expires_at, abs=0.01)
    new_expiry = await backend.extend(remote.id, 5)  # at least the granted life is added
    assert new_expiry is not None
    assert new_expiry - remote.expires_at == pytest.approx(90, abs=0.01)
    assert [row.id for row in await backend.list_active()] == [remote.id]
    assert await backend.close(remote.id) is True
    assert await backend.close(remote.id) is False
    active, expires = await backend.status(remote.id)
    assert not active and expires == pytest.approx(new_expiry, abs=0.01)
    assert await backend.status("sess_unknown") == (False, None)
    with pytest.raises(ValueError):
        OrchestratorBackend(client, account_cap=0)
    with pytest.raises(ValueError):
        OrchestratorBackend(client, duration="25h")
