"""The commands in a real pseudo-terminal: what a user sees at 80 and 120 columns, and Ctrl-C
typed at the reap prompt."""

from __future__ import annotations

import re
import time

import pytest

from bbre_async.coordination import OwnerInfo
from tests.cli.conftest import SECRET_KEY, EmulatorThread
from tests.cli.terminal import Terminal
from tests.cli.test_reap import DEAD, entry, read_ledger, write_ledger


@pytest.fixture
def env(server: EmulatorThread, python_env: dict[str, str]) -> dict[str, str]:
    return {**python_env, "BBRE_API_KEY": SECRET_KEY, "BBRE_BASE_URL": server.base_url}


def table(screen: str) -> tuple[list[str], dict[str, dict[str, str]]]:
    """The header and the rows (by id) of the table on the screen."""
    lines = [line for line in screen.splitlines() if line.strip()]
    header = re.split(r"\s{2,}", lines[0].strip())
    rows = {}
    for line in lines[2:]:
        cells = re.split(r"\s{2,}", line.strip())
        if len(cells) == len(header):
            rows[cells[0]] = dict(zip(header, cells, strict=True))
    return header, rows


@pytest.mark.parametrize(
    ("columns", "headers"),
    [
        (80, ["id", "status", "requests", "charged", "expires in"]),
        (120, ["id", "mode", "status", "requests", "charged", "created (UTC)", "expires in"]),
    ],
)
def test_sessions_list_keeps_id_status_and_cost_whole(
    server: EmulatorThread, env: dict[str, str], columns: int, headers: list[str]
) -> None:
    ids = server.create_sessions(2, requests=3)

    terminal = Terminal("sessions", "list", env=env, columns=columns)
    code = terminal.finish()

    assert code == 0, terminal.screen
    header, rows = table(terminal.screen)
    assert header == headers
    assert set(rows) == set(ids)  # every id whole, ready to copy into `sessions close`
    for row in rows.values():
        assert (row["status"], row["charged"], row["requests"]) == (
            "active",
            "$0.015",
            "3",
        )  # 3 passive requests at $0.005
    assert all(len(line) <= columns for line in terminal.screen.splitlines())
    assert "…" not in terminal.screen


def test_ctrl_c_at_the_reap_question_closes_nothing(
    server: EmulatorThread, env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> None:
    orphan, live = server.create_sessions(2)
    ledger = tmp_path_factory.mktemp("ledger") / "ledger.sqlite3"
    long_ago = time.time() - 3600
    write_ledger(
        ledger,
        [
            entry(DEAD, orphan, heartbeat_at=long_ago),
            entry(OwnerInfo.current("a-live-pool"), live, heartbeat_at=time.time()),
        ],
    )

    terminal = Terminal("sessions", "reap", "--ledger-path", str(ledger), env=env, columns=100)
    terminal.wait_for("Close 1 session(s)? [y/N]: ")
    terminal.type(b"\x03")  # one Ctrl-C, as typed
    code = terminal.finish()

    assert code == 130, terminal.screen
    assert "interrupted at the question: nothing was closed" in terminal.screen
    assert "Traceback" not in terminal.screen and "Aborted" not in terminal.screen
    assert server.active_ids() == {orphan, live}  # the server's word: nothing closed
    assert [e.session_id for e in read_ledger(ledger)] == [orphan, live]


def test_yes_at_the_reap_question_closes_the_orphans(
    server: EmulatorThread, env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> None:
    orphan, live = server.create_sessions(2)
    ledger = tmp_path_factory.mktemp("ledger") / "ledger.sqlite3"
    write_ledger(ledger, [entry(DEAD, orphan, heartbeat_at=time.time() - 3600)])

    terminal = Terminal("sessions", "reap", "--ledger-path", str(ledger), env=env, columns=100)
    terminal.wait_for("[y/N]: ")
    terminal.type(b"y\r")
    code = terminal.finish()

    assert code == 0, terminal.screen
    assert "Reaped: closed 1" in terminal.screen
    assert server.active_ids() == {live}
