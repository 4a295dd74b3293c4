"""Pool metrics read back from the OpenTelemetry SDK's in-memory reader, judged by the
emulator's own counters."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bbre_async import BBREClient, CostModel, PooledSession, Response, SessionPool
from bbre_async.emulator import Emulator, EmulatorSettings, TargetRule, running_emulator
from bbre_async.orchestrator import OrchestratorBackend, OrchestratorClient
from bbre_async.telemetry import instrument_pool

from .metrics_reading import collect, in_memory, value

KEY = "test-key"


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    settings = EmulatorSettings(
        targets=(TargetRule(pattern="https://walled.test/*", blocked=True, times=2),)
    )
    async with running_emulator(settings) as emu:
        yield emu


async def fetch(session: PooledSession, url: str) -> Response:
    return await session.get(url)


async def test_pool_metrics_match_the_servers_counters(emulator: Emulator) -> None:
    provider, reader = in_memory()
    async with BBREClient(api_key=KEY, base_url=emulator.base_url) as client:
        pool = SessionPool(
            client,
            max_size=4,
            ledger_path=None,
            idle_timeout=None,
            cost_model=CostModel(per_session=0.01, per_request=0.005),
        )
        handle = instrument_pool(pool, meter_provider=provider, pool_id="crawler-1")
        async with pool:
            urls = [f"https://shop.test/{n}" for n in range(40)] + ["https://walled.test/x"]
            outcomes = await pool.map(fetch, urls).collect()
            stats = pool.stats()
            during = collect(reader)  # no await in between: the same moment
        after = collect(reader)
    state = emulator.state.account()
    assert all(o.ok for o in outcomes)
    tags = {"bbre.provider": "bbre", "bbre.pool.id": "crawler-1"}
    assert handle.attributes == tags
    assert all(p.attributes.items() >= tags.items() for p in after)

    assert value(during, "bbre.pool.capacity.max") == 4
    assert value(during, "bbre.pool.size") == stats.size >= 1
    assert value(during, "bbre.pool.idle") == stats.idle >= 1
    assert value(during, "bbre.pool.leased") == 0 and value(during, "bbre.pool.waiters") == 0
    assert value(during, "bbre.pool.capacity.usable") == stats.capacity == 4
    assert value(after, "bbre.pool.size") == 0

    assert value(after, "bbre.pool.sessions.created") == state.sessions_created
    served = value(after, "bbre.pool.requests", outcome="ok")
    blocked = value(after, "bbre.pool.requests", outcome="error")
    assert served + blocked == state.requests_total == 43  # two blocked answers, retried
    assert blocked == 2
    assert value(after, "bbre.pool.sessions.retired", reason="target answered 403") == 2
    assert value(after, "bbre.pool.sessions.closed") == state.sessions_closed
    assert value(after, "bbre.pool.lease.duration") == state.requests_total  # one per lease
    assert value(after, "bbre.pool.session.life_used") == state.sessions_created
    assert value(after, "bbre.pool.cost") == pytest.approx(
        0.01 * state.sessions_created + 0.005 * state.requests_total
    )
    assert value(after, "bbre.pool.acquire.wait.p99") >= 0


async def test_an_uninstrumented_or_dropped_pool_stops_reporting(emulator: Emulator) -> None:
    provider, reader = in_memory()
    async with BBREClient(api_key=KEY, base_url=emulator.base_url) as client:
        first = SessionPool(client, max_size=1, ledger_path=None)
        second = SessionPool(client, max_size=2, ledger_path=None)
        handle = instrument_pool(first, meter_provider=provider, pool_id="a")
        instrument_pool(second, meter_provider=provider, pool_id="b")
        async with first, second:
            ids = {p.attributes["bbre.pool.id"] for p in collect(reader)}
            assert ids == {"a", "b"}  # two pools on one meter: both reported
            handle.uninstrument()
            handle.uninstrument()  # harmless twice
            points = collect(reader)
            assert value(points, "bbre.pool.capacity.max", **{"bbre.pool.id": "b"}) == 2
            fresh = [p for p in points if p.name == "bbre.pool.capacity.max"]
            assert [p.attributes["bbre.pool.id"] for p in fresh] == ["b"]


async def test_no_secret_reaches_any_attribute(emulator: Emulator) -> None:
    provider, reader = in_memory()
    async with BBREClient(api_key=KEY, base_url=emulator.base_url) as client:
        async with SessionPool(client, max_size=2, ledger_path=None) as pool:
            instrument_pool(pool, meter_provider=provider)
            await pool.map(fetch, ["https://walled.test/a", "https://shop.test/b"]).collect()
            points = collect(reader)
    text = repr([(p.name, p.attributes) for p in points])
    assert KEY not in text and "shop.test" not in text


async def test_an_orchestrator_pool_reports_its_provider(emulator: Emulator) -> None:
    provider, reader = in_memory()
    async with OrchestratorClient(emulator.orchestrator_key, emulator.base_url + "/api") as client:
        pool = SessionPool(OrchestratorBackend(client), max_size=2, ledger_path=None)
        instrument_pool(pool, meter_provider=provider, pool_id="browsers")
        async with pool:

            async def details(session: PooledSession, n: int) -> int:
                await session.status()
                return n

            outcomes = await pool.map(details, range(6)).collect()
        points = collect(reader)
    assert sorted(o.result() for o in outcomes) == list(range(6))
    tags = {"bbre.provider": "orchestrator", "bbre.pool.id": "browsers"}
    assert value(points, "bbre.pool.sessions.created", **tags) >= 1
    assert value(points, "bbre.pool.lease.duration", **tags) == 6
    assert value(points, "bbre.pool.size", **tags) == 0
