"""HTTP client spans from ``TracingTransport``, read back from the SDK's in-memory exporter:
the semantic conventions' names and attributes, one span per request on the wire, and no
secret (API key, bearer token, VNC password, target URL, session id) anywhere in them."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from bbre_async import (
    APIConnectionError,
    BBREClient,
    MockTransport,
    PooledSession,
    ServiceError,
    SessionPool,
    TransportRequest,
    TransportResponse,
)
from bbre_async.emulator import Emulator, running_emulator
from bbre_async.orchestrator import OrchestratorClient
from bbre_async.telemetry import TracingTransport
from bbre_async.telemetry._tracing import redacted_url, url_template

from .metrics_reading import collect, in_memory, value


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    async with running_emulator() as emu:
        yield emu


def tracer() -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


def dump(spans: tuple[ReadableSpan, ...]) -> str:
    return "\n".join(span.to_json() for span in spans)


async def test_bbre_calls_become_client_spans_without_secrets(emulator: Emulator) -> None:
    provider, exporter = tracer()
    meters, reader = in_memory()
    session_ids: list[str] = []
    transport = TracingTransport(tracer_provider=provider, meter_provider=meters)
    async with BBREClient(
        api_key=emulator.api_key, base_url=emulator.base_url, transport=transport
    ) as client:
        await client.account.balance()
        async with SessionPool(client, max_size=2, ledger_path=None) as pool:

            async def fetch(session: PooledSession, n: int) -> int:
                session_ids.append(session.id)
                response = await session.get(f"https://secret-target.test/p?token=t{n}")
                return response.status_code

            assert [o.result() for o in await pool.map(fetch, range(4)).collect()] == [200] * 4
    spans = exporter.get_finished_spans()
    calls = emulator.state.account().calls
    names = sorted(span.name for span in spans)
    assert names.count("POST /session/request") == calls["session/request"] == 4
    assert names.count("POST /session/create") == calls["session/create"]
    assert names.count("POST /session/close") == calls["session/close"]
    host, port = emulator.base_url.removeprefix("http://").split(":")
    for span in spans:
        attributes = dict(span.attributes or {})
        assert span.kind is SpanKind.CLIENT
        assert attributes["server.address"] == host and attributes["server.port"] == int(port)
        assert attributes["http.request.method"] == span.name.split()[0]
        assert attributes["url.template"] == span.name.split()[1]
        assert attributes["url.full"] == emulator.base_url + attributes["url.template"]
        assert attributes["http.response.status_code"] == 200
        assert "error.type" not in attributes and span.status.status_code is StatusCode.UNSET
    text = dump(spans)
    for secret in (emulator.api_key, "secret-target", "token=", *session_ids):
        assert secret not in text
    points = collect(reader)
    assert value(points, "http.client.request.duration") == len(spans)
    assert (
        value(points, "http.client.request.duration", **{"url.template": "/session/request"}) == 4
    )


async def test_orchestrator_ids_are_templated_and_the_vnc_password_never_shows(
    emulator: Emulator,
) -> None:
    provider, exporter = tracer()
    transport = TracingTransport(tracer_provider=provider)
    async with OrchestratorClient(
        emulator.orchestrator_key, emulator.base_url + "/api", transport=transport
    ) as client:
        created = await client.sessions.create(session_name="traced")
        details = await client.sessions.get(created.id)
        await client.sessions.stop(created.id)
    assert details.vnc_password
    names = [span.name for span in exporter.get_finished_spans()]
    assert names == ["POST /api/sessions", "GET /api/sessions/{id}", "DELETE /api/sessions/{id}"]
    spans = exporter.get_finished_spans()
    text = dump(spans)
    for secret in (details.vnc_password, emulator.orchestrator_key, "Bearer"):
        assert secret not in text
    # a session id is no credential: it is in url.full as REST paths are, never in the
    # span name or the template (which must stay low-cardinality)
    full_urls = []
    for span in spans:
        attributes = dict(span.attributes or {})
        full_urls.append(str(attributes.pop("url.full")))
        assert created.id not in span.name + str(attributes)
    assert full_urls[1].endswith(f"/api/sessions/{created.id}")


async def test_failures_are_error_spans_named_by_class_or_status() -> None:
    provider, exporter = tracer()
    meters, reader = in_memory()
    answers = iter(["500", "drop"])

    def handler(request: TransportRequest) -> TransportResponse:
        if next(answers) == "drop":
            raise APIConnectionError("connection reset by peer", request_sent=True)
        error = {"code": "SERVICE_ERROR", "message": "try again"}
        return TransportResponse(500, json={"success": False, "error": error})

    transport = TracingTransport(
        MockTransport(handler), tracer_provider=provider, meter_provider=meters
    )
    async with BBREClient(
        api_key="k-secret", base_url="https://api.test", transport=transport, max_retries=0
    ) as client:
        with pytest.raises(ServiceError):
            await client.account.balance()
        with pytest.raises(APIConnectionError):
            await client.account.balance()
    server_error, dropped = exporter.get_finished_spans()
    assert server_error.status.status_code is StatusCode.ERROR
    assert (server_error.attributes or {})["error.type"] == "500"
    assert (server_error.attributes or {})["http.response.status_code"] == 500
    assert dropped.status.status_code is StatusCode.ERROR
    assert (dropped.attributes or {})["error.type"] == "APIConnectionError"
    assert "connection reset" not in dump((dropped,)) and "k-secret" not in dump((dropped,))
    points = collect(reader)
    assert value(points, "http.client.request.duration", **{"error.type": "500"}) == 1
    assert (
        value(points, "http.client.request.duration", **{"error.type": "APIConnectionError"}) == 1
    )
    assert transport.inner is not None


def test_urls_lose_query_values_and_userinfo_and_ids_become_a_template() -> None:
    full, server = redacted_url("https://user:pw@api.test:8443/api/sessions?limit=5&key=abc")
    assert full == "https://api.test:8443/api/sessions?limit=REDACTED&key=REDACTED"
    assert server == {"server.address": "api.test", "server.port": 8443}
    assert redacted_url("https://api.test/x")[1]["server.port"] == 443
    assert url_template("/api/sessions/sess_8f3a2b1c9d/extend") == "/api/sessions/{id}/extend"
    assert url_template("/session/request") == "/session/request"
    assert json.dumps(url_template("/")) == '"/"'
