"""A server in a child process, pinned to its own core: the stub, or the aiohttp.web baseline.

The child prints its URL on stdout when it listens and stops when its stdin closes (or on
SIGTERM), so a crashed benchmark never leaves it running. ``cpu_seconds()`` reads the child's
CPU time from ``/proc`` so a scenario can charge CPU per request to the server as well.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a live process (Linux ``/proc``), or None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime, stime (fields 14 and 15)


class ServerProcess:
    """``python -m MODULE --cpu CPU`` as a child; ``base_url`` once it printed it."""

    def __init__(self, module: str, *, cpu: int | None = 0) -> None:
        self.module = module
        self.cpu = cpu if (os.cpu_count() or 1) > 1 else None
        self.process: subprocess.Popen[bytes] | None = None
        self.base_url = ""

    def start(self, ready_timeout: float = 30.0) -> str:
        args = [sys.executable, "-m", self.module]
        if self.cpu is not None:
            args += ["--cpu", str(self.cpu)]
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        }
        self.process = subprocess.Popen(
            args, cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], ready_timeout)
        line = self.process.stdout.readline().decode().strip() if ready else ""
        if not line.startswith("http"):
            self.stop()
            raise RuntimeError(f"{self.module} did not print its URL (got {line!r})")
        self.base_url = line
        return line

    def cpu_seconds(self) -> float | None:
        return process_cpu_seconds(self.process.pid) if self.process else None

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        if process.stdin is not None:
            process.stdin.close()  # the child's signal to stop
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=5)
        if process.stdout is not None:
            process.stdout.close()

    def __enter__(self) -> ServerProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def stub_server(cpu: int | None = 0) -> ServerProcess:
    """The protocol-level BBRE stub (``benchmarks._stub``)."""
    return ServerProcess("benchmarks._stub", cpu=cpu)


def web_baseline_server(cpu: int | None = 0) -> ServerProcess:
    """The minimal aiohttp.web handler the emulator's CPU per request is put against."""
    return ServerProcess("benchmarks._web_baseline", cpu=cpu)
