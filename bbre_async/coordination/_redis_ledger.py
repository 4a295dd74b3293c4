"""The session ledger kept in Redis, shared by every process and host on one API key.

Layout (under the namespace prefix): a set of intent ids, one hash per entry (``data``: the
entry as JSON without its owner, ``owner``: the owner as JSON, ``owner_key``, ``heartbeat_at``)
and, per owner, a set of the intent ids it holds so that a heartbeat touches only its own
entries. Every write is one Lua script, so a reader never sees half an entry.

Heartbeats and claims read Redis's clock, not the caller's: owners on different hosts are
compared on one clock. Whether an owner is gone follows the rule every ledger shares
(``owner_is_gone``): a heartbeat older than ``stale_after``, or, on the claimer's own host, a
process that no longer exists.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any, cast

from redis.asyncio import Redis

from bbre_async.coordination import _redis_ledger_scripts as scripts
from bbre_async.coordination._base import EntryState, LedgerEntry, OwnerInfo
from bbre_async.coordination._memory_ledger import check_entry, find_orphans, sort_entries
from bbre_async.coordination._redis_keys import RedisKeys, bounded, holder_name, logger


def owner_key(owner: OwnerInfo) -> str:
    """A stable name for ``owner``: two OwnerInfo are the same owner exactly when equal."""
    return f"{owner.pool_id}@{owner.host}:{owner.pid}:{owner.pid_start!r}"


def _owner_to_json(owner: OwnerInfo) -> str:
    return json.dumps(
        {
            "host": owner.host,
            "pid": owner.pid,
            "pid_start": owner.pid_start,
            "pool_id": owner.pool_id,
            "boot_id": owner.boot_id,
        },
        separators=(",", ":"),
    )


def _owner_from_json(text: str) -> OwnerInfo:
    raw = json.loads(text)
    pid_start = raw.get("pid_start")
    boot_id = raw.get("boot_id")
    return OwnerInfo(
        boot_id=None if boot_id is None else str(boot_id),
        host=str(raw["host"]),
        pid=int(raw["pid"]),
        pid_start=None if pid_start is None else float(pid_start),
        pool_id=str(raw["pool_id"]),
    )


def _entry_to_json(entry: LedgerEntry) -> str:
    return json.dumps(
        {
            "intent_id": entry.intent_id,
            "state": entry.state.value,
            "created_at": entry.created_at,
            "session_id": entry.session_id,
            "expires_at": None if entry.expires_at is None else entry.expires_at.isoformat(),
            "backend": entry.backend,
        },
        separators=(",", ":"),
    )


def _entry_from_hash(fields: dict[str, str]) -> LedgerEntry:
    raw = json.loads(fields["data"])
    expires_at = raw.get("expires_at")
    session_id = raw.get("session_id")
    return LedgerEntry(
        intent_id=str(raw["intent_id"]),
        owner=_owner_from_json(fields["owner"]),
        state=EntryState(raw["state"]),
        created_at=float(raw["created_at"]),
        heartbeat_at=float(fields["heartbeat_at"]),
        session_id=None if session_id is None else str(session_id),
        expires_at=None if expires_at is None else datetime.fromisoformat(expires_at),
        backend=str(raw.get("backend", "bbre")),
    )


class RedisLedger:
    """A `LedgerStore` in Redis. Every call is one bounded round trip or two.

    The ledger does not own ``client`` unless ``owns_client`` is set: the coordinator that
    created it closes the connections.
    """

    def __init__(
        self,
        client: Redis,
        *,
        namespace: str,
        op_timeout: float = 2.0,
        owns_client: bool = False,
    ) -> None:
        self._client = client
        self._keys = RedisKeys(namespace)
        self._op_timeout = op_timeout
        self._owns_client = owns_client
        self._record = client.register_script(scripts.LEDGER_RECORD)
        self._remove = client.register_script(scripts.LEDGER_REMOVE)
        self._heartbeat = client.register_script(scripts.LEDGER_HEARTBEAT)
        self._claim = client.register_script(scripts.LEDGER_CLAIM)
        # What this instance recorded and has not removed: put back if Redis loses its data.
        self._mine: dict[str, LedgerEntry] = {}

    async def record(self, entry: LedgerEntry) -> None:
        """Insert or replace ``entry`` (keyed by ``intent_id``)."""
        check_entry(entry)
        await self._run(
            "ledger record",
            self._record,
            entry.intent_id,
            _entry_to_json(entry),
            _owner_to_json(entry.owner),
            owner_key(entry.owner),
            repr(entry.heartbeat_at),
            self._keys.ledger_origin_prefix,
            holder_name(entry.owner),
        )
        self._mine[entry.intent_id] = entry

    async def remove(self, intent_id: str) -> None:
        """Forget an entry; a missing one is not an error."""
        await self._run("ledger remove", self._remove, intent_id, self._keys.ledger_origin_prefix)
        self._mine.pop(intent_id, None)

    async def restore(self) -> None:
        """Record again every entry this instance wrote and has not removed (after Redis
        restarted empty, so that its sessions are still on record for a reaper)."""
        for entry in list(self._mine.values()):
            await self.record(entry)

    async def heartbeat(self, owner: OwnerInfo) -> None:
        """Stamp Redis's time on every entry ``owner`` holds."""
        await self._run("ledger heartbeat", self._heartbeat, owner_key(owner))

    async def entries(self) -> list[LedgerEntry]:
        """Every entry, oldest first; an entry that cannot be read back is skipped, logged."""
        client = self._client
        ids_key = self._keys.ledger_ids
        prefix = self._keys.ledger_entry_prefix

        async def read() -> list[tuple[str, dict[str, str]]]:
            intent_ids = sorted(cast("set[str]", await client.smembers(ids_key)))
            if not intent_ids:
                return []
            async with client.pipeline(transaction=False) as pipe:
                for intent_id in intent_ids:
                    pipe.hgetall(prefix + intent_id)
                rows: list[dict[str, str]] = await pipe.execute()
            return list(zip(intent_ids, rows, strict=True))

        found: list[LedgerEntry] = []
        for intent_id, fields in await bounded(read, timeout=self._op_timeout, what="ledger read"):
            if not fields:
                continue  # removed between the two reads
            try:
                found.append(_entry_from_hash(fields))
            except (KeyError, ValueError, TypeError) as exc:
                logger.warning("skipping an unreadable ledger entry %s: %s", intent_id, exc)
        return sort_entries(found)

    async def claim(self, intent_id: str, new_owner: OwnerInfo, *, stale_after: float) -> bool:
        """Take over a gone owner's entry; False when it is missing, its owner is alive, or
        another claimer got it first.

        The check and the takeover are one script that also stamps a fresh heartbeat, so of
        many pools racing for one entry exactly one wins. A dead process on this host counts as
        gone at once (read first, then passed to the script together with the owner it was
        judged on, so a change of owner in between makes the claim fail); a live process on
        this host keeps its entries however stale its heartbeat.
        """
        entry_key = self._keys.ledger_entry_prefix + intent_id

        async def read() -> list[str | None]:
            return cast(
                "list[str | None]", await self._client.hmget(entry_key, ["owner", "owner_key"])
            )

        owner_text, seen_key = await bounded(read, timeout=self._op_timeout, what="ledger claim")
        if owner_text is None or seen_key is None:
            return False
        try:
            owner = _owner_from_json(owner_text)
        except (KeyError, ValueError, TypeError):
            owner = None
        new_key = owner_key(new_owner)
        if owner == new_owner:
            return False  # an owner is never gone to itself
        dead_here = False
        if owner is not None and owner.host == new_owner.host:
            # On this host the process is asked, not the heartbeat: a live one keeps it.
            if owner.is_local_process_alive():
                return False
            dead_here = True
        won = await self._run(
            "ledger claim",
            self._claim,
            intent_id,
            _owner_to_json(new_owner),
            new_key,
            repr(float(stale_after)),
            seen_key,
            int(dead_here),
            uuid.uuid4().hex,
        )
        return int(won) == 1

    async def orphans(self, *, me: OwnerInfo, stale_after: float) -> list[LedgerEntry]:
        """Entries whose owner is gone, judged on Redis's clock."""
        entries = await self.entries()
        seconds, micros = await bounded(
            self._client.time, timeout=self._op_timeout, what="ledger clock"
        )
        now = float(seconds) + float(micros) / 1_000_000
        return find_orphans(entries, me=me, stale_after=stale_after, now=now)

    async def aclose(self) -> None:
        """Close the connections if this ledger owns them."""
        if self._owns_client:
            await self._client.aclose()

    async def _run(self, what: str, script: Any, *args: str | int) -> Any:
        keys = [self._keys.ledger_ids]
        argv = [self._keys.ledger_entry_prefix, self._keys.ledger_owner_prefix, *args]

        async def run() -> Any:
            return await script(keys=keys, args=argv)

        return await bounded(run, timeout=self._op_timeout, what=what)
