"""The emulator in a process of its own (``bbre-async emulator --port 0``): the server that
judges a workload neither shares the test's memory nor its core."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import urllib.request
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import attrs


@attrs.frozen
class EmulatorProcess:
    base_url: str

    def state(self, account: str = "account1") -> dict[str, Any]:
        """The account's counters from ``/_emulator/state``."""
        url = f"{self.base_url}/_emulator/state"
        with urllib.request.urlopen(url, timeout=30) as answer:  # noqa: S310 - loopback
            accounts: dict[str, Any] = json.load(answer)["accounts"]
        state: dict[str, Any] = accounts[account]
        return state


@asynccontextmanager
async def emulator_process(*args: str) -> AsyncIterator[EmulatorProcess]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bbre_async",
        "emulator",
        "--port",
        "0",
        "--balance",
        "1000000",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert process.stdout is not None
    try:
        async with asyncio.timeout(60):
            url = (await process.stdout.readline()).decode().strip()
        assert url.startswith("http://127.0.0.1:"), url
        yield EmulatorProcess(url)
    finally:
        if process.returncode is None:
            process.terminate()
            await process.wait()


def resident_kib() -> int:
    """This process's resident memory now (Linux), in KiB."""
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") // 1024
