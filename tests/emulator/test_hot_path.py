"""The ``/session/request`` fast paths answer and record exactly what the plain paths would.

Each shortcut on the hot path (the envelope spliced onto the payload's bytes, a buffered body
taken as it is, an unwaited request answered
without a coroutine, pre-rendered pages and profiles) has a test here that fails if it drifts.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any
from unittest import mock

import aiohttp
import attrs
import orjson
import pytest
from aiohttp import StreamReader, web
from aiohttp.test_utils import make_mocked_request

from bbre_async.emulator import Emulator, Latency, ManualClock, SystemClock
from bbre_async.emulator._app import MAX_BODY, buffered_body
from bbre_async.emulator._envelope import SERVICE, ok
from bbre_async.emulator._state import TaskRecord
from bbre_async.emulator._targets import Targets, synthetic_page
from tests.emulator._helpers import Api
from tests.waiting import eventually

HEADERS = {"x-api-key": "test-key", "content-type": "application/json"}


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"balance": 1.5},
        {"data": {"task": {"id": "t", "result": {"a": [1, None, "é"]}}}},
        {"success": False, "extra": 1},  # the envelope's keys are merged, in their place
        {"service": "other"},
    ],
)
def test_ok_renders_the_bytes_of_the_merged_envelope(payload: dict[str, Any]) -> None:
    response = ok(payload)
    assert response.body == orjson.dumps({"success": True, "service": SERVICE, **payload})
    assert response.status == 200
    assert response.content_type == "application/json"


async def _raw_post(http: aiohttp.ClientSession, url: str, data: Any) -> tuple[int, Any]:
    async with http.post(url, data=data, headers=HEADERS) as response:
        return response.status, orjson.loads(await response.read())


async def test_bodies_read_whole_in_pieces_or_empty_give_the_same_answers(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    url = emu.base_url + "/session/create"

    def creates_seen() -> int:
        return emu.state.account().calls.get("session/create", 0)

    async def in_pieces() -> AsyncIterator[bytes]:
        yield b'{"timeo'
        # The handler counts the call before it reads the body: the rest arrives after it began.
        await eventually(lambda: creates_seen() == 2, what="the handler to start")
        yield b'ut": 120}'

    whole = await _raw_post(http, url, b'{"timeout": 120}')
    assert creates_seen() == 1
    pieces = await _raw_post(http, url, in_pieces())
    assert whole[0] == pieces[0] == 200
    assert whole[1]["session"]["expiresAt"] == pieces[1]["session"]["expiresAt"]
    balance = emu.base_url + "/account/balance"
    for body in (b"", b" \n\t"):
        assert (await _raw_post(http, balance, body))[0] == 200
    status, answer = await _raw_post(http, balance, b"{nope")
    assert (status, answer["error"]["code"]) == (400, "INVALID_REQUEST")


async def test_a_body_over_the_size_limit_is_refused_as_too_large(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    url = emu.base_url + "/session/create"
    fits = b'{"x": "' + b"a" * (MAX_BODY - 9) + b'"}'
    assert len(fits) == MAX_BODY
    assert (await _raw_post(http, url, fits))[0] == 200
    for extra in (1, 2, 1000):  # just over the limit, where aiohttp versions differ, and more
        status, answer = await _raw_post(http, url, fits + b" " * extra)
        assert (status, answer["error"]["code"]) == (413, "PAYLOAD_TOO_LARGE")
        assert answer["error"]["details"] == {"maxBytes": MAX_BODY}
    assert emu.state.account().sessions_created == 1
    assert emu.state.internal_errors == 0  # refused, not a server fault


async def test_only_a_whole_body_within_the_limit_is_taken_as_buffered() -> None:
    loop = asyncio.get_running_loop()

    def request_with(data: bytes, *, whole: bool = True) -> web.Request:
        payload = StreamReader(mock.Mock(), 2**16, loop=loop)
        payload.feed_data(data)
        if whole:
            payload.feed_eof()
        return make_mocked_request("POST", "/session/create", payload=payload)

    assert buffered_body(request_with(b'{"a": 1}')) == b'{"a": 1}'
    assert buffered_body(request_with(b"x" * MAX_BODY)) == b"x" * MAX_BODY
    assert buffered_body(request_with(b'{"a"', whole=False)) is None  # still arriving
    assert buffered_body(make_mocked_request("GET", "/account/balance")) is None  # no body
    assert buffered_body(request_with(b"x" * (MAX_BODY + 1))) is None  # left to _read_body


def test_a_session_request_row_is_the_keyword_built_one() -> None:
    fast = TaskRecord.session_request("t1", "adaptive", "https://a.test/", "POST", 5, 7, "s1")
    plain = TaskRecord(
        id="t1",
        type="BBRE_SESSION_REQUEST",
        mode="adaptive",
        url="https://a.test/",
        method="POST",
        created_ms=5,
        price_micros=7,
        session_id="s1",
    )
    assert attrs.asdict(fast) == attrs.asdict(plain)


def test_task_ids_count_up_behind_one_uuid_shaped_prefix(emu: Emulator) -> None:
    first, second = emu.engine.new_task_id(), emu.engine.new_task_id()
    assert first[:24] == second[:24] and len(first) == len(second) == 36
    assert (first[24:], second[24:]) == ("000000000001", "000000000002")


async def test_unwaited_requests_leave_nothing_in_flight(api: Api, emu: Emulator) -> None:
    session = await api.create()
    for i in range(3):
        await api.fetch(session["id"], f"https://a.test/{i}")
    state = emu.state.account()
    assert (state.concurrent_request_violations, state.max_in_flight_per_session) == (0, 1)
    assert emu.engine.sessions[session["id"]].in_flight == 0
    assert state.requests_total == 3 and state.tasks_created == 3


async def test_one_request_at_a_time_is_still_checked_once_requests_wait(
    api: Api, emu: Emulator
) -> None:
    session = await api.create()
    await api.fetch(session["id"], "https://a.test/unwaited")
    emu.set_latency(Latency(endpoints={"session/request": 0.2}))
    await asyncio.gather(*(api.fetch(session["id"], f"https://a.test/{i}") for i in range(2)))
    state = emu.state.account()
    assert (state.concurrent_request_violations, state.max_in_flight_per_session) == (1, 2)
    assert emu.engine.sessions[session["id"]].in_flight == 0


async def test_a_failing_fetch_frees_the_session(
    api: Api, emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    session = await api.create()

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("target exploded")

    monkeypatch.setattr(Targets, "fetch", broken)
    await api.err(
        "/session/request",
        {"sessionId": session["id"], "url": "https://a.test/"},
        500,
        "SERVICE_ERROR",
    )
    assert emu.engine.sessions[session["id"]].in_flight == 0
    assert emu.state.internal_errors == 1


async def test_default_pages_and_profiles_render_as_their_values(api: Api, emu: Emulator) -> None:
    session = await api.create()
    url = 'https://shop.test/p?q=<1>&r="2"'
    task = await api.fetch(session["id"], url)
    headers, body, name, value = synthetic_page("GET", url)
    assert (task["result"]["headers"], task["result"]["body"]) == (dict(headers), body)
    assert task["result"]["cookies"] == {name: value}
    again = await api.fetch(session["id"], url)
    assert again["result"]["profile"] == task["result"]["profile"]
    emu.script("https://shop.test/*", body="scripted")  # scripted answers render as they go
    assert (await api.fetch(session["id"], url))["result"]["body"] == "scripted"


def test_the_engine_reads_the_clock_it_is_given(emu: Emulator) -> None:
    engine = emu.engine
    engine.clock = ManualClock(1_000.0)
    assert engine.now_ms() == 1_000_000
    engine.clock = SystemClock()
    before, now, after = time.time(), engine.now_ms(), time.time()
    assert round(before * 1000) <= now <= round(after * 1000)
