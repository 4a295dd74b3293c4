"""Faults at the socket boundary, with real loopback sockets and tiny raw servers.

Each fault must reach the caller as its typed error (``APIConnectionError`` or its subclass
``APITimeoutError``), chained to the cause, and leave the client usable. No assertion reads a
stopwatch: a call that does not end is caught by a generous outer limit (``BOUND``), and how
long a timeout waited is read from the error's own account of it.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp.abc import AbstractResolver

from bbre_async import (
    APIConnectionError,
    APITimeoutError,
    BBREClient,
    BBREError,
    RetryPolicy,
    Timeout,
)

from .conftest import (
    RawServer,
    fd_count,
    http_answer,
    read_request,
    settle_resources,
    task_count,
)

KEY = "test-key-boundary"


#: Far above any timeout used here: reaching it means a call that was not bounded at all.
BOUND = 60.0


async def outcome(call: Awaitable[Any]) -> BaseException | None:
    """What the call raised (None if nothing); fails the test if it does not end."""
    try:
        async with asyncio.timeout(BOUND):
            await call
    except TimeoutError as error:
        if not isinstance(error, BBREError):
            raise AssertionError(f"the call was still running after {BOUND}s") from error
        return error
    except BaseException as error:  # what the caller sees, checked by the test
        return error
    return None


def waited(error: BBREError) -> float:
    """The time the client says it waited, as its message and details state it."""
    assert "gave up after" in error.message, error.message
    return float(error.details["waited"])


def free_closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def assert_typed(error: BaseException | None, cls: type[BBREError]) -> BBREError:
    assert isinstance(error, cls), f"expected {cls.__name__}, got {error!r}"
    assert error.request_id
    # Chained to what really happened, and nothing of aiohttp's escapes unwrapped.
    assert isinstance(error.__cause__, Exception) and not isinstance(error.__cause__, BBREError)
    return error


@pytest.fixture(autouse=True)
async def no_leaks() -> Any:
    tasks, fds = task_count(), fd_count()
    yield
    left = await settle_resources(tasks, fds)
    assert left[0] <= tasks and left[1] <= fds, f"leaked tasks/fds: {left} vs {(tasks, fds)}"


async def test_connection_refused() -> None:
    port = free_closed_port()
    async with BBREClient(api_key=KEY, base_url=f"http://127.0.0.1:{port}", timeout=2) as client:
        error = await outcome(client.account.balance())
        assert client.stats().attempts == 3  # never sent, so safe to retry: twice
    assert isinstance(error, APIConnectionError) and not isinstance(error, APITimeoutError)
    assert_typed(error, APIConnectionError)
    assert "cannot connect" in str(error) and not error.request_sent


async def reset_mid_body(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await read_request(reader)
    writer.write(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n"
    )
    writer.write(b'{"success": true, "bal')
    await writer.drain()
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()  # RST, not FIN


async def test_reset_mid_body() -> None:
    async with RawServer(reset_mid_body) as server:
        async with BBREClient(api_key=KEY, base_url=server.url, timeout=2) as client:
            error = await outcome(client.account.balance())
            assert_typed(error, APIConnectionError)
            assert server.connections == 3  # a safe read is retried (max_retries=2)
            # A create is not replayed once it may have arrived: one attempt, outcome unknown.
            error = await outcome(client.sessions.create())
            error = assert_typed(error, APIConnectionError)
            assert error.outcome_unknown
            assert server.connections == 4


async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await read_request(reader)
    await asyncio.Event().wait()  # accepts, reads, never answers (until the server stops)


async def test_a_server_that_never_answers_times_out() -> None:
    async with RawServer(silent) as server:
        async with BBREClient(
            api_key=KEY, base_url=server.url, timeout=0.5, max_retries=0
        ) as client:
            error = await outcome(client.account.balance())
    error = assert_typed(error, APITimeoutError)
    assert waited(error) >= 0.45
    assert "timeout total=0.5s" in error.message


async def test_a_silent_server_fails_a_balance_within_the_per_call_timeout() -> None:
    """Issue 16, defect 1: one budget for the whole call, retries included, and the message
    states the time really waited (not a per-attempt figure)."""
    no_backoff = RetryPolicy(max_retries=5, initial_delay=0)
    async with RawServer(silent) as server:
        async with BBREClient(api_key=KEY, base_url=server.url, retry=no_backoff) as client:
            error = await outcome(client.account.balance(timeout=Timeout(read=0.4, total=1.0)))
    error = assert_typed(error, APITimeoutError)
    # The read limit cut two attempts (0.4 s each); the total cut the third at 1.0 s.
    assert waited(error) >= 0.95
    assert error.details["attempts"] == 3 == server.connections


async def test_retries_never_overrun_the_callers_timeout() -> None:
    async with RawServer(silent) as server:
        async with BBREClient(api_key=KEY, base_url=server.url, timeout=0.3) as client:
            error = await outcome(client.sessions.status("s1", timeout=0.8))
    error = assert_typed(error, APITimeoutError)
    assert waited(error) >= 0.75
    assert "total=0.8s" in error.message  # the per-call timeout beat the client's


async def drip(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await read_request(reader)
    body = b'{"success": true, "balance": 1.0, "pad": "' + b"x" * 200 + b'"}'
    writer.write(f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n\r\n".encode())
    for byte in body:
        writer.write(bytes([byte]))
        await writer.drain()
        await asyncio.sleep(0.1)  # a fault server may sleep: one byte every 100 ms


async def test_a_slow_drip_body_is_bounded_by_the_total_timeout() -> None:
    """Each byte comes well within the read timeout; only the total limit can stop it."""
    async with RawServer(drip) as server:
        limits = Timeout(connect=1.0, read=1.0, total=0.8)
        async with BBREClient(
            api_key=KEY, base_url=server.url, timeout=limits, max_retries=0
        ) as client:
            error = await outcome(client.account.balance())
    error = assert_typed(error, APITimeoutError)
    assert waited(error) >= 0.75


class NoSuchHost(AbstractResolver):
    """Resolves nothing, the way the system resolver fails for ``*.invalid`` (no query is
    sent: this sandbox's resolver is not on loopback)."""

    async def resolve(self, host: str, port: int = 0, family: int = 0) -> list[Any]:
        raise OSError(socket.EAI_NONAME, f"Name or service not known: {host}")

    async def close(self) -> None:
        return None


async def test_dns_failure() -> None:
    connector = aiohttp.TCPConnector(resolver=NoSuchHost())
    async with aiohttp.ClientSession(connector=connector) as session:
        async with BBREClient(
            api_key=KEY, base_url="http://bbre.invalid", session=session, timeout=2
        ) as client:
            error = await outcome(client.account.balance())
    error = assert_typed(error, APIConnectionError)
    assert not isinstance(error, APITimeoutError)
    assert "bbre.invalid" in str(error)


async def plain_http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.read(1024)  # a TLS ClientHello, read as if it were HTTP
    writer.write(http_answer(400, b"plain HTTP server"))
    await writer.drain()


async def test_https_to_a_plain_tcp_server_is_a_tls_error() -> None:
    async with RawServer(plain_http) as server:
        url = f"https://127.0.0.1:{server.port}"
        async with BBREClient(api_key=KEY, base_url=url, timeout=2) as client:
            error = await outcome(client.account.balance())
    error = assert_typed(error, APIConnectionError)
    assert "TLS" in str(error)
    assert server.connections == 1  # a TLS failure is not retried


Fault = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def html_then_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await read_request(reader)
    writer.write(http_answer(502, b"<html><body>Bad Gateway</body></html>"))
    await writer.drain()


async def truncated_json(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await read_request(reader)
    writer.write(http_answer(200, b'{"success": true, "balance": 1'))
    await writer.drain()


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        (html_then_close, "GatewayError"),
        (truncated_json, "InvalidResponseError"),
    ],
)
async def test_garbled_answers_are_typed_and_keep_the_first_bytes(
    fault: Fault, expected: str
) -> None:
    async with RawServer(fault) as server:
        async with BBREClient(api_key=KEY, base_url=server.url, timeout=2) as client:
            error = await outcome(client.account.balance())
    assert isinstance(error, BBREError)
    assert type(error).__name__ == expected
    assert error.details["body_start"]
