"""The session pool: fair, capped, self-renewing leases on remote sessions."""

from typing import TYPE_CHECKING

from bbre_async.pool._acquire import NOT_GIVEN, NotGiven
from bbre_async.pool._backend import (
    ActiveSession,
    BackendSource,
    RemoteSession,
    SessionBackend,
    SessionOptions,
)
from bbre_async.pool._config import PoolConfig, PoolSettings
from bbre_async.pool._events import EventKind, PoolEvent
from bbre_async.pool._lease import PooledSession
from bbre_async.pool._map import MapRun
from bbre_async.pool._outcome import MapProgress, Outcome, ProgressHook
from bbre_async.pool._pool import SessionPool
from bbre_async.pool._reaper import ReapPlan, ReapReport, close_all, execute_reap, plan_reap
from bbre_async.pool._stats import CostModel, PoolStats, ShutdownSummary

if TYPE_CHECKING:
    from bbre_async.pool._rich_progress import RichMapProgress


def __getattr__(name: str) -> object:
    # rich is loaded only by programs that show a progress bar.
    if name == "RichMapProgress":
        from bbre_async.pool._rich_progress import RichMapProgress

        return RichMapProgress
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "NOT_GIVEN",
    "ActiveSession",
    "BackendSource",
    "CostModel",
    "EventKind",
    "MapProgress",
    "MapRun",
    "NotGiven",
    "Outcome",
    "PoolConfig",
    "PoolEvent",
    "PoolSettings",
    "PoolStats",
    "PooledSession",
    "ProgressHook",
    "ReapPlan",
    "ReapReport",
    "RemoteSession",
    "RichMapProgress",
    "SessionBackend",
    "SessionOptions",
    "SessionPool",
    "ShutdownSummary",
    "close_all",
    "execute_reap",
    "plan_reap",
]
