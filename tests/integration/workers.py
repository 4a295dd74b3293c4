"""Worker processes for the process-level tests: ``python -m tests.integration.workers MODE URL``.

``hold``: open a pool, lease N sessions, print "ready", and wait to be signalled.
``hold-kill``: the same, for a test that SIGKILLs the process (no cleanup at all).
"""

from __future__ import annotations

import asyncio
import sys

from bbre_async import BBREClient
from bbre_async.pool import SessionPool


async def hold(url: str, count: int, ledger_path: str | None, handle_signals: bool) -> None:
    async with BBREClient(api_key="test-key", base_url=url) as client:
        pool = SessionPool(
            client,
            max_size=10,
            ledger_path=ledger_path,
            handle_signals=handle_signals,
            shutdown_timeout=1.0,
            idle_timeout=None,
        )
        async with pool:
            leases = [await pool.acquire(timeout=20) for _ in range(count)]
            for lease in leases:
                await lease.get("https://target.test/hold")
            print("ready", flush=True)
            await asyncio.Event().wait()


def main() -> None:
    mode, url, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    ledger = sys.argv[4] if len(sys.argv) > 4 and sys.argv[4] != "-" else None
    asyncio.run(hold(url, count, ledger, handle_signals=(mode == "hold")))


if __name__ == "__main__":
    main()
