"""Bad input, from the server and from users.

Server side: every parser, fed any JSON, any bytes, wrong types, nulls, NaN and infinities,
huge and deeply nested bodies and odd timestamps, returns a model or raises a typed
``BBREError`` (``parse_timestamp``: a datetime, ``ValueError`` or ``TypeError``, as it
documents), never anything else, and never takes long.

User side: bad arguments fail at once with a clear ``ValueError`` or ``TypeError``.
"""

from __future__ import annotations

import asyncio
import math
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from functools import partial
from typing import Any

import attrs
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bbre_async import BBREClient, BBREError
from bbre_async._envelope import parse_retry_after
from bbre_async._models import (
    AccountInfo,
    Balance,
    Response,
    SessionInfo,
    Task,
    TaskResult,
    parse_page,
)
from bbre_async._timeutil import parse_timestamp
from bbre_async.orchestrator._models import (
    AutoscalerPool,
    ExtendResult,
    HealthStatus,
    OrchSession,
    SystemStatus,
)
from bbre_async.pool import PoolConfig, SessionPool
from tests.wire import decode, raw

# Fixed examples (derandomized), so a run is repeatable; BBRE_FUZZ_EXAMPLES=500 digs deeper.
FUZZ = settings(
    max_examples=int(os.environ.get("BBRE_FUZZ_EXAMPLES", "25")),
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# ------------------------------------------------------------------ strategies

# What orjson can hand the parsers: 64-bit integers, finite floats, any text, nesting.
wire_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
)
# What a caller of ``from_json`` can hand them on top: NaN and infinities.
python_scalars = wire_scalars | st.sampled_from([math.nan, math.inf, -math.inf, 1e308, -0.0])

VOCABULARY = [
    "id", "sessionId", "status", "mode", "sensibility", "requestCount", "totalCharged",
    "expiresAt", "createdAt", "closedAt", "profile", "session", "data", "task", "result",
    "statusCode", "headers", "body", "cookies", "error", "success", "message", "code",
    "details", "retryAfter", "balance", "amount", "currency", "account", "statistics",
    "username", "email", "successRate", "sessions", "tasks", "pagination", "total", "limit",
    "offset", "type", "url", "method", "priceCharged", "processingTime", "completedAt",
    "taskId", "name", "value", "expires_at", "created_at", "session_name", "vnc_password",
    "autoscaler", "pool_status", "current_load", "active_sessions", "dependencies",
    "timestamp", "context", "idle", "busy",
]  # fmt: skip

TIMESTAMPS = st.one_of(
    st.integers(min_value=-(10**15), max_value=10**15),
    st.floats(allow_nan=True, allow_infinity=True),
    st.datetimes(
        min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 31), timezones=st.timezones()
    ).map(lambda d: d.isoformat()),
    st.text(alphabet="0123456789-:TZ.+ e", max_size=30),
)


def json_values(scalars: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    keys = st.sampled_from(VOCABULARY) | st.text(max_size=8)
    return st.recursive(
        scalars | TIMESTAMPS,
        lambda children: (
            st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=6)
        ),
        max_leaves=12,
    )


