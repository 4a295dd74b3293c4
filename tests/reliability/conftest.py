"""Shared helpers of the reliability suite: resource counters, log checks, raw servers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shlex
import shutil
import ssl
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from tests.waiting import eventually

#: A distinctive key: if any byte of it shows up in a log, a repr or a file, it leaked.
SECRET_KEY = "sk_live_R3l1ab1l1tyS3cr3tK3y_0123456789abcdef"


def fd_count() -> int:
    return len(os.listdir("/proc/self/fd"))


def task_count() -> int:
    return len(asyncio.all_tasks())


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS in /proc/self/status")


async def settle_resources(
    tasks_before: int, fds_before: int, timeout: float = 10.0
) -> tuple[int, int]:
    """Wait (bounded) for closing sockets and finishing tasks to go; return what is left."""
    with contextlib.suppress(AssertionError):
        await eventually(lambda: task_count() <= tasks_before and fd_count() <= fds_before, timeout)
    return task_count(), fd_count()


def assert_secret_absent(text: str | bytes, where: str, secret: str = SECRET_KEY) -> None:
    data = text.encode() if isinstance(text, str) else text
    assert secret.encode() not in data, f"the API key leaked into {where}"


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Every record of the library (and the emulator) at DEBUG."""
    caplog.set_level(logging.DEBUG, logger="bbre_async")
    return caplog


def full_log_text(caplog: pytest.LogCaptureFixture) -> str:
    """Messages, arguments and tracebacks of every captured record."""
    parts: list[str] = []
    formatter = logging.Formatter()
    for record in caplog.records:
        parts.append(record.getMessage())
        parts.append(repr(record.args))
        if record.exc_info:
            parts.append(formatter.formatException(record.exc_info))
    parts.append(caplog.text)
    return "\n".join(parts)


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def read_request(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    """Read one HTTP/1.1 request (head and a Content-Length body)."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    body = await reader.readexactly(length) if length else b""
    return head, body


class RawServer:
    """A tiny loopback TCP server whose connections ``handler`` drives byte by byte."""

    def __init__(self, handler: Handler, ssl_context: ssl.SSLContext | None = None) -> None:
        self.handler = handler
        self.ssl_context = ssl_context
        self.connections = 0
        self.requests: list[bytes] = []
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.add(writer)
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self.handler(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        finally:
            self._tasks.discard(task)
            self._writers.discard(writer)
            writer.close()

    async def __aenter__(self) -> RawServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.ssl_context)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        for writer in list(self._writers):
            writer.close()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=5)
        await self._server.wait_closed()

    @property
    def url(self) -> str:
        scheme = "https" if self.ssl_context else "http"
        return f"{scheme}://127.0.0.1:{self.port}"


def http_answer(status: int, body: bytes, *, headers: dict[str, str] | None = None) -> bytes:
    lines = [f"HTTP/1.1 {status} X", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


BALANCE_OK = http_answer(
    200,
    b'{"success": true, "service": "MyDisct Solver BBRE", "balance": 12.5}',
    headers={"Content-Type": "application/json"},
)


@pytest.fixture(scope="session")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A throwaway self-signed certificate for 127.0.0.1 (made with the openssl CLI)."""
    if shutil.which("openssl") is None:
        pytest.skip("no openssl binary to make a self-signed certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            *shlex.split("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1"),
            *shlex.split("-addext subjectAltName=IP:127.0.0.1 -keyout"),
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


def server_tls(cert_and_key: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*cert_and_key)
    return context


# The real redis-server fixtures of the coordination suite (they skip without a binary).
from tests.coordination.conftest import (  # noqa: E402
    redis_namespace,
    redis_server,
    redis_url,
)

__all__ = ["redis_namespace", "redis_server", "redis_url"]
