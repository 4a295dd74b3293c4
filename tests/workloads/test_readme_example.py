"""The README's first example, copied out of the README and run as a user runs it: a script
in a subprocess, its key and URL from the environment, the emulator's counters as the judge."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

from .emulator_process import emulator_process

README = Path(__file__).resolve().parents[2] / "README.md"


def first_example() -> str:
    section = README.read_text().split("## Use it", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match is not None, "no python block under 'Use it'"
    return match.group(1)


async def test_the_readme_example_maps_every_url_and_leaves_nothing_active(
    tmp_path: Path,
) -> None:
    script = tmp_path / "use_it.py"
    script.write_text(first_example())
    async with emulator_process(
        "--fault", "500=0.05", "--fault-endpoint", "session/request"
    ) as emu:
        env = {
            **os.environ,
            "BBRE_API_KEY": "test-key",
            "BBRE_BASE_URL": emu.base_url,
            "XDG_CACHE_HOME": str(tmp_path),  # the pool's crash ledger
        }
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(script),
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        async with asyncio.timeout(120):
            out, err = await process.communicate()
        state = emu.state()
    assert process.returncode == 0, err.decode()[-3000:]
    lines = out.decode().splitlines()
    pages = {f"https://example.com/?page={n}" for n in range(100)}
    assert {line.split()[0] for line in lines} == pages and len(lines) == 100
    failed = [line for line in lines if " failed: " in line]
    assert all(line.endswith(" 200") for line in lines if line not in failed)
    # a fault the client could not retry away is that URL's outcome, never the run's end
    assert len(failed) <= state["faults"].get("service_error", 0)
    assert state["active_sessions"] == 0 and state["peak_active_sessions"] <= 10
