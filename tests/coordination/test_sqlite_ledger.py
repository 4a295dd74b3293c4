"""The SQLite ledger as storage: what goes in comes back, on a file that is safe to share,
and a bad file or directory never stops the pool (it degrades to memory, warning once)."""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import sqlite3
import stat
import tempfile
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import attrs
import platformdirs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bbre_async import CoordinationError
from bbre_async.coordination import LedgerFileError
from bbre_async.coordination._base import EntryState, LedgerEntry, LedgerStore, OwnerInfo
from bbre_async.coordination._memory_ledger import MemoryLedger
from bbre_async.coordination._sqlite_file import CorruptLedger, set_aside
from bbre_async.coordination._sqlite_ledger import SqliteLedger, default_ledger_path

LOGGER = "bbre_async.ledger"


class FakeClock:
    """A wall clock tests move by hand."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def make_entry(owner: OwnerInfo, intent_id: str = "i-1", **changes: Any) -> LedgerEntry:
    entry = LedgerEntry(
        intent_id=intent_id,
        owner=owner,
        state=EntryState.INTENT,
        created_at=1_000.25,
        heartbeat_at=1_000.5,
    )
    return attrs.evolve(entry, **changes)


@pytest.fixture
def owner() -> OwnerInfo:
    return OwnerInfo(host="host-a", pid=4242, pid_start=123456.0, pool_id="pool-a")


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "ledger" / "ledger.sqlite3"


@pytest.fixture(params=["sqlite", "memory"])
async def any_ledger(request: pytest.FixtureRequest, path: Path) -> Any:
    ledger: SqliteLedger | MemoryLedger
    if request.param == "sqlite":
        ledger = await SqliteLedger.open(path)
    else:
        ledger = MemoryLedger()
    yield ledger
    await ledger.aclose()


def ledger_warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == LOGGER and r.levelno == logging.WARNING]


# -- round trip and transitions ------------------------------------------------------------


async def test_every_field_survives_a_reopen(path: Path) -> None:
    offset = timezone(timedelta(hours=5, minutes=30))
    entries = [
        LedgerEntry(
            intent_id="intent-full",
            owner=OwnerInfo(host="h\u00f6st", pid=7, pid_start=98765.0, pool_id="p1"),
            state=EntryState.ACTIVE,
            created_at=1_700_000_000.123456,
            heartbeat_at=1_700_000_010.654321,
            session_id="sess-\u2603",
            expires_at=datetime(2030, 1, 2, 3, 4, 5, 678901, tzinfo=offset),
            backend="orchestratorhq",
        ),
        LedgerEntry(
            intent_id="intent-bare",
            owner=OwnerInfo(host="h", pid=8, pid_start=None, pool_id="p2"),
            state=EntryState.CLOSING,
            created_at=1_700_000_001.0,
            heartbeat_at=1_700_000_002.0,
        ),
    ]
    ledger = await SqliteLedger.open(path)
    for entry in entries:
        await ledger.record(entry)
    await ledger.aclose()

    reopened = await SqliteLedger.open(path)
    got = await reopened.entries()
    await reopened.aclose()

    assert got == entries
    expires_at = got[0].expires_at
    assert expires_at is not None
    assert expires_at.utcoffset() == timedelta(
        hours=5, minutes=30
    )  # the offset, not just the instant


async def test_state_transitions_from_intent_to_removal(
    any_ledger: LedgerStore, owner: OwnerInfo
) -> None:
    intent = make_entry(owner)
    await any_ledger.record(intent)
    assert await any_ledger.entries() == [intent]

    expires = datetime(2030, 1, 1, tzinfo=UTC)
    active = attrs.evolve(intent, state=EntryState.ACTIVE, session_id="s-1", expires_at=expires)
    await any_ledger.record(active)
    assert await any_ledger.entries() == [active]

    closing = attrs.evolve(active, state=EntryState.CLOSING)
    await any_ledger.record(closing)
    assert await any_ledger.entries() == [closing]

    await any_ledger.remove(intent.intent_id)
    assert await any_ledger.entries() == []
    await any_ledger.remove(intent.intent_id)  # removing twice is not an error


async def test_heartbeat_moves_only_that_owners_entries(path: Path, owner: OwnerInfo) -> None:
    clock = FakeClock(5_000.0)
    other = attrs.evolve(owner, pool_id="pool-b")
    no_start = attrs.evolve(owner, pid_start=None)
    ledger = await SqliteLedger.open(path, clock=clock)
    await ledger.record(make_entry(owner, "mine"))
    await ledger.record(make_entry(other, "theirs"))
    await ledger.record(make_entry(no_start, "no-start"))

    await ledger.heartbeat(owner)
    clock.now = 6_000.0
    await ledger.heartbeat(no_start)  # a NULL pid_start must still match itself

    beats = {e.intent_id: e.heartbeat_at for e in await ledger.entries()}
    await ledger.aclose()
    assert beats == {"mine": 5_000.0, "theirs": 1_000.5, "no-start": 6_000.0}


async def test_naive_expiry_and_non_finite_times_are_refused(
    any_ledger: LedgerStore, owner: OwnerInfo
) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        await any_ledger.record(make_entry(owner, expires_at=datetime(2030, 1, 1)))
    with pytest.raises(ValueError, match="finite"):
        await any_ledger.record(make_entry(owner, created_at=float("nan")))
    assert await any_ledger.entries() == []


async def test_both_ledgers_are_ledger_stores(path: Path) -> None:
    on_disk: LedgerStore = await SqliteLedger.open(path)  # mypy checks the protocol here
    in_memory: LedgerStore = MemoryLedger()
    assert isinstance(on_disk, LedgerStore)
    assert isinstance(in_memory, LedgerStore)
    await on_disk.aclose()


async def test_calls_after_aclose_raise(path: Path, owner: OwnerInfo) -> None:
    ledger = await SqliteLedger.open(path)
    await ledger.aclose()
    await ledger.aclose()  # idempotent
    with pytest.raises(CoordinationError, match="closed"):
        await ledger.record(make_entry(owner))


# -- the file --------------------------------------------------------------------------------


async def test_file_is_0600_in_a_0700_directory(path: Path, owner: OwnerInfo) -> None:
    old_umask = os.umask(0o022)
    try:
        ledger = await SqliteLedger.open(path)
        await ledger.record(make_entry(owner))
        modes = {p.name: _mode(p) for p in path.parent.iterdir()}  # WAL and shm too
        await ledger.aclose()
    finally:
        os.umask(old_umask)
    assert _mode(path.parent) == 0o700
    assert set(modes) >= {path.name, f"{path.name}-wal", f"{path.name}-shm"}
    assert set(modes.values()) == {0o600}


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_an_existing_world_readable_file_is_tightened(path: Path) -> None:
    path.parent.mkdir()
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o644))
    os.chmod(path, 0o644)
    ledger = await SqliteLedger.open(path)
    await ledger.aclose()
    assert _mode(path) == 0o600


async def test_wal_mode_and_normal_sync(path: Path) -> None:
    ledger = await SqliteLedger.open(path)
    conn = ledger._conn
    assert conn is not None
    assert conn.execute("PRAGMA synchronous").fetchone() == (1,)  # NORMAL
    with sqlite3.connect(path) as other:
        assert other.execute("PRAGMA journal_mode").fetchone() == ("wal",)  # stored in the file
    other.close()
    await ledger.aclose()


def test_default_path_is_per_fingerprint_and_url_and_hides_both(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("BBRE_LEDGER_DIR", raising=False)  # the pytest plugin sets it
    base = default_ledger_path("fp-1", "https://api.example.com/v1")
    assert base.is_relative_to(platformdirs.user_cache_dir("bbre_async", appauthor=False))
    assert base.suffix == ".sqlite3"
    assert "fp-1" not in str(base)
    assert "example" not in str(base)
    assert default_ledger_path("fp-1", "https://api.example.com/v1/") == base
    assert default_ledger_path("fp-2", "https://api.example.com/v1") != base
    monkeypatch.setenv("BBRE_LEDGER_DIR", str(tmp_path))
    assert default_ledger_path("fp-1", "https://api.example.com/v1") == tmp_path / base.name
    assert default_ledger_path("fp-1", "http://127.0.0.1:8787") != base


async def test_two_ledgers_on_one_file_see_each_other(path: Path, owner: OwnerInfo) -> None:
    clock = FakeClock(9_000.0)
    first = await SqliteLedger.open(path)
    second = await SqliteLedger.open(path, clock=clock)
    entry = make_entry(owner)
    await first.record(entry)
    assert await second.entries() == [entry]
    await second.heartbeat(owner)
    assert await first.entries() == [attrs.evolve(entry, heartbeat_at=9_000.0)]
    await second.remove(entry.intent_id)
    assert await first.entries() == []
    await first.aclose()
    await second.aclose()


# -- a corrupt file is set aside ---------------------------------------------------------------


def _read(path: Path) -> bytes:
    return path.read_bytes()


def _write_garbage(path: Path) -> None:
    path.write_bytes(b"definitely not an sqlite database\x00\xff" * 300)


def _write_truncated(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE filler (x TEXT)")
        conn.executemany("INSERT INTO filler VALUES (?)", [("x" * 500,)] * 200)
    conn.close()
    with path.open("r+b") as file:
        file.truncate(8192)


def _write_foreign_schema(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE users (name TEXT)")
    conn.close()


def _write_wrong_columns(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        conn.execute("INSERT INTO schema_version VALUES (1)")
        conn.execute("CREATE TABLE ledger_entries (intent_id TEXT, blob BLOB)")
    conn.close()


def _write_unreadable_version(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE schema_version (version INTEGER)")
        conn.execute("CREATE TABLE ledger_entries (intent_id TEXT)")
    conn.close()


@pytest.mark.parametrize("spoil", [_write_wrong_columns, _write_unreadable_version])
async def test_a_damaged_ledger_of_ours_is_set_aside_and_replaced(
    path: Path, owner: OwnerInfo, caplog: pytest.LogCaptureFixture, spoil: Any
) -> None:
    path.parent.mkdir()
    spoil(path)
    spoiled = _read(path)

    ledger = await SqliteLedger.open(path)
    await ledger.record(make_entry(owner))
    got = await ledger.entries()
    await ledger.aclose()

    assert not ledger.degraded
    assert got == [make_entry(owner)]
    [aside] = path.parent.glob(f"{path.name}.corrupt-*")
    assert _read(aside) == spoiled
    [warning] = ledger_warnings(caplog)
    assert aside.name in warning.getMessage()


@pytest.mark.parametrize("spoil", [_write_garbage, _write_truncated, _write_foreign_schema])
async def test_a_file_that_is_not_ours_is_refused_and_left_untouched(
    path: Path, spoil: Any
) -> None:
    """Issue 15, defect 10: an application's database at ``ledger_path`` is never moved."""
    path.parent.mkdir()
    spoil(path)
    path.chmod(0o644)
    before = sorted((p.name, p.read_bytes()) for p in path.parent.iterdir())

    with pytest.raises(LedgerFileError, match="not a bbre_async session ledger"):
        await SqliteLedger.open(path)

    assert sorted((p.name, p.read_bytes()) for p in path.parent.iterdir()) == before
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


