"""``sessions reap`` with a ledger holding a dead owner's entries, a live owner's, and none."""

from __future__ import annotations

import asyncio
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import attrs
import pytest
from click.testing import Result

from bbre_async.cli import _reap
from bbre_async.coordination import EntryState, LedgerEntry, OwnerInfo, SqliteLedger
from tests.cli.conftest import EmulatorThread, Invoke

DEAD = OwnerInfo(host="gone-host.invalid", pid=4242, pid_start=1.0, pool_id="crashed")


def entry(owner: OwnerInfo, session_id: str | None, *, heartbeat_at: float) -> LedgerEntry:
    base = LedgerEntry.intent(owner)
    state = EntryState.ACTIVE if session_id else EntryState.INTENT
    return attrs.evolve(
        base,
        session_id=session_id,
        state=state,
        heartbeat_at=heartbeat_at,
        created_at=heartbeat_at if session_id else time.time(),
        expires_at=datetime.now(UTC) + timedelta(seconds=200) if session_id else None,
    )


def plan_rows(stdout: str) -> dict[str, list[str]]:
    """The plan table's rows by session id, cells split on runs of spaces."""
    return {
        cells[0]: cells
        for line in stdout.splitlines()
        if line.startswith("session_") and (cells := re.split(r"\s{2,}", line.strip()))
    }


def write_ledger(path: Path, entries: list[LedgerEntry]) -> None:
    async def go() -> None:
        ledger = await SqliteLedger.open(path)
        for e in entries:
            await ledger.record(e)
        await ledger.aclose()

    asyncio.run(go())


def read_ledger(path: Path) -> list[LedgerEntry]:
    async def go() -> list[LedgerEntry]:
        ledger = await SqliteLedger.open(path)
        try:
            return await ledger.entries()
        finally:
            await ledger.aclose()

    return asyncio.run(go())


@attrs.frozen
class Scene:
    ledger: Path
    orphans: list[str]  # sessions of the dead owner
    live: str  # a live owner's session (this test process)
    foreign: str  # in no ledger


@pytest.fixture
def scene(server: EmulatorThread, tmp_path: Path) -> Scene:
    orphan_a, orphan_b, live, foreign = server.create_sessions(4)
    path = tmp_path / "ledger.sqlite3"
    long_ago = time.time() - 3600
    write_ledger(
        path,
        [
            entry(DEAD, orphan_a, heartbeat_at=long_ago),
            entry(DEAD, orphan_b, heartbeat_at=long_ago),
            entry(OwnerInfo.current("a-live-pool"), live, heartbeat_at=time.time()),
        ],
    )
    return Scene(ledger=path, orphans=[orphan_a, orphan_b], live=live, foreign=foreign)


def reap(invoke: Invoke, scene: Scene, *args: str, input: str | None = None) -> Result:
    return invoke("sessions", "reap", "--ledger-path", str(scene.ledger), *args, input=input)


def test_dry_run_shows_the_plan_and_changes_nothing(
    server: EmulatorThread, invoke: Invoke, scene: Scene
) -> None:
    before = read_ledger(scene.ledger)

    result = reap(invoke, scene, "--dry-run")

    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Sessions to close (2)" in out
    rows = plan_rows(out)
    assert set(rows) == set(scene.orphans)
    for session_id in scene.orphans:
        why, owner, left = rows[session_id][1:]
        assert (why, owner) == ("owner gone", "gone-host.invalid:4242")
        assert re.fullmatch(r"3m \d\ds", left)
    assert scene.live not in out
    assert f"1 active session(s) belong to no ledger on this host ({scene.foreign})" in out
    assert out.rstrip().endswith("Dry run: nothing was closed.")
    assert server.active_ids() == {*scene.orphans, scene.live, scene.foreign}
    assert read_ledger(scene.ledger) == before


def test_non_interactive_without_yes_does_nothing(
    server: EmulatorThread, invoke: Invoke, scene: Scene
) -> None:
    result = reap(invoke, scene)

    assert result.exit_code == 1
    assert "Sessions to close (2)" in result.stdout  # the plan comes first
    assert "pass --yes" in result.stderr
    assert server.active_ids() == {*scene.orphans, scene.live, scene.foreign}


def test_yes_closes_the_dead_owners_sessions_only(
    server: EmulatorThread, invoke: Invoke, scene: Scene
) -> None:
    result = reap(invoke, scene, "--yes")

    assert result.exit_code == 0, result.output
    assert "Reaped: closed 2, already gone 0, ledger entries settled 2." in result.stdout
    assert server.active_ids() == {scene.live, scene.foreign}
    assert [e.session_id for e in read_ledger(scene.ledger)] == [scene.live]


def test_foreign_closes_sessions_no_ledger_knows(
    server: EmulatorThread, invoke: Invoke, scene: Scene
) -> None:
    result = reap(invoke, scene, "--foreign", "--yes")

    assert result.exit_code == 0, result.output
    assert plan_rows(result.stdout)[scene.foreign][1:3] == ["foreign", "-"]
    assert "closed 3" in result.stdout and "foreign closed 1" in result.stdout
    assert server.active_ids() == {scene.live}


def test_interactive_confirmation(
    server: EmulatorThread, invoke: Invoke, scene: Scene, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_reap, "_interactive", lambda: True)

    declined = reap(invoke, scene, input="n\n")
    assert declined.exit_code == 1
    assert "Close 2 session(s)? [y/N]" in declined.stdout
    assert len(server.active_ids()) == 4

    accepted = reap(invoke, scene, input="y\n")
    assert accepted.exit_code == 0
    assert server.active_ids() == {scene.live, scene.foreign}


def test_lost_create_of_a_dead_owner_is_matched_and_closed(
    server: EmulatorThread, invoke: Invoke, tmp_path: Path
) -> None:
    path = tmp_path / "ledger.sqlite3"
    intent = entry(DEAD, None, heartbeat_at=time.time() - 3600)
    write_ledger(path, [intent])
    (lost,) = server.create_sessions(1)  # created just after the intent was recorded

    result = invoke("sessions", "reap", "--ledger-path", str(path), "--yes")

    assert result.exit_code == 0, result.output
    assert plan_rows(result.stdout)[lost][1] == "lost create of a gone owner"
    assert "recorded a create whose answer never came" in result.stdout
    assert server.active_ids() == set()
    assert read_ledger(path) == []


def test_nothing_to_reap(server: EmulatorThread, invoke: Invoke, tmp_path: Path) -> None:
    result = invoke(
        "sessions", "reap", "--yes", env={"BBRE_LEDGER_PATH": str(tmp_path / "empty.sqlite3")}
    )

    assert result.exit_code == 0
    assert result.stdout.strip() == "Nothing to reap."
