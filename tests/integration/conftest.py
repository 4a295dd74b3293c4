from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bbre_async.emulator import AccountSpec, Emulator, EmulatorSettings, running_emulator
from tests.processes import as_a_shell_starts_it

RICH = (AccountSpec(api_key="test-key", balance=1e9),)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    async with running_emulator(EmulatorSettings(accounts=RICH, sweep_interval=0.05)) as emu:
        yield emu


@pytest.fixture
async def fast_emulator() -> AsyncIterator[Emulator]:
    """Sessions asked for 300 s live 0.5 s: many lives in a short test."""
    async with running_emulator(
        EmulatorSettings(accounts=RICH, time_scale=600.0, sweep_interval=0.05)
    ) as emu:
        yield emu


async def start_worker(*args: str) -> asyncio.subprocess.Process:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.integration.workers",
        *args,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=as_a_shell_starts_it,
    )
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), 30)
    if line.strip() != b"ready":
        err = await process.stderr.read() if process.stderr else b""
        raise AssertionError(f"worker failed to start: {line!r} {err.decode()[-2000:]}")
    return process
