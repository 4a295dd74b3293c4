"""One way to run ``mypy --strict`` on a user's file, with one cache per test session: the
package is checked once, and each typing-contract file costs only itself."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]


def run_mypy(path: Path, cache: Path) -> tuple[int, str]:
    """Check ``path`` under the project's mypy settings; (exit status, output)."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--cache-dir",
            str(cache),
            "--config-file",
            str(ROOT / "pyproject.toml"),
            str(path),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
        check=False,
    )
    return done.returncode, done.stdout + done.stderr
