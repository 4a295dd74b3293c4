"""Run a command in a pseudo-terminal of a chosen size, as a user's shell runs it: the child
owns the terminal (so Ctrl-C typed into it is a SIGINT from the line discipline), rich sees a
real terminal of that width, and the test reads what the user would see."""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Mapping

from tests.cli.conftest import ROOT

#: Makes the terminal the controlling one of the new session, then becomes the command, with
#: SIGINT at its default as a shell leaves it (a test runner's worker may ignore it, and an
#: ignored signal stays ignored across exec).
_TAKE_TERMINAL = (
    "import fcntl, os, signal, sys, termios\n"
    "fcntl.ioctl(0, termios.TIOCSCTTY, 0)\n"
    "signal.signal(signal.SIGINT, signal.SIG_DFL)\n"
    "os.execv(sys.executable, [sys.executable, '-m', 'bbre_async', *sys.argv[1:]])\n"
)
_ESCAPES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")
#: Generous bounds for a slow, shared machine; they only stop a hung test.
WAIT = 60.0


def plain(text: str) -> str:
    """What the screen shows: escape sequences removed, line ends as ``\\n``."""
    return _ESCAPES.sub("", text).replace("\r\n", "\n").replace("\r", "\n")


class Terminal:
    """``bbre-async ARGS`` in a ``columns`` x ``rows`` pseudo-terminal."""

    def __init__(
        self, *args: str, env: Mapping[str, str], columns: int = 120, rows: int = 40
    ) -> None:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
        environment = {k: v for k, v in env.items() if k not in {"COLUMNS", "LINES"}}
        environment["TERM"] = "xterm-256color"
        self.process = subprocess.Popen(
            [sys.executable, "-c", _TAKE_TERMINAL, *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=environment,
            cwd=ROOT,
            start_new_session=True,
        )
        os.close(slave)
        self._master = master
        self._seen = bytearray()

    def _read(self, limit: float) -> bool:
        """Read what is available within ``limit`` seconds; False at the end of output."""
        ready, _, _ = select.select([self._master], [], [], limit)
        if not ready:
            return True
        try:
            chunk = os.read(self._master, 65536)
        except OSError:  # EIO: the child closed its side
            return False
        if not chunk:
            return False
        self._seen += chunk
        return True

    @property
    def screen(self) -> str:
        return plain(self._seen.decode("utf-8", "replace"))

    def wait_for(self, text: str) -> str:
        """Read until ``text`` shows on the screen; fails after a generous bound."""
        deadline = time.monotonic() + WAIT
        while text not in self.screen:
            if time.monotonic() > deadline or not self._read(0.2):
                raise AssertionError(f"{text!r} never showed; the screen:\n{self.screen}")
        return self.screen

    def type(self, keys: bytes) -> None:
        os.write(self._master, keys)

    def finish(self) -> int:
        """Read to the end of the output and return the exit status."""
        deadline = time.monotonic() + WAIT
        while self._read(0.2):
            if time.monotonic() > deadline:
                self.process.kill()
                raise AssertionError(f"the command did not end; the screen:\n{self.screen}")
        code = self.process.wait(WAIT)
        with contextlib.suppress(OSError):
            os.close(self._master)
        return code
