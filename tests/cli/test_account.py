"""``balance`` and ``account``."""

from __future__ import annotations

import json
import re

from tests.cli.conftest import EmulatorThread, Invoke, no_escape_codes


def test_balance_in_usd(server: EmulatorThread, invoke: Invoke) -> None:
    assert invoke("balance").stdout == "Balance: $100.00 USD\n"

    server.create_sessions(1, requests=1)  # $0.01 to create, $0.005 per passive request

    assert invoke("balance").stdout == "Balance: $99.985 USD\n"
    assert json.loads(invoke("balance", "--json").stdout) == {"balance": 99.985, "currency": "USD"}


def test_account_table_and_json(server: EmulatorThread, invoke: Invoke) -> None:
    server.create_sessions(2, requests=2)

    table = invoke("account")
    as_json = json.loads(invoke("account", "--json").stdout)

    assert table.exit_code == 0
    assert no_escape_codes(table.stdout)
    cells = dict(
        re.split(r"\s{2,}", line.strip(), maxsplit=1)
        for line in table.stdout.splitlines()[3:]
        if line.strip()
    )
    assert cells["username"] == "owner"
    assert cells["status"] == "active"
    assert cells["balance"] == "$99.96 USD"
    assert cells["requests (total)"] == "4"
    assert cells["active sessions"] == "2"
    assert as_json["statistics"]["total_requests"] == 4
    assert as_json["statistics"]["active_sessions"] == 2
    assert as_json["balance"] == 99.96
    assert as_json["created_at"].endswith("Z")


def test_no_requests_yet_is_no_rate_not_zero_percent(invoke: Invoke) -> None:
    table = invoke("account")
    as_json = json.loads(invoke("account", "--json").stdout)

    rate_line = next(line for line in table.stdout.splitlines() if "success rate" in line)
    assert rate_line.split()[-1] == "\u2013"
    assert "0%" not in table.stdout
    assert as_json["statistics"]["total_requests"] == 0
    assert as_json["statistics"]["success_rate"] is None


def test_a_rate_is_shown_once_there_are_requests(server: EmulatorThread, invoke: Invoke) -> None:
    server.create_sessions(1, requests=2)

    rate_line = next(line for line in invoke("account").stdout.splitlines() if "success" in line)

    assert rate_line.split()[-1] == "100%"
