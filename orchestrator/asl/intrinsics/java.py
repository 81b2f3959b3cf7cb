"""How AWS's Java runtime sees JSON values, where intrinsic results depend on it.

AWS evaluates intrinsics on plain Java objects (``LinkedHashMap``, ``ArrayList``, ``Integer``,
``Long``, ``Double``, ``String``, ``Boolean``, ``null``), and it shows:

- ``States.Format`` prints an argument with ``toString``: ``{Arg1=1, Arg2=[]}`` for an object
  (recorded in the conformance corpus), ``null`` for null, ``1.0E7`` for a large double;
- ``States.ArrayContains`` compares those printed forms (AWS finds ``true`` in ``["true"]`` and
  does not match an object whose keys are in another order);
- ``States.ArrayUnique`` goes through a ``java.util.HashSet``, so its result is in hash-bucket
  order (AWS returns ``[false, true]`` for ``[true, false, true]``);
- ``States.JsonToString`` writes doubles as Java does (``1.0E7``).
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1
_MASK = 0xFFFFFFFF


def is_number(value: Any) -> bool:
    """A JSON number (a bool is not one, although Python makes it an int)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def in_int_range(value: int) -> bool:
    """Whether ``value`` fits a Java ``int``."""
    return _INT_MIN <= value <= _INT_MAX


def double_to_string(value: float) -> str:
    """Java's ``Double.toString`` (shortest digits; scientific outside [1e-3, 1e7))."""
    if value == 0:
        return "-0.0" if math.copysign(1.0, value) < 0 else "0.0"
    sign = "-" if value < 0 else ""
    digits_tuple = Decimal(repr(abs(value))).as_tuple()
    exponent = digits_tuple.exponent
    assert isinstance(exponent, int)  # finite: JSON has no NaN or infinity
    digits = "".join(map(str, digits_tuple.digits)).lstrip("0")
    stripped = digits.rstrip("0")
    exponent += len(digits) - len(stripped)
    digits = stripped
    point = len(digits) + exponent - 1  # the power of ten of the first digit
    if -3 <= point < 7:
        if point >= 0:
            whole = digits[: point + 1].ljust(point + 1, "0")
            fraction = digits[point + 1 :] or "0"
            return f"{sign}{whole}.{fraction}"
        return f"{sign}0.{'0' * (-point - 1)}{digits}"
    return f"{sign}{digits[0]}.{digits[1:] or '0'}E{point}"


def to_string(value: Any) -> str:
    """Java's ``toString`` of the value: strings bare, ``{k=v, ...}``, ``[a, b]``."""
    if isinstance(value, str):
        return value
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return double_to_string(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(to_string(item) for item in value) + "]"
    return "{" + ", ".join(f"{key}={to_string(item)}" for key, item in value.items()) + "}"


def to_json(value: Any) -> str:
    """Compact JSON as Jackson writes it (doubles as ``Double.toString``, no ASCII escaping)."""
    if isinstance(value, float):
        return double_to_string(value)
    if isinstance(value, list):
        return "[" + ",".join(to_json(item) for item in value) + "]"
    if isinstance(value, dict):
        return (
            "{"
            + ",".join(f"{_json_string(key)}:{to_json(item)}" for key, item in value.items())
            + "}"
        )
    return json.dumps(value, ensure_ascii=False)


def _json_string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


# -- java.util.HashSet --------------------------------------------------------------------------


def _signed(value: int) -> int:
    value &= _MASK
    return value - (1 << 32) if value & 0x80000000 else value


def hash_code(value: Any) -> int:
    """``hashCode()`` of the Java object for a JSON value (``0`` for null)."""
    if value is None:
        return 0
    if isinstance(value, bool):
        return 1231 if value else 1237
    if isinstance(value, int):
        if in_int_range(value):
            return value
        if -(2**63) <= value < 2**63:  # a Long
            bits = value & 0xFFFFFFFFFFFFFFFF
            return _signed(bits ^ (bits >> 32))
        return _signed(hash(value))  # a BigInteger: rare enough not to model
    if isinstance(value, float):
        bits = int.from_bytes(struct.pack(">d", value), "big")
        return _signed(bits ^ (bits >> 32))
    if isinstance(value, str):
        result = 0
        units = value.encode("utf-16-be")
        for i in range(0, len(units), 2):
            result = (31 * result + (units[i] << 8 | units[i + 1])) & _MASK
        return _signed(result)
    if isinstance(value, list):
        result = 1
        for item in value:
            result = (31 * result + hash_code(item)) & _MASK
        return _signed(result)
    total = 0
    for key, item in value.items():
        total = (total + (hash_code(key) ^ hash_code(item))) & _MASK
    return _signed(total)


def equality_key(value: Any) -> Any:
    """A hashable key equal for two values exactly when the Java objects are ``equals``."""
    if value is None:
        return ("null",)
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int):
        return ("int", value)
    if isinstance(value, float):
        return ("double", value)
    if isinstance(value, str):
        return ("str", value)
    if isinstance(value, list):
        return ("list", tuple(equality_key(item) for item in value))
    return ("map", frozenset((key, equality_key(item)) for key, item in value.items()))


def hash_set_order(values: Iterable[Any]) -> list[Any]:
    """The elements of ``new ArrayList<>(new HashSet<>(values))``: unique, in bucket order.

    ``HashSet(Collection)`` sizes its table for the whole collection (no resize happens), and
    iterates bucket by bucket, each bucket in insertion order. Tree bins (8+ collisions in one
    bucket) are not modelled.
    """
    items = list(values)
    capacity = 1
    wanted = max(int(len(items) / 0.75) + 1, 16)
    while capacity < wanted:
        capacity <<= 1
    seen: set[Any] = set()
    unique: list[tuple[int, int, Any]] = []
    for value in items:
        key = equality_key(value)
        if key in seen:
            continue
        seen.add(key)
        spread = hash_code(value) & _MASK
        spread ^= spread >> 16
        unique.append((spread & (capacity - 1), len(unique), value))
    unique.sort(key=lambda entry: (entry[0], entry[1]))
    return [value for _, _, value in unique]


def utf16_length(text: str) -> int:
    """``String.length()``: UTF-16 code units (a character outside the BMP counts twice)."""
    return len(text) + sum(1 for char in text if ord(char) > 0xFFFF)
