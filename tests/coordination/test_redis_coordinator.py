"""RedisCoordinator on a real redis-server: the cap, fairness, fencing, leases, cost."""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from bbre_async.coordination._base import (
    Coordinator,
    CoordinatorUnavailableError,
    OwnerInfo,
    SlotGrant,
    SlotTimeoutError,
)
from bbre_async.coordination._redis_coordinator import RedisCoordinator
from tests.waiting import eventually as wait_until

pytestmark = pytest.mark.redis

MakeCoordinator = Callable[..., Awaitable[RedisCoordinator]]


@pytest.fixture
async def make(redis_url: str, redis_namespace: str) -> AsyncIterator[MakeCoordinator]:
    """Opens coordinators on one namespace, each with its own connections (as processes)."""
    made: list[RedisCoordinator] = []

    async def factory(**options: Any) -> RedisCoordinator:
        options.setdefault("op_timeout", 1.0)
        coordinator = RedisCoordinator.from_url(redis_url, namespace=redis_namespace, **options)
        made.append(coordinator)
        await coordinator.open(OwnerInfo.current())
        return coordinator

    yield factory
    for coordinator in made:
        await coordinator.aclose()


async def queued(coordinator: RedisCoordinator, count: int, timeout: float = 5.0) -> None:
    async def check() -> bool:
        return (await coordinator.semaphore.state())[1] == count

    await wait_until(check, timeout)


async def test_it_is_a_coordinator(make: MakeCoordinator) -> None:
    coordinator = await make()
    assert isinstance(coordinator, Coordinator)


async def test_cap_is_never_exceeded_across_coordinators(make: MakeCoordinator) -> None:
    capacity = 3
    coordinators = [await make(capacity=capacity) for _ in range(4)]
    active = 0
    peak = 0
    grants = 0
    tokens: list[int] = []

    async def worker(coordinator: RedisCoordinator) -> None:
        nonlocal active, peak, grants
        for _ in range(6):
            grant = await coordinator.acquire_slot(timeout=10)
            active += 1
            peak = max(peak, active)
            grants += 1
            tokens.append(grant.token)
            assert (await coordinator.semaphore.state())[0] <= capacity
            await asyncio.sleep(random.uniform(0, 0.002))
            active -= 1
            await coordinator.release_slot(grant)

    await asyncio.gather(*(worker(c) for c in coordinators for _ in range(5)))
    assert grants == 4 * 5 * 6
    assert peak == capacity
    assert len(set(tokens)) == len(tokens)
    assert (await coordinators[0].semaphore.state()) == (0, 0)


async def test_waiters_are_served_in_arrival_order_in_one_coordinator(
    make: MakeCoordinator,
) -> None:
    coordinator = await make(capacity=1)
    held = await coordinator.acquire_slot(timeout=1)
    order: list[int] = []

    async def waiter(index: int) -> None:
        grant = await coordinator.acquire_slot(timeout=10)
        order.append(index)
        await coordinator.release_slot(grant)

    tasks = []
    for index in range(6):
        tasks.append(asyncio.create_task(waiter(index)))
        await queued(coordinator, index + 1)
    await coordinator.release_slot(held)
    await asyncio.gather(*tasks)
    assert order == list(range(6))


async def test_waiters_across_coordinators_are_served_fairly_then_in_arrival_order(
    make: MakeCoordinator,
) -> None:
    """Fewest slots held first, then the process granted longest ago, then arrival: a
    process that just had the slots waits behind others that had none (issue 15, defect 7),
    and each process's own waiters keep their arrival order."""
    coordinators = [await make(capacity=2) for _ in range(3)]
    held = [await coordinators[0].acquire_slot(timeout=1) for _ in range(2)]
    order: list[int] = []
    release_now = asyncio.Event()

    async def waiter(index: int) -> None:
        coordinator = coordinators[index % 3]
        grant = await coordinator.acquire_slot(timeout=30)
        order.append(index)
        await release_now.wait()
        await coordinator.release_slot(grant)

    tasks = []
    for index in range(9):
        tasks.append(asyncio.create_task(waiter(index)))
        await queued(coordinators[0], index + 1)
    for grant in held:
        await coordinators[0].release_slot(grant)

    async def served(count: int) -> bool:
        return len(order) >= count

    await wait_until(lambda: served(2))
    # Waiter 0 arrived first, but its process just held both slots: 1 and 2 go first.
    assert sorted(order) == [1, 2]
    release_now.set()
    await asyncio.gather(*tasks)
    assert sorted(order) == list(range(9))  # nobody starves
    for process in range(3):
        mine = [index for index in order if index % 3 == process]
        assert mine == sorted(mine)


