"""Everything the coordination package raises on purpose is a `BBREError` (issue 16, defect 6)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from bbre_async import BBREClient, BBREError, CoordinationError, PoolTimeoutError, SessionPool
from bbre_async.coordination import (
    CoordinatorUnavailableError,
    LedgerFileError,
    RedisCoordinator,
    SlotTimeoutError,
)
from bbre_async.emulator import running_emulator

from .conftest import ROOT


def test_coordination_errors_sit_in_the_tree() -> None:
    assert issubclass(CoordinatorUnavailableError, CoordinationError)
    assert issubclass(LedgerFileError, CoordinationError)
    # Waiting for a busy cap is a timeout, not an outage.
    assert issubclass(SlotTimeoutError, PoolTimeoutError)
    assert not issubclass(SlotTimeoutError, CoordinationError)


async def test_a_pool_on_an_unreachable_redis_fails_with_a_bbre_error() -> None:
    async with (
        running_emulator() as emu,
        BBREClient(api_key="test-key", base_url=emu.base_url) as client,
    ):
        coordinator = RedisCoordinator.for_client("redis://127.0.0.1:1/0", client, op_timeout=0.3)
        pool = SessionPool(client, coordinator=coordinator, handle_signals=False)
        with pytest.raises(BBREError) as caught:
            async with pool:
                pass
        assert isinstance(caught.value, CoordinationError)


def test_without_the_redis_extra_the_import_names_the_extra() -> None:
    script = textwrap.dedent(
        """
        import sys
        sys.modules["redis"] = None  # as if the extra were not installed
        try:
            from bbre_async.coordination import RedisCoordinator
        except ImportError as error:
            print(type(error).__name__, error)
        else:
            print("imported")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ImportError ")
    assert "pip install 'bbre-async[redis]'" in result.stdout
