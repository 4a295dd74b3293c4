"""``bbre-async --provider orchestrator``: the session commands against the emulator's ``/api``.

The emulator serves from a background thread (a command runs its own ``asyncio.run``); one
server answers both APIs, so the same fixture also checks that BBRE is unaffected.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest
from click.testing import CliRunner, Result

from bbre_async.cli._app import cli
from bbre_async.coordination import EntryState, LedgerEntry, OwnerInfo, SqliteLedger
from bbre_async.emulator.orchestrator import OrchestratorSettings, OrgSpec
from bbre_async.orchestrator import OrchestratorClient
from tests.cli.conftest import SECRET_KEY, EmulatorThread, make_settings

ORCH_KEY = "orch_live_cli_5e4d3c2b1a0f9e8d"
DEAD = OwnerInfo(host="gone-host.invalid", pid=4242, pid_start=1.0, pool_id="crashed")

_CLEAN_ENV: dict[str, str | None] = {
    name: None
    for name in (
        "BBRE_API_KEY",
        "BBRE_BASE_URL",
        "BBRE_LEDGER_PATH",
        "ORCHESTRATOR_API_KEY",
        "ORCHESTRATOR_BASE_URL",
        "FORCE_COLOR",
        "TTY_COMPATIBLE",
        "COLUMNS",
    )
}


@pytest.fixture(scope="module")
def server() -> Iterator[EmulatorThread]:
    orchestrator = OrchestratorSettings(orgs=[OrgSpec(api_key=ORCH_KEY, name="org")])
    thread = EmulatorThread(make_settings(orchestrator=orchestrator))
    thread.start()
    try:
        yield thread
    finally:
        thread.stop()


@pytest.fixture(autouse=True)
def fresh(server: EmulatorThread) -> None:
    server.call(server.emu.reset)


def api_url(server: EmulatorThread) -> str:
    return server.emu.base_url + "/api"


def invoke(
    server: EmulatorThread,
    *args: str,
    key: str | None = ORCH_KEY,
    env: dict[str, str | None] | None = None,
    options: bool = True,
) -> Result:
    head = ["--provider", "orchestrator"]
    if options:
        head += ["--base-url", api_url(server)]
        if key is not None:
            head += ["--api-key", key]
    runner = CliRunner(env={**_CLEAN_ENV, **(env or {})})
    result = runner.invoke(cli, [*head, *args], catch_exceptions=True)
    for text in (result.stdout, result.stderr):
        assert ORCH_KEY not in text
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def start_sessions(server: EmulatorThread, count: int, *, stop: int = 0) -> list[str]:
    """``count`` running sessions, oldest first; the first ``stop`` of them stopped."""

    async def go() -> list[str]:
        async with OrchestratorClient(ORCH_KEY, api_url(server)) as client:
            ids = [
                (await client.sessions.create(session_name=f"cli-{n}", duration="30m")).id
                for n in range(count)
            ]
            for session_id in ids[:stop]:
                await client.sessions.stop(session_id)
            return ids

    return server.run(go())


def running(server: EmulatorThread) -> set[str]:
    return set(server.call(lambda: server.emu.orchestrator_state.org("org").active_session_ids))


def table_rows(stdout: str) -> dict[str, dict[str, str]]:
    """A printed table as {id: {header: cell}} (cells are separated by 2+ spaces)."""
    lines = stdout.splitlines()
    header = re.split(r"\s{2,}", lines[0].strip())
    rows = {}
    for line in lines[2:]:
        cells = re.split(r"\s{2,}", line.strip())
        if len(cells) == len(header):
            rows[cells[0]] = dict(zip(header, cells, strict=True))
    return rows


def test_sessions_list_shows_orchestrator_fields(server: EmulatorThread) -> None:
    stopped, *active = start_sessions(server, 3, stop=1)

    result = invoke(server, "sessions", "list")

    assert result.exit_code == 0, result.output
    assert re.split(r"\s{2,}", result.stdout.splitlines()[0].strip()) == [
        "id", "name", "status", "expires in", "cdp", "vnc", "created (UTC)"
    ]  # fmt: skip
    assert "mode" not in result.stdout and "charged" not in result.stdout
    rows = table_rows(result.stdout)
    assert set(rows) == {stopped, *active}
    assert rows[stopped]["name"] == "cli-0"
    assert rows[stopped]["status"] == "stopped"  # OrchestratorHQ's own word
    assert (rows[stopped]["expires in"], rows[stopped]["cdp"]) == ("-", "-")
    for n, sid in enumerate(active, start=1):
        assert rows[sid]["name"] == f"cli-{n}"
        assert rows[sid]["status"] == "active"
        assert rows[sid]["expires in"].startswith(("29m", "30m"))
        assert (rows[sid]["cdp"], rows[sid]["vnc"]) == ("yes", "yes")


def test_sessions_list_json_has_orchestrator_keys_only(server: EmulatorThread) -> None:
    stopped, running_id = start_sessions(server, 2, stop=1)

    every = invoke(server, "sessions", "list", "--json")
    closed = invoke(server, "sessions", "list", "--status", "closed", "--json")

    rows = {r["id"]: r for r in map(json.loads, every.stdout.splitlines())}
    assert set(rows[running_id]) == {
        "id", "name", "status", "created_at", "expires_at", "last_accessed_at",
        "cdp_available", "vnc_available",
    }  # fmt: skip
    assert (rows[running_id]["cdp_available"], rows[running_id]["vnc_available"]) == (True, True)
    assert rows[stopped]["cdp_available"] is None
    assert "vnc_password" not in every.stdout and "ws://" not in every.stdout
    (row,) = [json.loads(line) for line in closed.stdout.splitlines()]  # closed = stopped
    assert (row["id"], row["status"], row["name"]) == (stopped, "stopped", "cli-0")


def test_sessions_list_limit_and_status(server: EmulatorThread) -> None:
    _, *active = start_sessions(server, 3, stop=1)

    newest = invoke(server, "sessions", "list", "--status", "active", "--limit", "1")

    assert newest.stdout.splitlines()[2].split()[0] == active[-1]
    assert "1 of 2 active sessions shown" in newest.stdout


def test_there_is_no_expired_status(server: EmulatorThread) -> None:
    result = invoke(server, "sessions", "list", "--status", "expired")

    assert result.exit_code == 2
    assert "--status expired: OrchestratorHQ has no such status" in result.stderr
    assert "closed" in result.stderr and "stopped" in result.stderr


def test_sessions_close_stops_sessions(server: EmulatorThread) -> None:
    first, second = start_sessions(server, 2, stop=0)

    result = invoke(server, "sessions", "close", first)
    again = invoke(server, "sessions", "close", first)
    unknown = invoke(server, "sessions", "close", "sess_unknown")

    assert result.exit_code == 0, result.output
    assert f"closed          {first}" in result.stdout
    assert running(server) == {second}
    assert again.exit_code == 0 and f"already closed  {first}" in again.stdout
    assert unknown.exit_code == 4
    assert "unknown         sess_unknown" in unknown.stderr


def write_ledger(path: Path, entries: list[LedgerEntry]) -> None:
    async def go() -> None:
        ledger = await SqliteLedger.open(path)
        for entry in entries:
            await ledger.record(entry)
        await ledger.aclose()

    asyncio.run(go())


def ledger_entry(owner: OwnerInfo, session_id: str, heartbeat_at: float) -> LedgerEntry:
    return attrs.evolve(
        LedgerEntry.intent(owner, backend="orchestrator"),
        session_id=session_id,
        state=EntryState.ACTIVE,
        heartbeat_at=heartbeat_at,
        created_at=heartbeat_at,
    )


def test_sessions_reap_stops_what_a_dead_pool_left(server: EmulatorThread, tmp_path: Path) -> None:
    orphan, live, foreign = start_sessions(server, 3)
    path = tmp_path / "ledger.sqlite3"
    write_ledger(
        path,
        [
            ledger_entry(DEAD, orphan, time.time() - 3600),
            ledger_entry(OwnerInfo.current("a-live-pool"), live, time.time()),
        ],
    )

    dry = invoke(server, "sessions", "reap", "--ledger-path", str(path), "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "Sessions to close (1)" in dry.stdout and orphan in dry.stdout
    assert f"belong to no ledger on this host ({foreign})" in dry.stdout
    assert running(server) == {orphan, live, foreign}

    done = invoke(server, "sessions", "reap", "--ledger-path", str(path), "--yes")
    assert done.exit_code == 0, done.output
    assert "Reaped: closed 1, already gone 0, ledger entries settled 1." in done.stdout
    assert running(server) == {live, foreign}


@pytest.mark.parametrize(
    ("command", "reason"),
    [
        (["balance"], "no balance endpoint"),
        (["account", "--json"], "no account endpoint"),
        (["history", "--since", "7d"], "no usage history"),
    ],
)
def test_account_commands_are_not_offered(
    server: EmulatorThread, command: list[str], reason: str
) -> None:
    for key in (ORCH_KEY, None):  # refused before any key is needed
        result = invoke(server, *command, key=key)
        assert result.exit_code == 2
        line = result.stderr.strip()
        assert line.startswith(f"error: `{command[0]}` is not offered by OrchestratorHQ: ")
        assert reason in line
    assert server.call(lambda: server.emu.orchestrator_state.org("org").calls) == {}


def test_the_provider_reads_its_own_environment(server: EmulatorThread) -> None:
    start_sessions(server, 1)
    env: dict[str, str | None] = {
        "ORCHESTRATOR_API_KEY": ORCH_KEY,
        "ORCHESTRATOR_BASE_URL": api_url(server),
        # BBRE's variables feed the global options; another provider must not use them.
        "BBRE_API_KEY": "bbre-key-for-the-other-api",
        "BBRE_BASE_URL": server.emu.base_url,
    }
    result = invoke(server, "sessions", "list", "--json", env=env, options=False)
    assert result.exit_code == 0, result.output
    assert len(result.stdout.splitlines()) == 1

    missing = invoke(server, "sessions", "list", key=None)
    assert missing.exit_code == 2
    assert missing.stderr.strip() == "error: no API key: pass --api-key or set ORCHESTRATOR_API_KEY"


def test_a_wrong_key_is_an_auth_error(server: EmulatorThread) -> None:
    result = invoke(server, "sessions", "list", key="orch_not_a_key")

    assert result.exit_code == 3
    assert "UNAUTHORIZED" in result.stderr and "ORCHESTRATOR_API_KEY" in result.stderr


def test_bbre_keeps_working_on_the_same_server(server: EmulatorThread) -> None:
    (bbre_id,) = server.create_sessions(1)
    start_sessions(server, 1)
    runner = CliRunner(env=_CLEAN_ENV)
    args = ["--base-url", server.base_url, "--api-key", SECRET_KEY]
    result = runner.invoke(cli, [*args, "sessions", "list", "--json"])
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["id"] for line in result.stdout.splitlines()] == [bbre_id]


def test_a_narrow_terminal_leaves_out_the_creation_time_first(server: EmulatorThread) -> None:
    ids = start_sessions(server, 2)

    narrow = invoke(server, "sessions", "list", env={"COLUMNS": "80"})
    narrower = invoke(server, "sessions", "list", env={"COLUMNS": "30"})

    assert narrow.exit_code == 0 and narrower.exit_code == 0
    assert re.split(r"\s{2,}", narrow.stdout.splitlines()[0].strip()) == [
        "id", "name", "status", "expires in", "cdp", "vnc"
    ]  # fmt: skip
    assert re.split(r"\s{2,}", narrower.stdout.splitlines()[0].strip()) == ["id", "status"]
    for result in (narrow, narrower):
        rows = table_rows(result.stdout)
        assert set(rows) == set(ids)
        assert all(row["status"] == "active" for row in rows.values())
