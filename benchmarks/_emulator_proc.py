"""Run the emulator CLI in a child process and talk to its ``/_emulator/*`` admin routes.

Throughput scenarios keep the server out of the measuring process, so the client side and the
server do not share one core; with ``taskset`` available the server is pinned to ``cpu`` and
the benchmark process to the other cores. The admin calls are plain JSON over HTTP.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from typing import Any

import aiohttp

from benchmarks._server_proc import process_cpu_seconds

ACCOUNT = "account1"  # the CLI names accounts account1, account2, ...
API_KEY = "test-key"  # the CLI's default key


class EmulatorProcess:
    """``bbre-async emulator --port 0`` as a child process; ``base_url`` once started."""

    def __init__(
        self,
        *,
        time_scale: float = 1.0,
        latency: Mapping[str, float] | None = None,
        cpu: int | None = 0,
        sweep_interval: float = 1.0,
        balance: float = 1e9,
    ) -> None:
        self.time_scale = time_scale
        self.latency = dict(latency or {})
        self.cpu = cpu
        self.sweep_interval = sweep_interval
        self.balance = balance
        self.process: subprocess.Popen[bytes] | None = None
        self.base_url = ""

    def command(self) -> list[str]:
        args = [
            sys.executable,
            "-m",
            "bbre_async.emulator",
            "--port",
            "0",
            "--balance",
            repr(self.balance),
            "--time-scale",
            repr(self.time_scale),
            "--sweep-interval",
            repr(self.sweep_interval),
        ]
        taskset = shutil.which("taskset")
        if self.cpu is not None and taskset and (os.cpu_count() or 1) > 1:
            args = [taskset, "-c", str(self.cpu), *args]
        return args

    def start(self, ready_timeout: float = 20.0) -> str:
        self.process = subprocess.Popen(
            self.command(), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
        )
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], ready_timeout)
        line = self.process.stdout.readline().decode().strip() if ready else ""
        if not line.startswith("http"):
            self.stop()
            raise RuntimeError(f"the emulator did not print its URL (got {line!r})")
        self.base_url = line
        if self.latency:
            self.set_latency(self.latency)
        return line

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        if process.stdout is not None:
            process.stdout.close()

    def cpu_seconds(self) -> float | None:
        """The emulator process's CPU time so far (Linux ``/proc``), or None."""
        return process_cpu_seconds(self.process.pid) if self.process else None

    def __enter__(self) -> EmulatorProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- admin, blocking (call outside an event loop) ------------------------------------
    def _post(self, path: str, body: Mapping[str, Any]) -> Any:
        request = urllib.request.Request(  # noqa: S310 (an http:// loopback URL we built)
            f"{self.base_url}/_emulator/{path}",
            data=json.dumps(body).encode(),
            headers={"content-type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (an http:// loopback URL)
            return json.loads(response.read())

    def server_state(self) -> dict[str, Any]:
        """The whole ``GET /_emulator/state`` answer: server-wide fields and every account."""
        url = f"{self.base_url}/_emulator/state"
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (an http:// loopback URL)
            return dict(json.loads(response.read()))

    def state(self) -> dict[str, Any]:
        """The default account's counters (``GET /_emulator/state``)."""
        return dict(self.server_state()["accounts"][ACCOUNT])

    def set_latency(self, endpoints: Mapping[str, float]) -> None:
        """Server-side delay per endpoint, real seconds; kept across ``reset``."""
        self.latency = dict(endpoints)
        self._post("latency", {"endpoints": self.latency})

    def reset(self) -> None:
        """Forget sessions and counters (between repetitions on one server)."""
        self._post("reset", {})
        if self.latency:
            self._post("latency", {"endpoints": self.latency})


async def astate(http: aiohttp.ClientSession, base_url: str) -> dict[str, Any]:
    """``state()`` from inside an event loop."""
    async with http.get(f"{base_url}/_emulator/state") as response:
        return dict((await response.json())["accounts"][ACCOUNT])


@contextlib.contextmanager
def pinned_to_other_cores(cpu: int | None) -> Iterator[None]:
    """Keep this process off ``cpu`` (the emulator's core) for the block, when possible."""
    getter = getattr(os, "sched_getaffinity", None)
    setter = getattr(os, "sched_setaffinity", None)
    if cpu is None or getter is None or setter is None:
        yield
        return
    before = getter(0)
    others = before - {cpu}
    if not others:
        yield
        return
    setter(0, others)
    try:
        yield
    finally:
        setter(0, before)


def wait_until(predicate: Any, timeout: float, interval: float = 0.01) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())
