"""The ledger file's tables, how a `LedgerEntry` maps to a row, and how old files are upgraded.

The schema is versioned in its own table so that a later release adds a column (with a default)
to `_COLUMN_DECLS` and older files are upgraded in place, never thrown away with the sessions an
older release recorded. A file written by a *newer* release is left alone (`NewerSchemaError`):
rewriting it would break the processes that still use it, and falling back to memory for one run
costs little. A database that is not a ledger at all is someone else's (`ForeignSchemaError`).

Owner fields are columns rather than a blob so that ``heartbeat`` and ``claim`` are single
``UPDATE`` statements with the owner in their ``WHERE`` clause. ``expires_at`` is stored as an
ISO 8601 string with its UTC offset, which keeps a timezone-aware datetime exact on the way
back and stays readable with the ``sqlite3`` shell.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bbre_async.coordination._base import EntryState, LedgerEntry, OwnerInfo

SCHEMA_VERSION = 2

# Every column with its declaration, in row order. Columns after the first eight were added
# over time; an older file gets them with ``ALTER TABLE ... ADD COLUMN`` (see `_upgrade`).
_COLUMN_DECLS = (
    ("intent_id", "TEXT PRIMARY KEY NOT NULL"),
    ("state", "TEXT NOT NULL"),
    ("owner_host", "TEXT NOT NULL"),
    ("owner_pid", "INTEGER NOT NULL"),
    ("owner_pid_start", "REAL"),
    ("owner_pool_id", "TEXT NOT NULL"),
    ("created_at", "REAL NOT NULL"),
    ("heartbeat_at", "REAL NOT NULL"),
    ("session_id", "TEXT"),
    ("expires_at", "TEXT"),
    ("backend", "TEXT NOT NULL DEFAULT 'bbre'"),
    ("owner_boot_id", "TEXT"),  # version 2: tells a rebooted host's reused pid from the owner
)
COLUMNS = tuple(name for name, _ in _COLUMN_DECLS)
_REQUIRED = frozenset(COLUMNS[:8])
_OURS = frozenset({"schema_version", "ledger_entries"})

_CREATE_TABLES = (
    "CREATE TABLE schema_version (version INTEGER NOT NULL)",
    "CREATE TABLE ledger_entries ("
    + ", ".join(f"{name} {decl}" for name, decl in _COLUMN_DECLS)
    + ")",
)

_OWNER_MATCH = (
    "owner_host = ? AND owner_pid = ? AND owner_pid_start IS ? AND owner_pool_id = ? "
    "AND owner_boot_id IS ?"
)

_COLUMN_LIST = ", ".join(COLUMNS)
_PLACEHOLDERS = ", ".join("?" * len(COLUMNS))

# Only fixed column names are interpolated below; every value is a bound parameter.
UPSERT = f"INSERT OR REPLACE INTO ledger_entries ({_COLUMN_LIST}) VALUES ({_PLACEHOLDERS})"  # noqa: S608
DELETE = "DELETE FROM ledger_entries WHERE intent_id = ?"
SELECT_ALL = f"SELECT {_COLUMN_LIST} FROM ledger_entries ORDER BY created_at, intent_id"  # noqa: S608
SELECT_ONE = f"SELECT {_COLUMN_LIST} FROM ledger_entries WHERE intent_id = ?"  # noqa: S608
SELECT_BY_PROCESS = (
    f"SELECT {_COLUMN_LIST} FROM ledger_entries "  # noqa: S608
    "WHERE owner_host = ? AND owner_pid = ? ORDER BY created_at, intent_id"
)
HEARTBEAT = f"UPDATE ledger_entries SET heartbeat_at = ? WHERE {_OWNER_MATCH}"  # noqa: S608
# A compare-and-swap: it only moves the entry if the owner and heartbeat are still those read.
CLAIM = (
    "UPDATE ledger_entries SET owner_host = ?, owner_pid = ?, owner_pid_start = ?, "  # noqa: S608
    "owner_pool_id = ?, owner_boot_id = ?, heartbeat_at = ? "
    f"WHERE intent_id = ? AND {_OWNER_MATCH} AND heartbeat_at = ?"
)


class SchemaError(Exception):
    """The file holds our tables but cannot be read as a ledger: a damaged ledger of ours."""


class ForeignSchemaError(Exception):
    """The file is a database of someone else's (tables that are not ours): never touch it."""


