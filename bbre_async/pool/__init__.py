"""The session pool: fair, capped, self-renewing leases on remote sessions."""

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
from bbre_async.pool._pool import SessionPool
from bbre_async.pool._reaper import ReapPlan, ReapReport, close_all, execute_reap, plan_reap
from bbre_async.pool._stats import CostModel, PoolStats, ShutdownSummary

__all__ = [
    "NOT_GIVEN",
    "ActiveSession",
    "BackendSource",
    "CostModel",
    "EventKind",
    "NotGiven",
    "PoolConfig",
    "PoolEvent",
    "PoolSettings",
    "PoolStats",
    "PooledSession",
    "ReapPlan",
    "ReapReport",
    "RemoteSession",
    "SessionBackend",
    "SessionOptions",
    "SessionPool",
    "ShutdownSummary",
    "close_all",
    "execute_reap",
    "plan_reap",
]
