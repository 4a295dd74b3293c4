"""Start ``benchmarks._workers`` child processes and wait for their ``ready`` line."""

from __future__ import annotations

import os
import select
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def spawn(*args: str, stdin: bool = False) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "benchmarks._workers", *args],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def read_line(process: subprocess.Popen[bytes], timeout: float) -> str:
    """The child's next stdout line; raises with its stderr when it dies or stays silent."""
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    line = process.stdout.readline().decode().strip() if ready else ""
    if not line:
        stop(process)
        err = process.stderr.read().decode()[-2000:] if process.stderr else ""
        raise RuntimeError(f"child {process.args!r} gave no line within {timeout}s: {err}")
    return line


def stop(process: subprocess.Popen[bytes], timeout: float = 10.0) -> int:
    """Wait for the child to end (kill it after ``timeout``); its exit code."""
    try:
        code = process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        code = process.wait(timeout=timeout)
    for stream in (process.stdin, process.stdout, process.stderr):
        if stream is not None:
            stream.close()
    return code