class NewerSchemaError(Exception):
    """The file was written by a newer release; leave it for that release."""


def owner_params(owner: OwnerInfo) -> tuple[str, int, float | None, str, str | None]:
    """The owner's columns in the order of every owner match and of `CLAIM`'s SET."""
    return (owner.host, owner.pid, owner.pid_start, owner.pool_id, owner.boot_id)


def entry_to_row(entry: LedgerEntry) -> tuple[object, ...]:
    """The values of `COLUMNS` for ``entry``."""
    expires_at = entry.expires_at.isoformat() if entry.expires_at is not None else None
    owner = entry.owner
    return (
        entry.intent_id,
        entry.state.value,
        owner.host,
        owner.pid,
        owner.pid_start,
        owner.pool_id,
        entry.created_at,
        entry.heartbeat_at,
        entry.session_id,
        expires_at,
        entry.backend,
        owner.boot_id,
    )


def row_to_entry(row: Sequence[Any]) -> LedgerEntry:
    """Rebuild an entry from a `COLUMNS` row; ValueError or TypeError when a value is off."""
    (
        intent_id,
        state,
        host,
        pid,
        pid_start,
        pool_id,
        created_at,
        heartbeat_at,
        session_id,
        expires_at,
        backend,
        boot_id,
    ) = row
    return LedgerEntry(
        intent_id=str(intent_id),
        owner=OwnerInfo(
            host=str(host),
            pid=int(pid),
            pid_start=None if pid_start is None else float(pid_start),
            pool_id=str(pool_id),
            boot_id=None if boot_id is None else str(boot_id),
        ),
        state=EntryState(state),
        created_at=float(created_at),
        heartbeat_at=float(heartbeat_at),
        session_id=None if session_id is None else str(session_id),
        expires_at=None if expires_at is None else datetime.fromisoformat(expires_at),
        backend=str(backend),
    )


def prepare(conn: sqlite3.Connection) -> None:
    """Create, upgrade or check the tables in one write transaction.

    One transaction means a second process opening the same new file waits and then sees the
    finished tables, never half of them. Raises `ForeignSchemaError` for someone else's
    database, `SchemaError` for a damaged ledger of ours and `NewerSchemaError` for a ledger
    a newer release wrote.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        tables = {
            name
            for (name,) in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        }
        if not tables:
            for statement in _CREATE_TABLES:
                conn.execute(statement)
            conn.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
        else:
            _upgrade(conn, tables)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def _upgrade(conn: sqlite3.Connection, tables: set[str]) -> None:
    """Bring an existing ledger to `SCHEMA_VERSION` in place, keeping every row.

    Older files (version 1, or the unversioned table before it) only lack columns that have a
    default, so upgrading adds them; rows an older release recorded stay reapable.
    """
    if not tables <= _OURS or "ledger_entries" not in tables:
        raise ForeignSchemaError(f"tables {sorted(tables)} are not a session ledger's")
    if "schema_version" in tables:
        versions = conn.execute("SELECT version FROM schema_version").fetchall()
        if len(versions) != 1 or not isinstance(versions[0][0], int):
            raise SchemaError(f"unreadable schema version {versions!r}")
        version: int = versions[0][0]
        if version > SCHEMA_VERSION:
            raise NewerSchemaError(f"schema version {version} is newer than {SCHEMA_VERSION}")
    else:
        conn.execute(_CREATE_TABLES[0])
        conn.execute("INSERT INTO schema_version (version) VALUES (0)")
        version = 0
    present = {row[1] for row in conn.execute("PRAGMA table_info(ledger_entries)")}
    if not present >= _REQUIRED or not present <= set(COLUMNS):
        raise SchemaError(f"unexpected columns {sorted(present)}")
    for name, decl in _COLUMN_DECLS:
        if name not in present:
            # Fixed names and declarations from `_COLUMN_DECLS`, no outside value.
            conn.execute(f"ALTER TABLE ledger_entries ADD COLUMN {name} {decl}")
    if version < SCHEMA_VERSION:
        conn.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION,))
