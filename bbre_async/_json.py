"""JSON encoding and decoding through orjson (fast on the request hot path), with the standard
library as the fallback for valid JSON that orjson refuses: an escaped lone surrogate
(``"\\ud83d"``) is valid JSON text, and a paid answer must not be lost to it."""

from __future__ import annotations

import json
from typing import Any

import orjson


def loads(data: bytes | str) -> Any:
    """Decode JSON; raises ``ValueError`` on anything that is not one complete JSON value."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        if b"\\u" not in (data if isinstance(data, bytes) else data.encode("utf-8", "replace")):
            raise
    return json.loads(data)  # escaped lone surrogates: orjson refuses them, the JSON spec not


def dumps(value: Any) -> bytes:
    """Encode JSON to UTF-8 bytes; strings holding lone surrogates are written escaped."""
    try:
        return orjson.dumps(value)
    except TypeError:
        # orjson refuses str with lone surrogates; ASCII escapes keep them, as JSON allows.
        return json.dumps(value, separators=(",", ":"), ensure_ascii=True).encode()