async def test_release_wakes_a_waiter_without_polling(make: MakeCoordinator) -> None:
    # The fallback re-check is 30 s away: only the push wake-up can be this fast.
    holder = await make(capacity=1)
    waiter_side = await make(capacity=1, recheck_interval=30.0, waiter_ttl=60.0)
    held = await holder.acquire_slot(timeout=1)
    task = asyncio.create_task(waiter_side.acquire_slot(timeout=10))
    await queued(holder, 1)
    await holder.release_slot(held)
    # Woken by the release, not by its 30 s recheck: the wait below could never see that.
    grant = await asyncio.wait_for(task, timeout=5)
    assert grant.token > held.token


async def test_timeout_raises_and_leaves_the_queue(make: MakeCoordinator) -> None:
    coordinator = await make(capacity=1)
    await coordinator.acquire_slot(timeout=1)
    started = time.monotonic()
    with pytest.raises(SlotTimeoutError):
        # The bound only stops a hang; how soon the timeout ends is the benchmarks' business.
        await asyncio.wait_for(coordinator.acquire_slot(timeout=0.2), 30)
    assert time.monotonic() - started >= 0.15  # it waited its timeout out, not failed at once
    assert (await coordinator.semaphore.state()) == (1, 0)


async def test_zero_timeout_takes_a_free_slot(make: MakeCoordinator) -> None:
    coordinator = await make(capacity=1)
    grant = await coordinator.acquire_slot(timeout=0)
    assert await coordinator.slot_is_held(grant)
    with pytest.raises(SlotTimeoutError):
        await coordinator.acquire_slot(timeout=0)