def payloads(scalars: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Arbitrary JSON, and objects built from the API's own field names (to get deep)."""
    values = json_values(scalars)
    shaped = st.recursive(
        st.dictionaries(st.sampled_from(VOCABULARY), values, max_size=10),
        lambda inner: (
            st.dictionaries(
                st.sampled_from(["data", "session", "task", "result", "account", "error"]),
                inner,
                min_size=1,
                max_size=3,
            )
            | st.dictionaries(st.sampled_from(VOCABULARY), inner | values, max_size=8)
        ),
        max_leaves=6,
    )
    return values | shaped


WIRE = payloads(wire_scalars)
PYTHON = payloads(python_scalars)


def non_finite_numbers(value: Any, depth: int = 0) -> list[Any]:
    """Float fields of a parsed model (and the models inside it) that are NaN or infinite."""
    if isinstance(value, float):
        return [] if math.isfinite(value) else [value]
    if depth < 3 and attrs.has(type(value)):
        found: list[Any] = []
        for field in attrs.fields(type(value)):
            found += non_finite_numbers(getattr(value, field.name), depth + 1)
        return found
    if depth < 3 and isinstance(value, list):
        return [bad for item in value for bad in non_finite_numbers(item, depth + 1)]
    return []


def typed_or_model(parse: Callable[[], Any]) -> Any:
    """Run one parse: a result or a ``BBREError``; anything else fails, and so does a model
    carrying NaN or an infinity (money, counts and times are finite). How fast a parse runs
    is measured in ``benchmarks/``, never here."""
    try:
        result = parse()
    except BBREError:
        return None
    assert non_finite_numbers(result) == [], result
    return result


PARSERS: dict[str, Callable[[Any], Any]] = {
    "SessionInfo": SessionInfo.from_json,
    "Response": Response.from_json,
    "TaskResult": lambda p: TaskResult.from_json(p, "task-1"),
    "Task": Task.from_json,
    "AccountInfo": AccountInfo.from_json,
    "Balance": Balance.from_json,
    "parse_page(sessions)": lambda p: parse_page(
        p, "sessions", SessionInfo.from_json, limit=20, offset=0
    ),
    "parse_page(tasks)": lambda p: parse_page(p, "tasks", Task.from_json, limit=50, offset=0),
    "OrchSession": OrchSession.from_json,
    "ExtendResult": ExtendResult.from_json,
    "SystemStatus": SystemStatus.from_json,
    "HealthStatus": HealthStatus.from_json,
    "AutoscalerPool": lambda p: AutoscalerPool.from_json(p if isinstance(p, dict) else {}),
}


# ---------------------------------------------------------------- the parsers


@pytest.mark.parametrize("name", list(PARSERS))
@FUZZ
@given(payload=WIRE | PYTHON)
def test_parsers_answer_any_json_with_a_model_or_a_typed_error(name: str, payload: Any) -> None:
    """Wire JSON (what orjson produces) and Python values with NaN and infinities."""
    typed_or_model(lambda: PARSERS[name](payload))


@FUZZ
@given(
    status=st.integers(min_value=100, max_value=599),
    body=st.binary(max_size=300) | WIRE.map(orjson.dumps) | st.text(max_size=200).map(str.encode),
    headers=st.dictionaries(
        st.sampled_from(["Retry-After", "retry-after", "Content-Type", "x-request-id"]),
        st.text(max_size=40),
        max_size=3,
    ),
)
def test_decode_answers_any_bytes_with_a_payload_or_a_typed_error(
    status: int, body: bytes, headers: dict[str, str]
) -> None:
    answer = raw(status, body, **headers)
    failure: BBREError | None = None
    try:
        payload = decode(answer)
    except BBREError as error:
        failure = error
    if failure is not None:
        assert failure.request_id  # always traceable
        assert len(failure.details.get("body_start") or "") <= 200  # only the first bytes
        return
    assert isinstance(payload, dict)
    assert status < 400 and payload.get("success") is not False


@FUZZ
@given(
    headers=st.dictionaries(
        st.sampled_from(["Retry-After", "retry-after"]), st.text(max_size=40), max_size=2
    ),
    details=st.dictionaries(
        st.sampled_from(["retryAfter", "retry_after"]), wire_scalars | TIMESTAMPS, max_size=2
    ),
)
def test_retry_after_is_a_non_negative_number_or_none(
    headers: dict[str, str], details: dict[str, Any]
) -> None:
    seconds = parse_retry_after(headers, details)
    assert seconds is None or seconds >= 0


@FUZZ
@given(value=TIMESTAMPS | WIRE)
def test_parse_timestamp_gives_an_aware_datetime_or_value_or_type_error(value: Any) -> None:
    try:
        moment = parse_timestamp(value)
    except (ValueError, TypeError):
        return
    assert moment.tzinfo is not None and moment.utcoffset() == timedelta(0)


@FUZZ
@given(
    moment=st.datetimes(
        # Epoch values below 1e11 are read as seconds (documented): ms before March 1973
        # would be misread, and no API time is that old.
        min_value=datetime(1974, 1, 1),
        max_value=datetime(5000, 12, 31),
        timezones=st.integers(-23 * 60, 23 * 60).map(lambda m: timezone(timedelta(minutes=m))),
    )
)
def test_both_timestamp_forms_read_back_the_same_instant(moment: datetime) -> None:
    millis = round(moment.timestamp() * 1000)
    iso = moment.isoformat()
    assert parse_timestamp(iso) == moment
    assert abs(parse_timestamp(millis) - moment) < timedelta(milliseconds=1)
    assert parse_timestamp(iso.replace("+00:00", "Z")) == moment


@pytest.mark.parametrize(
    "text",
    ["2024-06-15T10:30:00.000Z", "2024-06-15T10:30:00", "2024-06-15 10:30:00+02:00"],
)
def test_documented_timestamp_forms(text: str) -> None:
    assert parse_timestamp(text).tzinfo is not None


NUMERIC_FIELDS = [
    ("SessionInfo", {"id": "s"}, "totalCharged"),
    ("SessionInfo", {"id": "s"}, "requestCount"),
    ("SessionInfo", {"id": "s"}, "expiresAt"),
    ("Task", {"id": "t"}, "priceCharged"),
    ("Task", {"id": "t"}, "processingTime"),
    ("Balance", {}, "balance"),
    ("AccountInfo", {"account": {}}, "balance"),
    ("OrchSession", {"id": "o"}, "expires_at"),
    ("Response", {}, "statusCode"),
]


@pytest.mark.parametrize(("name", "base", "field"), NUMERIC_FIELDS)
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, "NaN", "Infinity", "-inf"])
def test_nan_and_infinity_in_any_numeric_field_are_typed_errors(
    name: str, base: dict[str, Any], field: str, bad: Any
) -> None:
    payload = {**base, field: bad}
    if name == "AccountInfo":
        payload = {"account": {"balance": bad}}
    typed_or_model(lambda: PARSERS[name](payload))


