"""What every example shares: where to send requests.

With ``BBRE_BASE_URL`` set (and ``BBRE_API_KEY``), an example talks to that server and spends
real money. Without it, the example starts the embedded emulator on a free localhost port, so
it runs offline and for free, with sessions that age ``time_scale`` times faster.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import NamedTuple

from bbre_async import BBREClient
from bbre_async.emulator import Emulator, EmulatorSettings, Latency, TargetRule, running_emulator


class Target(NamedTuple):
    base_url: str
    api_key: str
    emulator: Emulator | None  # the embedded emulator, or None for a real account


@asynccontextmanager
async def api_target(
    *,
    time_scale: float = 1.0,
    latency: float = 0.0,
    targets: Iterable[TargetRule] = (),
) -> AsyncIterator[Target]:
    """Yield the account from the environment, or an embedded emulator for the block.

    ``latency`` (real seconds per call) and ``targets`` (scripted pages) shape the emulator
    only; a real server ignores them.
    """
    base_url = os.environ.get("BBRE_BASE_URL")
    if base_url:
        api_key = os.environ.get("BBRE_API_KEY", "")
        if not api_key:
            raise SystemExit("BBRE_BASE_URL is set but BBRE_API_KEY is not")
        print(f"target: {base_url} from BBRE_BASE_URL (requests are charged)", flush=True)
        yield Target(base_url, api_key, None)
        return
    settings = EmulatorSettings(
        time_scale=time_scale, latency=Latency(default=latency), targets=tuple(targets)
    )
    # Pools keep a crash ledger per API key and base URL in the user's cache directory. The
    # emulator gets a new port every run, so keep its throwaway ledgers in a temporary
    # directory instead (child processes inherit it through the environment).
    cache = tempfile.mkdtemp(prefix="bbre-example-")
    os.environ["XDG_CACHE_HOME"] = cache
    try:
        async with running_emulator(settings) as emulator:
            print(
                f"target: embedded emulator at {emulator.base_url} (time scale {time_scale:g}); "
                "set BBRE_BASE_URL and BBRE_API_KEY to use a real account",
                flush=True,
            )
            yield Target(emulator.base_url, emulator.api_key, emulator)
    finally:
        shutil.rmtree(cache, ignore_errors=True)


async def count_active(client: BBREClient) -> int:
    """Active sessions on the account, by the server's listing."""
    return sum([1 async for _ in client.account.sessions(status="active")])
