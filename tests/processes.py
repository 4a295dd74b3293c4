"""Starting a program in a test as a shell starts it.

A test runner started in the background (``pytest &``, a CI step run by a script) has SIGINT
ignored, and an ignored signal stays ignored in every child, across exec: a program under test
would then ignore Ctrl-C. Pass ``preexec_fn=as_a_shell_starts_it`` to give it SIGINT's default.
"""

from __future__ import annotations

import signal


def as_a_shell_starts_it() -> None:
    """Runs in the child before exec: SIGINT at its default, as an interactive shell leaves it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
