"""A fair counting semaphore shared through Redis: the account cap across processes and hosts.

Design, in short:

* A slot is a *lease*: an entry in a sorted set scored by its expiry (Redis server time). The
  holder extends it (``refresh``) every heartbeat; a holder that dies stops doing so and the next
  script to run after the TTL drops the lease. No human is needed to get slots back.
* Every grant carries a fencing token from a counter that only goes up. ``is_held`` checks the
  exact grant (slot id and token) against Redis, so a holder that was paused past its lease
  learns the slot is gone before it creates a remote session on it.
* Waiters stand in a queue ordered by a ticket. Only the first ``free`` waiters may take a
  slot, so a newcomer never overtakes a process that has been waiting longer. Queue entries
  have their own TTL, refreshed each time the waiter re-checks: a dead waiter leaves the queue.
* Waiting is not polling (see `WakeUps`); each waiter still re-checks every
  ``recheck_interval`` so a lost wake-up costs at most that.
* If Redis cannot answer, nothing is granted (``CoordinatorUnavailableError``). If Redis lost
  its data (restart without persistence), the next script starts a new *epoch* under a random
  name; holders see the epoch change on their next refresh and put their still-valid leases
  back, and no slot is granted until they had a lease TTL to do so.
* A lapsed lease whose holder left sessions in the ledger stays reserved (an *orphan*) until a
  reaper settles them, and waiters are served fewest-slots-per-holder first; `should_yield`
  tells a holder when to hand a slot back so that every process gets an even share. See
  ``_redis_scripts`` for the rules.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import anyio
import attrs
from redis.asyncio import Redis

from bbre_async._errors import CoordinationError
from bbre_async.coordination import _redis_scripts as scripts
from bbre_async.coordination._base import (
    CoordinatorUnavailableError,
    SlotGrant,
    SlotTimeoutError,
)
from bbre_async.coordination._fair_share import FairShare
from bbre_async.coordination._redis_cleanup import CleanupCalls
from bbre_async.coordination._redis_keys import RedisKeys, bounded, logger
from bbre_async.coordination._redis_wakeups import WakeUps

# A Redis call cut short by the caller's deadline with less time than this is taken as the
# deadline's doing (a slot timeout), not as Redis being unreachable.
_DEADLINE_FLOOR = 0.25


@attrs.define
class _Held:
    """A grant this instance holds, with what its heartbeat needs."""

    grant: SlotGrant
    epoch: str
    # Monotonic time the request that last confirmed the lease was *sent*: the lease is valid
    # at least until confirmed_at + lease_ttl, whatever happened after.
    confirmed_at: float


class RedisSlotSemaphore:
    """A fair distributed counting semaphore of ``capacity`` slots.

    ``client`` must decode responses (``decode_responses=True``). ``wait_client``, when
    given, is used only by the task that blocks on wake-ups; give it a connection pool without
    a socket timeout so a long ``BLPOP`` is not mistaken for a dead socket. Without it, the
    wake-up task borrows one connection of ``client`` and blocks for short periods.
    """

    def __init__(
        self,
        client: Redis,
        *,
        namespace: str,
        capacity: int = 10,
        lease_ttl: float = 15.0,
        op_timeout: float = 2.0,
        recheck_interval: float = 1.0,
        waiter_ttl: float | None = None,
        wait_client: Redis | None = None,
        holder_id: str | None = None,
        orphan_hold: float | None = None,
        rotation_interval: float = 20.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        if lease_ttl <= 0 or op_timeout <= 0 or recheck_interval <= 0:
            raise ValueError("lease_ttl, op_timeout and recheck_interval must be positive")
        if op_timeout >= lease_ttl:
            raise ValueError("op_timeout must be shorter than lease_ttl")
        self._client = client
        self._wait_client = wait_client if wait_client is not None else client
        self._keys = RedisKeys(namespace)
        self._capacity = capacity
        self._lease_ttl = lease_ttl
        self._op_timeout = op_timeout
        self._recheck = recheck_interval
        self._waiter_ttl = waiter_ttl if waiter_ttl is not None else max(5.0, 4 * recheck_interval)
        if self._waiter_ttl <= recheck_interval:
            raise ValueError("waiter_ttl must be longer than recheck_interval")
        # With a dedicated client the block may be long; on a shared one it must stay well
        # inside the client's socket timeout (taken to be op_timeout).
        self._block = 5.0 if wait_client is not None else max(0.05, min(1.0, op_timeout / 2))
        self.holder_id = holder_id or uuid.uuid4().hex
        if "/" in self.holder_id:
            raise ValueError("holder_id must not contain '/'")
        # A dead holder's slot is held at most past any session's life (300 s) and its lease.
        self._orphan_hold = orphan_hold if orphan_hold is not None else 300.0 + lease_ttl
        self._share = FairShare(rotation=rotation_interval, promise_ttl=lease_ttl, clock=monotonic)
        self._epoch_seen = ""  # the last epoch any reply named: a change means data loss
        self._acquire = client.register_script(scripts.ACQUIRE)
        self._release = client.register_script(scripts.RELEASE)
        self._abandon = client.register_script(scripts.ABANDON)
        self._refresh = client.register_script(scripts.REFRESH)
        self._is_held = client.register_script(scripts.IS_HELD)
        self._state = client.register_script(scripts.STATE)
        self._held: dict[str, _Held] = {}
        self._wakeups = WakeUps(
            self._wait_client, block=self._block, op_timeout=op_timeout, recheck=recheck_interval
        )
        self._cleanups = CleanupCalls(self._call, op_timeout=op_timeout, lease_ttl=lease_ttl)
        self._closed = False

    # -- properties ------------------------------------------------------------------------
    @property
    def capacity(self) -> int:
        return self._capacity

    @property
    def lease_ttl(self) -> float:
        return self._lease_ttl

    @property
    def keys(self) -> RedisKeys:
        return self._keys

    def held(self) -> list[SlotGrant]:
        """The grants this instance holds, as far as it knows."""
        return [held.grant for held in self._held.values()]

    @property
    def epoch(self) -> str:
        """The epoch the last reply named ("" before any): it changes when Redis lost data."""
        return self._epoch_seen

    def rename(self, holder_id: str) -> None:
        """Take the holder id the ledger knows this process by; only before first use."""
        if self._held or self._wakeups.in_use:
            raise CoordinationError("the semaphore is in use: too late to rename it")
        if not holder_id or "/" in holder_id:
            raise ValueError("holder_id must be non-empty and must not contain '/'")
        self.holder_id = holder_id

    def should_yield(self) -> bool:
        """True when this holder should hand one slot back now, at a lease boundary (see
        `FairShare`): another process waits with fewer slots. No Redis call: the figures come
        from the heartbeat's refresh. Each True is a promise the next `release` keeps."""
        return self._share.should_yield(len(self._held))

    # -- acquire ---------------------------------------------------------------------------
    async def acquire(self, timeout: float | None = None) -> SlotGrant:
        """Wait in line for a slot; at most ``timeout`` seconds (``None``: no limit).

        Raises ``SlotTimeoutError`` at the deadline and ``CoordinatorUnavailableError`` as soon
        as Redis fails to answer (the queue entry and any half-made grant then lapse on their
        own TTLs). On a timeout or cancellation the waiter leaves the queue before returning,
        in a shielded call bounded by ``op_timeout``.
        """
        self._check_open()
        deadline = None if timeout is None else time.monotonic() + max(0.0, timeout)
        slot_id = f"{self.holder_id}/{uuid.uuid4().hex}"
        event = self._wakeups.add(slot_id, self._keys.wake(self.holder_id))
        first = True
        try:
            while True:
                event.clear()  # before the attempt: a wake-up during it must not be lost
                sent_at = time.monotonic()
                reply = await self._call(
                    "acquire",
                    deadline,
                    self._acquire,
                    slot_id,
                    int(self._lease_ttl * 1000),
                    int(self._waiter_ttl * 1000),
                    floor=_DEADLINE_FLOOR if first else 0.0,
                )
                first = False
                self._epoch_seen = str(reply[2])
                if int(reply[0]) == 1:
                    grant = SlotGrant(slot_id=slot_id, token=int(reply[1]))
                    self._held[slot_id] = _Held(grant, str(reply[2]), sent_at)
                    return grant
                wait = self._recheck
                if deadline is not None:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise SlotTimeoutError(f"no slot within {timeout:.3g}s")
                    wait = min(wait, remaining)
                with anyio.move_on_after(wait):
                    await event.wait()
                self._check_open()
                if deadline is not None and time.monotonic() >= deadline:
                    raise SlotTimeoutError(f"no slot within {timeout:.3g}s")
        except CoordinatorUnavailableError:
            # Try to leave the line (so others move up as soon as Redis is back) without
            # making the caller wait on a Redis that just failed; the queue entry lapses on
            # its own TTL otherwise.
            self._cleanups.start("abandon", self._abandon, slot_id)
            raise
        except BaseException:
            await self._cleanups.run("abandon", self._abandon, slot_id)
            raise
        finally:
            self._wakeups.remove(slot_id)

    # -- release, refresh, fencing ---------------------------------------------------------
    async def release(self, grant: SlotGrant) -> None:
        """Give a slot back and wake whoever is next. Idempotent.

        The grant stops being refreshed at once, so even when Redis cannot be told, the
        lease lapses within ``lease_ttl``; that case is logged, not raised.
        """
        if self._held.pop(grant.slot_id, None) is not None:
            self._share.released()
        if not self._closed:  # closing released everything already
            await self._cleanups.run("release", self._release, grant.slot_id)

    async def release_all(self, *, timeout: float | None = None) -> None:
        """Give back every slot this instance holds, shielded and bounded (for shutdown)."""
        slots = list(self._held)
        self._held.clear()
        if slots:
            await self._cleanups.run("release", self._release, *slots, timeout=timeout)

    async def is_held(self, grant: SlotGrant) -> bool:
        """True while ``grant`` is this instance's and its lease is unexpired in Redis.

        A grant whose lease this instance could not confirm within ``lease_ttl`` is reported
        lost without asking Redis. Raises ``CoordinatorUnavailableError`` when Redis cannot
        say: the caller must not create a session on a slot nobody can vouch for.
        """
        held = self._held.get(grant.slot_id)
        if held is None or held.grant.token != grant.token:
            return False
        if time.monotonic() - held.confirmed_at >= self._lease_ttl:
            return False
        reply = await self._call("is_held", None, self._is_held, grant.slot_id, grant.token)
        return int(reply) == 1

    async def refresh(self) -> list[SlotGrant]:
        """Extend every lease held; return the grants found lost (and forget them).

        A grant is lost when its lease expired and was purged (this process was paused or cut
        off past the TTL, and the slot may now be someone else's). After Redis lost its data,
        grants whose lease would still be valid are put back instead (see the module doc).
        """
        if not self._held:
            self._share.update(-1)
            return []
        sent_at = time.monotonic()
        snapshot = list(self._held.values())
        args: list[str | int] = [int(self._lease_ttl * 1000), self.holder_id]
        for held in snapshot:
            may_reclaim = sent_at - held.confirmed_at < self._lease_ttl
            args += [held.grant.slot_id, held.grant.token, held.epoch, int(may_reclaim)]
        reply = await self._call("refresh", None, self._refresh, *args)
        epoch, lost_ids, reclaimed_ids = str(reply[0]), set(reply[1]), set(reply[2])
        self._epoch_seen = epoch
        self._share.update(int(reply[3]))
        lost: list[SlotGrant] = []
        stale_reclaims: list[str] = []
        for held in snapshot:
            slot_id = held.grant.slot_id
            current = self._held.get(slot_id)
            if current is None:
                # Released while the refresh was in flight: a reclaim must not outlive it.
                if slot_id in reclaimed_ids:
                    stale_reclaims.append(slot_id)
                continue
            if slot_id in lost_ids:
                del self._held[slot_id]
                lost.append(held.grant)
            else:
                current.confirmed_at = sent_at
                current.epoch = epoch
        if reclaimed_ids:
            logger.warning(
                "Redis lost its data (new epoch %s); put back %d held slot(s)",
                epoch,
                len(reclaimed_ids),
            )
        if stale_reclaims:
            await self._cleanups.run("release", self._release, *stale_reclaims)
        return lost

    async def state(self) -> tuple[int, int]:
        """(leases held, waiters queued) in Redis across every instance, after purging."""
        reply = await self._call("state", None, self._state)
        self._epoch_seen = str(reply[2])
        return int(reply[0]), int(reply[1])

    async def orphaned(self) -> int:
        """How many slots dead holders' unsettled sessions keep out of use."""
        reply = await self._call("state", None, self._state)
        return int(reply[3])

    async def aclose(self) -> None:
        """Stop the wake-up task, fail pending waiters, give back every slot held."""
        if self._closed:
            return
        self._closed = True
        await self._wakeups.aclose(timeout=self._op_timeout)
        await self.release_all()
        await self._cleanups.wait()

    # -- internals -------------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._closed:
            raise CoordinatorUnavailableError("the Redis semaphore is closed")

    def _script_args(self, *extra: str | int) -> list[str | int]:
        # A fresh epoch candidate on every call: whichever call first meets an emptied Redis
        # names the new epoch, and a random name can never repeat the one that was lost (a
        # fixed one per instance would, when that instance is the first to return).
        return [
            self._keys.wake_prefix,
            uuid.uuid4().hex,
            self._capacity,
            self._epoch_seen,
            int(self._lease_ttl * 1000),
            int(self._orphan_hold * 1000),
            self._keys.ledger_origin_prefix,
            *extra,
        ]

    async def _call(
        self,
        what: str,
        deadline: float | None,
        script: Any,
        *extra: str | int,
        floor: float = 0.0,
    ) -> Any:
        """Run one script, bounded by ``op_timeout`` and by the caller's deadline.

        ``floor`` is the least time the call gets even past the deadline: the first attempt
        of ``acquire(timeout=0)`` must still be able to take a free slot.
        """
        limit = self._op_timeout
        if deadline is not None:
            limit = min(limit, max(deadline - time.monotonic(), floor))
            if limit <= 0:
                raise SlotTimeoutError("the deadline passed before Redis was asked")
        keys = self._keys.semaphore_keys()
        args = self._script_args(*extra)

        async def run() -> Any:
            return await script(keys=keys, args=args)

        try:
            return await bounded(run, timeout=limit, what=what)
        except CoordinatorUnavailableError as exc:
            # Cut short by the deadline rather than by op_timeout: with so little time, a
            # healthy Redis may simply not have answered yet. That is a timeout, not an outage.
            if limit < min(self._op_timeout, _DEADLINE_FLOOR) and isinstance(
                exc.__cause__, TimeoutError
            ):
                raise SlotTimeoutError("the deadline passed during a Redis call") from exc
            raise
