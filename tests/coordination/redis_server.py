"""The tests start Redis with the package's own helper."""

from bbre_async.testing import RedisServer, redis_server_binary

__all__ = ["RedisServer", "redis_server_binary"]
