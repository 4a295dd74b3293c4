"""After ``settle_allocator`` a 256 KiB block (asyncio's read size) comes from the heap, not
from a fresh ``mmap``: checked in fresh processes through glibc's ``mallinfo2``."""

from __future__ import annotations

import ctypes
import subprocess
import sys
import textwrap

import pytest

from bbre_async.emulator import _allocator

#: Prints how many mapped blocks a 256 KiB allocation adds, in a process that has never freed
#: one; with the module's path as argument, after its ``settle_allocator()``. The module is
#: loaded from its file alone: importing the package would shape the allocator's history.
PROBE = textwrap.dedent(
    """
    import ctypes, runpy, sys

    class Mallinfo2(ctypes.Structure):
        _fields_ = [(name, ctypes.c_size_t) for name in (
            "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost"
        ).split()]

    libc = ctypes.CDLL(None)
    libc.mallinfo2.restype = Mallinfo2
    if len(sys.argv) > 1:
        runpy.run_path(sys.argv[1])["settle_allocator"]()
    before = libc.mallinfo2().hblks
    block = bytearray(256 * 1024)
    print(libc.mallinfo2().hblks - before)
    """
)


def _mapped_blocks(*args: str) -> int:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, check=True
    )
    return int(done.stdout)


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or not hasattr(ctypes.CDLL(None), "mallinfo2"),
    reason="glibc 2.33+ only (mallinfo2)",
)
def test_a_read_sized_block_comes_from_the_heap_once_settled() -> None:
    if _mapped_blocks() == 0:
        pytest.skip("this process's allocator already serves 256 KiB from its heap")
    assert _mapped_blocks(_allocator.__file__) == 0
