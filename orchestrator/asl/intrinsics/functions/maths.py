"""Math: States.MathRandom and States.MathAdd."""

from __future__ import annotations

import math
import random
from typing import Any

from orchestrator.asl.intrinsics import java
from orchestrator.asl.intrinsics.spec import INTEGER, NUMBER, InvalidArguments, function


@function("States.MathRandom", INTEGER, INTEGER, INTEGER, optional=1, uses_random=True)
def _math_random(args: list[Any], rng: random.Random, static: Any) -> int:
    """An integer from the start (included) to the end (excluded); the same seed always gives
    the same number. Fractions are truncated (AWS: ``MathRandom(1.4, 1.6)`` is refused, the
    range being empty)."""
    start, end = args[0], args[1]
    if start >= end:
        raise InvalidArguments
    source = random.Random(args[2]) if len(args) == 3 else rng
    return source.randrange(start, end)


def _java_round(value: int | float) -> int:
    """Java's ``Math.round``: the nearest integer, halves toward positive infinity."""
    if isinstance(value, int):
        return value
    whole = math.floor(value)
    return whole + 1 if value - whole >= 0.5 else whole


@function("States.MathAdd", NUMBER, NUMBER)
def _math_add(args: list[Any], rng: random.Random, static: Any) -> int:
    """The sum of the operands rounded to integers (recorded on AWS: 1.5 + 1.51 = 4,
    -1.5 + 0 = -1); operands and sum must fit a Java ``int``."""
    left, right = (_java_round(value) for value in args)
    total = left + right
    if not all(java.in_int_range(value) for value in (left, right, total)):
        raise InvalidArguments
    return total
