"""Cancel every public coroutine of the pool and the client at each of its await points.

A ``Stepper`` numbers every suspension the code under test makes at its boundaries: the
transport sending a call and reading its answer, the emulator holding the call server-side,
the ledger's disk writes, and the client's retry sleeps. A first run counts them; then, for
each N, a fresh run parks the Nth one, cancels the caller (or lets an ``asyncio.timeout``
expire) right there, opens the gate, and checks that nothing was lost: the pool's books
balance, no lease is stuck, the server holds only what the pool knows, ``aclose`` leaves
nothing active, and no task or file descriptor outlives the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from bbre_async import (
    AiohttpTransport,
    BBREClient,
    PoolTimeoutError,
    TransportRequest,
    TransportResponse,
)
from bbre_async.coordination import LocalCoordinator
from bbre_async.coordination._base import EntryState, LedgerEntry, OwnerInfo
from bbre_async.coordination._sqlite_ledger import SqliteLedger
from bbre_async.emulator import (
    AccountSpec,
    Emulator,
    EmulatorSettings,
    ManualClock,
    running_emulator,
)
from bbre_async.pool import PoolEvent, SessionPool
from tests.waiting import eventually as wait_until

from .conftest import fd_count, settle_resources, task_count

RICH = (AccountSpec(api_key="test-key", balance=1e9),)
DEAD = OwnerInfo(host="gone-host.invalid", pid=999_999, pid_start=1.0, pool_id="dead")


class Stepper:
    """Numbers await points; parks the ``park_at``-th one until ``gate`` opens."""

    def __init__(self) -> None:
        self.enabled = False
        self.count = 0
        self.park_at: int | None = None
        self.parked = asyncio.Event()
        self.gate = asyncio.Event()
        self.trace: list[str] = []

    def arm(self, park_at: int | None) -> None:
        self.enabled = True
        self.count = 0
        self.park_at = park_at
        self.parked = asyncio.Event()
        self.gate = asyncio.Event()
        self.trace = []

    def disarm(self) -> None:
        self.enabled = False
        self.gate.set()

    async def point(self, name: str) -> None:
        if not self.enabled:
            await asyncio.sleep(0)
            return
        self.count += 1
        self.trace.append(name)
        if self.count == self.park_at:
            self.parked.set()
            await self.gate.wait()
        else:
            await asyncio.sleep(0)


def instrument_server(emu: Emulator, stepper: Stepper) -> None:
    """Every call pauses server-side at a stepper point (the request is in flight)."""
    emu.set_latency(default=1e-9)  # turns the engine's pause on
    engine = emu.engine

    async def pause(endpoint: str, mode: str | None = None, extra: float = 0.0) -> None:
        await stepper.point(f"server {endpoint}")
        if extra:
            await asyncio.sleep(extra)

    engine.pause = pause  # type: ignore[method-assign]


class SteppedTransport:
    """The default transport behind the public seam, with a point before each HTTP attempt
    is sent and after its answer arrives."""

    def __init__(self, stepper: Stepper) -> None:
        self.inner = AiohttpTransport()
        self.stepper = stepper

    async def handle_async_request(self, request: TransportRequest) -> TransportResponse:
        path = urlsplit(request.url).path
        await self.stepper.point(f"send {path}")
        response = await self.inner.handle_async_request(request)
        await self.stepper.point(f"answer {path}")
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


def stepped_client(emu: Emulator, stepper: Stepper, **options: Any) -> BBREClient:
    return BBREClient(
        api_key="test-key", base_url=emu.base_url, transport=SteppedTransport(stepper), **options
    )


class SteppedLedger:
    """A real SQLite ledger with a point before every statement."""

    def __init__(self, inner: SqliteLedger, stepper: Stepper) -> None:
        self.inner = inner
        self.stepper = stepper

    async def record(self, entry: LedgerEntry) -> None:
        await self.stepper.point(f"ledger record {entry.state.value}")
        await self.inner.record(entry)

    async def remove(self, intent_id: str) -> None:
        await self.stepper.point("ledger remove")
        await self.inner.remove(intent_id)

    async def heartbeat(self, owner: OwnerInfo) -> None:
        await self.inner.heartbeat(owner)  # timing-driven: not a numbered point

    async def entries(self) -> list[LedgerEntry]:
        await self.stepper.point("ledger entries")
        return await self.inner.entries()

    async def claim(self, intent_id: str, new_owner: OwnerInfo, *, stale_after: float) -> bool:
        await self.stepper.point("ledger claim")
        return await self.inner.claim(intent_id, new_owner, stale_after=stale_after)

    async def aclose(self) -> None:
        await self.stepper.point("ledger close")
        await self.inner.aclose()


@contextlib.asynccontextmanager
async def emulator(
    session_cap: int = 10, clock: ManualClock | None = None
) -> AsyncIterator[Emulator]:
    settings = EmulatorSettings(
        accounts=RICH, sweep_interval=None, time_scale=100.0, session_cap=session_cap
    )
    async with running_emulator(settings, clock=clock) as emu:
        emu.set_faults(retry_after=0.01)
        yield emu


def server_active(emu: Emulator) -> set[str]:
    return set(emu.state.account().active_session_ids)


def check_books(
    pool: SessionPool, emu: Emulator, *, holding: int = 0, foreign: frozenset[str] = frozenset()
) -> None:
    """The pool's counters agree with its entries and with the server."""
    stats = pool.stats()
    entries = pool.session_ids()
    lingering = stats.unresolved + stats.held_until_expiry
    assert stats.size == len(entries) + stats.creating + lingering, stats
    assert stats.size <= pool.config.max_size
    assert stats.leased == holding, (stats, entries)
    assert stats.idle + stats.leased <= len(entries)
    # Everything alive on the server is a session this pool knows (none leaked).
    active = server_active(emu) - foreign
    assert active <= set(pool.session_ids()), (active, entries)
    # A request cut mid-flight may still run remotely: its session is never handed on.
    state = emu.state.account()
    assert state.concurrent_request_violations == 0
    assert state.requests_on_closed == 0 and state.requests_on_expired == 0


