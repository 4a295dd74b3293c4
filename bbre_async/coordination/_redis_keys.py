"""Where the Redis coordinator keeps its state, and how every call to Redis is bounded.

All keys of one account live under ``bbre_async:{NAMESPACE}:``. The braces are literal: they
make the namespace a Redis Cluster hash tag, so every key of one account lands in one slot and
the Lua scripts, which touch several keys at once, stay legal on a cluster too.

The namespace is a hash of an API-key *fingerprint* and the base URL, never the key itself:
nothing written to Redis can be used to call the API.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Awaitable, Callable
from typing import TypeVar
from urllib.parse import urlsplit, urlunsplit

import anyio
import attrs
from redis.exceptions import RedisError

from bbre_async.coordination._base import CoordinatorUnavailableError, OwnerInfo

logger = logging.getLogger("bbre_async.coordination.redis")

_T = TypeVar("_T")

# A namespace is used inside a hash tag and in key names: keep it to a plain token.
_NAMESPACE_FORBIDDEN = frozenset("{}: \t\r\n")


def namespace_for(api_key_fingerprint: str, base_url: str) -> str:
    """Derive the Redis namespace of one account on one API deployment.

    Pools that share an API key must land in the same namespace, whatever spelling of the
    base URL they were given, so the URL's scheme and host are lowercased and a trailing slash
    is dropped. The result is a hex digest: it reveals neither the fingerprint nor the URL.
    """
    if not api_key_fingerprint:
        raise ValueError("api_key_fingerprint must not be empty")
    parts = urlsplit(base_url.strip())
    normalized = urlunsplit(
        (parts.scheme.lower(), parts.netloc.lower(), parts.path.rstrip("/"), parts.query, "")
    )
    digest = hashlib.sha256(f"{api_key_fingerprint}\n{normalized}".encode()).hexdigest()
    return digest[:32]


def validate_namespace(namespace: str) -> str:
    """Refuse namespaces that would break the key layout (braces, colons, whitespace)."""
    if not namespace or any(char in _NAMESPACE_FORBIDDEN for char in namespace):
        raise ValueError(f"invalid Redis namespace {namespace!r}: use namespace_for()")
    return namespace


@attrs.frozen
class RedisKeys:
    """The key layout of one namespace."""

    namespace: str = attrs.field(converter=validate_namespace)

    @property
    def prefix(self) -> str:
        return f"bbre_async:{{{self.namespace}}}:"

    # -- the semaphore --------------------------------------------------------------------
    @property
    def holders(self) -> str:
        """ZSET slot_id -> lease expiry (Redis server time, ms)."""
        return self.prefix + "sem:holders"

    @property
    def tokens(self) -> str:
        """HASH slot_id -> fencing token of the grant."""
        return self.prefix + "sem:tokens"

    @property
    def waiters(self) -> str:
        """ZSET waiter id -> ticket (arrival order)."""
        return self.prefix + "sem:waiters"

    @property
    def waiter_expiry(self) -> str:
        """ZSET waiter id -> expiry (ms): a waiter that stops re-checking leaves the queue."""
        return self.prefix + "sem:waiter_expiry"

    @property
    def counters(self) -> str:
        """HASH with the ``fence`` and ``ticket`` counters."""
        return self.prefix + "sem:counters"

    @property
    def epoch(self) -> str:
        """STRING naming the current life of the data; it changes when Redis loses its data."""
        return self.prefix + "sem:epoch"

    @property
    def wake_prefix(self) -> str:
        """LIST per semaphore instance: the ids of its waiters that may now take a slot."""
        return self.prefix + "sem:wake:"

    def wake(self, holder_id: str) -> str:
        return self.wake_prefix + holder_id

    @property
    def orphans(self) -> str:
        """ZSET slot_id -> hold deadline (ms): lapsed leases whose holder left sessions."""
        return self.prefix + "sem:orphans"

    @property
    def epoch_born(self) -> str:
        """STRING: when the current epoch was created (Redis time, ms)."""
        return self.prefix + "sem:epoch_born"

    @property
    def grace(self) -> str:
        """STRING with a TTL: while it exists, no slot is granted (Redis just lost its data)."""
        return self.prefix + "sem:grace"

    def semaphore_keys(self) -> list[str]:
        """KEYS of every semaphore script, in the order the scripts expect."""
        return [
            self.holders,
            self.tokens,
            self.waiters,
            self.waiter_expiry,
            self.counters,
            self.epoch,
            self.orphans,
            self.epoch_born,
            self.grace,
        ]

    # -- the ledger -----------------------------------------------------------------------
    @property
    def ledger_ids(self) -> str:
        """SET of every intent id in the ledger."""
        return self.prefix + "ledger:ids"

    @property
    def ledger_entry_prefix(self) -> str:
        """HASH per entry: data, owner, owner_key, heartbeat_at."""
        return self.prefix + "ledger:entry:"

    @property
    def ledger_owner_prefix(self) -> str:
        """SET per owner: the intent ids it holds (what its heartbeat refreshes)."""
        return self.prefix + "ledger:owner:"

    @property
    def ledger_origin_prefix(self) -> str:
        """SET per semaphore holder: the intent ids it made and nobody has settled yet."""
        return self.prefix + "ledger:origin:"


_HOLDER_SAFE = re.compile(r"[A-Za-z0-9_-]{1,64}")


def holder_name(owner: OwnerInfo) -> str:
    """The semaphore holder id of ``owner``: links its slots to its ledger entries.

    The pool id when it is a plain token (a uuid hex by default), else a digest of it.
    """
    if _HOLDER_SAFE.fullmatch(owner.pool_id):
        return owner.pool_id
    return hashlib.sha256(owner.pool_id.encode()).hexdigest()[:32]


async def bounded(op: Callable[[], Awaitable[_T]], *, timeout: float, what: str) -> _T:
    """Run one Redis call within ``timeout`` seconds; map every failure to one error.

    The pool must fail closed when Redis cannot answer, and it must not see redis-py's own
    exception types, so connection errors, protocol errors and slowness all become
    ``CoordinatorUnavailableError`` (with the cause chained). Cancellation passes through.
    """
    try:
        with anyio.fail_after(timeout):
            return await op()
    except TimeoutError as exc:
        raise CoordinatorUnavailableError(
            f"Redis did not answer {what} within {timeout:.3g}s"
        ) from exc
    except (RedisError, OSError) as exc:
        raise CoordinatorUnavailableError(f"Redis {what} failed: {exc}") from exc
