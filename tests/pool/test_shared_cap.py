"""Two pools on one API key in one process share the account's cap by default."""

from __future__ import annotations

import asyncio

from .conftest import PoolFactory
from .fakes import FakeBackend, until


async def test_two_pools_on_one_key_never_exceed_the_account_cap(
    make_pool: PoolFactory, backend: FakeBackend
) -> None:
    first = make_pool(max_size=10)
    second = make_pool(max_size=10)
    async with first, second:
        held = [await first.acquire() for _ in range(10)]
        late = asyncio.ensure_future(second.acquire())
        await until(lambda: second.stats().waiters == 1)  # queued behind the shared cap
        assert not late.done()
        # not one create was even tried beyond the cap: the pools share one slot book
        assert backend.peak_active == 10 and backend.creates_started == 10
        for lease in held:
            await lease.close()  # retired: closed, so its slot of the account frees
        lease = await late
        await until(lambda: len(backend.active) <= 10)
        assert backend.peak_active == 10
        await lease.release()
    assert backend.active == {}
