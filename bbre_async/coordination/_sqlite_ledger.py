"""The on-disk ledger: one SQLite file per (API key fingerprint, base URL) on this host.

Why SQLite: several pools in several processes on one host must share one record of the
sessions they create, and survive any of them being killed. WAL mode lets readers run beside a
writer; ``synchronous=NORMAL`` makes a commit survive the death of the process that wrote it
(it sits in the WAL, in the OS page cache) and only skips the fsync that guards against power
loss, which a ledger of 300 s sessions does not need. Every write is one short statement, and
``claim`` is a ``BEGIN IMMEDIATE`` read-then-compare-and-swap, so exactly one process wins it.

Why a worker thread: statements run on one connection in anyio's worker threads, one at a time
(a ``CapacityLimiter(1)`` plus a lock, with ``check_same_thread=False``). Measured on Linux/ext4
with SQLite 3.40 (3000 record + remove round trips): inline p50 24 us, p99 60 us, max 3 ms
(WAL checkpoints); through the thread p50 195 us, p99 260-430 us. The thread costs about
0.17 ms per round trip and is still chosen: with several processes on one file a write can
wait up to ``busy_timeout`` for another writer's lock, and a checkpoint can wait on the disk.
Behind a 50 ms lock held by another connection, an inline write froze the event loop for
54 ms (a 1 ms ticker ran once); the threaded write left it free (the ticker ran 50 times).
Ledger calls happen once per create and close, never per request, so 0.2 ms is noise.

Why it rarely stops the pool: a file that cannot be used for a while (a write lock held past
``busy_timeout`` by another process, a read-only directory, a full disk) switches this ledger
to memory *for a while*: the calls go on in a `MemoryLedger` and the file is tried again every
``retry_interval`` (with a short lock wait, so no caller waits long); once it answers, what
this process recorded and removed meanwhile is written back and the memory copy dropped. One
WARNING on the ``bbre_async.ledger`` logger marks each switch and one INFO each return. A
damaged ledger of ours (our tables, or our default file name) is renamed to
``<name>.corrupt-<timestamp>`` and replaced by a fresh one. A file that is not ours (another
program's database, or not a database at all, at a path someone typed) is refused with
`LedgerFileError` and left untouched: the pool must not eat an application's data.

Nothing secret is stored: the file name hashes a key *fingerprint* with the base URL, and rows
hold intent ids, session ids and owner descriptions (host, pid, pool id). The file is still
created 0600 in a 0700 directory, since session ids are handles on paid resources.
"""

from __future__ import annotations

import functools
import logging
import os
import socket
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import anyio
import anyio.to_thread

from bbre_async._errors import CoordinationError
from bbre_async.coordination import _sqlite_rows as rows
from bbre_async.coordination import _sqlite_schema as schema
from bbre_async.coordination._base import LedgerEntry, LedgerFileError, OwnerInfo
from bbre_async.coordination._memory_ledger import (
    Clock,
    MemoryLedger,
    check_entry,
    find_orphans,
)
from bbre_async.coordination._sqlite_file import (
    CorruptLedger,
    close_quietly,
    connect,
    default_ledger_path,
    set_aside,
)

__all__ = ["SqliteLedger", "default_ledger_path"]

logger = logging.getLogger("bbre_async.ledger")

_T = TypeVar("_T")

_BUSY_CODES = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})
_CALLER_ERRORS = (
    sqlite3.IntegrityError,
    sqlite3.DataError,
    sqlite3.ProgrammingError,
    sqlite3.InterfaceError,
)
# How long a retry of the file waits for another process's lock, in milliseconds: a probe
# must not hold up the caller it runs for.
_PROBE_BUSY_MS = 100


class _Unavailable(Exception):
    """The file is not in use right now; the caller goes to memory."""


def _is_busy(exc: BaseException) -> bool:
    return getattr(exc, "sqlite_errorcode", 0) & 0xFF in _BUSY_CODES


