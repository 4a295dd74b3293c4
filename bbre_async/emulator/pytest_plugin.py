"""pytest fixtures for a running BBRE emulator (loaded automatically with ``bbre_async``).

Install with ``pip install 'bbre-async[testing]'`` (brings pytest-asyncio); the fixtures work
in pytest-asyncio's ``strict`` mode (mark tests ``@pytest.mark.asyncio``) and ``auto`` mode.

- ``bbre_emulator_settings``: the ``EmulatorSettings`` to use; override it in a ``conftest.py``.
- ``bbre_emulator_clock``: the clock (``None`` means wall time); override it to return a
  ``ManualClock`` and move time by hand.
- ``bbre_emulator``: a running ``Emulator`` on a free loopback port, one per test.
- ``bbre_client``: a ``bbre_async.BBREClient`` pointed at it with the first account's key.
- ``orchestrator_client``: a ``bbre_async.orchestrator.OrchestratorClient`` pointed at the
  same emulator's OrchestratorHQ API (``bbre_emulator.orchestrator_url``, ``.../api``) with
  the first organisation's key; ``bbre_emulator.orchestrator`` observes and steers that API.
- ``bbre_ledger_dir``: the directory where pools created during the run keep their default
  ledgers (see below).

Ledgers: a ``SessionPool`` keeps a crash-safety ledger, by default in the user's cache
directory. For the whole test run the plugin sets ``BBRE_LEDGER_DIR`` to a fresh temporary
directory (removed at the end), so pools created in tests never touch ``~/.cache`` nor reap
each other's sessions across runs. A ``BBRE_LEDGER_DIR`` you set yourself is kept.

The emulator is imported only when a fixture is used, so merely having ``bbre_async``
installed costs other test suites nothing.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from bbre_async import BBREClient
    from bbre_async.emulator import Clock, Emulator, EmulatorSettings
    from bbre_async.orchestrator import OrchestratorClient

try:
    import pytest_asyncio
except ImportError:  # pragma: no cover - depends on the environment
    pytest_asyncio = None  # type: ignore[assignment]

#: The variable ``bbre_async.coordination.default_ledger_path`` reads (pools, the CLI's reap).
LEDGER_DIR_ENV = "BBRE_LEDGER_DIR"

_LEDGER_DIR = pytest.StashKey[Path]()
_CREATED_DIR = pytest.StashKey[bool]()


def pytest_configure(config: pytest.Config) -> None:
    """Point default ledgers at a temporary directory for the run (unless one is set)."""
    chosen = os.environ.get(LEDGER_DIR_ENV)
    if chosen:
        config.stash[_LEDGER_DIR] = Path(chosen)
        config.stash[_CREATED_DIR] = False
        return
    directory = Path(tempfile.mkdtemp(prefix="bbre-ledgers-"))
    os.environ[LEDGER_DIR_ENV] = str(directory)
    config.stash[_LEDGER_DIR] = directory
    config.stash[_CREATED_DIR] = True


def pytest_unconfigure(config: pytest.Config) -> None:
    if config.stash.get(_CREATED_DIR, False):
        directory = config.stash[_LEDGER_DIR]
        if os.environ.get(LEDGER_DIR_ENV) == str(directory):
            del os.environ[LEDGER_DIR_ENV]
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def bbre_ledger_dir(pytestconfig: pytest.Config) -> Path:
    """Where pools created in this run keep their default ledgers (``$BBRE_LEDGER_DIR``)."""
    return pytestconfig.stash[_LEDGER_DIR]


def _async_fixture(fn: Any) -> Any:
    if pytest_asyncio is not None:
        return pytest_asyncio.fixture(fn)

    @pytest.fixture(name=fn.__name__)
    def missing() -> None:
        pytest.fail(
            f"the {fn.__name__} fixture needs pytest-asyncio: pip install 'bbre-async[testing]'"
        )

    return missing


@pytest.fixture
def bbre_emulator_settings() -> EmulatorSettings:
    """Default settings: one account with key ``test-key``; override to change anything."""
    from bbre_async.emulator import EmulatorSettings

    return EmulatorSettings()


@pytest.fixture
def bbre_emulator_clock() -> Clock | None:
    """The emulator's clock; ``None`` means wall time."""
    return None


@_async_fixture
async def bbre_emulator(
    bbre_emulator_settings: EmulatorSettings, bbre_emulator_clock: Clock | None
) -> AsyncIterator[Emulator]:
    """A running emulator on 127.0.0.1 and a free port, stopped after the test."""
    from bbre_async.emulator import running_emulator

    async with running_emulator(bbre_emulator_settings, clock=bbre_emulator_clock) as emulator:
        yield emulator


@_async_fixture
async def bbre_client(bbre_emulator: Emulator) -> AsyncIterator[BBREClient]:
    """A ``BBREClient`` for the emulator's first account."""
    from bbre_async import BBREClient

    async with BBREClient(api_key=bbre_emulator.api_key, base_url=bbre_emulator.base_url) as client:
        yield client


@_async_fixture
async def orchestrator_client(bbre_emulator: Emulator) -> AsyncIterator[OrchestratorClient]:
    """An ``OrchestratorClient`` for the emulator's OrchestratorHQ API (first organisation)."""
    from bbre_async.orchestrator import OrchestratorClient

    async with OrchestratorClient(
        api_key=bbre_emulator.orchestrator_key, base_url=bbre_emulator.orchestrator_url
    ) as client:
        yield client
