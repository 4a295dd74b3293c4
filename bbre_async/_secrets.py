"""Key fingerprints: a stable, non-reversible name for an API key, safe to log and store."""

from __future__ import annotations

import hashlib


def fingerprint(api_key: str) -> str:
    """A short hash of ``api_key``; the key itself never leaves the process."""
    return hashlib.sha256(api_key.encode()).hexdigest()[:16]


def mask(api_key: str) -> str:
    """What a repr may show of a key: its last four characters at most."""
    return f"...{api_key[-4:]}" if len(api_key) >= 12 else "***"
