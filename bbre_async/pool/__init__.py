"""The session pool: fair, capped, self-renewing leases on remote sessions."""

from typing import TYPE_CHECKING

from bbre_async.pool._backend import ActiveSession, RemoteSession, SessionBackend
from bbre_async.pool._bbre_backend import BBREBackend
from bbre_async.pool._config import PoolConfig
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
    "ActiveSession",
    "BBREBackend",
    "CostModel",
    "EventKind",
    "MapProgress",
    "MapRun",
    "Outcome",
    "PoolConfig",
    "PoolEvent",
    "PoolStats",
    "PooledSession",
    "ProgressHook",
    "ReapPlan",
    "ReapReport",
    "RemoteSession",
    "RichMapProgress",
    "SessionBackend",
    "SessionPool",
    "ShutdownSummary",
    "close_all",
    "execute_reap",
    "plan_reap",
]