# ------------------------------------------------------------ huge and deep bodies

MB = 1024 * 1024


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b'{"success": true, "x": "' + b"a" * (8 * MB) + b'"}', id="8MB-string"),
        pytest.param(b"<html>" + b"x" * (8 * MB), id="8MB-html"),
        pytest.param(
            orjson.dumps({"sessions": [{"id": str(i)} for i in range(200_000)]}), id="200k-rows"
        ),
        pytest.param(b"[" * 10_000 + b"]" * 10_000, id="10k-deep"),
        pytest.param(b'{"a":' * 10_000 + b"1" + b"}" * 10_000, id="10k-deep-object"),
        pytest.param(b"\xff\xfe" * MB, id="2MB-garbage"),
    ],
)  # fmt: skip
@pytest.mark.parametrize("status", [200, 502])
def test_huge_and_deep_bodies_decode_fast_to_a_payload_or_a_typed_error(
    body: bytes, status: int
) -> None:
    failure: BBREError | None = None
    try:
        payload = decode(raw(status, body))
    except BBREError as error:
        failure = error
    if failure is not None:
        assert len(str(failure)) < 2000  # a huge body never lands whole in a message
        assert len(failure.details.get("body_start", "")) <= 200
    else:
        assert status == 200 and isinstance(payload, dict)
        if b"sessions" in body:
            page = parse_page(payload, "sessions", SessionInfo.from_json, limit=20, offset=0)
            assert len(page.items) == 200_000


def nest(levels: int, leaf: Any, *, as_dict: bool = False) -> Any:
    """``levels`` of lists (or dicts) around ``leaf``, built without recursion."""
    value = leaf
    for _ in range(levels):
        value = {"a": value} if as_dict else [value]
    return value


DEEP_BUG = (
    "library bug: _fields.invalid() (bbre_async/_fields.py) calls repr() on the whole "
    "offending value, and _fields._text()/str_map() recurse into it: a value nested ~1000 "
    "levels deep (orjson decodes up to 1024) raises RecursionError out of the parser"
)


