"""Export the pool's OpenTelemetry metrics to the console while a pool.map crawl runs.

    python examples/metrics_console.py [--urls 300] [--interval 1.0]

Needs the otel extra and the SDK (`pip install 'bbre-async[otel]' opentelemetry-sdk`; the dev
install has both). The console exporter stands in for your backend: swap it for an OTLP
exporter and the same instruments reach Prometheus, Grafana, Datadog, Honeycomb...
"""

from __future__ import annotations

import argparse
import asyncio

from _support import api_target, count_active
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    ConsoleMetricExporter,
    MetricsData,
    NumberDataPoint,
    PeriodicExportingMetricReader,
)

from bbre_async import BBREClient, CostModel, PooledSession, SessionPool
from bbre_async.telemetry import instrument_pool


def one_line_per_point(data: MetricsData) -> str:
    """``name{attributes} value`` lines (histograms: count and sum), one export a block."""
    lines = ["-- metrics export --"]
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                for point in metric.data.data_points:
                    labels = ",".join(
                        f"{k}={v!s}"
                        for k, v in sorted((point.attributes or {}).items())
                        if k not in ("bbre.provider", "bbre.pool.id")
                    )
                    if isinstance(point, NumberDataPoint):
                        shown = f"{point.value:g}"
                    else:  # histograms
                        shown = f"count={point.count} sum={point.sum:.3f}"
                    lines.append(f"{metric.name}{{{labels}}} {shown}")
    return "\n".join(lines) + "\n"


async def fetch(session: PooledSession, url: str) -> int:
    response = await session.get(url)
    return response.status_code


async def main(args: argparse.Namespace) -> None:
    reader = PeriodicExportingMetricReader(
        ConsoleMetricExporter(formatter=one_line_per_point),
        export_interval_millis=int(args.interval * 1000),
    )
    provider = MeterProvider(metric_readers=[reader])
    urls = [f"https://example.com/?page={n}" for n in range(args.urls)]
    async with api_target(time_scale=100, latency=0.01) as target:  # 3 s lives: renewals
        async with BBREClient(api_key=target.api_key, base_url=target.base_url) as client:
            prices = CostModel(per_session=0.01, per_request=0.005)
            pool = SessionPool(client, max_size=args.sessions, cost_model=prices)
            instrument_pool(pool, meter_provider=provider, pool_id="metrics-example")
            async with pool:
                outcomes = await pool.map(fetch, urls).collect()
                ok = sum(1 for outcome in outcomes if outcome.ok)
                print(f"map: {ok}/{len(urls)} ok", flush=True)
            provider.force_flush()  # one last export with the pool closed: size 0
            print(f"after close: {await count_active(client)} left active")
    provider.shutdown()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--urls", type=int, default=300, help="how many URLs to fetch")
    parser.add_argument("--sessions", type=int, default=10, help="pool size (at most 10)")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between exports")
    asyncio.run(main(parser.parse_args()))
