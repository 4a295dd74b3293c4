"""The session pool: fair, capped, self-renewing leases on remote sessions."""

from bbre_async.pool._backend import ActiveSession, RemoteSession, SessionBackend
from bbre_async.pool._bbre_backend import BBREBackend
from bbre_async.pool._config import PoolConfig
from bbre_async.pool._events import EventKind, PoolEvent
from bbre_async.pool._lease import PooledSession
from bbre_async.pool._map import MapProgress, MapRun, Outcome, ProgressHook
from bbre_async.pool._pool import SessionPool
from bbre_async.pool._reaper import ReapPlan, ReapReport, close_all, execute_reap, plan_reap
from bbre_async.pool._stats import CostModel, PoolStats, ShutdownSummary

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
    "SessionBackend",
    "SessionPool",
    "ShutdownSummary",
    "close_all",
    "execute_reap",
    "plan_reap",
]
