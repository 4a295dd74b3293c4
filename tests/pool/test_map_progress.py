"""Progress of a long map: the hook's counters and the ready rich display."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator

import pytest
from rich.console import Console
from rich.text import Text

from bbre_async import BBREClient, PooledSession, SessionPool
from bbre_async.emulator import Emulator, running_emulator
from bbre_async.pool import MapProgress, RichMapProgress


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    async with running_emulator() as emu:
        yield emu


async def job(session: PooledSession, n: int) -> int:
    if n == 7:
        raise KeyError(n)
    await session.get(f"https://shop.test/{n}")
    return n


async def test_the_hook_sees_every_outcome_and_the_rich_bar_shows_the_end(
    emulator: Emulator,
) -> None:
    seen: list[tuple[int, int, int]] = []
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=120)
    async with BBREClient(api_key="test-key", base_url=emulator.base_url) as client:
        async with SessionPool(client, max_size=3, ledger_path=None) as pool:

            def hook(progress: MapProgress) -> None:
                seen.append((progress.finished, progress.failed, progress.in_flight))

            await pool.map(job, range(30), progress=hook).collect()
            with RichMapProgress("crawl", console=console, extra=lambda: Text("pool table")) as bar:
                run = pool.map(job, range(40), progress=bar)
                await run.collect()
    assert [finished for finished, _, _ in seen] == list(range(1, 31))
    assert seen[-1][1] == 1 and seen[-1][2] == 0
    assert run.progress.total == 40 and run.progress.finished == 40
    out = screen.getvalue()
    assert "crawl" in out and "40/40" in out and "failed 1" in out and "pool table" in out
