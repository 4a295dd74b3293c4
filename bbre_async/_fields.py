"""Typed readers for decoded JSON: a wrong type becomes ``InvalidResponseError`` naming the
field, never a ``KeyError`` or ``TypeError`` deep inside a model."""

from __future__ import annotations

import math
import reprlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from bbre_async._errors import InvalidResponseError
from bbre_async._timeutil import parse_timestamp

JSONObject = Mapping[str, Any]


_SHOW = reprlib.Repr()
_SHOW.maxlevel = 2
_SHOW.maxstring = 60
_SHOW.maxother = 60


def short_repr(value: object) -> str:
    """A bounded repr, safe on hostile input of any depth or size."""
    return _SHOW.repr(value)


def invalid(what: str, value: object = None) -> InvalidResponseError:
    # reprlib bounds depth and size: a hostile, deeply nested value cannot blow the stack.
    shown = _SHOW.repr(value)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    return InvalidResponseError(f"unexpected response: {what} (got {shown})")


def as_object(value: object, what: str) -> JSONObject:
    if not isinstance(value, Mapping):
        raise invalid(f"{what} is not an object", value)
    return value


def nested(payload: JSONObject, *paths: tuple[str, ...]) -> JSONObject | None:
    """Return the first object found along one of ``paths`` (``("data", "session")``...).

    The API puts the same payload at the top level in one endpoint and under ``data`` in
    another; callers list every placement they accept.
    """
    for path in paths:
        node: object = payload
        for key in path:
            if not isinstance(node, Mapping) or key not in node:
                node = None
                break
            node = node[key]
        if isinstance(node, Mapping):
            return node
    return None


def req_str(obj: JSONObject, key: str) -> str:
    value = obj.get(key)
    if isinstance(value, str) and value:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)  # numeric ids are still ids
    raise invalid(f"field {key!r} is missing or not a string", value)


def opt_str(obj: JSONObject, key: str) -> str | None:
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, str):
        return value
    raise invalid(f"field {key!r} is not a string", value)


def opt_int(obj: JSONObject, key: str, default: int = 0) -> int:
    value = obj.get(key)
    if value is None:
        return default
    if isinstance(value, bool):
        raise invalid(f"field {key!r} is not a number", value)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise invalid(f"field {key!r} is not an integer", value)


def opt_float(obj: JSONObject, key: str, default: float | None = 0.0) -> float | None:
    value = obj.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise invalid(f"field {key!r} is not a number", value)
    try:
        number = float(value)
    except (ValueError, OverflowError):
        raise invalid(f"field {key!r} is not a number", value) from None
    if not math.isfinite(number):
        raise invalid(f"field {key!r} is not finite", value)
    return number


def req_float(obj: JSONObject, key: str) -> float:
    number = opt_float(obj, key, default=None)
    if number is None:
        raise invalid(f"field {key!r} is missing", None)
    return number


def opt_time(obj: JSONObject, key: str) -> datetime | None:
    value = obj.get(key)
    if value is None or value == "":
        return None
    try:
        return parse_timestamp(value)
    except (TypeError, ValueError, ArithmeticError):
        raise invalid(f"field {key!r} is not a timestamp", value) from None


def req_time(obj: JSONObject, key: str) -> datetime:
    moment = opt_time(obj, key)
    if moment is None:
        raise invalid(f"field {key!r} is missing", None)
    return moment


def str_map(value: object, what: str) -> dict[str, str]:
    """A header or cookie map; a list of ``{name, value}`` pairs is accepted too."""
    if value is None:
        return {}
    if type(value) is dict:
        for item in value.values():
            if type(item) is not str:
                break
        else:
            return dict(value)  # the common case: JSON object keys are already strings
    if isinstance(value, Mapping):
        return {str(k): v if isinstance(v, str) else _text(v) for k, v in value.items()}
    if isinstance(value, list):
        out: dict[str, str] = {}
        for item in value:
            if isinstance(item, Mapping) and "name" in item:
                out[str(item["name"])] = _text(item.get("value", ""))
            else:
                raise invalid(f"{what} entry is not a name/value pair", item)
        return out
    raise invalid(f"{what} is not an object", value)


def _text(value: object, depth: int = 0) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, list) and depth < 4:
        return ", ".join(_text(v, depth + 1) for v in value)
    return _SHOW.repr(value)  # bounded: never recurses into deep structures


def text_value(value: object) -> str:
    """A header or cookie value as text; a list is joined, anything else shown bounded."""
    return _text(value)
