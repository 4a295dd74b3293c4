"""``bbre-async --provider orchestrator``: the session commands against the emulator's ``/api``.

The emulator serves from a background thread (a command runs its own ``asyncio.run``); one
server answers both APIs, so the same fixture also checks that BBRE is unaffected.
"""

from __future__ import annotations

import asyncio
import json
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


def test_sessions_list_shows_the_organisation_sessions(server: EmulatorThread) -> None:
    stopped, *active = start_sessions(server, 3, stop=1)

    result = invoke(server, "sessions", "list")

    assert result.exit_code == 0, result.output
    rows = {line.split()[0]: line.split() for line in result.stdout.splitlines()[2:]}
    assert set(rows) == {stopped, *active}
    assert rows[stopped][2] == "closed" and rows[stopped][-1] == "-"
    assert all(rows[sid][2] == "active" for sid in active)
    assert all(rows[sid][-2] == "29m" or rows[sid][-2] == "30m" for sid in active)

    closed = invoke(server, "sessions", "list", "--status", "closed", "--json")
    assert closed.exit_code == 0
    (row,) = [json.loads(line) for line in closed.stdout.splitlines()]
    assert (row["id"], row["status"], row["expires_at"]) == (stopped, "closed", None)

    newest = invoke(server, "sessions", "list", "--status", "active", "--limit", "1")
    assert newest.stdout.splitlines()[2].split()[0] == active[-1]
    assert "1 of 2 active sessions shown" in newest.stdout


def test_there_is_no_expired_status(server: EmulatorThread) -> None:
    result = invoke(server, "sessions", "list", "--status", "expired")

    assert result.exit_code == 2
    assert "`--status expired` is not offered by OrchestratorHQ" in result.stderr
    assert "--status closed" in result.stderr


def test_sessions_close_stops_sessions(server: EmulatorThread) -> None:
    first, second = start_sessions(server, 2, stop=0)

    result = invoke(server, "sessions", "close", first, "sess_unknown")

    assert result.exit_code == 0, result.output
    assert f"closed        {first}" in result.stdout
    assert "already gone  sess_unknown" in result.stdout
    assert running(server) == {second}
    again = invoke(server, "sessions", "close", first)
    assert "already gone" in again.stdout


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
