"""Hostile and odd answers over real loopback sockets (issue 16, defect 8; issue 18, defect 5).

A per-call ``timeout`` bounds the whole call on this side, a never-ending or huge answer
fails typed without being read whole, valid JSON with escaped lone surrogates survives, and
only the transient statuses of a non-JSON error page are retried.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bbre_async import (
    APITimeoutError,
    BBREClient,
    GatewayError,
    InvalidResponseError,
    ResponseTooLargeError,
    SessionInfo,
)

from .conftest import RawServer, http_answer, read_request

KEY = "test-key-hostile"
BOUND = 60.0  # far above every timeout here: reaching it means an unbounded call


async def outcome(call: Any) -> BaseException | None:
    try:
        async with asyncio.timeout(BOUND):
            await call
    except TimeoutError as error:
        if not isinstance(error, APITimeoutError):
            raise AssertionError(f"the call was still running after {BOUND}s") from error
        return error
    except BaseException as error:  # checked by the test
        return error
    return None


def session_of(client: BBREClient) -> Any:
    return client.sessions.attach(SessionInfo(id="s1", status="active"))


async def never_ending(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await read_request(reader)
    writer.write(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    writer.write(b"1\r\n{\r\n")
    while True:  # a space every 50 ms, for ever: each byte is "in time"
        writer.write(b"1\r\n \r\n")
        await writer.drain()
        await asyncio.sleep(0.05)


async def test_a_never_ending_answer_is_bounded_by_the_per_call_timeout() -> None:
    async with RawServer(never_ending) as server:
        async with BBREClient(api_key=KEY, base_url=server.url) as client:
            error = await outcome(session_of(client).get("https://t.test/", timeout=0.5))
    assert isinstance(error, APITimeoutError), repr(error)
    assert "gave up after" in error.message
    assert error.details["waited"] >= 0.45


async def huge(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await read_request(reader)
    size = 50 * 1024 * 1024
    writer.write(f"HTTP/1.1 200 OK\r\nContent-Length: {size}\r\n\r\n".encode())
    writer.write(b"x" * 65536)
    await writer.drain()
    await asyncio.Event().wait()


async def endless_chunks(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await read_request(reader)
    writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    chunk = b"x" * 4096
    while True:
        writer.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        await writer.drain()
        await asyncio.sleep(0)


@pytest.mark.parametrize("fault", [huge, endless_chunks], ids=["content-length", "chunked"])
async def test_an_answer_above_max_response_size_fails_typed(fault: Any) -> None:
    async with RawServer(fault) as server:
        async with BBREClient(
            api_key=KEY, base_url=server.url, max_response_size=1024 * 1024, timeout=30
        ) as client:
            error = await outcome(session_of(client).get("https://t.test/"))
            assert isinstance(error, ResponseTooLargeError), repr(error)
            assert isinstance(error, InvalidResponseError)
            assert server.connections == 1  # not retried: the same answer would come again
            # A copy can lift the limit for one call site; the pool of connections is shared.
            assert client.with_options(max_response_size=None).transport is client.transport


LONE = (
    b'{"success":true,"data":{"task":{"id":"t","status":"completed","result":'
    b'{"statusCode":200,"headers":{"Set-Cookie":["a=1","b=2"]},'
    b'"body":"emoji half \\ud83d here"}}}}'
)


async def lone_surrogate(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await read_request(reader)
    writer.write(http_answer(200, LONE))
    await writer.drain()


async def test_a_paid_answer_with_an_escaped_lone_surrogate_survives() -> None:
    async with RawServer(lone_surrogate) as server:
        async with BBREClient(api_key=KEY, base_url=server.url) as client:
            response = await session_of(client).get("https://t.test/")
    assert response.text == "emoji half \ud83d here"
    assert response.content == "emoji half \ud83d here".encode("utf-8", "surrogatepass")
    assert response.headers.getall("set-cookie") == ["a=1", "b=2"]


def html_page(status: int, title: str) -> Any:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await read_request(reader)
            page = f"<html><head><title>{title}</title></head><body>nope</body></html>"
            writer.write(http_answer(status, page.encode(), headers={"Content-Type": "text/html"}))
            await writer.drain()

    return serve


@pytest.mark.parametrize(
    ("status", "title", "tries", "cls"),
    [
        (501, "501 Not Implemented", 1, GatewayError),
        (404, "404 Not Found", 1, InvalidResponseError),
        (503, "503 Service Unavailable", 3, GatewayError),
        (502, "502 Bad Gateway", 3, GatewayError),
    ],
)
async def test_html_error_pages_keep_status_title_and_retry_only_transient_statuses(
    status: int, title: str, tries: int, cls: type[Exception]
) -> None:
    async with RawServer(html_page(status, title)) as server:
        async with BBREClient(api_key=KEY, base_url=server.url, timeout=30) as client:
            error = await outcome(client.account.balance())
            assert isinstance(error, cls), repr(error)
            assert isinstance(error, InvalidResponseError)
            assert error.status == status
            assert title in error.message and f"HTTP {status}" in error.message
            assert error.details["body_start"].startswith("<html>")
            assert client.stats().attempts == tries
