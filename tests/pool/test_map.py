"""``pool.map`` / ``pool.run`` against the emulator over loopback: the server's counters judge."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import pytest

from bbre_async import (
    BBREClient,
    PoolClosedError,
    PooledSession,
    Response,
    ServiceError,
    SessionClosedError,
    SessionPool,
)
from bbre_async.emulator import (
    Emulator,
    EmulatorSettings,
    Latency,
    TargetRule,
    running_emulator,
)
from bbre_async.pool import MapProgress, Outcome
from tests.waiting import eventually

KEY = "test-key"


@asynccontextmanager
async def pool_on(
    emulator: Emulator, **settings: object
) -> AsyncIterator[tuple[BBREClient, SessionPool]]:
    async with BBREClient(api_key=KEY, base_url=emulator.base_url) as client:
        settings.setdefault("ledger_path", None)
        settings.setdefault("idle_timeout", None)
        async with SessionPool(client, **settings) as pool:  # type: ignore[arg-type]
            yield client, pool


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    settings = EmulatorSettings(
        latency=Latency(endpoints={"session/request": 0.002}),
        targets=(
            TargetRule(pattern="https://walled.test/once/*", blocked=True, times=1),
            TargetRule(pattern="https://walled.test/always/*", blocked=True),
        ),
    )
    async with running_emulator(settings) as emu:
        yield emu


async def fetch(session: PooledSession, url: str) -> Response:
    return await session.get(url)


def urls(count: int, host: str = "shop.test") -> list[str]:
    return [f"https://{host}/p/{n}" for n in range(count)]


async def test_every_item_has_one_outcome_and_no_job_queues_behind_the_cap(
    emulator: Emulator,
) -> None:
    waiters_after_warmup: list[int] = []
    async with pool_on(emulator, max_size=10) as (_client, pool):

        def watch(progress: MapProgress) -> None:
            stats = pool.stats()
            if stats.created >= 10:
                waiters_after_warmup.append(stats.waiters)

        outcomes = await pool.map(fetch, urls(300), progress=watch).collect()
        stats = pool.stats()
    state = emulator.state.account()
    assert sorted(o.index for o in outcomes) == list(range(300))
    assert all(o.ok and o.attempts == 1 for o in outcomes)
    assert {o.result().status_code for o in outcomes} == {200}
    assert all(o.item == f"https://shop.test/p/{o.index}" for o in outcomes)
    # concurrency defaults to the usable capacity: once every session exists, nobody waits
    assert waiters_after_warmup and max(waiters_after_warmup) == 0
    assert stats.created == 10 and state.requests_total == 300
    assert state.peak_active_sessions <= 10 and state.active_sessions == 0


async def test_ordered_outcomes_follow_the_input(emulator: Emulator) -> None:
    async with pool_on(emulator, max_size=4) as (_client, pool):
        seen = [o.index async for o in pool.map(fetch, urls(60), ordered=True, concurrency=4)]
    assert seen == list(range(60))


async def test_a_failing_item_is_its_own_outcome_and_the_rest_go_on(emulator: Emulator) -> None:
    async def picky(session: PooledSession, n: int) -> int:
        if n % 7 == 3:
            raise ValueError(f"item {n} is bad")
        await session.get(f"https://shop.test/{n}")
        return n * 2

    async with pool_on(emulator, max_size=3) as (_client, pool):
        run = pool.map(picky, range(50))
        outcomes = {o.index: o async for o in run}
    assert len(outcomes) == 50
    bad = {n for n in range(50) if n % 7 == 3}
    assert {n for n, o in outcomes.items() if not o.ok} == bad
    for n in bad:
        error = outcomes[n].error
        assert isinstance(error, ValueError) and outcomes[n].attempts == 1
        with pytest.raises(ValueError, match=f"item {n} is bad"):
            outcomes[n].result()
    assert all(outcomes[n].result() == n * 2 for n in set(range(50)) - bad)
    assert run.progress.failed == len(bad) and run.progress.errors == {"ValueError": len(bad)}
    assert emulator.state.account().requests_total == 50 - len(bad)


async def test_a_session_lost_mid_job_is_retried_on_a_fresh_one(emulator: Emulator) -> None:
    """The server closes the session under the job: the item is retried, not failed."""
    sessions_used: dict[int, list[str]] = {}

    async with pool_on(emulator, max_size=5) as (client, pool):

        async def job(session: PooledSession, n: int) -> int:
            sessions_used.setdefault(n, []).append(session.id)
            if n % 10 == 0 and len(sessions_used[n]) == 1:
                await client.sessions.close(session.id)  # gone behind the pool's back
            response = await session.get(f"https://shop.test/{n}")
            return response.status_code

        outcomes = await pool.map(job, range(40)).collect()
    state = emulator.state.account()
    assert all(o.ok and o.value == 200 for o in outcomes)
    lost = [o for o in outcomes if o.index % 10 == 0]
    assert all(o.attempts == 2 for o in lost)
    assert all(len(set(sessions_used[o.index])) == 2 for o in lost)  # a fresh session
    assert all(o.attempts == 1 for o in outcomes if o.index % 10)
    assert state.requests_on_closed == len(lost)
    assert state.active_sessions == 0


async def test_a_blocked_answer_retires_the_session_and_retries(emulator: Emulator) -> None:
    async with pool_on(emulator, max_size=2) as (_client, pool):
        once = await pool.map(fetch, ["https://walled.test/once/a"]).collect()
        always = await pool.map(fetch, ["https://walled.test/always/b"], retries=2).collect()
        stats = pool.stats()
    assert once[0].ok and once[0].result().status_code == 200 and once[0].attempts == 2
    # out of retries: the blocked answer itself is the outcome
    assert always[0].result().status_code == 403 and always[0].attempts == 3
    assert stats.retired >= 3  # every blocked session was closed, never handed on


async def test_other_api_errors_are_outcomes_not_retries(emulator: Emulator) -> None:
    async def send(session: PooledSession, url: str) -> Response:
        return await session.post(url, data="x")  # not idempotent: the client never replays it

    emulator.inject("service_error", endpoint="session/request", count=3)
    async with pool_on(emulator, max_size=1) as (_client, pool):
        outcomes = await pool.map(send, urls(10), concurrency=1, ordered=True).collect()
    failed = [o for o in outcomes if not o.ok]
    assert [type(o.error) for o in failed] == [ServiceError] * 3
    assert all(o.attempts == 1 for o in failed)
    assert sum(o.ok for o in outcomes) == 7


async def test_an_async_input_is_pulled_only_a_bounded_window_ahead(emulator: Emulator) -> None:
    pulled = consumed = ahead = 0

    async def source() -> AsyncIterator[str]:
        nonlocal pulled, ahead
        for url in urls(400):
            pulled += 1
            ahead = max(ahead, pulled - consumed)
            yield url

    async with pool_on(emulator, max_size=4) as (_client, pool):
        async with pool.map(fetch, source(), concurrency=4) as run:
            async for outcome in run:
                assert outcome.ok
                consumed += 1
                if consumed % 50 == 0:
                    await asyncio.sleep(0.01)  # a slow consumer must pause the input
    assert consumed == 400 and run.progress.total is None
    assert ahead <= 2 * 4 + 1


async def test_leaving_early_cancels_the_work_and_returns_every_session(
    emulator: Emulator,
) -> None:
    started = asyncio.Event()
    never = asyncio.Event()

    async def slow(session: PooledSession, n: int) -> int:
        if n >= 5:
            started.set()
            await never.wait()
        return n

    async with pool_on(emulator, max_size=4) as (_client, pool):
        async with pool.map(slow, range(10_000), concurrency=4) as run:
            async for _outcome in run:
                if started.is_set():
                    break
        assert pool.stats().leased == 0
        assert run.progress.started < 100
        lease = await pool.acquire(timeout=5)  # the pool still works
        await lease.release()


async def test_a_plain_async_for_that_breaks_gives_the_sessions_back(emulator: Emulator) -> None:
    async def hang(session: PooledSession, n: int) -> int:
        if n:
            await asyncio.Event().wait()
        return n

    async with pool_on(emulator, max_size=3) as (_client, pool):
        async for outcome in pool.map(hang, range(100), concurrency=3):
            assert outcome.index == 0
            break
        await eventually(lambda: pool.stats().leased == 0, what="leases given back")


async def test_cancelling_the_consumer_cancels_the_jobs(emulator: Emulator) -> None:
    running = asyncio.Event()

    async def hang(session: PooledSession, n: int) -> int:
        running.set()
        await asyncio.Event().wait()
        return n

    async with pool_on(emulator, max_size=3) as (_client, pool):

        async def consume() -> None:
            async for _ in pool.map(hang, range(100)):
                pass

        task = asyncio.create_task(consume())
        await running.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert pool.stats().leased == 0


async def test_an_item_timeout_is_the_items_outcome(emulator: Emulator) -> None:
    async def maybe_hang(session: PooledSession, n: int) -> int:
        if n == 1:
            await asyncio.Event().wait()
        return n

    async with pool_on(emulator, max_size=2) as (_client, pool):
        outcomes = await pool.map(maybe_hang, range(3), timeout=0.2, ordered=True).collect()
        assert pool.stats().leased == 0
    assert [o.ok for o in outcomes] == [True, False, True]
    assert isinstance(outcomes[1].error, TimeoutError)
    assert "within 0.2s" in str(outcomes[1].error)


async def test_an_input_that_fails_ends_the_map_with_its_error(emulator: Emulator) -> None:
    def broken() -> Iterator[str]:
        yield "https://shop.test/1"
        raise LookupError("the input broke")

    async with pool_on(emulator, max_size=2) as (_client, pool):
        with pytest.raises(LookupError, match="the input broke"):
            async for _ in pool.map(fetch, broken()):
                pass
        assert pool.stats().leased == 0


async def test_a_map_over_an_endless_input_ends_when_its_pool_closes(emulator: Emulator) -> None:
    def endless() -> Iterator[str]:
        n = 0
        while True:
            n += 1
            yield f"https://shop.test/{n}"

    seen: list[Outcome[str, Response]] = []
    closing: list[asyncio.Task[object]] = []
    async with pool_on(emulator, max_size=3) as (_client, pool):

        async def consume() -> None:
            async for outcome in pool.map(fetch, endless()):
                seen.append(outcome)
                if len(seen) == 20:
                    closing.append(asyncio.create_task(pool.aclose()))

        with pytest.raises(PoolClosedError, match="the rest of the input was not taken"):
            await consume()
        await closing[0]
        assert pool.stats().leased == 0
    assert len(seen) >= 20 and len({o.index for o in seen}) == len(seen)
    assert all(o.ok or isinstance(o.error, PoolClosedError) for o in seen)
    assert emulator.state.account().active_sessions == 0


async def test_run_retries_a_lost_session_and_returns_the_value(emulator: Emulator) -> None:
    calls: list[str] = []
    async with pool_on(emulator, max_size=2) as (client, pool):

        async def job(session: PooledSession, url: str, suffix: str) -> int:
            calls.append(session.id)
            if len(calls) == 1:
                await client.sessions.close(session.id)
            response = await session.get(url + suffix)
            return response.status_code

        assert await pool.run(job, "https://shop.test/", "x") == 200

        async def fails(session: PooledSession) -> None:
            raise SessionClosedError("gone for good", code="SESSION_CLOSED")

        with pytest.raises(SessionClosedError):
            await pool.run(fails, retries=1)
    assert len(calls) == 2 and calls[0] != calls[1]


async def test_bad_arguments_fail_at_the_call(emulator: Emulator) -> None:
    async with pool_on(emulator, max_size=1) as (_client, pool):
        with pytest.raises(ValueError, match="concurrency"):
            pool.map(fetch, [], concurrency=0)
        with pytest.raises(TypeError, match="retries"):
            pool.map(fetch, [], retries=1.5)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="timeout"):
            pool.map(fetch, [], timeout=-1)
        with pytest.raises(TypeError, match="items"):
            pool.map(fetch, 42)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="retries"):
            await pool.run(fetch, "https://shop.test/", retries=-1)
        nothing: list[str] = []
        empty: list[Outcome[str, Response]] = await pool.map(fetch, nothing).collect()
        assert empty == []


async def test_the_default_concurrency_follows_a_capacity_shrunk_by_other_sessions(
    emulator: Emulator,
) -> None:
    """Seven sessions held by someone else on the account: the pool gets three, and the map
    runs at most three jobs at once instead of queueing ten behind them."""
    async with BBREClient(api_key=KEY, base_url=emulator.base_url) as other:
        foreign = [await other.sessions.create(mode="passive") for _ in range(7)]
        waiting_late: list[int] = []
        async with pool_on(emulator, max_size=10, reconcile_interval=None) as (_client, pool):

            async def job(session: PooledSession, n: int) -> int:
                if n >= 50:  # taken long after the first creates met the account's cap
                    waiting_late.append(pool.stats().waiters)
                return (await session.get(f"https://shop.test/{n}")).status_code

            outcomes = await pool.map(job, range(150)).collect()
            capacity = pool.stats().capacity
        for session in foreign:
            await session.close()
    state = emulator.state.account()
    assert all(o.ok for o in outcomes) and len(outcomes) == 150
    assert capacity == 3 and state.peak_active_sessions <= 10
    # three jobs for three sessions: nobody stands in the acquire queue (seven would)
    assert len(waiting_late) == 100 and max(waiting_late) == 0
