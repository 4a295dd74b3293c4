"""The pool's invariants under both renewal strategies, one parametrized set of tests.

``replace`` is the in-memory fake as it is (BBRE's way: a session cannot outlive its life, so
an idle one is replaced by a successor); ``extend`` is the same fake with an in-place
``extend`` (OrchestratorHQ's way: the same session lives on). Every test runs once per
strategy, on the manual clock, and waits on conditions, never on wall time.
"""

from __future__ import annotations

import asyncio
import functools
import random
from collections import deque

import pytest

from bbre_async import SessionExpiredError, SessionNotFoundError
from bbre_async.pool import SessionPool

from .conftest import PoolFactory
from .fakes import FakeBackend, ManualClock, call_after_turns, caught_up, until
from .test_cancellation import check_invariants, scenario

STRATEGIES = ("replace", "extend")


class ExtendingBackend(FakeBackend):
    """The fake server with OrchestratorHQ's renewal: ``extend`` adds time to a running
    session (``active[sid]`` moves later) and answers the new expiry."""

    name = "fake-extend"
    supports_extend = True

    def __init__(self, clock: ManualClock, *, life: float = 300.0, account_cap: int = 10) -> None:
        super().__init__(clock, life=life, account_cap=account_cap)
        self.extends = 0
        self.extend_gate: asyncio.Event | None = None
        self.extend_failures: deque[BaseException] = deque()

    async def extend(self, session_id: str, seconds: float) -> float:
        if self.extend_gate is not None:
            await self.extend_gate.wait()
        else:
            await asyncio.sleep(0)
        self._expire()
        self.calls.append(("extend", session_id))
        if self.extend_failures:
            raise self.extend_failures.popleft()
        if session_id not in self.active:
            raise SessionNotFoundError("not running", code="SESSION_NOT_FOUND", status=404)
        self.active[session_id] += seconds
        self.extends += 1
        return self.active[session_id]


