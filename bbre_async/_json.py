"""JSON encoding and decoding, through orjson when it is installed (it is several times faster
on the request hot path) and the standard library otherwise."""

from __future__ import annotations

import json
from typing import Any

try:
    import orjson
except ImportError:  # pragma: no cover - exercised only without the optional speedup
    orjson = None  # type: ignore[assignment]


def loads(data: bytes | str) -> Any:
    """Decode JSON; raises ``ValueError`` on anything that is not one complete JSON value."""
    if orjson is not None:
        return orjson.loads(data)
    return json.loads(data)


def dumps(value: Any) -> bytes:
    """Encode JSON to UTF-8 bytes."""
    if orjson is not None:
        return orjson.dumps(value)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
