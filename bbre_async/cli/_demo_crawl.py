"""The demo's work: a crawl of synthetic URLs with ``pool.map``, measured from both sides.

The pool's own statistics say what the client saw; the emulator's counters (when the demo
runs against the embedded emulator) say what the server saw: the peak of concurrently active
sessions and what is left active after the pool closed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import attrs

from bbre_async._client import BBREClient
from bbre_async._response import Response
from bbre_async.emulator import AccountSpec, EmulatorSettings, Faults, Latency, running_emulator
from bbre_async.pool import (
    CostModel,
    MapProgress,
    PooledSession,
    PoolStats,
    ProgressHook,
    SessionPool,
    ShutdownSummary,
)

DEMO_KEY = "demo-key"


@attrs.frozen(kw_only=True)
class DemoConfig:
    requests: int = attrs.field(default=2000, validator=attrs.validators.ge(1))
    # Jobs in flight; None: the pool's usable capacity (no job waits behind the cap).
    workers: int | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.ge(1))
    )
    sessions: int = attrs.field(
        default=10, validator=[attrs.validators.ge(1), attrs.validators.le(10)]
    )
    latency: float = attrs.field(default=0.05, validator=attrs.validators.ge(0))
    time_scale: float = attrs.field(default=60.0, validator=attrs.validators.gt(0))
    error_rate: float = attrs.field(
        default=0.0, validator=[attrs.validators.ge(0), attrs.validators.le(0.5)]
    )
    lost_rate: float = attrs.field(
        default=0.0, validator=[attrs.validators.ge(0), attrs.validators.le(0.5)]
    )
    seed: int = 0
    base_url: str | None = None  # a real account instead of the embedded emulator
    api_key: str | None = None


@attrs.frozen(kw_only=True)
class DemoResult:
    requests: int
    ok: int
    failures: dict[str, int]
    retried: int  # jobs retried on a fresh session after losing theirs
    seconds: float
    throughput: float
    limit: float | None  # requests/s the sessions allow at the configured server time
    stats: PoolStats
    shutdown: ShutdownSummary
    spent: float | None
    peak_active: int | None
    active_after: int | None
    cap: int
    emulated: bool
    event_loop: str

    @property
    def utilization(self) -> float | None:
        return self.throughput / self.limit if self.limit else None

    @property
    def cap_respected(self) -> bool | None:
        if self.peak_active is None:
            return None
        return self.peak_active <= self.cap

    def to_json(self) -> dict[str, Any]:
        stats = self.stats
        return {
            "requests": self.requests,
            "ok": self.ok,
            "failures": self.failures,
            "retried": self.retried,
            "seconds": round(self.seconds, 3),
            "throughput_per_s": round(self.throughput, 2),
            "limit_per_s": self.limit,
            "utilization": None if self.utilization is None else round(self.utilization, 4),
            "acquire_wait_p50_ms": round(stats.acquire_wait_p50 * 1000, 3),
            "acquire_wait_p99_ms": round(stats.acquire_wait_p99 * 1000, 3),
            "sessions_created": stats.created,
            "sessions_renewed": stats.renewed,
            "sessions_closed": stats.closed,
            "spent_usd": self.spent,
            "peak_active_sessions": self.peak_active,
            "active_after_close": self.active_after,
            "cap": self.cap,
            "cap_respected": self.cap_respected,
            "emulated": self.emulated,
            "event_loop": self.event_loop,
        }


@asynccontextmanager
async def _server(config: DemoConfig) -> AsyncIterator[tuple[str, str, Any]]:
    """The embedded emulator (yielding its state reader), or the configured real account."""
    if config.base_url is not None:
        yield config.base_url, config.api_key or "", None
        return
    settings = EmulatorSettings(
        accounts=(AccountSpec(api_key=DEMO_KEY, name="demo", balance=1000.0),),
        time_scale=config.time_scale,
        latency=Latency(endpoints={"session/request": config.latency}),
        faults=Faults(
            service_error=config.error_rate,
            lost_answer=config.lost_rate,
            retry_after=0.1,
        ),
        seed=config.seed,
        sweep_interval=0.2,
    )
    async with running_emulator(settings) as emulator:
        yield emulator.base_url, DEMO_KEY, emulator


def demo_urls(count: int) -> Iterator[str]:
    """Synthetic product pages, generated lazily (the map pulls them as it goes)."""
    for n in range(count):
        yield f"https://shop.example/products/{n % 997}?page={n}"


async def fetch(session: PooledSession, url: str) -> Response:
    return await session.get(url)


async def run_crawl(
    config: DemoConfig,
    progress: ProgressHook | None = None,
    on_pool: Callable[[SessionPool], None] = lambda _pool: None,
) -> DemoResult:
    """Crawl ``config.requests`` URLs with ``pool.map`` over one pool."""
    async with _server(config) as (base_url, api_key, emulator):
        async with BBREClient(api_key=api_key, base_url=base_url, max_retries=3) as client:
            balance_before = await client.account.balance()
            pool = SessionPool(
                client,
                max_size=config.sessions,
                ledger_path=None if emulator is not None else "auto",
                idle_timeout=None,
                acquire_timeout=60,
                create_backoff=0.1,
                create_backoff_max=2.0,
                cost_model=CostModel(per_session=0.01, per_request=0.005),
            )
            async with pool:
                on_pool(pool)
                started = time.monotonic()
                async with pool.map(
                    fetch,
                    demo_urls(config.requests),
                    concurrency=config.workers,
                    progress=progress,
                ) as crawl:
                    async for _outcome in crawl:
                        pass  # a real crawler would store the page here
                seconds = time.monotonic() - started
                counts: MapProgress = crawl.progress
            shutdown = await pool.aclose()  # already closed by the block: its summary
            stats = pool.stats()
            balance_after = await client.account.balance()
    peak = active = None
    if emulator is not None:
        state = emulator.state.account("demo")
        peak, active = state.peak_active_sessions, state.active_sessions
    limit = config.sessions / config.latency if emulator is not None and config.latency else None
    return DemoResult(
        requests=config.requests,
        ok=counts.done,
        failures=dict(counts.errors),
        retried=counts.retried,
        seconds=seconds,
        throughput=counts.done / seconds if seconds else 0.0,
        limit=limit,
        stats=stats,
        shutdown=shutdown,
        spent=round(balance_before - balance_after, 6),
        peak_active=peak,
        active_after=active,
        cap=config.sessions,
        emulated=emulator is not None,
        event_loop=_loop_name(),
    )


def _loop_name() -> str:
    module = type(asyncio.get_running_loop()).__module__
    return "uvloop" if module.startswith("uvloop") else "asyncio"