async def quiet(pool: SessionPool) -> None:
    """Wait (bounded) until no create, close, renewal or request (a cancelled caller's, which
    finishes in the background before its session comes back) is in flight."""
    await wait_until(
        lambda: (lambda s: s.creating == 0 and s.closing == 0 and s.size == s.idle)(pool.stats()),
        what="pool background work to finish",
    )


Scenario = Callable[[], Awaitable[None]]


async def run_parked(
    stepper: Stepper,
    park_at: int,
    body: Scenario,
    how: str,
    meanwhile: Scenario | None = None,
) -> tuple[bool, BaseException | None]:
    """Run ``body`` with point ``park_at`` parked; interrupt it there; run ``meanwhile``
    while the parked work is still held (so a session whose request is still running
    remotely would be caught if handed on). Returns whether the point was reached and what
    the body raised."""
    stepper.arm(park_at)
    loop = asyncio.get_running_loop()

    async def caller() -> None:
        if how == "timeout":
            async with asyncio.timeout(None) as scope:
                scopes.append(scope)
                await body()
        else:
            await body()

    scopes: list[asyncio.Timeout] = []
    task = asyncio.ensure_future(caller())
    parked = asyncio.ensure_future(stepper.parked.wait())
    await asyncio.wait({task, parked}, return_when=asyncio.FIRST_COMPLETED)
    reached = parked.done()
    parked.cancel()
    if reached and not task.done():
        if how == "timeout":
            scopes[0].reschedule(loop.time())
        else:
            task.cancel()
        # Let the interruption land while the point is still parked.
        await asyncio.wait({task}, timeout=5)
        if meanwhile is not None:
            await meanwhile()
    stepper.disarm()
    error: BaseException | None = None
    try:
        await asyncio.wait_for(task, 10)
    except BaseException as exc:  # what the caller saw
        error = exc
    if reached:
        expected = (asyncio.CancelledError, TimeoutError)
        assert error is None or isinstance(error, expected), (
            f"interrupting at {stepper.trace[-1]!r} surfaced {error!r}"
        )
        if isinstance(error, TimeoutError):
            assert how == "timeout"
    return reached, error


