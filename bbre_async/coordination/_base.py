"""The seam between the pool and whatever enforces the account cap and keeps the ledger.

The pool asks a coordinator for a *slot* before it creates a remote session and gives the
slot back once the session is confirmed closed. The same coordinator keeps the *ledger*: a
durable record of every create (written before the request is sent) so that a process that
dies without cleanup leaves enough behind for the next one to close its sessions.

Two implementations exist: a local one (an in-process cap plus an SQLite ledger on disk) and
a Redis one (a cap and a ledger shared by every process and host on one API key).
"""

from __future__ import annotations

import enum
import os
import socket
import time
import uuid
from datetime import datetime
from typing import Protocol, runtime_checkable

import attrs

from bbre_async._errors import CoordinationError, PoolTimeoutError


class EntryState(enum.Enum):
    """Where a ledger entry is in a create's life."""

    INTENT = "intent"  # recorded before the create was sent; the outcome is not known yet
    ACTIVE = "active"  # the server answered with a session id
    CLOSING = "closing"  # a close was sent and is not confirmed yet


def _process_start_time(pid: int) -> float | None:
    """Return the start time of ``pid`` in clock ticks since boot, where the OS tells it.

    A pid alone is not an identity: after a crash the number can be reused by an unrelated
    process. Pairing it with the start time makes "is the owner alive?" exact on Linux.
    """
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat_file:
            raw = stat_file.read()
    except OSError:
        return None
    # Field 22 (starttime) follows the parenthesised command name, which may hold spaces.
    fields = raw[raw.rfind(b")") + 2 :].split()
    try:
        return float(fields[19])
    except (IndexError, ValueError):
        return None


def _boot_id() -> str | None:
    """This boot of the host, where the OS names it (Linux): a pid and its start time in
    ticks since boot can repeat after a reboot, the pair with the boot id cannot."""
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as boot_file:
            return boot_file.read().strip() or None
    except OSError:
        return None


_BOOT_ID = _boot_id()


@attrs.frozen(kw_only=True)
class OwnerInfo:
    """Who holds a ledger entry: enough to tell later whether that holder is still alive."""

    host: str
    pid: int
    pid_start: float | None
    pool_id: str
    boot_id: str | None = None

    @classmethod
    def current(cls, pool_id: str | None = None) -> OwnerInfo:
        """Describe this process (and one pool in it)."""
        pid = os.getpid()
        return cls(
            host=socket.gethostname(),
            pid=pid,
            pid_start=_process_start_time(pid),
            pool_id=pool_id or uuid.uuid4().hex,
            boot_id=_BOOT_ID,
        )

    def is_local_process_alive(self) -> bool:
        """True when this owner is a live process on this host (always False elsewhere).

        The process must exist, have started when the owner did (a reused pid is another
        process) and, where both are known, on this boot of the host.
        """
        if self.host != socket.gethostname():
            return False
        if self.boot_id is not None and _BOOT_ID is not None and self.boot_id != _BOOT_ID:
            return False  # the host rebooted since: every process of that boot is gone
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass  # it exists, it is just not ours to signal
        if self.pid_start is None:
            return True
        return _process_start_time(self.pid) == self.pid_start


@attrs.frozen(kw_only=True)
class LedgerEntry:
    """One create, from intent to confirmed close."""

    intent_id: str
    owner: OwnerInfo
    state: EntryState
    created_at: float  # wall clock (epoch seconds) when the intent was recorded
    heartbeat_at: float  # wall clock of the owner's last heartbeat
    session_id: str | None = None
    expires_at: datetime | None = None
    backend: str = "bbre"

    @classmethod
    def intent(cls, owner: OwnerInfo, *, backend: str = "bbre") -> LedgerEntry:
        now = time.time()
        return cls(
            intent_id=uuid.uuid4().hex,
            owner=owner,
            state=EntryState.INTENT,
            created_at=now,
            heartbeat_at=now,
            backend=backend,
        )


@attrs.frozen(kw_only=True)
class SlotGrant:
    """A slot of the account cap, held by one pool.

    ``token`` is a fencing token: it increases with every grant, so a holder that was paused
    past its lease (and whose slot went to someone else) can be told apart from the new holder.
    """

    slot_id: str
    token: int


class CoordinatorUnavailableError(CoordinationError):
    """The coordinator cannot be reached; the pool fails closed rather than exceed the cap."""


class SlotTimeoutError(PoolTimeoutError):
    """No slot was granted before the deadline: the cap is busy, which is not an outage."""


class LedgerFileError(CoordinationError):
    """The file at a ledger path is not a session ledger (another program's database, or
    not a database at all); it is left exactly as found."""


@runtime_checkable
class LedgerStore(Protocol):
    """Durable create records. Every method is cheap and safe to call from the event loop."""

    async def record(self, entry: LedgerEntry) -> None:
        """Insert or replace ``entry`` (keyed by ``intent_id``)."""

    async def remove(self, intent_id: str) -> None:
        """Forget an entry whose session is confirmed closed, expired or never created."""

    async def heartbeat(self, owner: OwnerInfo) -> None:
        """Refresh ``heartbeat_at`` of every entry ``owner`` holds."""

    async def entries(self) -> list[LedgerEntry]:
        """Every entry, live owners' included."""

    async def claim(self, intent_id: str, new_owner: OwnerInfo, *, stale_after: float) -> bool:
        """Take over a dead owner's entry, atomically; False when someone else got it first
        or its owner heartbeated within ``stale_after`` seconds."""

    async def aclose(self) -> None:
        """Release files or connections."""


@runtime_checkable
class Coordinator(Protocol):
    """What the pool needs to share the cap and keep the ledger."""

    ledger: LedgerStore

    async def open(self, owner: OwnerInfo) -> None:
        """Connect and start heartbeats."""

    async def acquire_slot(self, timeout: float | None) -> SlotGrant:
        """Wait, fairly, for a slot of the account cap.

        Raises ``SlotTimeoutError`` at the deadline and ``CoordinatorUnavailableError`` when
        the backing store cannot be reached (never grants a slot it cannot account for).
        """

    async def release_slot(self, grant: SlotGrant) -> None:
        """Give a slot back. Idempotent."""

    async def slot_is_held(self, grant: SlotGrant) -> bool:
        """True while ``grant`` is still this holder's (the fencing check before a create)."""

    def should_yield_slot(self) -> bool:
        """True when the pool should hand one slot back at this lease boundary: retire the
        session being released (close it, then `release_slot`) instead of keeping it idle.

        A shared coordinator answers True while another process waits with fewer slots, so
        that every process gets an equal share of the cap; a local one always answers False.
        It does no I/O (call it on every release), and each True is a promise: the
        coordinator counts that slot as given back until the next `release_slot`.
        """

    async def aclose(self) -> None:
        """Release every slot still held and stop heartbeats."""
