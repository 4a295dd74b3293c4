"""``sessions list`` and ``sessions close`` against a live emulator."""

from __future__ import annotations

import json
import re

import pytest

from bbre_async.cli import _sessions
from tests.cli.conftest import ACCOUNT, EmulatorThread, Invoke, no_escape_codes


def test_list_table_shows_each_session_once_with_its_state(
    server: EmulatorThread, invoke: Invoke
) -> None:
    closed, *active = server.create_sessions(3, requests=2, close=1)

    result = invoke("sessions", "list")

    assert result.exit_code == 0, result.output
    assert no_escape_codes(result.stdout)
    lines = result.stdout.splitlines()
    header = re.split(r"\s{2,}", lines[0].strip())
    assert header == ["id", "mode", "status", "requests", "charged", "created (UTC)", "expires in"]
    rows = {line.split()[0]: line.split() for line in lines if line.startswith("session_")}
    assert set(rows) == {closed, *active}
    for session_id in active:
        assert rows[session_id][1:4] == ["passive", "active", "2"]
        assert rows[session_id][4] == "$0.01"  # two passive requests at $0.005
        assert re.fullmatch(r"\d+m \d\ds", " ".join(rows[session_id][-2:]))
    assert rows[closed][2] == "closed"
    assert rows[closed][-1] == "-"
    assert all(line == line.rstrip() for line in lines)  # no padding at line ends


def test_list_json_lines_filter_and_limit(server: EmulatorThread, invoke: Invoke) -> None:
    ids = server.create_sessions(3, close=1)

    everything = invoke("sessions", "list", "--json")
    active = invoke("sessions", "list", "--json", "--status", "active")
    limited = invoke("sessions", "list", "--json", "--limit", "2")

    rows = [json.loads(line) for line in everything.stdout.splitlines()]
    assert [r["id"] for r in rows] == ids[::-1]  # newest first
    assert rows[-1]["status"] == "closed" and rows[-1]["closed_at"].endswith("Z")
    assert {"mode", "request_count", "total_charged", "expires_at"} <= rows[0].keys()
    assert [json.loads(line)["id"] for line in active.stdout.splitlines()] == ids[:0:-1]
    assert len(limited.stdout.splitlines()) == 2
    assert everything.stderr == ""


def test_list_pages_lazily_and_prints_one_table(
    server: EmulatorThread, invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_sessions, "PAGE_SIZE", 2)
    ids = server.create_sessions(5, close=5)

    result = invoke("sessions", "list", "--limit", "0")

    assert result.exit_code == 0
    assert result.stdout.count("expires in") == 1  # one header over three chunks
    shown = [line.split()[0] for line in result.stdout.splitlines() if "session_" in line]
    assert shown == ids[::-1]
    calls = server.call(lambda: server.emu.state.accounts[ACCOUNT].calls)
    assert calls["account/sessions"] == 3

    limited = invoke("sessions", "list", "--limit", "2")
    calls = server.call(lambda: server.emu.state.accounts[ACCOUNT].calls)
    assert calls["account/sessions"] == 4  # one page, no look-ahead past the limit
    assert "2 of 5 sessions shown" in limited.stdout


def test_list_reports_truncation_and_empty(server: EmulatorThread, invoke: Invoke) -> None:
    assert "No sessions." in invoke("sessions", "list").stdout
    server.create_sessions(3)

    result = invoke("sessions", "list", "--limit", "2")

    assert "2 of 3 sessions shown; --limit 0 shows all." in result.stdout
    assert (
        invoke("sessions", "list", "--status", "expired").stdout.strip() == "No expired sessions."
    )


def test_close_reports_closed_and_already_closed(server: EmulatorThread, invoke: Invoke) -> None:
    first, second = server.create_sessions(2)

    result = invoke("sessions", "close", first, first)
    again = invoke("sessions", "close", first)

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [f"closed          {first}"]  # a repeated id: once
    assert again.exit_code == 0  # closing a closed session is a success: it holds no slot
    assert again.stdout.startswith(f"already closed  {first}")
    assert server.active_ids() == {second}


def test_an_unknown_id_is_reported_and_fails(server: EmulatorThread, invoke: Invoke) -> None:
    live, other = server.create_sessions(2)
    typo = live[:-1] + ("0" if live[-1] != "0" else "1")

    result = invoke("sessions", "close", typo, other)

    assert result.exit_code == 4, result.output
    assert result.stdout.splitlines() == [f"closed          {other}"]
    assert f"unknown         {typo}" in result.stderr
    assert "no such session on this account: check the id" in result.stderr
    assert result.stderr.splitlines()[-1] == (
        "error: 1 unknown id(s) out of 2; nothing else was changed"
    )
    assert server.active_ids() == {live}  # the session the typo meant still runs


def test_close_failure_is_reported_per_id_with_exit_4(
    server: EmulatorThread, invoke: Invoke
) -> None:
    (session_id,) = server.create_sessions(1)
    server.call(lambda: server.emu.inject("service_error", endpoint="session/close", count=3))

    result = invoke("sessions", "close", session_id)

    assert result.exit_code == 4
    assert f"failed          {session_id}" in result.stderr
    assert "SERVICE_ERROR" in result.stderr
    assert result.stderr.splitlines()[-1] == "error: 1 failed out of 1; nothing else was changed"
    assert server.active_ids() == {session_id}


def test_close_needs_an_id(invoke: Invoke) -> None:
    assert invoke("sessions", "close").exit_code == 2
    assert invoke("sessions", "close", " ").exit_code == 2
