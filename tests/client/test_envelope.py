from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import bbre_async as b
from bbre_async._envelope import parse_retry_after
from bbre_async._models import Response, SessionInfo, Task, TaskResult
from tests.wire import decode, raw


def test_success_payload_is_returned() -> None:
    payload = decode(raw(200, b'{"success": true, "balance": 1.5}'))
    assert payload["balance"] == 1.5


def test_success_false_under_200_is_an_error() -> None:
    body = json.dumps({"success": False, "error": {"code": "SESSION_CLOSED", "message": "x"}})
    with pytest.raises(b.SessionClosedError) as info:
        decode(raw(200, body.encode()))
    assert info.value.code == "SESSION_CLOSED"


def test_html_502_from_a_proxy_keeps_status_and_first_bytes() -> None:
    page = b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
    with pytest.raises(b.ServiceError) as info:
        decode(raw(502, page, **{"Content-Type": "text/html"}))
    assert info.value.status == 502
    assert info.value.details["body_start"].startswith("<html>")
    assert "text/html" in info.value.message


@pytest.mark.parametrize("body", [b"", b'{"success": tr', b"[1,2]", b"null", b"\xff\xfe"])
def test_garbled_success_bodies_are_invalid_responses(body: bytes) -> None:
    with pytest.raises(b.InvalidResponseError) as info:
        decode(raw(200, body))
    assert info.value.status == 200


def test_server_request_id_wins_over_ours() -> None:
    body = json.dumps({"success": False, "error": {"code": "SERVICE_ERROR", "message": "m"}})
    with pytest.raises(b.ServiceError) as info:
        decode(raw(500, body.encode(), **{"x-request-id": "srv-9"}))
    assert info.value.request_id == "srv-9"
    with pytest.raises(b.ServiceError) as info:
        decode(raw(500, body.encode()))
    assert info.value.request_id == "req_local"


def test_orchestrator_error_shape() -> None:
    body = {
        "error": "SESSION_NOT_FOUND",
        "message": "gone",
        "code": 404,
        "context": {"session_id": "s"},
    }
    with pytest.raises(b.SessionNotFoundError) as info:
        decode(raw(404, json.dumps(body).encode()))
    assert info.value.details == {"session_id": "s"}
    assert info.value.message == "gone"


def test_retry_after_from_header_details_and_http_date() -> None:
    assert parse_retry_after({"Retry-After": "7"}, None) == 7.0
    assert parse_retry_after({}, {"retryAfter": 2}) == 2.0
    assert parse_retry_after({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, None) == 0.0
    assert parse_retry_after({"Retry-After": "soon"}, None) is None
    body = json.dumps(
        {
            "success": False,
            "error": {"code": "RATE_LIMIT_EXCEEDED", "message": "m", "details": {"retryAfter": 4}},
        }
    )
    with pytest.raises(b.RateLimitError) as info:
        decode(raw(429, body.encode()))
    assert info.value.retry_after == 4.0


def test_secrets_are_redacted_from_echoed_bodies() -> None:
    with pytest.raises(b.ServiceError) as info:
        decode(
            raw(502, b"<html>bad key topsecretkey</html>"),
            redact=lambda t: t.replace("topsecretkey", "***"),
        )
    assert "topsecretkey" not in str(info.value.details)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=25,
)
shaped = st.fixed_dictionaries(
    {},
    optional={
        "success": st.booleans() | json_values,
        "session": json_values
        | st.fixed_dictionaries(
            {"id": json_values}, optional={"expiresAt": json_values, "status": json_values}
        ),
        "data": json_values,
        "error": json_values,
        "tasks": json_values,
        "result": json_values,
        "status": json_values,
    },
)


def _parse_everything(payload: dict[str, object]) -> None:
    for parse in (
        SessionInfo.from_json,
        Response.from_json,
        Task.from_json,
        lambda p: TaskResult.from_json(p, "t"),
    ):
        try:
            parse(payload)
        except b.BBREError:
            pass


@settings(max_examples=100, deadline=None)
@given(
    status=st.sampled_from([200, 201, 400, 404, 429, 500, 502]),
    body=st.binary(max_size=64) | shaped.map(lambda d: json.dumps(d).encode()),
)
def test_any_bytes_become_a_payload_or_a_typed_error(status: int, body: bytes) -> None:
    try:
        payload = decode(raw(status, body))
    except b.BBREError:
        return
    assert isinstance(payload, dict)
    _parse_everything(payload)
