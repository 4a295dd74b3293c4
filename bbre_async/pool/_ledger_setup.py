"""Where the pool's default ledger lives."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bbre_async._session_backend import SessionBackend
from bbre_async.coordination._local import LocalCoordinator
from bbre_async.coordination._sqlite_ledger import default_ledger_path

AUTO: Any = "auto"


def default_coordinator(backend: SessionBackend, ledger_path: Any) -> LocalCoordinator:
    """The in-process cap of this API key, shared by every pool on it, with an SQLite ledger
    in the user's cache directory (``AUTO``), at ``ledger_path``, or in memory only
    (``None``: no crash safety across runs)."""
    if ledger_path is None:
        path = None
    elif ledger_path == AUTO:
        path = default_ledger_path(backend.key_fingerprint, backend.base_url)
    else:
        path = Path(ledger_path)
    return LocalCoordinator.for_key(
        backend.key_fingerprint, backend.base_url, capacity=backend.account_cap, ledger_path=path
    )
