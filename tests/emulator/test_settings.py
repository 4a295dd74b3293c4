"""Settings validation, clocks, and the public surface of bbre_async.emulator."""

from __future__ import annotations

import time

import pytest

import bbre_async.emulator as emulator_module
from bbre_async.emulator import (
    AccountSpec,
    Emulator,
    EmulatorSettings,
    ManualClock,
    Prices,
    SystemClock,
    running_emulator,
)


def test_public_names() -> None:
    assert set(emulator_module.__all__) == {
        "CLOSE_FAILURES",
        "ENDPOINTS",
        "EXPIRY_FORMS",
        "FAULT_KINDS",
        "AccountSpec",
        "AccountState",
        "Clock",
        "CloseFailure",
        "Emulator",
        "EmulatorSettings",
        "EmulatorState",
        "ExpiryForm",
        "FaultKind",
        "Faults",
        "Latency",
        "ManualClock",
        "Prices",
        "ScriptHandle",
        "SystemClock",
        "TargetRule",
        "running_emulator",
    }
    for name in emulator_module.__all__:
        assert getattr(emulator_module, name) is not None


def test_the_emulator_imports_nothing_from_the_client_side() -> None:
    import ast
    import pathlib

    root = pathlib.Path(emulator_module.__file__).parent
    outside = []
    for path in sorted(root.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            outside += [
                (path.name, name)
                for name in names
                if name.split(".")[0] == "bbre_async" and not name.startswith("bbre_async.emulator")
            ]
    # the exceptions: the client fixtures' lazy (and type-only) imports of the clients
    assert sorted(set(outside)) == [
        ("pytest_plugin.py", "bbre_async"),
        ("pytest_plugin.py", "bbre_async.orchestrator"),
    ]


def test_defaults() -> None:
    settings = EmulatorSettings()
    assert [a.api_key for a in settings.accounts] == ["test-key"]
    assert settings.session_cap == 10 and settings.life_clamp == (10.0, 300.0)
    assert settings.timeout_range == (60.0, 3600.0)
    assert settings.prices == Prices()
    assert settings.session_life(600) == 300 and settings.session_life(5) == 10


@pytest.mark.parametrize(
    "kwargs",
    [
        {"time_scale": 0},
        {"time_scale": float("inf")},
        {"accounts": [AccountSpec(api_key="a"), AccountSpec(api_key="a", name="b")]},
        {"accounts": [AccountSpec(api_key="a"), AccountSpec(api_key="b")]},
        {"timeout_range": (100, 50)},
        {"sweep_interval": 0},
        {"close_expired": "maybe"},
        {"history_limit": 0},
    ],
)
def test_bad_settings_fail_at_construction(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        EmulatorSettings(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "kwargs",
    [{"api_key": ""}, {"api_key": "k", "status": "banned"}, {"api_key": "k", "session_cap": -1}],
)
def test_bad_accounts(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        AccountSpec(**kwargs)  # type: ignore[arg-type]


def test_keys_stay_out_of_reprs() -> None:
    assert "super-secret-key" not in repr(AccountSpec(api_key="super-secret-key"))


def test_clocks() -> None:
    clock = ManualClock(100.0)
    assert clock.time() == 100.0
    assert clock.advance(2.5) == 102.5 and clock.time() == 102.5
    with pytest.raises(ValueError, match="forward"):
        clock.advance(-1)
    before = time.time()
    assert before <= SystemClock().time() <= time.time()


async def test_stop_cleans_up_and_start_twice_is_refused() -> None:
    emulator = Emulator(EmulatorSettings(sweep_interval=0.01))
    with pytest.raises(RuntimeError, match="not been started"):
        _ = emulator.base_url
    await emulator.start()
    with pytest.raises(RuntimeError, match="already running"):
        await emulator.start()
    sweeper = emulator._sweeper
    assert sweeper is not None and not sweeper.done()
    await emulator.stop()
    assert sweeper.cancelled() and not emulator.running
    await emulator.stop()  # idempotent


async def test_running_emulator_stops_on_errors() -> None:
    seen: list[Emulator] = []

    async def fail_inside() -> None:
        async with running_emulator() as emu:
            seen.append(emu)
            raise KeyError("boom")

    with pytest.raises(KeyError):
        await fail_inside()
    assert seen and not seen[0].running


async def test_a_taken_port_fails_cleanly() -> None:
    async with running_emulator() as first:
        port = int(first.base_url.rsplit(":", 1)[1])
        other = Emulator()
        with pytest.raises(OSError):
            await other.start(port=port)
        assert not other.running
