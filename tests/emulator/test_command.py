"""``bbre-async emulator``: flags, and a real start/stop in a subprocess."""

from __future__ import annotations

import asyncio
import signal
import sys

import aiohttp
import click
import pytest
from click.testing import CliRunner

from bbre_async.emulator import Faults
from bbre_async.emulator._command import build_settings, emulator_command, parse_faults


def test_fault_flags_parse() -> None:
    faults = parse_faults(
        ("500=0.03", "lost=0.01", "429=0.02", "502=0.01", "drop=0.01", "lag=5", "retry_after=2"),
        ("session/create",),
    )
    assert faults == Faults(
        service_error=0.03,
        lost_answer=0.01,
        rate_limit=0.02,
        bad_gateway=0.01,
        drop=0.01,
        listing_lag=5,
        retry_after=2,
        endpoints=["session/create"],
    )


@pytest.mark.parametrize("spec", ["boom=0.1", "500", "500=lots", "500=2"])
def test_bad_fault_flags(spec: str) -> None:
    with pytest.raises(click.BadParameter):
        parse_faults((spec,), ())


def test_settings_from_flags() -> None:
    settings = build_settings(
        api_keys=("k1", "k2"),
        suspended_keys=("s",),
        time_scale=50,
        latency=0.05,
        sweep_interval=0,
        balance=5,
    )
    assert [(a.name, a.api_key, a.status, a.balance) for a in settings.accounts] == [
        ("account1", "k1", "active", 5),
        ("account2", "k2", "active", 5),
        ("account3", "s", "suspended", 5),
    ]
    assert settings.time_scale == 50 and settings.latency.default == 0.05
    assert settings.sweep_interval is None
    assert build_settings(api_keys=()).accounts[0].api_key == "test-key"
    mounted = settings.orchestrator
    assert mounted is not None
    assert [(o.name, o.api_key) for o in mounted.orgs] == [("org1", "orch_test_key")]


def test_orchestrator_keys_from_flags() -> None:
    settings = build_settings(api_keys=(), orchestrator_keys=("orch_a", "orch_b"), seed=3)
    assert settings.orchestrator is not None
    assert [(o.name, o.api_key) for o in settings.orchestrator.orgs] == [
        ("org1", "orch_a"),
        ("org2", "orch_b"),
    ]
    assert settings.orchestrator.seed == 3
    result = CliRunner().invoke(
        emulator_command, ["--orchestrator-key", "orch_a", "--orchestrator-key", "orch_a"]
    )
    assert result.exit_code == 2 and "share the same api_key" in result.output


def test_usage_errors_exit_2() -> None:
    result = CliRunner().invoke(emulator_command, ["--fault", "nope=1"])
    assert result.exit_code == 2 and "--fault" in result.output
    result = CliRunner().invoke(emulator_command, ["--help"])
    assert result.exit_code == 0 and "--time-scale" in result.output


async def _start(*args: str) -> tuple[asyncio.subprocess.Process, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bbre_async.emulator",
        "--port",
        "0",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), timeout=15)
    return process, line.decode().strip()


async def _stop(process: asyncio.subprocess.Process) -> str:
    process.send_signal(signal.SIGTERM)
    _, stderr = await asyncio.wait_for(process.communicate(), timeout=10)
    assert process.returncode == 0, stderr.decode()
    return stderr.decode()


async def test_the_command_serves_until_sigterm() -> None:
    process, url = await _start("--api-key", "cli-key", "--time-scale", "100")
    try:
        assert url.startswith("http://127.0.0.1:")
        async with aiohttp.ClientSession() as http:
            async with http.post(
                f"{url}/session/create", json={"timeout": 300}, headers={"x-api-key": "cli-key"}
            ) as response:
                session = (await response.json())["session"]
            assert session["expiresAt"] - session["createdAt"] == 3000
            async with http.get(f"{url}/_emulator/state") as response:
                state = await response.json()
            assert state["accounts"]["account1"]["sessions_created"] == 1
    finally:
        stderr = await _stop(process)
    assert "stopped" in stderr and "warning" not in stderr


