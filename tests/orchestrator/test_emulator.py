"""OrchestratorClient against the emulator over loopback: the documented rules end to end."""

from __future__ import annotations

import aiohttp
import pytest

import bbre_async as b
from bbre_async.emulator import ManualClock
from bbre_async.emulator.orchestrator import (
    OrchestratorEmulator,
    OrchestratorSettings,
    OrgSpec,
    create_orchestrator_app,
    running_orchestrator_emulator,
)
from bbre_async.orchestrator import OrchestratorClient


async def test_a_session_lives_its_whole_documented_cycle(
    emu: OrchestratorEmulator, live: OrchestratorClient
) -> None:
    assert emu.base_url.endswith("/api")
    created = await live.sessions.create(session_name="cycle", description="d", duration="30m")
    assert created.is_active and created.cdp_url and created.vnc_url and created.vnc_password
    remaining = created.remaining()
    assert remaining is not None and 1795 < remaining <= 1800
    got = await live.sessions.get(created.id)
    assert got.cdp_url == created.cdp_url and got.vnc_password == created.vnc_password
    assert got.description == "d" and got.autoscaler_server_id
    extended = await live.sessions.extend(created.id, "1h")
    assert extended.message == "Session extended by 1 hour"
    assert created.expires_at is not None
    assert (extended.expires_at - created.expires_at).total_seconds() == pytest.approx(3600, 0.01)
    assert await live.sessions.stop(created.id) is True
    assert (await live.sessions.get(created.id)).status == "stopped"
    assert await live.sessions.stop(created.id) is False
    with pytest.raises(b.SessionNotFoundError):
        await live.sessions.extend(created.id, "30m")
    state = emu.state
    assert (state.created, state.extended, state.stopped, state.active) == (1, 1, 1, 0)


async def test_unknown_sessions_are_404(live: OrchestratorClient) -> None:
    with pytest.raises(b.SessionNotFoundError) as caught:
        await live.sessions.get("sess_nope")
    assert caught.value.details == {"session_id": "sess_nope"}
    assert await live.sessions.stop("sess_nope") is False


async def test_a_wrong_key_is_401(emu: OrchestratorEmulator) -> None:
    async with OrchestratorClient("orch_wrong_key_0000", emu.base_url) as client:
        with pytest.raises(b.AuthenticationError) as caught:
            await client.sessions.list_page()
        assert caught.value.code == "UNAUTHORIZED"
        assert (await client.system.health()).healthy  # health needs no key
    assert emu.state.unauthorized == 1


async def test_the_server_checks_durations_too(emu: OrchestratorEmulator) -> None:
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {emu.api_key}"}) as http:
        for duration in ("25h", "45s", "0m", "1.5h", 30):
            async with http.post(
                emu.base_url + "/sessions", json={"session_name": "n", "duration": duration}
            ) as response:
                body = await response.json()
                assert response.status == 400
                assert body["error"] == "INVALID_DURATION" and body["code"] == 400
                assert body["context"] == {"duration": duration}
        async with http.post(emu.base_url + "/sessions", json={"duration": "1h"}) as response:
            assert response.status == 400
        async with http.get(emu.base_url + "/nowhere") as response:
            assert response.status == 404 and (await response.json())["error"] == "NOT_FOUND"
    assert emu.state.invalid_durations == 5 and emu.state.created == 0


@pytest.mark.parametrize("emulator_settings", [OrchestratorSettings(session_cap=2)])
async def test_the_organisation_cap_is_429(
    emu: OrchestratorEmulator, live: OrchestratorClient
) -> None:
    first = await live.sessions.create(session_name="a")
    await live.sessions.create(session_name="b")
    with pytest.raises(b.SessionLimitError) as caught:
        await live.sessions.create(session_name="c")
    assert caught.value.code == "SESSION_LIMIT_EXCEEDED" and caught.value.status == 429
    await live.sessions.stop(first.id)
    await live.sessions.create(session_name="c")
    state = emu.state
    assert (state.cap_rejections, state.peak_active, state.active) == (1, 2, 2)


@pytest.mark.parametrize(
    "emulator_settings",
    [OrchestratorSettings(orgs=[OrgSpec(api_key="orch_poor_key", credits=1.0)])],
)
async def test_credits_run_out_with_402(
    emu: OrchestratorEmulator, live: OrchestratorClient
) -> None:
    session = await live.sessions.create(session_name="a", duration="30m")  # 0.5 credits
    await live.sessions.extend(session.id, "30m")  # 0.5 more
    with pytest.raises(b.InsufficientBalanceError) as caught:
        await live.sessions.create(session_name="b", duration="1m")
    assert caught.value.code == "INSUFFICIENT_CREDITS"
    emu.set_credits(None)
    await live.sessions.create(session_name="b")
    assert emu.state.credit_rejections == 1


@pytest.mark.parametrize("emulator_settings", [OrchestratorSettings(servers=1)])
async def test_no_free_server_is_503(emu: OrchestratorEmulator) -> None:
    async with OrchestratorClient(emu.api_key, emu.base_url, max_retries=0) as client:
        await client.sessions.create(session_name="a")
        with pytest.raises(b.ServiceError) as caught:
            await client.sessions.create(session_name="b")
    assert caught.value.code == "NO_SERVERS_AVAILABLE" and caught.value.status == 503
    assert emu.state.server_rejections == 1


