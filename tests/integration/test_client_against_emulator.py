"""The client against the emulator over real loopback sockets: every endpoint, every
documented error, the clamp, expiry, paging and faults."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

import bbre_async as b
from bbre_async import BBREClient
from bbre_async.emulator import (
    AccountSpec,
    Emulator,
    EmulatorSettings,
    ManualClock,
    running_emulator,
)

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")


@pytest.fixture
async def client(emulator: Emulator) -> AsyncIterator[BBREClient]:
    async with BBREClient(api_key="test-key", base_url=emulator.base_url) as c:
        yield c


async def test_every_session_endpoint(client: BBREClient, emulator: Emulator) -> None:
    session = await client.sessions.create(mode="adaptive", sensibility="high", lifetime=600)
    assert 295 < session.remaining() <= 300.01  # asked 600 s, the server clamps to 300 s
    response = await session.get("https://shop.test/a", cookies={"pref": "x"})
    assert response.status_code == 200 and "shop.test/a" in response.body
    assert response.profile and session.profile == response.profile
    assert session.cookies.get("pref") == "x" and len(session.cookies) >= 2  # target cookie merged
    info = await session.status()
    assert (info.status, info.mode, info.sensibility, info.request_count) == (
        "active",
        "adaptive",
        "high",
        1,
    )
    assert info.expires_at is not None and info.expires_at.tzinfo is not None
    assert await session.close() is True
    assert await client.sessions.close(session.id) is False  # second close: already closed
    with pytest.raises(b.SessionClosedError):
        await client.sessions.request(session.id, "GET", "https://shop.test/b")
    with pytest.raises(b.SessionNotFoundError):
        await client.sessions.status("session_doesnotexist")


async def test_account_endpoints_and_paging(client: BBREClient) -> None:
    created = [await client.sessions.create() for _ in range(7)]
    for session in created[:5]:
        await session.get("https://shop.test/p")
        await session.close()
    listed = [info async for info in client.account.sessions(page_size=3)]
    assert {info.id for info in listed} == {s.id for s in created}
    stamps = [info.created_at for info in listed if info.created_at is not None]
    assert len(stamps) == len(listed)
    assert stamps == sorted(stamps, reverse=True)  # newest first (ties in one ms may swap)
    active = [info.id async for info in client.account.sessions(status="active", page_size=1)]
    assert set(active) == {s.id for s in created[5:]}
    page = await client.account.sessions_page(status="closed", limit=2)
    assert page.total == 5 and len(page.items) == 2 and page.has_more
    assert [i async for i in client.account.sessions(status="expired")] == []
    tasks = [t async for t in client.account.history(page_size=2)]
    assert len(tasks) == 5 and all(t.type == "BBRE_SESSION_REQUEST" for t in tasks)
    start = datetime.now(UTC) - timedelta(minutes=5)
    assert len([t async for t in client.account.history(status="completed", start=start)]) == 5
    assert [t async for t in client.account.history(status="failed")] == []
    balance = await client.account.balance()
    info = await client.account.info()
    assert 0 < balance < 1e9 and info.balance == pytest.approx(balance)
    assert info.statistics.active_sessions == 2
    for session in created[5:]:
        await session.close()


async def test_stateless_requests() -> None:
    settings = EmulatorSettings(accounts=(AccountSpec(api_key="k" * 8),), task_processing=0.05)
    async with running_emulator(settings) as emulator:
        async with BBREClient(api_key="k" * 8, base_url=emulator.base_url) as client:
            await _stateless(client, emulator)


async def _stateless(client: BBREClient, emulator: Emulator) -> None:
    response = await client.requests.execute("https://shop.test/x", mode="passive")
    assert response.status_code == 200
    task_id = await client.requests.create("https://shop.test/y")
    result = await client.requests.result(task_id)
    assert result.status in (b.TaskStatus.PROCESSING, b.TaskStatus.COMPLETED)
    emulator.script("https://fail.test/*", outcome="failed")
    with pytest.raises(b.TaskFailedError):
        await client.requests.run("https://fail.test/z", poll_interval=0.01)
    with pytest.raises(b.TaskNotFoundError):
        await client.requests.result("nope")


async def test_documented_errors(emulator: Emulator) -> None:
    emulator.add_account(api_key="suspended-key", name="s", status="suspended")
    emulator.add_account(api_key="inactive-key", name="i", status="inactive")
    emulator.add_account(api_key="poor-key", name="p", balance=0.0)
    cases: list[tuple[str, type[b.BBREError], str]] = [
        ("wrong-key", b.AuthenticationError, "INVALID_API_KEY"),
        ("suspended-key", b.PermissionDeniedError, "ACCOUNT_SUSPENDED"),
        ("inactive-key", b.PermissionDeniedError, "ACCOUNT_INACTIVE"),
        ("poor-key", b.InsufficientBalanceError, "INSUFFICIENT_BALANCE"),
    ]
    for key, cls, code in cases:
        async with BBREClient(api_key=key, base_url=emulator.base_url) as client:
            with pytest.raises(cls) as info:
                await client.sessions.create()
            assert info.value.code == code and info.value.status in (401, 402, 403)
            assert key not in str(info.value)
    async with BBREClient(api_key="test-key", base_url=emulator.base_url) as client:
        sessions = [await client.sessions.create() for _ in range(10)]
        with pytest.raises(b.SessionLimitError) as limit:
            await client.sessions.create()
        assert limit.value.status == 429 and not limit.value.outcome_unknown
        for session in sessions:
            await session.close()


async def test_expiry_with_an_injected_clock() -> None:
    clock = ManualClock(1_700_000_000.0)
    settings = EmulatorSettings(
        accounts=(AccountSpec(api_key="k" * 8, balance=100.0),), sweep_interval=None
    )
    async with running_emulator(settings, clock=clock) as emu:
        async with BBREClient(api_key="k" * 8, base_url=emu.base_url, clock=clock.time) as client:
            session = await client.sessions.create(lifetime=60)
            assert session.remaining() == pytest.approx(60, abs=0.01)
            clock.advance(61)
            assert not session.is_active()
            with pytest.raises(b.SessionExpiredError):
                await session.get("https://shop.test/late")
            info = await client.sessions.status(session.id)
            assert info.status == "expired"  # reconciled on read


async def test_faults_are_retried_or_reported(client: BBREClient, emulator: Emulator) -> None:
    emulator.set_faults(retry_after=0.05)
    emulator.inject("service_error", endpoint="account/balance")
    emulator.inject("bad_gateway", endpoint="account/balance")
    assert await client.account.balance() > 0  # two transient faults retried away
    emulator.inject("rate_limit", endpoint="session/status")
    session = await client.sessions.create()
    assert (await session.status()).is_active  # waited Retry-After, then succeeded
    emulator.inject("lost_answer", endpoint="session/create")
    with pytest.raises(b.APIConnectionError) as lost:
        await client.sessions.create()
    assert lost.value.outcome_unknown  # never replayed: the session exists on the server
    assert emulator.state.account().sessions_created == 2
    emulator.inject("drop", endpoint="session/close")
    assert await session.close() is True  # close is safe to retry


async def test_the_pytest_plugin_fixtures(bbre_emulator: Emulator, bbre_client: BBREClient) -> None:
    session = await bbre_client.sessions.create()
    assert session.id in bbre_emulator.state.account().active_session_ids
    await session.close()
