"""The pool against the real emulator over loopback sockets."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest

from bbre_async import BBREClient
from bbre_async.emulator import Emulator, EmulatorSettings, Faults, running_emulator
from bbre_async.pool import PoolEvent, SessionPool
from tests.waiting import eventually as wait_for

from .conftest import RICH, start_worker


async def test_many_tasks_share_ten_sessions_across_lives(tmp_path: Path) -> None:
    # 300 s lives in 5 s of real time, renewed with 2 s to spare: a loaded machine's event-loop
    # lag stays far inside that margin, and 2,400 requests at 30 ms over 10 sessions still
    # outlast a life, so every session is renewed at least once.
    settings = EmulatorSettings(accounts=RICH, time_scale=60.0, sweep_interval=0.05)
    async with running_emulator(settings) as fast_emulator:
        await _share_ten_sessions(fast_emulator, tmp_path)


async def _share_ten_sessions(fast_emulator: Emulator, tmp_path: Path) -> None:
    fast_emulator.set_latency(endpoints={"session/request": 0.03})
    async with BBREClient(api_key="test-key", base_url=fast_emulator.base_url) as client:
        async with SessionPool(
            client,
            max_size=10,
            ledger_path=tmp_path / "l.db",
            acquire_timeout=30,
            max_margin_fraction=0.4,
        ) as pool:
            failures: list[BaseException] = []

            async def worker(n: int) -> None:
                for i in range(40):
                    async with pool.acquire() as lease:
                        try:
                            await lease.get(f"https://target.test/{n}/{i}")
                        except Exception as error:
                            failures.append(error)

            await asyncio.gather(*(worker(n) for n in range(60)))
            stats = pool.stats()
        state = fast_emulator.state.account()
    assert failures == []
    assert stats.requests == 2400
    assert stats.renewed >= 10  # several generations of sessions came and went
    assert state.peak_active_sessions <= 10
    assert state.cap_rejections == 0
    assert state.requests_on_expired == 0 and state.requests_on_closed == 0
    assert state.concurrent_request_violations == 0
    assert state.active_sessions == 0  # everything closed on exit


async def test_lost_create_answers_are_never_adopted(emulator: Emulator, tmp_path: Path) -> None:
    emulator.inject("lost_answer", endpoint="session/create", count=2)
    async with BBREClient(api_key="test-key", base_url=emulator.base_url) as client:
        async with SessionPool(client, max_size=5, ledger_path=tmp_path / "l.db") as pool:
            leases = [await pool.acquire() for _ in range(3)]
            for lease in leases:
                await lease.get("https://target.test/x")
                await lease.release()
            stats = pool.stats()
        state = emulator.state.account()
    # The sessions of lost answers cannot be told from another client's: never adopted, their
    # slots held until they would have expired, and left to expire (or to reap_foreign).
    assert stats.adopted == 0 and stats.unresolved == 2
    assert state.sessions_created == 5
    assert state.active_sessions <= 2


async def test_capacity_adapts_when_another_program_holds_slots(
    emulator: Emulator, tmp_path: Path
) -> None:
    async with BBREClient(api_key="test-key", base_url=emulator.base_url) as client:
        foreign = [await client.sessions.create() for _ in range(4)]
        async with SessionPool(
            client,
            max_size=10,
            ledger_path=tmp_path / "l.db",
            capacity_probe_backoff=0.2,
            create_backoff_max=0.5,
        ) as pool:
            probes: list[PoolEvent] = []
            pool.add_listener(
                lambda e: probes.append(e) if e.detail.startswith("probing") else None
            )
            tasks = [asyncio.ensure_future(pool.acquire(timeout=20)) for _ in range(10)]
            await wait_for(lambda: sum(t.done() for t in tasks) == 6)
            first_burst = emulator.state.account().cap_rejections
            assert first_burst <= 4  # only the creates that raced into the 4 held slots
            seen = len(probes)
            await wait_for(lambda: len(probes) >= seen + 3)  # three probes at the full account
            # One create per probe and no more: backpressure, not a retry storm.
            assert emulator.state.account().cap_rejections - first_burst <= len(probes) - seen + 1
            for session in foreign:
                await session.close()
            await wait_for(lambda: all(t.done() for t in tasks))
            assert emulator.state.account().peak_active_sessions == 10
            for task in tasks:
                await task.result().release()
    assert emulator.state.account().active_sessions == 0


async def test_sigterm_closes_every_leased_session(emulator: Emulator, tmp_path: Path) -> None:
    process = await start_worker("hold", emulator.base_url, "10", str(tmp_path / "l.db"))
    assert emulator.state.account().active_sessions == 10
    loop = asyncio.get_running_loop()
    started = loop.time()
    process.send_signal(signal.SIGTERM)
    code = await asyncio.wait_for(process.wait(), 15)
    elapsed = loop.time() - started
    assert code == -signal.SIGTERM  # the signal was handed back: the program exits as it would
    assert elapsed < 10
    assert emulator.state.account().active_sessions == 0
    assert emulator.state.account().sessions_closed == 10


@pytest.mark.parametrize(("mode", "count"), [("readme", "10"), ("loop", "20")])
async def test_sigterm_with_default_settings_leaves_nothing_active(
    emulator: Emulator, tmp_path: Path, mode: str, count: str
) -> None:
    """The README's example, and 20 workers that catch errors and retry, both on default
    settings: SIGTERM closes every session and the process exits as SIGTERM makes it."""
    process = await start_worker(mode, emulator.base_url, count, str(tmp_path / "l.db"))
    assert emulator.state.account().active_sessions == 10
    loop = asyncio.get_running_loop()
    started = loop.time()
    process.send_signal(signal.SIGTERM)
    code = await asyncio.wait_for(process.wait(), 60)
    elapsed = loop.time() - started
    assert code == -signal.SIGTERM
    assert elapsed < 30 + 1  # the default shutdown_timeout, plus a second
    assert emulator.state.account().active_sessions == 0


async def test_sigint_also_closes_everything(emulator: Emulator, tmp_path: Path) -> None:
    process = await start_worker("hold", emulator.base_url, "3", str(tmp_path / "l.db"))
    process.send_signal(signal.SIGINT)
    code = await asyncio.wait_for(process.wait(), 60)  # a hang bound, not a speed check
    assert code == -signal.SIGINT  # KeyboardInterrupt, as without the pool
    assert emulator.state.account().active_sessions == 0


async def test_the_signal_is_handed_on_before_the_program_moves_past_the_close(
    emulator: Emulator,
) -> None:
    """A program that ends the moment the close returns still ends by its signal (Ctrl-C is a
    KeyboardInterrupt), not by the error the closed pool gave its loop."""
    process = await start_worker("abrupt", emulator.base_url)
    process.send_signal(signal.SIGINT)
    code = await asyncio.wait_for(process.wait(), 60)
    assert process.stderr is not None
    err = (await process.stderr.read()).decode()
    assert code == -signal.SIGINT, err[-2000:]
    assert "KeyboardInterrupt" in err.splitlines(), err[-2000:]  # not PoolClosedError
    assert emulator.state.account().active_sessions == 0


async def test_a_signal_the_program_ignores_is_left_alone(emulator: Emulator) -> None:
    process = await start_worker("ignores-sigint", emulator.base_url)
    process.send_signal(signal.SIGINT)  # ignored: the pool must not close on it
    process.send_signal(signal.SIGTERM)  # handled in order after it, were it handled
    code = await asyncio.wait_for(process.wait(), 60)
    assert process.stderr is not None
    err = (await process.stderr.read()).decode()
    assert code == -signal.SIGTERM
    assert "SIGTERM received" in err and "SIGINT" not in err
    assert emulator.state.account().active_sessions == 0


@pytest.mark.parametrize("mode", ["two-pools", "two-pools-app"])
async def test_sigterm_closes_every_pool_and_reaches_the_applications_handler(
    emulator: Emulator, mode: str
) -> None:
    process = await start_worker(mode, emulator.base_url)
    assert emulator.state.account().active_sessions == 10
    process.send_signal(signal.SIGTERM)
    code = await asyncio.wait_for(process.wait(), 60)
    assert process.stdout is not None
    out = (await process.stdout.read()).decode()
    assert emulator.state.account().active_sessions == 0  # both pools closed theirs
    if mode == "two-pools-app":
        assert "the application's handler ran" in out
        assert code == 0  # the application's handler decided how the program ends
    else:
        assert code == -signal.SIGTERM


async def test_a_killed_workers_sessions_are_reaped_by_the_next_start(
    emulator: Emulator, tmp_path: Path
) -> None:
    ledger = tmp_path / "ledger.db"
    process = await start_worker("hold-kill", emulator.base_url, "5", str(ledger))
    assert emulator.state.account().active_sessions == 5
    process.kill()
    await process.wait()
    assert emulator.state.account().active_sessions == 5  # leaked: nobody closed them
    async with BBREClient(api_key="test-key", base_url=emulator.base_url) as client:
        async with SessionPool(client, max_size=10, ledger_path=ledger):
            # Reaped during open, long before the 300 s expiry.
            assert emulator.state.account().active_sessions == 0
    assert emulator.state.account().sessions_closed == 5


async def test_two_live_pools_on_one_ledger_never_reap_each_other(
    emulator: Emulator, tmp_path: Path
) -> None:
    ledger = tmp_path / "ledger.db"
    process = await start_worker("hold-kill", emulator.base_url, "3", str(ledger))
    try:
        async with BBREClient(api_key="test-key", base_url=emulator.base_url) as client:
            async with SessionPool(
                client, max_size=5, ledger_path=ledger, reconcile_interval=0.1
            ) as pool:
                async with pool.acquire() as lease:
                    await lease.get("https://target.test/mine")
                assert (
                    emulator.state.account().active_sessions == 4
                )  # the live worker's 3 are untouched
    finally:
        process.kill()
        await process.wait()


async def test_faulty_server_still_leaves_nothing_behind(
    emulator: Emulator, tmp_path: Path
) -> None:
    emulator.set_faults(
        Faults(
            service_error=0.05,
            bad_gateway=0.03,
            lost_answer=0.02,
            drop=0.02,
            rate_limit=0.02,
            retry_after=0.01,
        )
    )
    errors: list[BaseException] = []
    async with BBREClient(api_key="test-key", base_url=emulator.base_url, max_retries=3) as client:
        async with SessionPool(
            client,
            max_size=10,
            ledger_path=tmp_path / "l.db",
            create_backoff=0.05,
            create_backoff_max=0.2,
        ) as pool:

            async def worker(n: int) -> None:
                for i in range(10):
                    try:
                        async with pool.acquire(timeout=20) as lease:
                            await lease.get(f"https://target.test/{n}/{i}")
                    except Exception as error:  # every failure must be typed
                        errors.append(error)

            await asyncio.gather(*(worker(n) for n in range(30)))
        emulator.clear_faults()
    from bbre_async import BBREError

    assert all(isinstance(e, BBREError) for e in errors), errors[:3]
    state = emulator.state.account()
    assert state.peak_active_sessions <= 10
    assert state.concurrent_request_violations == 0
    assert state.active_sessions == 0
