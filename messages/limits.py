"""The sizes every JSON value is held to, wherever it enters or is made: one place for them.

AWS fixes the payload limit (256 KiB of UTF-8 for any input, output or result) and the
definition limit (1 MiB). It documents no nesting limit; ours keeps every value far inside
what our own serialisers handle (pydantic and orjson refuse about 254 levels, and a stored
execution state wraps values a few levels deeper), so a value that was accepted can always
be stored, described and listed again.
"""

from __future__ import annotations

import json
import math
from typing import Any

# AWS's limit on any execution input, state output or task result: UTF-8 bytes of its JSON.
MAX_PAYLOAD_BYTES = 262_144
# AWS's limit on a state machine definition (CreateStateMachine, UpdateStateMachine).
MAX_DEFINITION_BYTES = 1_048_576
# The deepest nesting of arrays and objects accepted in any JSON value (the value itself at
# depth 1 when it is an array or object). Real payloads nest a handful of levels.
MAX_JSON_DEPTH = 128


class JsonTooDeep(ValueError):
    """A JSON value nests arrays and objects deeper than allowed."""

    def __init__(self, limit: int = MAX_JSON_DEPTH) -> None:
        super().__init__(f"the JSON value nests arrays and objects more than {limit} levels deep")
        self.limit = limit


def json_depth_exceeds(value: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether ``value`` (parsed JSON) nests arrays/objects deeper than ``limit``.

    Iterative (no recursion, whatever the depth) and stops at the first too-deep container.
    """
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def check_json_depth(value: Any, limit: int = MAX_JSON_DEPTH) -> Any:
    """``value`` itself, or :class:`JsonTooDeep` when it nests deeper than ``limit``."""
    if json_depth_exceeds(value, limit):
        raise JsonTooDeep(limit)
    return value


def loads(text: str | bytes, limit: int = MAX_JSON_DEPTH) -> Any:
    """Parse JSON ``text``; :class:`JsonTooDeep` when it nests deeper than ``limit``.

    Raises ``ValueError`` (``json.JSONDecodeError`` is one) for text that is not JSON, and
    for what Python's parser would accept but JSON has no value for: ``NaN``, ``Infinity``
    and numbers too large for a double. Integers keep every digit.
    """
    try:
        value = json.loads(text, parse_constant=_no_constant, parse_float=_finite_float)
    except RecursionError:  # nested deeper than the interpreter's own recursion limit
        raise JsonTooDeep(limit) from None
    return check_json_depth(value, limit)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (math.inf, -math.inf):
        raise ValueError(f"the number {text} is too large")
    return value
