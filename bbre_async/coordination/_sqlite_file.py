"""The ledger file on disk: where it lives, how it is created, and what happens to a bad one.

A file at a ledger path is only ever moved when it is provably a ledger of ours that cannot be
read (our tables, or our default file name in our cache directory). Anything else (another
program's database, a file that is not a database at all) is refused with `LedgerFileError`
and left exactly as found: a ledger path a user typed may well point at their own data.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import sqlite3
import stat
import time
from pathlib import Path

import platformdirs

from bbre_async.coordination import _sqlite_schema as schema
from bbre_async.coordination._base import LedgerFileError

_CORRUPT_CODES = frozenset({sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB})

# The names `default_ledger_path` gives: a file so named in our cache directory is ours.
_DEFAULT_NAME = re.compile(r"ledger-[0-9a-f]{32}\.sqlite3")


#: When set, default ledgers live in this directory instead of the user's cache directory.
LEDGER_DIR_ENV = "BBRE_LEDGER_DIR"


def ledger_cache_dir() -> Path:
    """The directory default ledgers live in: ``$BBRE_LEDGER_DIR`` when set (the pytest plugin
    points it at a temporary one), else the user's cache directory."""
    if directory := os.environ.get(LEDGER_DIR_ENV):
        return Path(directory)
    return Path(platformdirs.user_cache_dir("bbre_async", appauthor=False)) / "ledgers"


def default_ledger_path(api_key_fingerprint: str, base_url: str) -> Path:
    """Where the ledger for one API key (by fingerprint, never the key) and base URL lives.

    One file per pair: pools on the same key and server share a ledger and can reap each
    other's leftovers; pools pointed at another server (an emulator, say) never see them. A
    trailing slash on ``base_url`` does not make a different file. ``$BBRE_LEDGER_DIR``, when
    set, replaces the cache directory.
    """
    identity = json.dumps([api_key_fingerprint, base_url.rstrip("/")])
    digest = hashlib.sha256(identity.encode()).hexdigest()[:32]
    return ledger_cache_dir() / f"ledger-{digest}.sqlite3"


def has_default_name(path: Path) -> bool:
    """True for a file named and placed as `default_ledger_path` would: ours by construction."""
    return path.parent == ledger_cache_dir() and _DEFAULT_NAME.fullmatch(path.name) is not None


class CorruptLedger(Exception):
    """The file is a ledger of ours that cannot be read; it may be set aside."""

    def __init__(self, reason: str, inode: int) -> None:
        super().__init__(reason)
        self.inode = inode  # which file was judged, so a replacement is never moved aside


def prepare_file(path: Path) -> int:
    """Create the directory (0700) and the file (0600) before SQLite does; return its inode.

    SQLite would create the file with the umask's mode (often world-readable); creating it
    first with ``os.open(..., 0o600)`` closes that window, and the WAL and shm files SQLite
    adds later copy the main file's mode. An existing file is not changed here: it may not be
    ours (see `tighten_mode`, once it is known to be).
    """
    parent = path.parent
    if not parent.is_dir():
        parent.parent.mkdir(parents=True, exist_ok=True)
        try:
            parent.mkdir(mode=0o700)
            os.chmod(parent, 0o700)  # mkdir's mode is filtered by the umask
        except FileExistsError:
            pass  # another process made it first; its mode is its own business
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        return os.fstat(fd).st_ino
    finally:
        os.close(fd)


def tighten_mode(path: Path) -> None:
    """Make a ledger of ours readable by its user only (session ids are handles on paid
    resources)."""
    if stat.S_IMODE(os.stat(path).st_mode) & 0o077:
        os.chmod(path, 0o600)


def set_aside(path: Path, exc: CorruptLedger) -> Path | None:
    """Rename a corrupt ledger (and its WAL and shm files) to ``<name>.corrupt-<timestamp>``.

    Returns None when the file at ``path`` is no longer the one found corrupt, because another
    process already set it aside and made a fresh one, which must not be moved in turn.
    """
    try:
        if os.stat(path).st_ino != exc.inode:
            return None
    except FileNotFoundError:
        return None
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    counter = 1
    while target.exists():
        target = path.with_name(f"{path.name}.corrupt-{stamp}-{counter}")
        counter += 1
    os.rename(path, target)
    for suffix in ("-wal", "-shm"):  # SQLite's names, so the copy still opens with its WAL
        with contextlib.suppress(FileNotFoundError):
            os.rename(path.with_name(path.name + suffix), target.with_name(target.name + suffix))
    return target


def connect(path: Path, *, busy_timeout: float) -> sqlite3.Connection:
    """Open the ledger at ``path``, creating or upgrading its tables.

    Raises `CorruptLedger` for a damaged ledger of ours (it may be set aside) and
    `LedgerFileError` for a file that is not ours (it is left exactly as found).
    """
    inode = prepare_file(path)
    conn = sqlite3.connect(
        path,
        timeout=busy_timeout,
        isolation_level=None,  # no implicit transactions: every statement commits alone
        check_same_thread=False,  # used from anyio's worker threads, one at a time
    )
    try:
        check = conn.execute("PRAGMA quick_check").fetchall()
        if check != [("ok",)]:
            raise CorruptLedger(f"quick_check: {check[:3]}", inode)
        schema.prepare(conn)  # before any pragma that writes: a foreign file stays as found
        tighten_mode(path)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
    except sqlite3.DatabaseError as exc:
        close_quietly(conn)
        if getattr(exc, "sqlite_errorcode", 0) & 0xFF not in _CORRUPT_CODES:
            raise
        if has_default_name(path) or _holds_our_tables(path):
            raise CorruptLedger(str(exc), inode) from exc
        raise _foreign(path, f"not a readable SQLite database ({exc})") from exc
    except CorruptLedger:
        close_quietly(conn)
        if has_default_name(path) or _holds_our_tables(path):
            raise
        raise _foreign(path, "a damaged database that is not a session ledger") from None
    except schema.ForeignSchemaError as exc:
        close_quietly(conn)
        raise _foreign(path, str(exc)) from exc
    except schema.SchemaError as exc:
        close_quietly(conn)
        raise CorruptLedger(str(exc), inode) from exc
    except BaseException:
        close_quietly(conn)
        raise
    return conn


def close_quietly(conn: sqlite3.Connection) -> None:
    with contextlib.suppress(sqlite3.Error):
        conn.close()


def _foreign(path: Path, why: str) -> LedgerFileError:
    return LedgerFileError(
        f"{path} is not a bbre_async session ledger ({why}); it was left untouched. "
        "Point ledger_path at a file of its own (or None to keep no ledger)."
    )


def _holds_our_tables(path: Path) -> bool:
    """Whether a damaged file still names our tables (read-only, best effort)."""
    try:
        with contextlib.closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)) as conn:
            names = {
                name
                for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            }
    except sqlite3.Error:
        return False
    return "ledger_entries" in names