@pytest.fixture(params=STRATEGIES)
def strategy(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def backend(strategy: str, clock: ManualClock) -> FakeBackend:
    """Overrides the package fixture: ``make_pool`` builds its pools on this one."""
    return ExtendingBackend(clock) if strategy == "extend" else FakeBackend(clock)


def _strike(
    victim: asyncio.Task[None], clock: ManualClock, jump: float, struck: asyncio.Event
) -> None:
    """Cancel ``victim`` and jump the clock at once: a cancellation that lands mid-renewal."""
    victim.cancel()
    clock.advance(jump)
    struck.set()


async def test_the_cap_holds_under_many_tasks_across_lives(
    make_pool: PoolFactory, backend: FakeBackend, clock: ManualClock
) -> None:
    async with make_pool(max_size=10, acquire_timeout=60, idle_timeout=None) as pool:
        leased_peak = 0
        failures: list[BaseException] = []
        pauses = [0.0] * 200  # when each worker's pause ends; 0 while it works

        async def work(n: int) -> None:
            nonlocal leased_peak
            for i in range(6):
                async with pool.acquire() as lease:
                    leased_peak = max(leased_peak, pool.stats().leased)
                    try:
                        await lease.get(f"https://t.test/{n}/{i}")
                    except Exception as error:
                        failures.append(error)
                pauses[n] = clock.now() + 60
                await clock.sleep(60, by_test=True)  # six turns: longer than one 300 s life
                pauses[n] = 0.0

        def all_pausing() -> bool:
            """Every worker still running sleeps out a pause: the leases it woke for are done."""
            now = clock.now()
            return all(task.done() or pauses[n] > now for n, task in enumerate(tasks))

        tasks = [asyncio.create_task(work(n)) for n in range(200)]
        while not all(task.done() for task in tasks):
            clock.advance(5)
            await until(all_pausing)
            await caught_up(pool, clock)  # maintenance renews idle sessions between the rounds
            check_invariants(pool, backend)
            assert backend.peak_active <= 10
        await asyncio.gather(*tasks)
        assert failures == []
        assert backend.requests == 1200 and backend.requests_on_dead == 0
        assert leased_peak == 10 and backend.overlaps == 0
        assert pool.stats().renewed >= 1  # the run outlived a session life
    assert backend.active == {}


async def test_waiters_are_served_in_order_across_renewals(
    make_pool: PoolFactory, backend: FakeBackend, clock: ManualClock
) -> None:
    # acquire timeouts run on the pool's clock: the queue waits 20 x 20 s of it
    async with make_pool(max_size=1, acquire_timeout=1000, idle_timeout=None) as pool:
        holder = await pool.acquire()
        order: list[int] = []
        holds: list[float] = []  # when each lease holder's hold ends

        async def wait(n: int) -> None:
            async with pool.acquire() as lease:
                order.append(n)
                await lease.get(f"https://t.test/{n}")
                holds.append(clock.now() + 20)
                await clock.sleep(20, by_test=True)  # 20 turns x 20 s: longer than one life

        def holding() -> bool:
            """The latest lease holder sleeps out its hold, or every waiter was served."""
            done = all(task.done() for task in tasks)
            return done or (bool(holds) and clock.sleeping_until(holds[-1]))

        tasks = []
        for n in range(20):
            tasks.append(asyncio.create_task(wait(n)))
            await until(lambda: pool.stats().waiters == len(tasks))  # queued in this order
        await holder.release()
        await until(holding)
        while not all(task.done() for task in tasks):
            clock.advance(5)
            await until(holding)
            await caught_up(pool, clock)
        await asyncio.gather(*tasks)
        assert order == list(range(20))
        assert pool.stats().renewed >= 1
        assert backend.requests_on_dead == 0 and pool.stats().failed_requests == 0


async def test_long_run_renews_without_a_failed_request(
    make_pool: PoolFactory, backend: FakeBackend, clock: ManualClock, strategy: str
) -> None:
    size = 4
    async with make_pool(max_size=size, renew_margin=30, idle_timeout=None) as pool:
        failures = 0
        stop = asyncio.Event()
        rounds = [0] * (3 * size)  # leases each worker has finished

        async def worker(n: int) -> None:
            nonlocal failures
            while not stop.is_set():
                async with pool.acquire() as lease:
                    try:
                        await lease.get(f"https://t.test/{n}")
                    except Exception:
                        failures += 1
                rounds[n] += 1
                await asyncio.sleep(0)

        def went_round(since: list[int]) -> bool:
            """Every worker finished a lease since ``since``: none holds one across two jumps."""
            return all(now > then for now, then in zip(rounds, since, strict=True))

        tasks = [asyncio.create_task(worker(n)) for n in range(3 * size)]
        for _ in range(300):  # 300 x 10 s: ten session lives
            since = list(rounds)
            clock.advance(10)
            await until(functools.partial(went_round, since))
        stop.set()
        await asyncio.gather(*tasks)
        stats = pool.stats()
        check_invariants(pool, backend)
        assert failures == 0 and stats.failed_requests == 0
        assert backend.requests_on_dead == 0 and backend.overlaps == 0
        assert backend.peak_active <= size
        assert stats.renewed >= 2 * size
        if strategy == "extend":
            assert isinstance(backend, ExtendingBackend)
            # Renewal by extension only: the first sessions are the only ones, ever.
            assert stats.created == len(backend.creates()) == size
            assert backend.closes() == [] and stats.retired == 0
            assert backend.extends == stats.renewed
        else:
            assert stats.created >= size + stats.renewed - size  # successors were made
            assert len(backend.closes()) >= stats.renewed - size
    assert backend.active == {}


async def test_a_failing_extend_falls_back_to_a_replacement(
    make_pool: PoolFactory, backend: FakeBackend, clock: ManualClock, strategy: str
) -> None:
    if isinstance(backend, ExtendingBackend):
        backend.extend_failures.append(SessionNotFoundError("gone", code="SESSION_NOT_FOUND"))
    async with make_pool(max_size=2, renew_margin=30, renew_stagger=0, idle_timeout=None) as pool:
        async with pool.acquire() as lease:
            first = lease.id
        clock.advance(275)
        await until(lambda: pool.stats().renewed == 1)
        await until(lambda: first in backend.closes())
        async with pool.acquire() as lease:
            assert lease.id != first and lease.remaining() > 290
        check_invariants(pool, backend)
    assert backend.active == {}


async def test_cancellation_at_random_points_leaks_nothing(
    make_pool: PoolFactory, backend: FakeBackend, clock: ManualClock
) -> None:
    rng = random.Random(20240615)
    async with make_pool(max_size=3, renew_margin=30, idle_timeout=None) as pool:
        for n in range(60):
            runners = [
                asyncio.create_task(scenario(pool, 1000 * n + k)) for k in range(rng.randint(1, 6))
            ]
            turns = rng.randint(0, 12)  # the scheduling point to strike at
            victim = rng.choice(runners)
            jump = rng.choice((0, 0, 7, 45))  # some rounds land mid-renewal
            struck = asyncio.Event()
            call_after_turns(turns, functools.partial(_strike, victim, clock, jump, struck))
            await struck.wait()
            results = await asyncio.gather(*runners, return_exceptions=True)
            for result in results:
                # A lease held while the clock jumps past its session's expiry is refused
                # locally (never sent: requests_on_dead stays 0 below).
                allowed = (asyncio.CancelledError, SessionExpiredError)
                assert result is None or isinstance(result, allowed), result
            check_invariants(pool, backend)
            await caught_up(pool, clock)
            check_invariants(pool, backend)
        await until(lambda: pool.stats().leased == 0)
        async with pool.acquire() as lease:  # still fully usable
            await lease.get("https://t.test/after")
        assert pool.stats().renewed >= 1
    assert backend.active == {}
    assert backend.overlaps == 0 and backend.requests_on_dead == 0


async def test_shutdown_during_a_renewal_leaves_nothing_active(
    make_pool: PoolFactory,
    backend: FakeBackend,
    clock: ManualClock,
    strategy: str,
    request: pytest.FixtureRequest,
) -> None:
    pool: SessionPool = make_pool(
        max_size=3, renew_margin=30, renew_stagger=0, idle_timeout=None, close_timeout=0.5
    )
    await pool.open()
    leases = [await pool.acquire() for _ in range(3)]
    held = leases.pop()
    for lease in leases:
        await lease.release()
    gate = asyncio.Event()
    if isinstance(backend, ExtendingBackend):
        backend.extend_gate = gate
    else:
        backend.create_gate = gate
    clock.advance(275)  # the idle ones are due: their renewals block on the gate
    await until(lambda: pool.stats().idle == 0)
    closing = asyncio.create_task(pool.aclose(timeout=0))
    await until(lambda: pool.stats().leased == 0)  # the held lease cut off: only renewals left
    gate.set()
    summary = await closing
    assert summary.failed == []
    assert backend.active == {}
    assert pool.session_ids() == []
    with pytest.raises(Exception, match="closed"):
        await held.get("https://t.test/late")
