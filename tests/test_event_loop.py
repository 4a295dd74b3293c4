"""``BBRE_TEST_LOOP=uvloop python -m pytest`` runs the suite on uvloop's loop, as users of the
``[uvloop]`` extra run the package."""

from __future__ import annotations

import asyncio
import os


async def test_the_suite_runs_on_the_chosen_loop() -> None:
    loop = type(asyncio.get_running_loop())
    if os.environ.get("BBRE_TEST_LOOP") == "uvloop":
        assert loop.__module__.startswith("uvloop"), loop
    else:
        assert loop.__module__.startswith("asyncio"), loop