@pytest.mark.parametrize(
    ("name", "payload"),
    [
        pytest.param("SessionInfo", {"id": "s", "status": nest(1015, 1)}, id="status"),
        pytest.param("Task", {"id": nest(1015, 1)}, id="task-id"),
        pytest.param("TaskResult", {"status": "failed", "error": nest(1015, 1)}, id="error"),
        pytest.param("HealthStatus", {"dependencies": {"db": nest(1015, 1)}}, id="health"),
        pytest.param(
            "Response", {"statusCode": 200, "headers": {"h": nest(1015, 1)}}, id="header-list"
        ),
        pytest.param(
            "Response",
            {"statusCode": 200, "headers": {"h": nest(1015, 1, as_dict=True)}},
            id="header-object",
        ),
    ],
)
def test_values_nested_as_deep_as_orjson_allows_give_a_typed_error(
    name: str, payload: dict[str, Any]
) -> None:
    # The server really can send this: orjson reads 1015 levels (its limit is 1024).
    assert isinstance(orjson.loads(b"[" * 1015 + b"1" + b"]" * 1015), list)
    typed_or_model(lambda: PARSERS[name](payload))


def test_ten_thousand_levels_from_python_are_a_typed_error_too() -> None:
    # Values orjson would refuse, handed to ``from_json`` by a caller: no RecursionError.
    deep = nest(10_000, "x", as_dict=True)
    for name in ("SessionInfo", "Balance", "AccountInfo", "parse_page(sessions)", "OrchSession"):
        typed_or_model(partial(PARSERS[name], {"data": deep, "id": "s"}))


BODY_DEPTH_BUG = (
    "library bug: _models._text_body (bbre_async/_models.py) re-encodes a non-string body "
    "with orjson.dumps, whose depth limit is 255 while orjson.loads accepts 1024: a target "
    "body nested 256-1023 levels deep raises orjson.JSONEncodeError (a TypeError) out of "
    "Response.from_json and so out of lease.get()"
)


def test_a_deeply_nested_target_body_is_a_typed_error_or_text() -> None:
    wire = b'{"data":{"task":{"result":{"statusCode":200,"body":' + b"[" * 300 + b"]" * 300
    wire += b"}}}}"
    payload = decode(raw(200, wire))
    typed_or_model(lambda: Response.from_json(payload))


OVERFLOW_BUG = (
    "library bug: parse_timestamp (bbre_async/_timeutil.py) lets OverflowError out (an ISO "
    "time whose offset moves it past year 1 or 9999 in UTC; an int too large for a float), "
    "and _fields.opt_time/opt_float catch only TypeError/ValueError, so SessionInfo.from_json "
    "and kin raise OverflowError"
)


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param({"id": "s", "expiresAt": "0001-01-01T00:00:00+01:00"}, id="iso-year-1"),
        pytest.param({"id": "s", "createdAt": "9999-12-31T23:59:59-01:00"}, id="iso-year-9999"),
        pytest.param({"id": "s", "expiresAt": 10**400}, id="bigint-time"),
        pytest.param({"id": "s", "totalCharged": 10**400}, id="bigint-money"),
    ],
)
def test_out_of_range_times_and_numbers_are_a_typed_error(payload: dict[str, Any]) -> None:
    typed_or_model(lambda: SessionInfo.from_json(payload))


# ------------------------------------------------------------- bad user arguments


def client() -> BBREClient:
    return BBREClient(api_key="test-key-0123", base_url="http://127.0.0.1:9")