class SqliteLedger:
    """A `LedgerStore` kept in one SQLite file that every process on this host may share.

    Create it with ``await SqliteLedger.open(path)``; it is then bound to that event loop.
    Every method runs its statement in a worker thread, so none blocks the loop, and a
    cancelled call still finishes its statement (anyio waits for the thread), so the file is
    never left with half a change. While the file cannot be used the ledger carries on in
    memory and keeps trying the file (see `degraded`).
    """

    def __init__(
        self,
        path: Path,
        *,
        clock: Clock = time.time,
        busy_timeout: float = 5.0,
        retry_interval: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """Prefer `open`; this builds a ledger that has not touched the file yet."""
        if busy_timeout < 0 or retry_interval <= 0:
            raise ValueError("busy_timeout must be >= 0 and retry_interval > 0")
        self._path = path
        self._clock = clock
        self._busy_timeout = busy_timeout
        self._retry_interval = retry_interval
        self._monotonic = monotonic
        self._conn: sqlite3.Connection | None = None
        # While the file is out of use: this process's entries, what it removed meanwhile,
        # and when to try the file again (None: never, e.g. a newer release's file).
        self._fallback: MemoryLedger | None = None
        self._removed_offline: set[str] = set()
        self._retry_at: float | None = None
        self._closed = False
        self._lock = threading.Lock()
        self._limiter: anyio.CapacityLimiter | None = None

    @classmethod
    async def open(
        cls,
        path: Path,
        *,
        clock: Clock = time.time,
        busy_timeout: float = 5.0,
        retry_interval: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> SqliteLedger:
        """Open (creating if needed) the ledger at ``path``; async because it touches the disk.

        Raises `LedgerFileError` when the file is not a ledger of ours (it stays untouched);
        any other trouble with the file means memory for now (see the module docstring).
        ``clock`` is the wall clock used for heartbeats and staleness; ``busy_timeout``
        (seconds) is how long a statement waits for another process's write lock;
        ``retry_interval`` (seconds, on ``monotonic``) how often an unusable file is retried.
        """
        ledger = cls(
            path,
            clock=clock,
            busy_timeout=busy_timeout,
            retry_interval=retry_interval,
            monotonic=monotonic,
        )
        ledger._limiter = anyio.CapacityLimiter(1)
        await anyio.to_thread.run_sync(ledger._open_sync, limiter=ledger._limiter)
        return ledger

    @property
    def path(self) -> Path:
        """The ledger file (even when degraded)."""
        return self._path

    @property
    def degraded(self) -> bool:
        """True while the file is out of use and this process's entries live in memory."""
        return self._fallback is not None

    # -- the LedgerStore protocol ---------------------------------------------------------

    async def record(self, entry: LedgerEntry) -> None:
        """Insert or replace ``entry`` (keyed by ``intent_id``)."""
        check_entry(entry)
        row = schema.entry_to_row(entry)
        try:
            await self._run(lambda conn: conn.execute(schema.UPSERT, row))
        except _Unavailable:
            self._removed_offline.discard(entry.intent_id)
            await self._memory().record(entry)

    async def remove(self, intent_id: str) -> None:
        """Forget an entry; a missing one is not an error."""
        try:
            await self._run(lambda conn: conn.execute(schema.DELETE, (intent_id,)))
        except _Unavailable:
            self._removed_offline.add(intent_id)
            await self._memory().remove(intent_id)

    async def heartbeat(self, owner: OwnerInfo) -> None:
        """Refresh ``heartbeat_at`` of every entry ``owner`` holds, in one statement."""
        params = schema.owner_params(owner)
        try:
            await self._run(lambda conn: conn.execute(schema.HEARTBEAT, (self._clock(), *params)))
        except _Unavailable:
            await self._memory().heartbeat(owner)

    async def entries(self) -> list[LedgerEntry]:
        """Every entry, oldest first; rows that cannot be read are logged and skipped.

        While the file is out of use, only this process's entries are known.
        """
        try:
            return await self._run(rows.read_entries)
        except _Unavailable:
            return await self._memory().entries()

    async def claim(self, intent_id: str, new_owner: OwnerInfo, *, stale_after: float) -> bool:
        """Take over a gone owner's entry; True for exactly one claimer across processes.

        Inside ``BEGIN IMMEDIATE`` (one writer on the file at a time) the entry is read, its
        owner judged by `owner_is_gone`, and moved with a compare-and-swap on the owner and
        heartbeat read. The new owner's heartbeat is set to now, so later claimers see a live
        owner and get False.
        """
        try:
            return await self._run(
                functools.partial(
                    rows.claim,
                    intent_id=intent_id,
                    new_owner=new_owner,
                    stale_after=stale_after,
                    now=self._clock(),
                )
            )
        except _Unavailable:
            return await self._memory().claim(intent_id, new_owner, stale_after=stale_after)

    async def orphans(self, *, me: OwnerInfo, stale_after: float) -> list[LedgerEntry]:
        """Entries whose owner is gone (dead on this host, or silent for ``stale_after`` s
        on another).

        Never ``me``'s entries nor a live owner's. Listing is not owning: `claim` each one
        before closing its session, since another pool may be reaping the same entries.
        """
        return find_orphans(await self.entries(), me=me, stale_after=stale_after, now=self._clock())

    async def aclose(self) -> None:
        """Close the file; later calls raise `CoordinationError`. Idempotent."""
        self._closed = True
        if self._limiter is not None:
            await anyio.to_thread.run_sync(self._close_sync, limiter=self._limiter)
        else:
            self._close_sync()
        if self._fallback is not None:
            await self._fallback.aclose()

    # -- plumbing -------------------------------------------------------------------------

    def _memory(self) -> MemoryLedger:
        if self._closed:
            raise CoordinationError("the ledger is closed")
        if self._fallback is None:  # only reachable when `open` was skipped
            raise CoordinationError("the ledger was not opened; use `await SqliteLedger.open(...)`")
        return self._fallback

    async def _run(self, op: Callable[[sqlite3.Connection], _T]) -> _T:
        """Run ``op`` on the file in the worker thread; `_Unavailable` when it is out of use."""
        if self._closed or self._limiter is None:
            raise _Unavailable
        if self._fallback is not None and not self._retry_due():
            raise _Unavailable  # skip the thread hop until the next retry is due
        return await anyio.to_thread.run_sync(self._call, op, limiter=self._limiter)

    def _retry_due(self) -> bool:
        return self._retry_at is not None and self._monotonic() >= self._retry_at

    def _call(self, op: Callable[[sqlite3.Connection], _T]) -> _T:
        """Worker-thread side of `_run`: one statement (or transaction) on the file."""
        with self._lock:
            if self._fallback is not None and not self._recover_locked():
                raise _Unavailable
            conn = self._conn
            if conn is None:
                raise _Unavailable
            try:
                return op(conn)
            except _CALLER_ERRORS:
                raise  # a bad value, not a bad file: the caller should hear about it
            except sqlite3.Error as exc:
                self._degrade_locked(conn, exc)
                raise _Unavailable from exc

    def _degrade_locked(self, conn: sqlite3.Connection, exc: sqlite3.Error) -> None:
        """Go to memory for now, keeping this process's entries. Called under the lock.

        Entries of this process are carried over (when the file can still be read, as it can
        under another writer's lock in WAL mode) so that its later calls stay coherent. A
        lock leaves the connection open for the retry; any other failure closes it.
        """
        seed: list[LedgerEntry] = []
        try:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            seed = rows.read_process_entries(conn, socket.gethostname(), os.getpid())
        except sqlite3.Error:
            pass
        if not _is_busy(exc):
            self._conn = None
            close_quietly(conn)
        self._fall_back(exc, seed, retry=True)

    def _fall_back(self, exc: BaseException, seed: list[LedgerEntry], *, retry: bool) -> None:
        self._fallback = MemoryLedger(clock=self._clock, entries=seed)
        self._removed_offline = set()
        self._retry_at = self._monotonic() + self._retry_interval if retry else None
        logger.warning(
            "session ledger %s cannot be used (%s: %s); keeping this process's entries in "
            "memory %s",
            self._path,
            type(exc).__name__,
            exc,
            "and trying the file again" if retry else "(the file is left as it is)",
        )

    def _recover_locked(self) -> bool:
        """Try the file again and write back what memory holds; True once it is back.

        Runs under the lock, with a short lock wait so that the caller it runs for is not held
        up by another process's long write; a failure only moves the next try.
        """
        fallback = self._fallback
        if fallback is None:
            return True
        if self._retry_at is None or self._monotonic() < self._retry_at:
            return False
        self._retry_at = self._monotonic() + self._retry_interval
        conn = self._conn
        try:
            if conn is None:
                conn = self._conn = self._connect()
            conn.execute(f"PRAGMA busy_timeout = {_PROBE_BUSY_MS}")
            try:
                rows.write_back(
                    conn,
                    removed=self._removed_offline,
                    entries=fallback.snapshot(),
                    now=self._clock(),
                )
            finally:
                conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout * 1000)}")
        except (OSError, sqlite3.Error, CorruptLedger, LedgerFileError, schema.SchemaError) as exc:
            logger.debug("session ledger %s still unusable: %s", self._path, exc)
            if conn is not None and not _is_busy(exc) and self._conn is conn:
                self._conn = None
                close_quietly(conn)
            return False
        self._fallback = None
        self._removed_offline = set()
        self._retry_at = None
        logger.info("session ledger %s is usable again; back on the file", self._path)
        return True

    def _open_sync(self) -> None:
        try:
            try:
                self._conn = self._connect()
            except CorruptLedger as exc:
                aside = set_aside(self._path, exc)
                logger.warning(
                    "session ledger %s is unreadable (%s); %s and started a fresh one",
                    self._path,
                    exc,
                    f"moved it to {aside.name}" if aside else "another process replaced it",
                )
                self._conn = self._connect()
        except schema.NewerSchemaError as exc:
            self._fall_back(exc, [], retry=False)
        except (OSError, sqlite3.Error, CorruptLedger) as exc:
            self._fall_back(exc, [], retry=True)

    def _connect(self) -> sqlite3.Connection:
        return connect(self._path, busy_timeout=self._busy_timeout)

    def _close_sync(self) -> None:
        with self._lock:
            conn, self._conn = self._conn, None
        if conn is not None:
            close_quietly(conn)
