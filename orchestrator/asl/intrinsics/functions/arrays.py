"""The array family: States.Array, ArrayPartition, ArrayContains, ArrayRange, ArrayGetItem,
ArrayLength and ArrayUnique.

Integer arguments are Java ``int`` values: a fraction is truncated (AWS: ``ArrayPartition``
with 2.6 makes chunks of 2, ``ArrayGetItem`` with 1.2 reads index 1).
"""

from __future__ import annotations

import random
from typing import Any

from orchestrator.asl.intrinsics import java
from orchestrator.asl.intrinsics.spec import ANY, ARRAY, INTEGER, InvalidArguments, function

MAX_RANGE_ITEMS = 1000  # AWS: "The array can contain a maximum of 1000 items"


@function("States.Array", rest=ANY)
def _array(args: list[Any], rng: random.Random, static: Any) -> list[Any]:
    return args


@function("States.ArrayPartition", ARRAY, INTEGER)
def _array_partition(args: list[Any], rng: random.Random, static: Any) -> list[list[Any]]:
    items, size = args
    if size <= 0:
        raise InvalidArguments
    return [items[start : start + size] for start in range(0, len(items), size)]


@function("States.ArrayContains", ARRAY, ANY)
def _array_contains(args: list[Any], rng: random.Random, static: Any) -> bool:
    """AWS compares the printed (``toString``) forms: ``true`` is found in ``["true"]``, and an
    object with its keys in another order is not found."""
    items, wanted = args
    text = java.to_string(wanted)
    return any(java.to_string(item) == text for item in items)


@function("States.ArrayRange", INTEGER, INTEGER, INTEGER)
def _array_range(args: list[Any], rng: random.Random, static: Any) -> list[int]:
    """From the first argument to the second, both included, by the third (not zero)."""
    start, end, step = args
    if step == 0:
        raise InvalidArguments
    count = (end - start) // step + 1 if (end - start) * step >= 0 else 0
    if count > MAX_RANGE_ITEMS:
        raise InvalidArguments
    return [start + i * step for i in range(count)]


@function("States.ArrayGetItem", ARRAY, INTEGER)
def _array_get_item(args: list[Any], rng: random.Random, static: Any) -> Any:
    items, index = args
    if not items:
        return None  # AWS returns null for any index into an empty array
    if not 0 <= index < len(items):
        raise InvalidArguments
    return items[index]


@function("States.ArrayLength", ARRAY)
def _array_length(args: list[Any], rng: random.Random, static: Any) -> int:
    return len(args[0])


@function("States.ArrayUnique", ARRAY)
def _array_unique(args: list[Any], rng: random.Random, static: Any) -> list[Any]:
    """The distinct values in the order of a Java ``HashSet`` (AWS: ``[true, false, true]``
    gives ``[false, true]``), the first of equal values kept."""
    return java.hash_set_order(args[0])
