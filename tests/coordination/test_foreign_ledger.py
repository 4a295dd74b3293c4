"""A ``ledger_path`` that points at someone else's file (issue 15, defect 10)."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import pytest

from bbre_async import BBREClient, BBREError, SessionPool
from bbre_async.coordination import LedgerFileError
from bbre_async.emulator import running_emulator


def application_database(path: Path) -> None:
    with contextlib.closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT)")
        conn.execute("INSERT INTO users (email) VALUES ('ada@example.test')")


@pytest.mark.parametrize("kind", ["application database", "not a database"])
async def test_a_pool_refuses_a_file_that_is_not_its_ledger_and_leaves_it_alone(
    tmp_path: Path, kind: str
) -> None:
    path = tmp_path / "app.db"
    if kind == "application database":
        application_database(path)
    else:
        path.write_bytes(b"name,email\nada,ada@example.test\n" * 200)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    async with (
        running_emulator() as emu,
        BBREClient(api_key="test-key", base_url=emu.base_url) as client,
    ):
        pool = SessionPool(client, ledger_path=path, handle_signals=False)
        with pytest.raises(LedgerFileError, match=str(path)) as caught:
            async with pool:
                pass
        assert isinstance(caught.value, BBREError)
        assert emu.state.account().sessions_created == 0

    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
