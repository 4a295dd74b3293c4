"""The ledger and the reaper against the emulator: what a dead process leaves is found."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

import attrs
import pytest

from bbre_async import BBREClient
from bbre_async.coordination import EntryState, LedgerEntry, OwnerInfo, SqliteLedger
from bbre_async.emulator import Emulator
from bbre_async.pool import SessionPool

DEAD = OwnerInfo(host="gone-host", pid=999_999, pid_start=1.0, pool_id="dead")


async def test_a_dead_owners_unanswered_create_is_found_and_closed(
    emulator: Emulator, tmp_path: Path
) -> None:
    ledger_path = tmp_path / "ledger.db"
    async with BBREClient(api_key="test-key", base_url=emulator.base_url) as client:
        # A process recorded its intent, sent the create, and died before the answer.
        intent = attrs.evolve(LedgerEntry.intent(DEAD), heartbeat_at=time.time() - 3600)
        ledger = await SqliteLedger.open(ledger_path)
        await ledger.record(intent)
        await ledger.aclose()
        leaked = await client.sessions.create()
        async with SessionPool(client, ledger_path=ledger_path):
            assert emulator.state.account().active_sessions == 0
        assert emulator.state.account().sessions_closed == 1
        ledger = await SqliteLedger.open(ledger_path)
        assert await ledger.entries() == []  # settled
        await ledger.aclose()
        assert leaked.id not in emulator.state.account().active_session_ids


async def test_foreign_sessions_are_reported_not_closed(emulator: Emulator, tmp_path: Path) -> None:
    async with BBREClient(api_key="test-key", base_url=emulator.base_url) as client:
        other = await client.sessions.create()  # another program on the same key
        async with SessionPool(client, ledger_path=tmp_path / "l.db", max_size=10) as pool:
            await pool.reconcile()
            assert pool.stats().capacity == 9  # counted against the usable capacity
            assert other.id in emulator.state.account().active_session_ids
        async with SessionPool(client, ledger_path=tmp_path / "l.db", reap_foreign=True) as pool:
            await pool.reconcile()
            assert other.id not in emulator.state.account().active_session_ids


# A file that is not a ledger at all is refused instead: tests/coordination/test_foreign_ledger.py
@pytest.mark.parametrize("damage", ["read-only dir", "full disk"])
async def test_a_broken_ledger_warns_and_the_pool_still_works(
    emulator: Emulator,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    damage: str,
) -> None:
    caplog.set_level(logging.WARNING, logger="bbre_async")
    ledger_path = tmp_path / "sub" / "ledger.db"
    ledger_path.parent.mkdir()
    if damage == "read-only dir":
        real_open = os.open

        def refuse(path: str | os.PathLike[str], *args: object, **kwargs: object) -> int:
            if str(path).startswith(str(ledger_path)):
                raise PermissionError(13, "Permission denied", str(path))
            return real_open(path, *args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(os, "open", refuse)
    else:
        import sqlite3

        real_connect = sqlite3.connect

        def tiny(*args: Any, **kwargs: Any) -> sqlite3.Connection:
            connection: sqlite3.Connection = real_connect(*args, **kwargs)
            connection.execute("PRAGMA max_page_count = 1")
            return connection

        monkeypatch.setattr(sqlite3, "connect", tiny)
    async with BBREClient(api_key="test-key", base_url=emulator.base_url) as client:
        async with SessionPool(client, ledger_path=ledger_path) as pool:
            async with pool.acquire() as lease:
                response = await lease.get("https://target.test/ok")
    assert response.status_code == 200
    assert emulator.state.account().active_sessions == 0
    assert any("ledger" in record.getMessage().lower() for record in caplog.records)


async def test_ledger_rows_follow_a_session_from_intent_to_close(
    emulator: Emulator, tmp_path: Path
) -> None:
    ledger_path = tmp_path / "ledger.db"
    async with BBREClient(api_key="test-key", base_url=emulator.base_url) as client:
        async with SessionPool(client, ledger_path=ledger_path, idle_timeout=None) as pool:
            async with pool.acquire() as lease:
                sid = lease.id
            rows = await pool.coordinator.ledger.entries()
            assert [(r.session_id, r.state) for r in rows] == [(sid, EntryState.ACTIVE)]
            assert rows[0].owner == pool.owner
            assert oct(ledger_path.stat().st_mode & 0o777) == "0o600"
        reopened = await SqliteLedger.open(ledger_path)
        assert await reopened.entries() == []  # removed once the close was confirmed
        await reopened.aclose()


async def test_a_clean_shutdown_leaves_an_empty_ledger(emulator: Emulator, tmp_path: Path) -> None:
    ledger_path = tmp_path / "ledger.db"
    async with BBREClient(api_key="test-key", base_url=emulator.base_url) as client:
        async with SessionPool(client, ledger_path=ledger_path, max_size=10) as pool:
            leases = [await pool.acquire() for _ in range(10)]
            for lease in leases:
                await lease.release()
    reopened = await SqliteLedger.open(ledger_path)
    assert await reopened.entries() == []  # nothing for the next start to reap
    await reopened.aclose()
    assert emulator.state.account().active_sessions == 0
