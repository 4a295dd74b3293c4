"""OpenTelemetry for bbre_async: pool metrics and HTTP client spans.

Needs the ``otel`` extra (``pip install 'bbre-async[otel]'``); nothing else in the package
imports OpenTelemetry, so without the extra nothing of it is ever loaded.

    from bbre_async.telemetry import TracingTransport, instrument_pool
    client = BBREClient(transport=TracingTransport())      # HTTP client spans
    metrics = instrument_pool(pool, pool_id="crawler-1")   # global providers by default
"""

try:
    import opentelemetry.metrics
    import opentelemetry.trace  # noqa: F401
except ImportError as error:  # pragma: no cover - exercised in a subprocess test
    raise ImportError(
        "bbre_async.telemetry needs OpenTelemetry: pip install 'bbre-async[otel]'"
    ) from error

from bbre_async.telemetry._pool_metrics import PoolMetrics, instrument_pool
from bbre_async.telemetry._tracing import TracingTransport

__all__ = ["PoolMetrics", "TracingTransport", "instrument_pool"]
