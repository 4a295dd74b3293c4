"""The backend protocol the pool drives (defined below the pool, re-exported here)."""

from bbre_async._session_backend import (
    ActiveSession,
    BackendSource,
    RemoteSession,
    SessionBackend,
    SessionOptions,
    collect_active,
)

__all__ = [
    "ActiveSession",
    "BackendSource",
    "RemoteSession",
    "SessionBackend",
    "SessionOptions",
    "collect_active",
]
