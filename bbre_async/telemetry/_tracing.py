"""HTTP client spans and the request-duration metric, as a transport that wraps another.

    client = BBREClient(transport=TracingTransport())        # wraps the default transport

One CLIENT span per HTTP request that goes on the wire (each retry is its own span, as the
HTTP semantic conventions ask), named ``{method} {url.template}``, with the conventions'
attributes: ``http.request.method``, ``server.address``, ``server.port``, ``url.full``,
``url.template``, ``http.response.status_code``, ``error.type``. And the
``http.client.request.duration`` histogram with the same low-cardinality attributes.

No secret reaches an attribute: headers (the API key, bearer tokens) and bodies (target URLs,
session ids, cookies) are never read; ``url.full`` carries no query values and no userinfo;
path segments that are ids become ``{id}`` in the template; an error is recorded by its class
name only, never its message.
"""

from __future__ import annotations

import re
import time
from urllib.parse import parse_qsl, urlsplit

from opentelemetry import metrics, trace
from opentelemetry.metrics import MeterProvider
from opentelemetry.trace import SpanKind, Status, StatusCode, TracerProvider

from bbre_async._aiohttp_transport import AiohttpTransport
from bbre_async._transport import AsyncTransport, TransportRequest, TransportResponse
from bbre_async._version import __version__

SCOPE = "bbre_async"
KNOWN_METHODS = frozenset({"CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"})
# A path segment holding a digit and at least 8 characters of id alphabet is an id.
_ID_SEGMENT = re.compile(r"^(?=.*\d)[A-Za-z0-9_\-]{8,}$")
# The conventions' bucket boundaries for http.client.request.duration.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10)

Attributes = dict[str, str | int]


def url_template(path: str) -> str:
    """``/api/sessions/sess_8f3a2b1c/extend`` -> ``/api/sessions/{id}/extend``."""
    return "/".join("{id}" if _ID_SEGMENT.match(part) else part for part in path.split("/")) or "/"


def redacted_url(url: str) -> tuple[str, Attributes]:
    """``url.full`` without userinfo or query values, and the server attributes."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    query = "&".join(f"{key}=REDACTED" for key, _ in parse_qsl(parts.query, keep_blank_values=True))
    full = f"{parts.scheme}://{netloc}{parts.path}" + (f"?{query}" if query else "")
    return full, {"server.address": host, "server.port": port}


class TracingTransport:
    """A transport that traces every request it passes to ``inner`` (the default transport
    when not given). Pass it as ``transport=`` to ``BBREClient`` or ``OrchestratorClient``;
    the providers default to the global ones."""

    def __init__(
        self,
        inner: AsyncTransport | None = None,
        *,
        tracer_provider: TracerProvider | None = None,
        meter_provider: MeterProvider | None = None,
    ) -> None:
        self.inner: AsyncTransport = inner if inner is not None else AiohttpTransport()
        self._tracer = trace.get_tracer(SCOPE, __version__, tracer_provider=tracer_provider)
        meter = (meter_provider or metrics.get_meter_provider()).get_meter(SCOPE, __version__)
        self._duration = meter.create_histogram(
            "http.client.request.duration",
            unit="s",
            description="Duration of HTTP client requests.",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )

    async def handle_async_request(self, request: TransportRequest) -> TransportResponse:
        method = request.method.upper()
        method = method if method in KNOWN_METHODS else "_OTHER"
        full, server = redacted_url(request.url)
        template = url_template(urlsplit(request.url).path)
        common: Attributes = {"http.request.method": method, **server, "url.template": template}
        started = time.perf_counter()
        with self._tracer.start_as_current_span(
            f"{method} {template}",
            kind=SpanKind.CLIENT,
            attributes={**common, "url.full": full},
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            try:
                response = await self.inner.handle_async_request(request)
            except BaseException as error:
                kind = type(error).__qualname__
                span.set_attribute("error.type", kind)
                span.set_status(Status(StatusCode.ERROR, kind))
                self._duration.record(time.perf_counter() - started, {**common, "error.type": kind})
                raise
            status = response.status_code
            span.set_attribute("http.response.status_code", status)
            span.set_attribute("http.response.body.size", len(response.content))
            measured: Attributes = {**common, "http.response.status_code": status}
            if status >= 400:
                span.set_attribute("error.type", str(status))
                span.set_status(Status(StatusCode.ERROR))
                measured["error.type"] = str(status)
            self._duration.record(time.perf_counter() - started, measured)
            return response

    async def aclose(self) -> None:
        await self.inner.aclose()