async def count_points(stepper: Stepper, body: Scenario) -> list[str]:
    stepper.arm(None)
    await body()
    stepper.disarm()
    return list(stepper.trace)


# ------------------------------------------------------------------------------- the pool

PoolSetup = Callable[[SessionPool, Emulator, BBREClient], Awaitable[None]]


async def make_pool(
    emu: Emulator, stepper: Stepper, tmp_path: Path, n: int, **settings: Any
) -> tuple[BBREClient, SessionPool]:
    client = stepped_client(emu, stepper)
    ledger = await SqliteLedger.open(tmp_path / f"ledger-{n}.db")
    coordinator = LocalCoordinator(capacity=10, ledger=SteppedLedger(ledger, stepper))
    settings.setdefault("max_size", 3)
    settings.setdefault("acquire_timeout", 10.0)
    settings.setdefault("close_timeout", 2.0)
    pool = SessionPool(client, coordinator=coordinator, **settings)
    return client, pool


async def scenario_acquire(pool: SessionPool, emu: Emulator) -> Scenario:
    async def body() -> None:
        async with pool.acquire() as lease:
            await lease.get("https://target.test/a")
            await lease.get("https://target.test/b")

    return body


async def scenario_request(pool: SessionPool, emu: Emulator) -> Scenario:
    lease = await pool.acquire()  # held before the measured part

    async def body() -> None:
        try:
            await lease.get("https://target.test/a")
        finally:
            await lease.release()

    return body


async def scenario_renewing_acquire(pool: SessionPool, emu: Emulator) -> Scenario:
    # Two idle sessions whose retirement makes the next acquire wait on a fresh create and
    # on closes in the background.
    held = [await pool.acquire() for _ in range(2)]
    for lease in held:
        await lease.close()

    async def body() -> None:
        lease = await pool.acquire()
        try:
            await lease.get("https://target.test/a")
        finally:
            await lease.release()

    return body


POOL_SCENARIOS = {
    "acquire+request+exit": scenario_acquire,
    "lease.request+release": scenario_request,
    "acquire-during-retirement": scenario_renewing_acquire,
}


@pytest.mark.parametrize("how", ["cancel", "timeout"])
@pytest.mark.parametrize("name", list(POOL_SCENARIOS))
async def test_pool_calls_survive_interruption_at_every_point(
    tmp_path: Path, name: str, how: str
) -> None:
    make = POOL_SCENARIOS[name]
    stepper = Stepper()
    async with emulator() as emu:
        instrument_server(emu, stepper)
        points = None
        parked_runs = 0
        n = 0
        while points is None or n <= len(points):
            tasks_before, fds_before = task_count(), fd_count()
            client, pool = await make_pool(emu, stepper, tmp_path, n)
            async with client:
                await pool.open()
                body = await make(pool, emu)
                if points is None:
                    points = await count_points(stepper, body)
                    assert len(points) >= 3, points
                else:

                    async def meanwhile(pool: SessionPool = pool) -> None:
                        # Nothing to check when the parked point is the create it would need.
                        with contextlib.suppress(PoolTimeoutError):
                            async with pool.acquire(timeout=0.3) as lease:
                                await lease.get("https://target.test/meanwhile")

                    reached, _ = await run_parked(stepper, n, body, how, meanwhile)
                    parked_runs += reached
                await quiet(pool)
                check_books(pool, emu)
                # Still fully usable.
                async with pool.acquire(timeout=5) as lease:
                    await lease.get("https://target.test/after")
                summary = await pool.aclose()
                assert summary.failed == []
                assert server_active(emu) == set(), f"left active after point {n}"
                assert pool.stats().size == 0
            left = await settle_resources(tasks_before, fds_before)
            before = (tasks_before, fds_before)
            assert left[0] <= tasks_before and left[1] <= fds_before, (
                f"leaked after point {n} ({stepper.trace[-1:]}): {left} vs {before}"
            )
            n += 1
        assert points is not None
        # Background closes and creates interleave with the body differently run to run (how
        # many land before it ends is the scheduler's choice), so positions of the first trace
        # need not recur; the sweep must still have interrupted the body at most of them.
        assert parked_runs >= len(points) // 2, (parked_runs, points)


