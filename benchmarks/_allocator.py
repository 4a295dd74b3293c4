"""Every benchmark process settles glibc's allocator at start, as the emulator's server does.

The reason is in ``bbre_async.emulator._allocator``. In short: until glibc's ``malloc`` has
freed one large block whole, it maps and unmaps asyncio's 256 KiB read buffer on every read,
and whether a process does so depends on its history. Settled, the arms and servers differ
in their code only. Kept apart from the emulator's copy because importing
``bbre_async.emulator`` costs the stub, the web baseline and the workers 0.8 s at each start.
"""

from __future__ import annotations

#: glibc raises its mmap threshold to the size of the block freed (up to 32 MiB).
BLOCK = 1 << 20


def settle_allocator() -> None:
    block = bytearray(BLOCK)
    del block