async def test_cancelled_waiter_leaves_the_queue_and_leaks_nothing(
    make: MakeCoordinator,
) -> None:
    coordinator = await make(capacity=1)
    other = await make(capacity=1)
    held = await coordinator.acquire_slot(timeout=1)
    task = asyncio.create_task(coordinator.acquire_slot(timeout=10))
    await queued(coordinator, 1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert (await coordinator.semaphore.state()) == (1, 0)
    await coordinator.release_slot(held)
    assert await other.acquire_slot(timeout=1)  # the slot came back, not to the cancelled one


async def test_release_is_idempotent_and_aclose_gives_everything_back(
    make: MakeCoordinator,
) -> None:
    coordinator = await make(capacity=3)
    grants = [await coordinator.acquire_slot(timeout=1) for _ in range(3)]
    await coordinator.release_slot(grants[0])
    await coordinator.release_slot(grants[0])
    assert not await coordinator.slot_is_held(grants[0])
    assert (await coordinator.semaphore.state())[0] == 2
    observer = await make(capacity=3)
    await coordinator.aclose()
    assert (await observer.semaphore.state())[0] == 0  # at once, not after the lease
    with pytest.raises(CoordinatorUnavailableError):
        await coordinator.acquire_slot(timeout=1)


async def test_pending_waiters_fail_when_the_coordinator_closes(make: MakeCoordinator) -> None:
    coordinator = await make(capacity=1)
    observer = await make(capacity=1)
    await observer.acquire_slot(timeout=1)
    task = asyncio.create_task(coordinator.acquire_slot(timeout=10))
    await queued(observer, 1)
    await coordinator.aclose()
    with pytest.raises(CoordinatorUnavailableError):
        await asyncio.wait_for(task, timeout=5)
    await queued(observer, 0)  # it left the line instead of blocking it until its TTL


async def test_a_holder_that_stops_heartbeating_loses_its_slots(make: MakeCoordinator) -> None:
    lease_ttl = 1.0
    silent = await make(capacity=2, lease_ttl=lease_ttl, op_timeout=0.3)
    other = await make(capacity=2, lease_ttl=lease_ttl, op_timeout=0.3)
    grants = [await silent.acquire_slot(timeout=1) for _ in range(2)]
    assert all([await silent.slot_is_held(g) for g in grants])
    task = silent._heartbeat_task
    assert task is not None
    task.cancel()  # paused, stuck, or cut off: its leases are no longer extended
    # The slots come back once the silent holder's leases lapse; the generous timeout only
    # stops a test whose slots never come back.
    taken = [await other.acquire_slot(timeout=lease_ttl + 30.0) for _ in range(2)]
    assert min(t.token for t in taken) > max(g.token for g in grants)
    # The fencing check now refuses the old grants, and the next heartbeat reports them.
    assert [await silent.slot_is_held(g) for g in grants] == [False, False]
    assert sorted(g.token for g in await silent.heartbeat_once()) == sorted(g.token for g in grants)
    assert [await other.slot_is_held(t) for t in taken] == [True, True]


async def test_fencing_asks_redis_not_only_the_local_clock(make: MakeCoordinator) -> None:
    lost: list[SlotGrant] = []
    coordinator = await make(capacity=1, on_slot_lost=lost.append)
    grant = await coordinator.acquire_slot(timeout=1)
    # The lease vanished in Redis (purged after a pause this process did not notice).
    client = coordinator.semaphore._client
    await client.zadd(coordinator.semaphore.keys.holders, {grant.slot_id: 0})
    assert await coordinator.slot_is_held(grant) is False
    await coordinator.heartbeat_once()
    assert lost == [grant]
    assert coordinator.lost_grants() == [grant]
    assert coordinator.lost_grants() == []


async def test_heartbeat_keeps_leases_alive_past_the_ttl(make: MakeCoordinator) -> None:
    lease_ttl = 0.6
    holder = await make(capacity=1, lease_ttl=lease_ttl, op_timeout=0.2)
    other = await make(capacity=1, lease_ttl=lease_ttl, op_timeout=0.2)
    grant = await holder.acquire_slot(timeout=1)
    beats = holder.last_heartbeat

    async def beat_again() -> bool:
        nonlocal beats
        if holder.last_heartbeat != beats:
            beats = holder.last_heartbeat
            return True
        return False

    for _ in range(4):  # four heartbeats: 4 * ttl / 3 > ttl
        await wait_until(beat_again)
    assert await holder.slot_is_held(grant)
    with pytest.raises(SlotTimeoutError):
        await other.acquire_slot(timeout=0.1)


async def test_uncontended_acquire_release_is_cheap(
    make: MakeCoordinator, capsys: pytest.CaptureFixture[str]
) -> None:
    coordinator = await make(capacity=10)
    for _ in range(50):  # warm the connections and the script cache
        await coordinator.release_slot(await coordinator.acquire_slot(timeout=1))
    acquire: list[float] = []
    cycle: list[float] = []
    for _ in range(500):
        started = time.perf_counter()
        grant = await coordinator.acquire_slot(timeout=1)
        acquired = time.perf_counter()
        await coordinator.release_slot(grant)
        done = time.perf_counter()
        acquire.append((acquired - started) * 1000)
        cycle.append((done - started) * 1000)

    def pct(values: list[float], q: int) -> float:
        return statistics.quantiles(values, n=100)[q - 1]

    with capsys.disabled():
        print(
            f"\nredis slot cost (ms): acquire p50={pct(acquire, 50):.3f} p99={pct(acquire, 99):.3f}"
            f"; acquire+release p50={pct(cycle, 50):.3f} p99={pct(cycle, 99):.3f}"
        )
    assert pct(acquire, 50) < 5.0  # loopback target is < 1 ms; leave room for slow CI


async def test_leaving_the_queue_survives_a_second_cancellation(make: MakeCoordinator) -> None:
    coordinator = await make(capacity=1)
    await coordinator.acquire_slot(timeout=1)
    task = asyncio.create_task(coordinator.acquire_slot(timeout=10))
    await queued(coordinator, 1)
    task.cancel()
    await asyncio.sleep(0)  # the first cancellation lands; the cleanup call starts
    task.cancel()  # an impatient caller cancels again while it runs
    with pytest.raises(asyncio.CancelledError):
        await task
    await queued(coordinator, 0, timeout=1.0)  # well before its 5 s queue TTL
