"""Rules that are easier to state in Python than in SQL; the engine calls them only for the
few raw values the SQL fast path could not convert."""

from __future__ import annotations

import ast
import math
from typing import Any

# Larger texts are not worth a Python parse: they stay NULL with the raw text kept.
MAX_LITERAL_CHARS = 1_000_000


def python_literal_to_json(raw: str) -> Any:
    """Reads a Python literal such as "{'a': 1, 'b': True}" safely (never `eval`).

    Returns a JSON-compatible value, or None when the text is not a literal we can represent.
    """
    if len(raw) > MAX_LITERAL_CHARS:
        return None
    try:
        value = ast.literal_eval(raw.strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None
    try:
        return _jsonable(value, depth=0)
    except (TypeError, ValueError, RecursionError):
        return None


def _jsonable(value: Any, depth: int) -> Any:
    if depth > 500:
        raise ValueError("nested too deep")
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise ValueError("not representable in JSON")
        return value
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str | int | float | bool) and key is not None:
                raise TypeError("unsupported key")
            out[_key(key)] = _jsonable(item, depth + 1)
        return out
    if isinstance(value, list | tuple):
        return [_jsonable(item, depth + 1) for item in value]
    if isinstance(value, set | frozenset):
        return [_jsonable(item, depth + 1) for item in sorted(value, key=repr)]
    raise TypeError(f"unsupported literal type {type(value).__name__}")


def _key(key: object) -> str:
    # JSON spells these keys the way json.dumps would.
    if key is None:
        return "null"
    if isinstance(key, bool):
        return "true" if key else "false"
    return str(key)