@pytest.mark.parametrize("how", ["cancel", "timeout"])
@pytest.mark.parametrize("name", list(POOL_SCENARIOS))
async def test_pool_calls_survive_cancellation_at_every_pool_event(
    tmp_path: Path, name: str, how: str
) -> None:
    """Cancel the caller synchronously from inside the pool, at its k-th event (a session
    created and handed over, acquired, released, retired, closed): the tightest races, e.g. a
    session handed to a waiter in the same instant the waiter is cancelled."""
    make = POOL_SCENARIOS[name]
    stepper = Stepper()  # never armed: only the pool's own events are cut points
    async with emulator() as emu:
        events: list[str] = []
        n = 0
        total: int | None = None
        while total is None or n <= total:
            tasks_before, fds_before = task_count(), fd_count()
            client, pool = await make_pool(emu, stepper, tmp_path, n)
            async with client:
                await pool.open()
                body = await make(pool, emu)
                seen: list[str] = []
                caller: list[asyncio.Task[None]] = []
                scopes: list[asyncio.Timeout] = []

                def on_event(
                    event: PoolEvent,
                    n: int = n,
                    seen: list[str] = seen,
                    caller: list[asyncio.Task[None]] = caller,
                    scopes: list[asyncio.Timeout] = scopes,
                ) -> None:
                    seen.append(event.kind.value)
                    if len(seen) == n and caller and not caller[0].done():
                        if how == "timeout" and scopes:
                            scopes[0].reschedule(asyncio.get_running_loop().time())
                        else:
                            caller[0].cancel()

                pool.add_listener(on_event)

                async def run(
                    body: Scenario = body, scopes: list[asyncio.Timeout] = scopes
                ) -> None:
                    if how == "timeout":
                        async with asyncio.timeout(None) as scope:
                            scopes.append(scope)
                            await body()
                    else:
                        await body()

                caller.append(asyncio.ensure_future(run()))
                with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                    await asyncio.wait_for(caller[0], 10)
                if total is None:
                    total = len(seen)
                    events = list(seen)
                    assert total >= 1, events
                await quiet(pool)
                check_books(pool, emu)
                async with pool.acquire(timeout=5) as lease:
                    await lease.get("https://target.test/after")
                check_books(pool, emu)
                summary = await pool.aclose()
                assert summary.failed == []
                assert server_active(emu) == set(), f"left active after event {n}"
            left = await settle_resources(tasks_before, fds_before)
            assert left[0] <= tasks_before and left[1] <= fds_before, (n, events, left)
            n += 1


async def test_aclose_cut_short_by_wait_for_still_finishes(tmp_path: Path) -> None:
    async with emulator() as emu:
        emu.set_latency(endpoints={"session/close": 0.2})
        tasks_before, fds_before = task_count(), fd_count()
        async with BBREClient(api_key="test-key", base_url=emu.base_url) as client:
            pool = SessionPool(client, max_size=2, ledger_path=tmp_path / "l.db")
            await pool.open()
            leases = [await pool.acquire() for _ in range(2)]
            for lease in leases:
                await lease.release()
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(pool.aclose(), 0.05)
            # The closes go on by themselves; a second aclose waits for them and returns.
            async with asyncio.timeout(2):
                summary = await pool.aclose()
            assert pool.state == "closed"
            assert summary.closed == 2 and summary.failed == []
            assert server_active(emu) == set()
        left = await settle_resources(tasks_before, fds_before)
        assert left[0] <= tasks_before and left[1] <= fds_before, left


