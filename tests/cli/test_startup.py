"""What ``bbre-async --help``, ``--version`` and ``import bbre_async`` load: only what they
need, so they start fast (the timings themselves are the benchmarks' business)."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import NamedTuple

import pytest
from click.testing import CliRunner

import bbre_async
from bbre_async._client import API_KEY_ENV, BASE_URL_ENV
from bbre_async.cli import _app, _state
from tests.cli.conftest import ROOT

#: Modules a help or version screen has no use for.
HEAVY = (
    "aiohttp",
    "rich",
    "attrs",
    "bbre_async._client",
    "bbre_async.pool",
    "bbre_async.emulator",
    "bbre_async.orchestrator",
    "bbre_async.cli._common",
)


class Probe(NamedTuple):
    loaded: list[str]  # the heavy modules that were imported
    stdout: str


def loaded_after(code: str) -> Probe:
    """Run ``code`` in a fresh interpreter and report which heavy modules it imported."""
    probe = (
        f"{code}\nimport json, sys\n"
        f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert done.returncode == 0, done.stderr
    *before, last = done.stdout.splitlines()
    return Probe(loaded=json.loads(last), stdout="\n".join(before))


def run_cli(*args: str) -> str:
    """Code that runs ``bbre-async ARGS`` in-process, as the console script does."""
    return (
        f"import sys\nfrom bbre_async.cli import main\nsys.argv = ['bbre-async', *{args!r}]\n"
        "try:\n    main()\nexcept SystemExit as exit:\n    assert exit.code in (0, None)\n"
    )


@pytest.mark.parametrize("args", [("--help",), ("--version",)])
def test_help_and_version_load_nothing_heavy(args: tuple[str, ...]) -> None:
    result = loaded_after(run_cli(*args))

    assert result.loaded == []
    assert "bbre-async" in result.stdout


def test_a_command_loads_its_own_modules_only() -> None:
    result = loaded_after(run_cli("sessions", "--help"))

    assert "bbre_async.cli._common" in result.loaded
    assert "bbre_async.emulator" not in result.loaded
    assert "Usage: bbre-async sessions" in result.stdout


def test_import_bbre_async_loads_names_on_first_use() -> None:
    bare = loaded_after("import bbre_async")
    client = loaded_after("from bbre_async import BBREClient")

    assert bare.loaded == []
    assert "aiohttp" in client.loaded and "bbre_async.pool" not in client.loaded


def test_every_public_name_resolves_and_is_listed() -> None:
    for name in bbre_async.__all__:
        assert getattr(bbre_async, name) is not None
    assert set(bbre_async.__all__) <= set(dir(bbre_async))
    with pytest.raises(AttributeError, match="no attribute 'NoSuchName'"):
        bbre_async.NoSuchName  # noqa: B018


def test_help_lists_each_command_with_its_own_summary() -> None:
    short = CliRunner().invoke(_app.cli, ["--help"])
    group = _app.cli
    assert isinstance(group, _app.LazyGroup)
    ctx = group.make_context("bbre-async", ["--help"], resilient_parsing=True)
    for name, where in _app.COMMANDS.items():
        command = group.get_command(ctx, name)
        assert command is not None
        assert command.get_short_help_str(1000) == where.summary, name
        assert name in short.stdout
    after = CliRunner().invoke(_app.cli, ["--help"])  # now from the loaded commands
    assert after.stdout == short.stdout


def test_the_environment_names_match_the_client() -> None:
    assert (_state.BBRE_API_KEY_ENV, _state.BBRE_BASE_URL_ENV) == (API_KEY_ENV, BASE_URL_ENV)


def test_without_the_cli_extra_the_command_says_what_to_install() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; sys.modules['rich'] = None\nfrom bbre_async.cli import main\nmain()",
            "balance",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )

    assert done.returncode == 2
    assert done.stderr == (
        "error: the bbre-async command line needs rich, which the library alone does not "
        "install; run: pip install 'bbre-async[cli]'\n"
    )