@pytest.mark.parametrize(
    ("settings_", "error"),
    [
        ({"max_size": 0}, ValueError),
        ({"max_size": -3}, ValueError),
        ({"max_size": 11}, ValueError),
        ({"max_size": 2.5}, TypeError),
        ({"min_size": -1}, ValueError),
        ({"min_size": 5, "max_size": 2}, ValueError),
        ({"mode": "turbo"}, ValueError),
        ({"sensibility": "extreme"}, ValueError),
        ({"lifetime": 30}, ValueError),
        ({"lifetime": math.nan}, ValueError),
        ({"lifetime": 4000}, ValueError),
        ({"acquire_timeout": math.nan}, TypeError),
        ({"acquire_timeout": math.inf}, TypeError),
        ({"acquire_timeout": -1}, ValueError),
        ({"acquire_timeout": "5"}, TypeError),
        ({"renew_margin": math.nan}, TypeError),
        ({"min_ttl": math.nan}, TypeError),
        ({"idle_timeout": 0}, ValueError),
        ({"close_timeout": math.inf}, TypeError),
        ({"shutdown_timeout": -1}, ValueError),
        ({"reconcile_interval": math.nan}, TypeError),
        ({"max_requests_per_session": 0}, ValueError),
        ({"no_such_setting": 1}, TypeError),
    ],
)
async def test_bad_pool_settings_fail_at_construction(
    settings_: dict[str, Any], error: type[Exception]
) -> None:
    async with client() as c:
        with pytest.raises(error) as caught:
            SessionPool(c, ledger_path=None, **settings_)
    name = next(iter(settings_))
    assert (
        name in str(caught.value)
        or name.replace("_", " ") in str(caught.value)
        or (name == "no_such_setting")
    )


def test_pool_config_alone_validates_too() -> None:
    with pytest.raises(ValueError, match="max_size"):
        PoolConfig(max_size=0)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"api_key": ""}, ValueError),
        ({"api_key": "   "}, ValueError),
        ({"api_key": 12345}, ValueError),
        ({"api_key": "k" * 12, "base_url": "ftp://host"}, ValueError),
        ({"api_key": "k" * 12, "base_url": "host:8080"}, ValueError),
        ({"api_key": "k" * 12, "timeout": math.nan}, ValueError),
        ({"api_key": "k" * 12, "timeout": -1}, ValueError),
        ({"api_key": "k" * 12, "timeout": 0}, ValueError),
        ({"api_key": "k" * 12, "max_retries": -1}, ValueError),
    ],
)
def test_bad_client_arguments_fail_at_construction(
    kwargs: dict[str, Any], error: type[Exception], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BBRE_API_KEY", raising=False)
    with pytest.raises(error):
        BBREClient(**kwargs)


def test_an_infinite_client_timeout_is_refused() -> None:
    with pytest.raises(ValueError):
        BBREClient(api_key="k" * 12, timeout=math.inf)


async def test_bad_call_arguments_fail_before_anything_is_sent() -> None:
    async with client() as c:  # nothing listens on port 9: a sent call would be a conn error
        for kwargs in (
            {"mode": "turbo"},
            {"sensibility": "x"},
            {"lifetime": 30},
            {"lifetime": math.nan},
            {"lifetime": math.inf},
            {"lifetime": True},
            {"timeout": math.nan},
            {"timeout": -1},
        ):
            with pytest.raises(ValueError):
                await c.sessions.create(**kwargs)
        for bad_id in ("", "   ", None, 42):
            with pytest.raises(ValueError):
                await c.sessions.status(bad_id)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="timezone-aware"):
            c.account.history(start=datetime(2024, 1, 1))
        with pytest.raises(ValueError, match="timezone-aware"):
            c.account.history(end=datetime(2024, 1, 1))
        with pytest.raises(ValueError):
            await c.account.history_page(start=datetime(2024, 1, 1))
        with pytest.raises(ValueError):
            c.account.sessions(status="ACTIVE")  # type: ignore[arg-type]  # case-sensitive
        with pytest.raises(ValueError):
            await c.account.sessions_page(limit=0)
        with pytest.raises(ValueError):
            await c.account.sessions_page(offset=-1)
        aware = datetime(2024, 1, 1, tzinfo=timezone(timedelta(hours=2)))
        c.account.history(start=aware, end=datetime.now(UTC))  # fine: aware


async def test_acquire_refuses_nan_at_once() -> None:
    from tests.pool.fakes import FakeBackend, ManualClock

    clock = ManualClock()
    async with SessionPool(
        FakeBackend(clock), clock=clock, ledger_path=None, shutdown_timeout=0.1
    ) as pool:
        for kwargs in ({"min_ttl": math.nan}, {"timeout": math.nan}, {"timeout": "3"}):
            async with asyncio.timeout(1):
                with pytest.raises((ValueError, TypeError)):
                    await pool.acquire(**kwargs)