async def test_aclose_interrupted_at_every_point_still_closes_everything(tmp_path: Path) -> None:
    stepper = Stepper()
    async with emulator() as emu:
        instrument_server(emu, stepper)
        points: list[str] | None = None
        n = 0
        while points is None or n <= len(points):
            for how in ("cancel", "timeout"):
                tasks_before, fds_before = task_count(), fd_count()
                client, pool = await make_pool(emu, stepper, tmp_path, n)
                async with client:
                    await pool.open()
                    leases = [await pool.acquire() for _ in range(3)]
                    await leases[0].get("https://target.test/a")
                    for lease in leases:
                        await lease.release()
                    assert len(server_active(emu)) == 3

                    async def body(pool: SessionPool = pool) -> None:
                        await pool.aclose()

                    if points is None:
                        points = await count_points(stepper, body)
                        assert any("close" in p for p in points), points
                    else:
                        await run_parked(stepper, n, body, how)

                    # Cleanup was shielded: once the gate opens it runs to the end.
                    def closed(closing: SessionPool = pool) -> bool:
                        return closing.state == "closed"

                    await wait_until(
                        closed,
                        timeout=2.0,
                        what=f"{how} at point {n} {stepper.trace[-1:]}: the pool to close",
                    )
                    summary = await pool.aclose()  # a second call returns the same summary
                    assert pool.closed
                    assert summary.failed == []
                    assert server_active(emu) == set(), f"aclose cut at point {n} leaked"
                    assert pool.stats().size == 0 and pool.stats().leased == 0
                left = await settle_resources(tasks_before, fds_before)
                assert left[0] <= tasks_before and left[1] <= fds_before, (n, left)
                if points is not None and n == 0:
                    break  # the counting run is not repeated per mode
            n += 1


async def test_open_interrupted_at_every_point_leaks_nothing(tmp_path: Path) -> None:
    """``open`` reaps a dead process's session and pre-warms two; cut it anywhere, then
    ``aclose``: nothing this pool made is left, and the dead one's session is gone or still
    recorded for the next reaper."""
    stepper = Stepper()
    async with emulator() as emu:
        instrument_server(emu, stepper)
        points: list[str] | None = None
        n = 0
        while points is None or n <= len(points):
            for how in ("cancel", "timeout"):
                tasks_before, fds_before = task_count(), fd_count()
                client, pool = await make_pool(emu, stepper, tmp_path, n, min_size=2)
                async with client:
                    orphan = await client.sessions.create()
                    ledger = pool.coordinator.ledger
                    stale = time.time() - 3600
                    await ledger.inner.record(  # type: ignore[attr-defined]
                        LedgerEntry(
                            intent_id=f"orphan-{n}-{how}",
                            owner=DEAD,
                            state=EntryState.ACTIVE,
                            created_at=stale,
                            heartbeat_at=stale,
                            session_id=orphan.id,
                        )
                    )

                    async def body(pool: SessionPool = pool) -> None:
                        await pool.open()

                    if points is None:
                        points = await count_points(stepper, body)
                        assert any("session/close" in p for p in points), points
                        assert sum("session/create" in p for p in points) >= 2, points
                    else:
                        await run_parked(stepper, n, body, how)
                    await quiet(pool)
                    check_books(pool, emu, foreign=frozenset({orphan.id}))
                    summary = await pool.aclose()
                    assert summary.failed == []
                    left_active = server_active(emu)
                    assert left_active <= {orphan.id}, f"open cut at point {n} leaked"
                    if left_active:  # the reap was cut short: the orphan is still on record
                        rows = await SqliteLedger.open(tmp_path / f"ledger-{n}.db")
                        try:
                            ids = {e.session_id for e in await rows.entries()}
                        finally:
                            await rows.aclose()
                        assert orphan.id in ids
                        await client.sessions.close(orphan.id)
                left = await settle_resources(tasks_before, fds_before)
                assert left[0] <= tasks_before and left[1] <= fds_before, (n, left)
                if points is not None and n == 0:
                    break
            n += 1


# ----------------------------------------------------------------------------- the client


