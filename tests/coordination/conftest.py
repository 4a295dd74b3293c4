from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from bbre_async.testing import RedisServer, redis_server_binary

NO_REDIS_SERVER = "no redis-server binary on PATH (apt-get install redis-server); CI installs it"


def _binary_or_skip() -> str:
    binary = redis_server_binary()
    if binary is None:
        pytest.skip(NO_REDIS_SERVER)
    return binary


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One real redis-server for the whole session; tests keep apart by namespace."""
    server = RedisServer(_binary_or_skip(), tmp_path_factory.mktemp("redis"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    if redis_server.process is None:  # a test stopped it: bring it back
        redis_server.start()
    return redis_server.url


@pytest.fixture
def private_redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A server of this test's own, for tests that stop or restart Redis."""
    server = RedisServer(_binary_or_skip(), tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_namespace() -> str:
    """A namespace no other test uses, so one server serves every test."""
    return f"test{uuid.uuid4().hex}"


ROOT = Path(__file__).resolve().parents[2]