async def test_an_unreadable_file_at_the_default_path_is_ours_and_set_aside(
    tmp_path: Path, owner: OwnerInfo, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BBRE_LEDGER_DIR", raising=False)  # the pytest plugin sets it
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    path = default_ledger_path("fp", "https://api.test")
    path.parent.mkdir(parents=True)
    _write_garbage(path)

    ledger = await SqliteLedger.open(path)
    await ledger.record(make_entry(owner))
    assert await ledger.entries() == [make_entry(owner)]
    await ledger.aclose()
    assert len(list(path.parent.glob(f"{path.name}.corrupt-*"))) == 1


async def test_an_unversioned_ledger_without_later_columns_is_migrated(
    path: Path, owner: OwnerInfo
) -> None:
    path.parent.mkdir()
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TABLE ledger_entries (intent_id TEXT PRIMARY KEY NOT NULL, state TEXT NOT "
            "NULL, owner_host TEXT NOT NULL, owner_pid INTEGER NOT NULL, owner_pid_start REAL, "
            "owner_pool_id TEXT NOT NULL, created_at REAL NOT NULL, heartbeat_at REAL NOT NULL, "
            "session_id TEXT, expires_at TEXT)"
        )
        conn.execute(
            "INSERT INTO ledger_entries VALUES ('old', 'intent', 'host-a', 4242, 123456.0, "
            "'pool-a', 1000.25, 1000.5, NULL, NULL)"
        )
    conn.close()

    ledger = await SqliteLedger.open(path)
    entries = await ledger.entries()
    await ledger.aclose()

    assert [(e.intent_id, e.backend, e.owner) for e in entries] == [("old", "bbre", owner)]
    assert list(path.parent.glob("*.corrupt-*")) == []


async def test_a_version_1_ledger_is_migrated_with_its_rows(path: Path, owner: OwnerInfo) -> None:
    """Issue 15, defect 10: an older schema is upgraded in place, its rows stay reapable."""
    path.parent.mkdir()
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        conn.execute("INSERT INTO schema_version VALUES (1)")
        conn.execute(
            "CREATE TABLE ledger_entries (intent_id TEXT PRIMARY KEY NOT NULL, state TEXT NOT "
            "NULL, owner_host TEXT NOT NULL, owner_pid INTEGER NOT NULL, owner_pid_start REAL, "
            "owner_pool_id TEXT NOT NULL, created_at REAL NOT NULL, heartbeat_at REAL NOT NULL, "
            "session_id TEXT, expires_at TEXT, backend TEXT NOT NULL)"
        )
        conn.execute(
            "INSERT INTO ledger_entries VALUES ('old', 'active', 'host-a', 4242, 123456.0, "
            "'pool-a', 1000.25, 1000.5, 'sess-old', NULL, 'bbre')"
        )
    conn.close()

    ledger = await SqliteLedger.open(path)
    entries = await ledger.entries()
    await ledger.aclose()

    assert not ledger.degraded
    assert [(e.intent_id, e.session_id, e.owner) for e in entries] == [("old", "sess-old", owner)]
    assert list(path.parent.glob("*.corrupt-*")) == []
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT version FROM schema_version").fetchall() == [(2,)]
    conn.close()


def test_set_aside_moves_sidecars_but_never_a_replacement(path: Path) -> None:
    path.parent.mkdir()
    for name in (path.name, f"{path.name}-wal", f"{path.name}-shm"):
        (path.parent / name).write_bytes(name.encode())
    judged = path.stat().st_ino

    replaced = CorruptLedger("judged another file", judged + 1)
    assert set_aside(path, replaced) is None  # someone already put a fresh ledger there
    assert path.read_bytes() == path.name.encode()

    aside = set_aside(path, CorruptLedger("bad", judged))
    assert aside is not None
    assert sorted(p.name for p in path.parent.iterdir()) == [
        aside.name,
        f"{aside.name}-shm",
        f"{aside.name}-wal",
    ]
    assert (path.parent / f"{aside.name}-wal").read_bytes() == f"{path.name}-wal".encode()


async def test_a_newer_schema_is_left_alone(
    path: Path, owner: OwnerInfo, caplog: pytest.LogCaptureFixture
) -> None:
    ledger = await SqliteLedger.open(path)
    await ledger.aclose()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE schema_version SET version = 99")
    conn.close()

    ledger = await SqliteLedger.open(path)
    await ledger.record(make_entry(owner))
    assert await ledger.entries() == [make_entry(owner)]
    await ledger.aclose()

    assert ledger.degraded
    assert len(ledger_warnings(caplog)) == 1
    assert list(path.parent.glob("*.corrupt-*")) == []
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT version FROM schema_version").fetchall() == [(99,)]
    conn.close()


async def test_an_unreadable_row_is_skipped_with_a_warning(
    path: Path, owner: OwnerInfo, caplog: pytest.LogCaptureFixture
) -> None:
    ledger = await SqliteLedger.open(path)
    await ledger.record(make_entry(owner, "good"))
    await ledger.record(make_entry(owner, "bad"))
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE ledger_entries SET state = 'exploded' WHERE intent_id = 'bad'")
    conn.close()
    assert [e.intent_id for e in await ledger.entries()] == ["good"]
    await ledger.aclose()
    assert not ledger.degraded
    assert "bad" in ledger_warnings(caplog)[0].getMessage()


# -- an unusable file falls back to memory ---------------------------------------------------


async def test_read_only_directory_falls_back_to_memory(
    tmp_path: Path,
    owner: OwnerInfo,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    read_only = tmp_path / "ro"
    read_only.mkdir()
    read_only.chmod(0o500)
    if os.geteuid() == 0:  # root ignores mode bits: refuse the create the way the OS would
        real_open = os.open

        def refusing_open(file: Any, flags: int, *args: Any, **kwargs: Any) -> int:
            if Path(file).parent == read_only and flags & os.O_CREAT:
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(file))
            return real_open(file, flags, *args, **kwargs)

        monkeypatch.setattr(os, "open", refusing_open)

    ledger = await SqliteLedger.open(read_only / "ledger.sqlite3")
    for n in range(3):
        await ledger.record(make_entry(owner, f"i-{n}"))
    await ledger.remove("i-0")
    got = [e.intent_id for e in await ledger.entries()]
    await ledger.aclose()
    read_only.chmod(0o700)

    assert ledger.degraded
    assert got == ["i-1", "i-2"]
    [warning] = ledger_warnings(caplog)
    assert "PermissionError" in warning.getMessage()


async def test_path_that_is_a_directory_falls_back_to_memory(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ledger = await SqliteLedger.open(tmp_path)
    assert ledger.degraded
    assert await ledger.entries() == []
    assert len(ledger_warnings(caplog)) == 1
    await ledger.aclose()


async def test_full_disk_falls_back_to_memory_once_and_keeps_this_process_entries(
    path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    me = OwnerInfo.current(pool_id="me")
    stranger = OwnerInfo(host="elsewhere", pid=1, pid_start=None, pool_id="them")
    ledger = await SqliteLedger.open(path)
    await ledger.record(make_entry(stranger, "theirs"))
    await ledger.record(make_entry(me, "kept"))
    conn = ledger._conn
    assert conn is not None
    (pages,) = conn.execute("PRAGMA page_count").fetchone()
    conn.execute(f"PRAGMA max_page_count = {pages}")  # the disk is now full

    n = 0
    while not ledger.degraded:
        await ledger.record(make_entry(me, f"fill-{n:04d}", created_at=2_000.0 + n))
        n += 1
        assert n < 1_000
    for extra in range(5):  # calls after the switch: no more warnings
        await ledger.record(make_entry(me, f"extra-{extra}", created_at=3_000.0 + extra))
    await ledger.remove("kept")
    await ledger.heartbeat(me)
    ids = [e.intent_id for e in await ledger.entries()]
    await ledger.aclose()

    [warning] = ledger_warnings(caplog)
    assert "full" in warning.getMessage()
    # Everything this process recorded is still known, in memory; the stranger's entry is
    # left in the file for processes that can still use it.
    assert ids == [f"fill-{i:04d}" for i in range(n)] + [f"extra-{i}" for i in range(5)]
    with sqlite3.connect(path) as check:
        assert ("theirs",) in check.execute("SELECT intent_id FROM ledger_entries").fetchall()
    check.close()


# -- any sequence of calls matches a dict ------------------------------------------------------

OWNERS = [
    OwnerInfo(host="h1", pid=10, pid_start=1.5, pool_id="a"),
    OwnerInfo(host="h1", pid=10, pid_start=None, pool_id="a"),
    OwnerInfo(host="h\u00e9\x00", pid=2**40, pid_start=0.0, pool_id="b"),
]
INTENT_IDS = ["x", "y", "z", "\u2603"]
finite = st.floats(allow_nan=False, allow_infinity=False)
# Real UTC offsets are whole minutes; ISO-8601 cannot carry a sub-second one.
offsets = st.integers(min_value=-23 * 60, max_value=23 * 60).map(lambda m: timedelta(minutes=m))
aware = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=offsets.map(timezone)
)
entries_st = st.builds(
    LedgerEntry,
    intent_id=st.sampled_from(INTENT_IDS),
    owner=st.sampled_from(OWNERS),
    state=st.sampled_from(EntryState),
    created_at=finite,
    heartbeat_at=finite,
    session_id=st.none() | st.text(max_size=12),
    expires_at=st.none() | aware,
    backend=st.text(max_size=8),
)
operations = st.lists(
    st.one_of(
        st.tuples(st.just("record"), entries_st),
        st.tuples(st.just("remove"), st.sampled_from(INTENT_IDS)),
        st.tuples(st.just("heartbeat"), st.sampled_from(OWNERS)),
        st.tuples(st.just("tick"), st.floats(min_value=0.0, max_value=1e6)),
    ),
    max_size=25,
)


async def _replay(kind: str, ops: list[tuple[str, Any]], directory: Path) -> None:
    clock = FakeClock()
    path = directory / "ledger.sqlite3"
    ledger: SqliteLedger | MemoryLedger
    ledger = (
        await SqliteLedger.open(path, clock=clock)
        if kind == "sqlite"
        else MemoryLedger(clock=clock)
    )
    model: dict[str, LedgerEntry] = {}
    for op, arg in ops:
        if op == "record":
            await ledger.record(arg)
            model[arg.intent_id] = arg
        elif op == "remove":
            await ledger.remove(arg)
            model.pop(arg, None)
        elif op == "heartbeat":
            await ledger.heartbeat(arg)
            for key, entry in model.items():
                if entry.owner == arg:
                    model[key] = attrs.evolve(entry, heartbeat_at=clock.now)
        else:
            clock.now += arg
        assert {e.intent_id: e for e in await ledger.entries()} == model
    await ledger.aclose()
    if isinstance(ledger, SqliteLedger):
        assert not ledger.degraded
        reopened = await SqliteLedger.open(path)
        assert {e.intent_id: e for e in await reopened.entries()} == model
        await reopened.aclose()


@pytest.mark.parametrize("kind", ["sqlite", "memory"])
@settings(max_examples=40, deadline=None)
@given(ops=operations)
def test_any_sequence_of_calls_matches_a_dict(kind: str, ops: list[tuple[str, Any]]) -> None:
    with tempfile.TemporaryDirectory() as directory:
        asyncio.run(_replay(kind, ops, Path(directory)))