async def client_scenarios(
    client: BBREClient, emu: Emulator, seen: list[str]
) -> dict[str, Scenario]:
    existing = await client.sessions.create()

    async def create() -> None:
        emu.inject("rate_limit", endpoint="session/create")  # one retry wait too
        session = await client.sessions.create()
        await session.close()

    async def status() -> None:
        emu.inject("service_error", endpoint="session/status")
        await client.sessions.status(existing.id)

    async def close() -> None:
        session = await client.sessions.create()
        emu.inject("service_error", endpoint="session/close")
        await client.sessions.close(session.id)

    async def request() -> None:
        emu.inject("rate_limit", endpoint="session/request")
        await client.sessions.request(existing.id, "GET", "https://target.test/x")
        await existing.get("https://target.test/y")

    async def run() -> None:
        await client.requests.run("https://target.test/task", poll_interval=0.005)

    async def listing() -> None:
        rows = [s.id async for s in client.account.sessions(status="active", page_size=2)]
        assert rows

    async def context() -> None:
        async with await client.sessions.create() as session:
            seen.append(session.id)
            await session.get("https://target.test/in-context")

    return {
        "sessions.create": create,
        "sessions.status": status,
        "sessions.close": close,
        "sessions.request": request,
        "requests.run": run,
        "account.sessions": listing,
        "Session context": context,
    }


CLIENT_CALLS = [
    "sessions.create",
    "sessions.status",
    "sessions.close",
    "sessions.request",
    "requests.run",
    "account.sessions",
    "Session context",
]


@pytest.mark.parametrize("how", ["cancel", "timeout"])
@pytest.mark.parametrize("call", CLIENT_CALLS)
async def test_client_calls_survive_interruption_at_every_point(call: str, how: str) -> None:
    stepper = Stepper()
    # The server's clock moves only when the client sleeps: how many polls a task takes is
    # then the same in every run, however busy the machine.
    clock = ManualClock(time.time())

    async def stepped_sleep(seconds: float) -> None:
        await stepper.point("retry/poll sleep")
        clock.advance(seconds)

    async with emulator(session_cap=10_000, clock=clock) as emu:
        instrument_server(emu, stepper)
        async with BBREClient(api_key="test-key", base_url=emu.base_url) as setup:
            for _ in range(4):  # enough rows for three listing pages
                await setup.sessions.create()
        points: list[str] | None = None
        n = 0
        while points is None or n <= len(points):
            tasks_before, fds_before = task_count(), fd_count()
            async with stepped_client(emu, stepper, sleep=stepped_sleep) as client:
                seen: list[str] = []
                body = (await client_scenarios(client, emu, seen))[call]
                if points is None:
                    points = await count_points(stepper, body)
                    assert len(points) >= 4, points
                else:
                    reached, _ = await run_parked(stepper, n, body, how)
                    assert reached or n == len(points), (n, points)
                emu.clear_faults()
                emu.set_faults(retry_after=0.01)
                # The connection pool is not poisoned by the interrupted call.
                assert await client.account.balance() > 0
                # A session the caller held in ``async with`` was closed on the way out.
                leaked = set(seen) & server_active(emu)
                assert not leaked, f"{how} at point {n} {stepper.trace[-1:]} leaked {leaked}"
            left = await settle_resources(tasks_before, fds_before)
            assert left[0] <= tasks_before, f"task leaked after point {n}: {left}"
            assert left[1] <= fds_before, f"fd leaked after point {n}: {left}"
            n += 1


async def test_an_interrupted_call_is_never_reported_as_a_bbre_error() -> None:
    """A cancelled call must not be turned into ``APIConnectionError`` by the transport."""
    stepper = Stepper()
    async with emulator() as emu:
        instrument_server(emu, stepper)
        async with BBREClient(api_key="test-key", base_url=emu.base_url) as client:
            stepper.arm(1)  # park the server side of the first call

            async def body() -> None:
                await client.account.balance()

            task = asyncio.ensure_future(body())
            await stepper.parked.wait()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            stepper.disarm()
            assert task.cancelled()
