"""The default transport on real loopback sockets: no aiohttp type escapes, a borrowed
``aiohttp.ClientSession`` stays open, a closed client refuses calls, redirects are refused."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest

import bbre_async as b
from bbre_async import AiohttpTransport, BBREClient, Timeout, TransportRequest

BALANCE = b'{"success": true, "balance": 4.5}'


async def answer_with(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, head: bytes, body: bytes
) -> None:
    try:
        while True:
            request_head = await reader.readuntil(b"\r\n\r\n")
            for line in request_head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    await reader.readexactly(int(line.split(b":", 1)[1]))
            writer.write(head + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


@pytest.fixture
async def api() -> AsyncIterator[str]:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await answer_with(
            reader, writer, b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n", BALANCE
        )

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"http://127.0.0.1:{port}"


async def test_a_borrowed_session_is_not_closed(api: str) -> None:
    async with aiohttp.ClientSession() as http:
        async with BBREClient(api_key="k" * 8, base_url=api, session=http) as client:
            assert await client.account.balance() == 4.5
        assert not http.closed


async def test_a_closed_client_refuses_calls(api: str) -> None:
    client = BBREClient(api_key="k" * 8, base_url=api)
    assert await client.account.balance() == 4.5
    await client.aclose()
    with pytest.raises(b.APIConnectionError, match="closed") as info:
        await client.account.balance()
    assert not info.value.request_sent


async def test_the_transport_returns_headers_bytes_and_url(api: str) -> None:
    transport = AiohttpTransport()
    try:
        response = await transport.handle_async_request(
            TransportRequest(
                "POST",
                api + "/account/balance",
                headers={"Accept": "*/*"},
                content=b"{}",
                timeout=Timeout(),
            )
        )
    finally:
        await transport.aclose()
    assert response.status_code == 200 and response.content == BALANCE
    assert response.headers["CONTENT-TYPE"] == "application/json"
    assert response.url == api + "/account/balance"


async def test_redirects_are_refused_so_the_key_stays_home() -> None:
    seen: list[bytes] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await reader.readuntil(b"\r\n\r\n"))
        writer.write(
            b"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:9/steal\r\nContent-Length: 0\r\n\r\n"
        )
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        async with BBREClient(api_key="k" * 8, base_url=f"http://127.0.0.1:{port}") as client:
            with pytest.raises(b.BBREError, match="redirected"):
                await client.account.balance()
    assert len(seen) == 1
