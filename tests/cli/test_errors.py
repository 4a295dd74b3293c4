"""Failures: one line on stderr, a distinct exit code, no traceback, never the key; and plain
output off a terminal, checked in-process and through a real subprocess pipe."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import pytest

from tests.cli.conftest import ROOT, SECRET_KEY, EmulatorThread, Invoke, no_escape_codes


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def one_error_line(text: str) -> str:
    lines = text.splitlines()
    assert len(lines) == 1, text
    assert lines[0].startswith("error: ")
    assert "Traceback" not in text
    return lines[0]


@pytest.mark.parametrize(
    "command",
    [("balance",), ("account",), ("sessions", "list"), ("history",), ("sessions", "close", "x")],
)
def test_a_wrong_key_exits_3_with_one_line(invoke: Invoke, command: tuple[str, ...]) -> None:
    result = invoke(*command, key=SECRET_KEY[:-4] + "beef")

    assert result.exit_code == 3
    line = one_error_line(result.stderr)
    assert "INVALID_API_KEY" in line and "HTTP 403" in line
    assert line.endswith("check --api-key or BBRE_API_KEY")
    assert "beef" not in result.output
    assert result.stdout == ""


def test_a_suspended_account_exits_3(server: EmulatorThread, invoke: Invoke) -> None:
    server.call(lambda: server.emu.update_account("owner", status="suspended"))

    result = invoke("balance")

    assert result.exit_code == 3
    assert "ACCOUNT_SUSPENDED" in one_error_line(result.stderr)


def test_an_unreachable_server_exits_5(invoke: Invoke) -> None:
    result = invoke("sessions", "list", base_url=closed_port_url())

    assert result.exit_code == 5
    line = one_error_line(result.stderr)
    assert line.startswith("error: listing sessions failed: cannot connect to http://127.0.0.1:")
    assert line.endswith("check --base-url or BBRE_BASE_URL and the network")


def test_an_api_error_exits_4(server: EmulatorThread, invoke: Invoke) -> None:
    server.call(lambda: server.emu.inject("service_error", endpoint="account/balance", count=3))

    result = invoke("balance")

    assert result.exit_code == 4
    assert "SERVICE_ERROR, HTTP 500" in one_error_line(result.stderr)


def test_a_missing_key_is_a_usage_error(invoke: Invoke) -> None:
    result = invoke("balance", key=None)

    assert result.exit_code == 2
    assert one_error_line(result.stderr) == "error: no API key: pass --api-key or set BBRE_API_KEY"


def test_the_key_comes_from_the_environment(invoke: Invoke) -> None:
    result = invoke("balance", key=None, env={"BBRE_API_KEY": SECRET_KEY})

    assert result.exit_code == 0
    assert result.stdout == "Balance: $100.00 USD\n"


def test_commands_orchestrator_does_not_offer_are_refused(invoke: Invoke) -> None:
    result = invoke("--provider", "orchestrator", "balance")

    assert result.exit_code == 2
    assert "not offered by OrchestratorHQ" in one_error_line(result.stderr)


def test_verbose_logs_go_to_stderr_without_the_key(server: EmulatorThread, invoke: Invoke) -> None:
    server.create_sessions(1)

    result = invoke("-vv", "sessions", "list", "--json")

    assert result.exit_code == 0
    assert "DEBUG bbre_async.transport: POST /account/sessions -> 200" in result.stderr
    assert len(result.stdout.splitlines()) == 1  # logs never reach the data stream
    assert invoke("sessions", "list", "--json").stderr == ""  # the handler was removed


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bbre_async", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
    )


def test_end_to_end_through_a_pipe(server: EmulatorThread, python_env: dict[str, str]) -> None:
    server.create_sessions(2, requests=1)
    env = {
        **python_env,
        "BBRE_API_KEY": SECRET_KEY,
        "BBRE_BASE_URL": server.base_url,
        "TERM": "xterm-256color",
    }

    table = run_cli("sessions", "list", env=env)
    lines = run_cli("sessions", "list", "--json", env=env)
    wrong = run_cli("--api-key", "not-the-key", "account", env=env)

    assert table.returncode == 0, table.stderr
    assert no_escape_codes(table.stdout) and no_escape_codes(table.stderr)
    assert table.stdout.count("session_") == 2
    assert [json.loads(line)["request_count"] for line in lines.stdout.splitlines()] == [1, 1]
    assert wrong.returncode == 3
    assert one_error_line(wrong.stderr).endswith("check --api-key or BBRE_API_KEY")
    for proc in (table, lines, wrong):
        assert SECRET_KEY not in proc.stdout + proc.stderr
