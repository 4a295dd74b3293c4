"""Helpers for testing code built on bbre_async: a throwaway local ``redis-server`` for the
Redis coordinator (the API itself is served by ``bbre_async.emulator``)."""

from bbre_async.testing._redis_server import RedisServer, redis_server_binary

__all__ = ["RedisServer", "redis_server_binary"]
