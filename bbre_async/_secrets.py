"""Key fingerprints: a stable, non-reversible name for an API key, safe to log and store."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence


def fingerprint(api_key: str) -> str:
    """A short hash of ``api_key``; the key itself never leaves the process."""
    return hashlib.sha256(api_key.encode()).hexdigest()[:16]


def mask(api_key: str) -> str:
    """What a repr may show of a key: its last four characters at most."""
    return f"...{api_key[-4:]}" if len(api_key) >= 12 else "***"


class Redactor:
    """Removes secrets from any text that could reach a log line or an error message."""

    def __init__(self, secrets: Sequence[str]) -> None:
        self._secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, "***")
        return text
