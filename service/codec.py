"""The one place bytes become Python objects and back (orjson)."""

from typing import Any

import orjson

JSONDecodeError = orjson.JSONDecodeError


def loads(data: bytes | str) -> Any:
    """Parse JSON bytes or text; raises `JSONDecodeError` on malformed input."""
    return orjson.loads(data)


def dumps(obj: Any) -> bytes:
    """Serialise to compact UTF-8 JSON; datetimes become RFC 3339 strings."""
    return orjson.dumps(obj, option=orjson.OPT_UTC_Z | orjson.OPT_NON_STR_KEYS)

