"""OpenTelemetry for bbre_async: pool metrics and HTTP client spans.

Needs the ``otel`` extra (``pip install 'bbre-async[otel]'``); nothing else in the package
imports OpenTelemetry, so without the extra nothing of it is ever loaded.

    from bbre_async.telemetry import instrument_pool
    metrics = instrument_pool(pool, pool_id="crawler-1")   # global MeterProvider by default
"""

try:
    import opentelemetry.metrics
    import opentelemetry.trace  # noqa: F401
except ImportError as error:  # pragma: no cover - exercised in a subprocess test
    raise ImportError(
        "bbre_async.telemetry needs OpenTelemetry: pip install 'bbre-async[otel]'"
    ) from error

from bbre_async.telemetry._pool_metrics import PoolMetrics, instrument_pool

__all__ = ["PoolMetrics", "instrument_pool"]
