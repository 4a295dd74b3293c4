"""Sharing the account cap and the crash-safety ledger: locally, or through Redis."""

from typing import TYPE_CHECKING

from bbre_async.coordination._base import (
    Coordinator,
    CoordinatorUnavailableError,
    EntryState,
    LedgerEntry,
    LedgerFileError,
    LedgerStore,
    OwnerInfo,
    SlotGrant,
    SlotTimeoutError,
)
from bbre_async.coordination._local import LocalCoordinator
from bbre_async.coordination._memory_ledger import MemoryLedger
from bbre_async.coordination._sqlite_ledger import SqliteLedger, default_ledger_path

if TYPE_CHECKING:
    from bbre_async.coordination._redis_coordinator import RedisCoordinator

__all__ = [
    "Coordinator",
    "CoordinatorUnavailableError",
    "EntryState",
    "LedgerEntry",
    "LedgerFileError",
    "LedgerStore",
    "LocalCoordinator",
    "MemoryLedger",
    "OwnerInfo",
    "RedisCoordinator",
    "SlotGrant",
    "SlotTimeoutError",
    "SqliteLedger",
    "default_ledger_path",
]


def __getattr__(name: str) -> object:
    # redis is an optional extra: import the Redis coordinator only when asked for.
    if name == "RedisCoordinator":
        try:
            import redis.asyncio  # noqa: F401
        except ImportError as exc:
            raise ImportError(
                "RedisCoordinator needs the redis extra: pip install 'bbre-async[redis]'",
                name="redis",
            ) from exc
        from bbre_async.coordination._redis_coordinator import RedisCoordinator

        return RedisCoordinator
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
