"""The Redis `Coordinator`: one account cap and one ledger for every process and host on a key.

A `RedisCoordinator` joins a `RedisSlotSemaphore` (the cap) and a `RedisLedger` (the crash
record) on one connection pool, and runs the heartbeat that keeps both alive: it extends the
leases of the slots held and stamps the ledger entries of the owner. The heartbeat runs every
``lease_ttl / 3`` by default, so a lease survives one missed or slow beat with time to spare.

Connections: ``from_url`` makes a bounded pool for short calls (``max_connections``, 20 by
default) plus one connection for the blocking wake-up wait, whatever the number of waiters.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any

import anyio
from redis.asyncio import BlockingConnectionPool, ConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from bbre_async._errors import CoordinationError
from bbre_async.coordination._base import (
    Coordinator,
    CoordinatorUnavailableError,
    LedgerStore,
    OwnerInfo,
    SlotGrant,
)
from bbre_async.coordination._redis_keys import bounded, holder_name, logger, namespace_for
from bbre_async.coordination._redis_ledger import RedisLedger
from bbre_async.coordination._redis_semaphore import RedisSlotSemaphore

SlotLostCallback = Callable[[SlotGrant], None]
"""Called from the heartbeat with each grant found lost (its lease lapsed and was purged)."""


class RedisCoordinator:
    """The account cap and the ledger, shared through Redis.

    Build it with `from_url`, then ``await open(owner)`` before use and ``await aclose()`` at
    the end (or use it as an async context manager after ``open``). Every Redis call is bounded
    by ``op_timeout``; a failure raises ``CoordinatorUnavailableError`` and nothing is granted.
    """

    ledger: LedgerStore

    def __init__(
        self,
        client: Redis,
        *,
        namespace: str,
        capacity: int = 10,
        lease_ttl: float = 15.0,
        heartbeat_interval: float | None = None,
        op_timeout: float = 2.0,
        recheck_interval: float = 1.0,
        waiter_ttl: float | None = None,
        wait_client: Redis | None = None,
        owns_clients: bool = False,
        on_slot_lost: SlotLostCallback | None = None,
        orphan_hold: float | None = None,
        rotation_interval: float = 20.0,
    ) -> None:
        interval = heartbeat_interval if heartbeat_interval is not None else lease_ttl / 3
        if not 0 < interval < lease_ttl:
            raise ValueError("heartbeat_interval must be positive and shorter than lease_ttl")
        self._client = client
        self._wait_client = wait_client
        self._owns_clients = owns_clients
        self._op_timeout = op_timeout
        self._heartbeat_interval = interval
        self._on_slot_lost = on_slot_lost
        self.semaphore = RedisSlotSemaphore(
            client,
            namespace=namespace,
            capacity=capacity,
            lease_ttl=lease_ttl,
            op_timeout=op_timeout,
            recheck_interval=recheck_interval,
            waiter_ttl=waiter_ttl,
            wait_client=wait_client,
            orphan_hold=orphan_hold,
            rotation_interval=rotation_interval,
        )
        self.redis_ledger = RedisLedger(client, namespace=namespace, op_timeout=op_timeout)
        self.ledger = self.redis_ledger
        self._owner: OwnerInfo | None = None
        self._heartbeat_task: asyncio.Task[None] | None = None
        self._lost: list[SlotGrant] = []
        self._last_heartbeat: float | None = None
        self._closed = False

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        namespace: str,
        capacity: int = 10,
        lease_ttl: float = 15.0,
        heartbeat_interval: float | None = None,
        op_timeout: float = 2.0,
        recheck_interval: float = 1.0,
        waiter_ttl: float | None = None,
        max_connections: int = 20,
        on_slot_lost: SlotLostCallback | None = None,
        orphan_hold: float | None = None,
        rotation_interval: float = 20.0,
    ) -> RedisCoordinator:
        """Connect lazily to ``url`` (``redis://``, ``rediss://`` or ``unix://``).

        Two pools are made: a bounded one for short calls (a caller waits at most
        ``op_timeout`` for a free connection), and a one-connection pool without a socket
        timeout for the wake-up task's blocking ``BLPOP``. Connection errors are retried once
        without delay (a pooled socket may be stale after Redis restarted); anything longer
        is the caller's deadline to spend, not redis-py's.

        ``orphan_hold`` caps how long a dead process's slots stay reserved for sessions no
        reaper settled (default: a session's longest life plus ``lease_ttl``);
        ``rotation_interval`` is how long one process keeps the odd slot of an uneven split
        while others wait (see `should_yield_slot`).
        """
        common = {
            "socket_connect_timeout": op_timeout,
            "retry": Retry(NoBackoff(), 1),
            "decode_responses": True,
        }
        pool = BlockingConnectionPool.from_url(
            url,
            max_connections=max_connections,
            timeout=op_timeout,
            socket_timeout=op_timeout,
            **common,
        )
        wait_pool = ConnectionPool.from_url(url, max_connections=1, socket_timeout=None, **common)
        return cls(
            Redis.from_pool(pool),
            namespace=namespace,
            capacity=capacity,
            lease_ttl=lease_ttl,
            heartbeat_interval=heartbeat_interval,
            op_timeout=op_timeout,
            recheck_interval=recheck_interval,
            waiter_ttl=waiter_ttl,
            wait_client=Redis.from_pool(wait_pool),
            owns_clients=True,
            on_slot_lost=on_slot_lost,
            orphan_hold=orphan_hold,
            rotation_interval=rotation_interval,
        )

    # -- Coordinator -----------------------------------------------------------------------
    async def open(self, owner: OwnerInfo) -> None:
        """Check that Redis answers (fail closed if not) and start the heartbeat."""
        if self._closed:
            raise CoordinatorUnavailableError("the Redis coordinator is closed")
        if self._owner is not None:
            raise CoordinationError("the Redis coordinator is already open")
        await bounded(self._client.ping, timeout=self._op_timeout, what="ping")
        # Slots are held under the name the ledger files this owner's entries by, so a dead
        # owner's lapsed slots stay reserved while its sessions are unsettled.
        self.semaphore.rename(holder_name(owner))
        self._owner = owner
        self._heartbeat_task = asyncio.get_running_loop().create_task(
            self._heartbeat_loop(), name=f"bbre_async redis heartbeat {owner.pool_id}"
        )

    async def acquire_slot(self, timeout: float | None) -> SlotGrant:
        """Wait in line for a slot (see `RedisSlotSemaphore.acquire`)."""
        self._check_open()
        return await self.semaphore.acquire(timeout)

    async def release_slot(self, grant: SlotGrant) -> None:
        """Give a slot back; idempotent, never raises for Redis trouble (the lease lapses)."""
        await self.semaphore.release(grant)

    def should_yield_slot(self) -> bool:
        """True when the pool should give one slot back at this lease boundary (retire the
        session instead of keeping it idle): another process waits with fewer slots. No I/O;
        each True counts as a promise the next `release_slot` keeps."""
        return self.semaphore.should_yield()

    async def slot_is_held(self, grant: SlotGrant) -> bool:
        """The fencing check before a create: True while ``grant`` still holds its lease.

        Raises ``CoordinatorUnavailableError`` when Redis cannot tell.
        """
        return await self.semaphore.is_held(grant)

    async def aclose(self) -> None:
        """Stop the heartbeat, give back every slot, close the connections. Bounded."""
        if self._closed:
            return
        self._closed = True
        task, self._heartbeat_task = self._heartbeat_task, None
        with anyio.CancelScope(shield=True):
            if task is not None:
                task.cancel()
                await asyncio.wait({task}, timeout=self._op_timeout)
                if task.done() and not task.cancelled() and task.exception() is not None:
                    logger.error("the heartbeat task had failed", exc_info=task.exception())
            with anyio.move_on_after(2 * self._op_timeout):
                await self.semaphore.aclose()
            with anyio.move_on_after(self._op_timeout):
                await self._close_clients()

    async def __aenter__(self) -> RedisCoordinator:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    @classmethod
    def for_client(cls, url: str, client: Any, **options: Any) -> RedisCoordinator:
        """Connect to ``url`` with the namespace of ``client``'s account: every process
        that uses the same API key (by fingerprint) and base URL shares one cap."""
        namespace = namespace_for(client.key_fingerprint, client.base_url)
        return cls.from_url(url, namespace=namespace, **options)

    # -- extras ----------------------------------------------------------------------------
    def lost_grants(self) -> list[SlotGrant]:
        """Grants the heartbeat found lost since the last call (and forgets them)."""
        lost, self._lost = self._lost, []
        return lost

    @property
    def last_heartbeat(self) -> float | None:
        """Monotonic time of the last heartbeat that reached Redis, or None."""
        return self._last_heartbeat

    async def heartbeat_once(self) -> list[SlotGrant]:
        """Run one heartbeat now; return the grants found lost. For tests and diagnostics."""
        owner = self._check_open()
        epoch = self.semaphore.epoch
        lost = await self.semaphore.refresh()
        if epoch and self.semaphore.epoch != epoch:
            # Redis lost its data: put this owner's entries back beside its leases.
            await self.redis_ledger.restore()
        await self.ledger.heartbeat(owner)
        self._last_heartbeat = time.monotonic()
        for grant in lost:
            logger.warning("slot %s lost its lease (token %d)", grant.slot_id, grant.token)
            self._lost.append(grant)
            if self._on_slot_lost is not None:
                try:
                    self._on_slot_lost(grant)
                except Exception:
                    logger.exception("the slot-lost callback failed")
        return lost

    # -- internals -------------------------------------------------------------------------
    def _check_open(self) -> OwnerInfo:
        if self._closed:
            raise CoordinatorUnavailableError("the Redis coordinator is closed")
        if self._owner is None:
            raise CoordinationError("open() the Redis coordinator first")
        return self._owner

    async def _heartbeat_loop(self) -> None:
        while True:
            await anyio.sleep(self._heartbeat_interval)
            try:
                await self.heartbeat_once()
            except CoordinatorUnavailableError as exc:
                logger.warning("heartbeat failed: %s", exc)
            except Exception:
                logger.exception("heartbeat failed unexpectedly")

    async def _close_clients(self) -> None:
        if not self._owns_clients:
            return
        await self._client.aclose()
        if self._wait_client is not None:
            await self._wait_client.aclose()


if TYPE_CHECKING:

    def _conforms(coordinator: RedisCoordinator, ledger: RedisLedger) -> None:
        """Let the type checker prove both classes implement their protocols."""
        _coordinator: Coordinator = coordinator
        _ledger: LedgerStore = ledger
