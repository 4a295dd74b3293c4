"""A locked ledger file: the fallback is temporary, and a live sibling is never reaped
(issue 15, defect 9)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bbre_async import BBREClient, SessionPool
from bbre_async.coordination import LedgerEntry, OwnerInfo, SqliteLedger
from bbre_async.emulator import AccountSpec, EmulatorSettings, running_emulator
from tests.integration.conftest import start_worker
from tests.waiting import eventually


@contextlib.contextmanager
def write_lock(path: Path) -> Iterator[None]:
    """Another program holding the file's write lock (as a long transaction would)."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        yield
    finally:
        conn.execute("ROLLBACK")
        conn.close()


class Monotonic:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def rows(path: Path) -> dict[str, float]:
    """intent id -> heartbeat, read as another program would."""
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return dict(conn.execute("SELECT intent_id, heartbeat_at FROM ledger_entries"))


async def test_a_lock_sends_writes_to_memory_and_they_come_back_to_the_file(
    tmp_path: Path,
) -> None:
    path = tmp_path / "ledger.sqlite3"
    me = OwnerInfo.current("me")
    monotonic = Monotonic()
    ledger = await SqliteLedger.open(
        path, busy_timeout=0.05, retry_interval=1.0, monotonic=monotonic
    )
    try:
        await ledger.record(LedgerEntry.intent(me))  # on the file
        removed = (await ledger.entries())[0]
        with write_lock(path):
            kept = LedgerEntry.intent(me)
            await ledger.record(kept)  # waits out the lock, then memory
            assert ledger.degraded
            await ledger.remove(removed.intent_id)
            monotonic.now += 5  # a retry is due, but the lock is still held
            closing = LedgerEntry.intent(me)
            await ledger.record(closing)
            assert ledger.degraded
        monotonic.now += 5
        beat_from = time.time()
        await ledger.heartbeat(me)  # the next call finds the file usable again
        beat_by = time.time()
        assert not ledger.degraded
        on_file = rows(path)
        assert set(on_file) == {kept.intent_id, closing.intent_id}
        assert all(beat_from - 1 <= beat <= beat_by for beat in on_file.values()), on_file
    finally:
        await ledger.aclose()


async def read_until(stream: asyncio.StreamReader, text: bytes) -> None:
    while text not in await stream.readline():
        if stream.at_eof():
            raise AssertionError(f"{text!r} never logged")


@pytest.fixture
def terminate() -> Iterator[list[asyncio.subprocess.Process]]:
    started: list[asyncio.subprocess.Process] = []
    yield started
    for process in started:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGKILL)


async def test_a_live_siblings_sessions_survive_its_locked_ledger(
    tmp_path: Path, terminate: list[asyncio.subprocess.Process], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BBRE_TEST_HEARTBEAT", "1")  # A writes to its ledger every second
    path = tmp_path / "ledger.sqlite3"
    settings = EmulatorSettings(accounts=(AccountSpec(api_key="test-key", balance=1e9),))
    async with running_emulator(settings) as emu:
        worker = await start_worker("hold", emu.base_url, "3", str(path))
        terminate.append(worker)
        held = set(emu.state.account().active_session_ids)
        assert len(held) == 3
        assert worker.stderr is not None
        with write_lock(path):
            # Its next heartbeat waits out the lock and carries on in memory.
            await asyncio.wait_for(read_until(worker.stderr, b"cannot be used"), 60)
        locked_until = time.time()
        # B starts on the same host and file while A's rows look stale by their heartbeat.
        async with (
            BBREClient(api_key="test-key", base_url=emu.base_url) as client,
            SessionPool(client, ledger_path=path, handle_signals=False, orphan_stale_after=0.5),
        ):
            pass  # its start-up reaper has run
        assert held <= set(emu.state.account().active_session_ids)  # none of A's was closed
        # A goes back to the file on its own: its rows get fresh heartbeats there.
        await eventually(
            lambda: len(rows(path)) == 3 and min(rows(path).values()) > locked_until, 30
        )
        worker.send_signal(signal.SIGTERM)
        await asyncio.wait_for(worker.wait(), 30)