async def test_the_command_serves_orchestrator_hq_under_api() -> None:
    process, url = await _start("--orchestrator-key", "orch_cli", "--time-scale", "60")
    try:
        assert "/api" not in url  # the first stdout line stays the BBRE base URL alone
        async with aiohttp.ClientSession() as http:
            async with http.post(
                f"{url}/api/sessions",
                json={"session_name": "cli", "duration": "1m"},
                headers={"Authorization": "Bearer orch_cli"},
            ) as response:
                assert response.status == 201
                session = await response.json()
            assert session["cdp_url"].startswith("ws://")
            async with http.get(f"{url}/_emulator/state") as response:
                state = await response.json()
            assert state["orchestrator"]["orgs"]["org1"]["created"] == 1
            assert state["orchestrator"]["time_scale"] == 60
    finally:
        stderr = await _stop(process)
    lines = stderr.splitlines()
    assert lines[0].startswith(f"BBRE emulator on {url};")
    assert lines[1].startswith(f"OrchestratorHQ API on {url}/api; key orch_cli;")


async def test_binding_beyond_loopback_warns() -> None:
    process, url = await _start("--host", "0.0.0.0")
    stderr = await _stop(process)
    assert url.startswith("http://0.0.0.0:")
    assert "warning: binding 0.0.0.0" in stderr


def test_knob_flags_reach_the_settings() -> None:
    faults = parse_faults(("create502=0.25", "garbled=0.1"), (), "timeout")
    assert faults == Faults(create_bad_gateway=0.25, garbled_answer=0.1, failing_closes="timeout")
    settings = build_settings(
        api_keys=(), clock_offset=-120, expiry_form="past", session_retention=30
    )
    assert (settings.clock_offset, settings.expiry_form) == (-120, "past")
    assert settings.session_retention == 30
    assert settings.orchestrator is not None and settings.orchestrator.session_retention == 30
    result = CliRunner().invoke(emulator_command, ["--expiry-form", "later"])
    assert result.exit_code == 2 and "--expiry-form" in result.output


async def test_the_banner_names_the_keys_it_accepts() -> None:
    process, url = await _start("--api-key", "k-one", "--suspended-key", "k-off")
    stderr = await _stop(process)
    first = stderr.splitlines()[0]
    assert first.startswith(f"BBRE emulator on {url}; API keys k-one (account1), ")
    assert "k-off (account2, suspended)" in first
    assert "key orch_test_key" in stderr.splitlines()[1]
    process, url = await _start()
    assert "; API key test-key (account1);" in (await _stop(process)).splitlines()[0]


async def test_a_port_in_use_is_one_line_and_a_non_zero_exit() -> None:
    process, url = await _start()
    try:
        port = url.rsplit(":", 1)[1]
        second = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bbre_async.emulator",
            "--port",
            port,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        stdout, stderr = await asyncio.wait_for(second.communicate(), timeout=30)
    finally:
        await _stop(process)
    assert second.returncode == 1
    assert stdout == b""
    lines = stderr.decode().strip().splitlines()
    assert len(lines) == 1, lines
    assert "already in use" in lines[0] and f"127.0.0.1:{port}" in lines[0]
    assert "Traceback" not in stderr.decode()


async def test_the_command_applies_the_knobs() -> None:
    process, url = await _start("--clock-offset", "-120", "--failing-closes", "error")
    try:
        async with aiohttp.ClientSession() as http:
            headers = {"x-api-key": "test-key"}
            async with http.post(f"{url}/session/create", json={}, headers=headers) as response:
                session = (await response.json())["session"]
            async with http.get(f"{url}/_emulator/state") as response:
                state = await response.json()
            assert state["clock_offset"] == -120 and state["failing_closes"] == "error"
            server_now = state["now"] * 1000 - 120_000
            assert abs(session["createdAt"] - server_now) < 60_000  # skewed by two minutes
            body = {"sessionId": session["id"]}
            async with http.post(f"{url}/session/close", json=body, headers=headers) as response:
                assert response.status == 500
    finally:
        await _stop(process)
