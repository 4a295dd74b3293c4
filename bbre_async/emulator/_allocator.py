"""Free one large block at start, so that glibc's ``malloc`` stops mapping and unmapping
asyncio's read buffers on every request.

asyncio's selector transport reads each ``recv`` into a fresh 256 KiB buffer. glibc serves a
block above its mmap threshold (128 KiB until raised) with ``mmap``, shrinks it with
``mremap`` and returns it with ``munmap``. It raises that threshold only once a block of that
size is freed whole, which a process may never do. Until then, every read costs those three
system calls and a page fault: measured at 15-30 µs of system CPU per request, a tenth of the
emulator's work per request, and a different amount in each process by its allocation history.
Freeing one 1 MiB block raises the threshold to that size (glibc's dynamic threshold) at once.
Other allocators do not care.
"""

from __future__ import annotations

#: Above glibc's default mmap threshold (128 KiB) and asyncio's read size (256 KiB), well
#: below its highest dynamic threshold (32 MiB).
BLOCK = 1 << 20


def settle_allocator() -> None:
    """Raise glibc's mmap threshold by freeing one mapped block (once, at a process's start)."""
    block = bytearray(BLOCK)
    del block