async def test_listing_pages_filters_and_counts(
    emu: OrchestratorEmulator, live: OrchestratorClient
) -> None:
    ids = [(await live.sessions.create(session_name=f"s{n}")).id for n in range(7)]
    for session_id in ids[:2]:
        await live.sessions.stop(session_id)
    page = await live.sessions.list_page(limit=3)
    assert page.total == 7 and [s.id for s in page.items] == ids[::-1][:3]  # newest first
    assert page.items[0].created_at and page.items[0].expires_at and page.items[0].session_name
    active = [s.id async for s in live.sessions.list(status="active", page_size=2)]
    assert active == ids[:1:-1]
    stopped = await live.sessions.list_page(status="stopped")
    assert stopped.total == 2
    assert emu.state.org().calls["sessions/list"] >= 4


async def test_system_status_reflects_the_load(
    emu: OrchestratorEmulator, live: OrchestratorClient
) -> None:
    await live.sessions.create(session_name="a")
    status = await live.system.status()
    assert status.active_sessions == 1 and status.pool.busy == 1
    assert status.organization_id == "org_default" and status.timestamp is not None


async def test_expiry_follows_the_injected_clock() -> None:
    clock = ManualClock()
    async with running_orchestrator_emulator(clock=clock) as emu:
        async with OrchestratorClient(emu.api_key, emu.base_url) as client:
            session = await client.sessions.create(session_name="a", duration="1m")
            assert session.expires_at is not None
            assert session.expires_at.timestamp() == pytest.approx(clock.time() + 60)
            clock.advance(59)
            assert (await client.sessions.get(session.id)).is_active
            clock.advance(1)
            assert (await client.sessions.get(session.id)).status == "stopped"
            with pytest.raises(b.SessionNotFoundError):
                await client.sessions.extend(session.id, "1m")
            state = emu.state
            assert (state.expired, state.active, state.stopped) == (1, 0, 0)


async def test_time_scale_compresses_durations_not_timestamps() -> None:
    clock = ManualClock()
    settings = OrchestratorSettings(time_scale=60)
    async with running_orchestrator_emulator(settings, clock=clock) as emu:
        async with OrchestratorClient(emu.api_key, emu.base_url) as client:
            session = await client.sessions.create(session_name="a", duration="2h")
            assert session.created_at and session.expires_at
            assert session.created_at.timestamp() == pytest.approx(clock.time(), abs=0.001)
            life = (session.expires_at - session.created_at).total_seconds()
            assert life == pytest.approx(120, abs=0.01)  # 2 h in 2 clock minutes
            result = await client.sessions.extend(session.id, "30m")
            assert "30 minutes" in (result.message or "")
            assert (result.expires_at - session.expires_at).total_seconds() == pytest.approx(30)


async def test_scripted_faults(emu: OrchestratorEmulator, live: OrchestratorClient) -> None:
    emu.inject("lost_answer", endpoint="sessions/create")
    with pytest.raises(b.APIConnectionError) as caught:
        await live.sessions.create(session_name="lost")
    assert caught.value.outcome_unknown
    assert emu.state.created == 1  # it was made although nobody heard
    emu.inject("service_error", endpoint="sessions/extend", count=None)
    session_id = emu.state.org().active_session_ids[0]
    for _ in range(2):
        with pytest.raises(b.ServiceError):
            await live.sessions.extend(session_id, "1m")
    emu.clear_faults()
    await live.sessions.extend(session_id, "1m")
    emu.inject("drop", endpoint="sessions/get")  # a read is retried past it
    assert (await live.sessions.get(session_id)).id == session_id
    assert emu.state.faults == {"lost_answer": 1, "service_error": 2, "drop": 1}
    with pytest.raises(ValueError):
        emu.inject("service_error", endpoint="session/create")


async def test_state_is_served_and_reset(
    emu: OrchestratorEmulator, live: OrchestratorClient
) -> None:
    await live.sessions.create(session_name="a")
    async with aiohttp.ClientSession() as http:
        async with http.get(emu.base_url + "/_emulator/state") as response:
            body = await response.json()
    assert body["created"] == 1 and body["orgs"]["default"]["active"] == 1
    assert emu.api_key not in str(body)
    emu.reset()
    assert emu.state.created == 0 and emu.state.active == 0


async def test_the_app_mounts_beside_other_routes() -> None:
    from aiohttp import web

    root = web.Application()

    async def other(request: web.Request) -> web.Response:
        return web.Response(text="bbre")

    root.router.add_route("*", "/{tail:.*}", other)  # a catch-all, as the BBRE emulator has
    root.add_subapp("/api", create_orchestrator_app(OrchestratorSettings()))
    runner = web.AppRunner(root)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        async with OrchestratorClient("orch_test_key", f"http://127.0.0.1:{port}/api") as client:
            assert (await client.sessions.create(session_name="a")).is_active
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/session/status") as response:
                assert await response.text() == "bbre"
    finally:
        await runner.cleanup()


def test_settings_are_validated() -> None:
    with pytest.raises(ValueError):
        OrchestratorSettings(time_scale=0)
    with pytest.raises(ValueError):
        OrchestratorSettings(orgs=[OrgSpec(api_key="k1"), OrgSpec(api_key="k1", name="b")])
    with pytest.raises(ValueError):
        OrchestratorSettings(orgs=[])
    assert "orch_test_key" not in repr(OrchestratorSettings())


def test_the_emulator_imports_nothing_from_the_client_side() -> None:
    import ast
    import pathlib
    import sys

    import bbre_async.emulator.orchestrator as package

    outside = []
    for path in sorted(pathlib.Path(package.__file__).parent.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] if node.level == 0 else ["<relative>"]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            allowed = ("bbre_async.emulator", "aiohttp", "attrs")
            outside += [
                (path.name, name)
                for name in names
                if not name.startswith(allowed)
                and name.split(".")[0] not in sys.stdlib_module_names
            ]
    assert outside == []
