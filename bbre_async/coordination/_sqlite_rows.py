"""The statements the SQLite ledger runs in its worker thread, beyond single-row writes.

Each takes an open connection and runs to completion (one transaction where several rows must
change together); the ledger decides which connection and what to do when SQLite fails.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterable

import attrs

from bbre_async.coordination import _sqlite_schema as schema
from bbre_async.coordination._base import LedgerEntry, OwnerInfo
from bbre_async.coordination._memory_ledger import owner_is_gone

logger = logging.getLogger("bbre_async.ledger")


def decode(row: tuple[object, ...]) -> LedgerEntry | None:
    """One row as an entry, or None (with a warning) when a value cannot be read back."""
    try:
        return schema.row_to_entry(row)
    except (ValueError, TypeError) as exc:
        logger.warning("skipping an unreadable session ledger row %r: %s", row[:1], exc)
        return None


def read_entries(conn: sqlite3.Connection) -> list[LedgerEntry]:
    """Every readable entry, oldest first."""
    rows = conn.execute(schema.SELECT_ALL).fetchall()
    return [entry for entry in map(decode, rows) if entry is not None]


def read_process_entries(conn: sqlite3.Connection, host: str, pid: int) -> list[LedgerEntry]:
    """The entries of one process (what a ledger going to memory keeps)."""
    rows = conn.execute(schema.SELECT_BY_PROCESS, (host, pid)).fetchall()
    return [entry for entry in map(decode, rows) if entry is not None]


def claim(
    conn: sqlite3.Connection,
    *,
    intent_id: str,
    new_owner: OwnerInfo,
    stale_after: float,
    now: float,
) -> bool:
    """Move a gone owner's entry to ``new_owner``; True for exactly one claimer.

    Inside ``BEGIN IMMEDIATE`` (one writer on the file at a time) the entry is read, its
    owner judged by `owner_is_gone`, and moved with a compare-and-swap on the owner and
    heartbeat read.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        won = False
        row = conn.execute(schema.SELECT_ONE, (intent_id,)).fetchone()
        entry = None if row is None else decode(row)
        if entry is not None and owner_is_gone(
            entry.owner, entry.heartbeat_at, me=new_owner, stale_after=stale_after, now=now
        ):
            cursor = conn.execute(
                schema.CLAIM,
                (
                    *schema.owner_params(new_owner),
                    now,
                    intent_id,
                    *schema.owner_params(entry.owner),
                    entry.heartbeat_at,
                ),
            )
            won = cursor.rowcount == 1
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return won


def write_back(
    conn: sqlite3.Connection, *, removed: Iterable[str], entries: Iterable[LedgerEntry], now: float
) -> None:
    """Apply, in one transaction, what a process did while the file was out of use: drop
    what it removed, put back what it holds with a fresh heartbeat (it was alive all along)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        for intent_id in removed:
            conn.execute(schema.DELETE, (intent_id,))
        for entry in entries:
            conn.execute(schema.UPSERT, schema.entry_to_row(attrs.evolve(entry, heartbeat_at=now)))
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
