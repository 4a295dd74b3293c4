"""The server's clock and expiry forms cannot fool the pool (issue 15, defects 1 and 2):
life is ``expiresAt - createdAt`` by the server's clock, measured from the answer's arrival."""

from __future__ import annotations

import pytest

from bbre_async.pool import EventKind, PoolEvent, RemoteSession

from .conftest import PoolFactory
from .fakes import FakeBackend, ManualClock, caught_up


class SkewedBackend(FakeBackend):
    """The fake server, with its clock ``skew`` seconds off ours and a chosen expiry form."""

    def __init__(self, clock: ManualClock, *, skew: float, form: str, life: float = 60.0) -> None:
        super().__init__(clock, life=life)
        self.skew = skew
        self.form = form

    async def create(self, *, deadline: float | None = None) -> RemoteSession:
        remote = await super().create(deadline=deadline)
        created = self.clock.now() + self.skew
        expires: float | None = created + self.life
        if self.form == "missing":
            expires = None
        elif self.form == "equal":
            expires = created
        elif self.form == "a day":
            expires = created + 86_400
        return RemoteSession(
            id=remote.id, created_at=created, expires_at=expires, handle=remote.handle
        )


@pytest.mark.parametrize("skew", [-120.0, 120.0])
async def test_skewed_server_clocks_cause_no_storm_and_no_dead_requests(
    make_pool: PoolFactory, clock: ManualClock, skew: float
) -> None:
    backend = SkewedBackend(clock, skew=skew, form="exact")
    async with make_pool(backend=backend, max_size=2, idle_timeout=None) as pool:
        for _ in range(60):  # ten minutes: ten lives of 60 s
            async with pool.acquire() as lease:
                await lease.get("https://t.test/x")
            clock.advance(10)
            await caught_up(pool, clock)
        created = pool.stats().created
    assert backend.requests_on_dead == 0
    assert created <= 2 * 11  # about one create per session life, not thousands


@pytest.mark.parametrize("form", ["missing", "equal", "a day"])
async def test_suspect_expiries_get_the_safe_reading_and_a_warning(
    make_pool: PoolFactory, clock: ManualClock, form: str
) -> None:
    # "a day" too far: the server claims a day but, as documented, ends it at 300 s.
    backend = SkewedBackend(clock, skew=0.0, form=form, life=300.0 if form == "a day" else 60.0)
    warnings: list[PoolEvent] = []
    async with make_pool(backend=backend, max_size=2, idle_timeout=None) as pool:
        pool.add_listener(lambda e: warnings.append(e) if e.kind is EventKind.WARNING else None)
        for _ in range(60):
            async with pool.acquire() as lease:
                await lease.get("https://t.test/x")
                assert lease.remaining() <= 300  # never believed beyond the documented max
            clock.advance(5)
            await caught_up(pool, clock)
        stats = pool.stats()
    assert warnings, "a suspect expiry went unreported"
    assert backend.requests_on_dead == 0
    assert stats.created <= 60  # bounded: the safe reading renews early, never in a storm
