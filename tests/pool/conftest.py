from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from bbre_async.pool import SessionPool

from .fakes import FakeBackend, ManualClock


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def backend(clock: ManualClock) -> FakeBackend:
    return FakeBackend(clock)


PoolFactory = Callable[..., SessionPool]


@pytest.fixture
async def make_pool(backend: FakeBackend, clock: ManualClock) -> AsyncIterator[PoolFactory]:
    pools: list[SessionPool] = []

    def make(**settings: Any) -> SessionPool:
        settings.setdefault("ledger_path", None)
        # acquire timeouts run on the manual clock, which tests jump by minutes
        settings.setdefault("acquire_timeout", 3600.0)
        settings.setdefault("handle_signals", False)
        settings.setdefault("rng", __import__("random").Random(7))
        pool = SessionPool(settings.pop("backend", backend), clock=clock, **settings)
        pools.append(pool)
        return pool

    yield make
    for pool in pools:
        await pool.aclose(timeout=0)
