"""The functions AWS Step Functions adds to JSONata, and the one it takes away.

AWS ("Transforming data with JSONata in Step Functions"): every JSONata 2.0 built-in is
available except ``$eval`` (use ``$parse``), plus ``$partition``, ``$range``, ``$hash``,
``$random`` (with an optional seed), ``$uuid`` and ``$parse``. They are registered on every
compiled expression with a JSONata signature, so a wrong argument fails with JSONata's own
``T0410`` error; a value they refuse (a size of 0, an unknown algorithm) raises
:class:`FunctionError`, whose message becomes the cause's detail.

What the recorded runs fix: ``$partition([0, 1, 2], 2)`` is ``[[0, 1], [2]]``;
``$range(0, 10, 3)`` is ``[0, 3, 6, 9]`` (the end included when reached) and
``$range(1, 9, 9)`` is ``1``: AWS's ``$range`` returns a JSONata *sequence*, so one item is
unwrapped (and none is undefined); ``$parse("-0")`` is ``0``; ``$randomSeeded`` does not exist
(``T1006``). The texts of the refusals are ours: no recorded run shows AWS's.

Randomness comes only from the ``random.Random`` the caller passes to the evaluation (set in
:data:`RNG` while it runs); the seeded ``$random(seed)`` is a fresh generator with that seed,
so the same seed always gives the same number.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, Final

# The caller's generator for the evaluation under way (None: $random()/$uuid() fail).
RNG: ContextVar[random.Random | None] = ContextVar("jsonata_rng", default=None)

# The most items $range makes: the engine's array limit (jsonata's own range operator allows
# 1e7; AWS documents no limit for $range, and 1000 for the intrinsic States.ArrayRange).
MAX_RANGE_ITEMS = 1_000_000

_ALGORITHMS: Final = {
    "MD5": "md5",
    "SHA-1": "sha1",
    "SHA-256": "sha256",
    "SHA-384": "sha384",
    "SHA-512": "sha512",
}

# The boxed $parse: a host function's None result reads as undefined, so $parse("null")
# could not be null. The expression's $parse is a lambda that unboxes [value] (see
# PARSE_PRELUDE); this is the host half.
BOXED_PARSE = "__sfn_parse"
PARSE_PRELUDE = f"$parse := function($text)<s:x>{{ ${BOXED_PARSE}($text)[0] }};"


class FunctionError(Exception):
    """A Step Functions function refused the values it was given."""


def _integer(value: float, what: str, function: str) -> int:
    if not math.isfinite(value) or value != int(value):
        raise FunctionError(f"The {what} of function {function} must be an integer: {value}")
    return int(value)


def partition(array: list[Any] | None, size: float | None) -> list[list[Any]] | None:
    """``$partition(array, size)``: the array in chunks of ``size`` items, the last one
    shorter when the items run out."""
    if array is None or size is None:
        return None
    chunk = _integer(size, "chunk size", "partition")
    if chunk <= 0:
        raise FunctionError(f"The chunk size of function partition must be positive: {chunk}")
    return [array[start : start + chunk] for start in range(0, len(array), chunk)]


def range_(start: float | None, end: float | None, step: float | None) -> Any:
    """``$range(start, end, step)``: from start to end (included when reached) by step, which
    may be negative but not 0. A sequence: one item is that item, none is undefined."""
    if start is None or end is None or step is None:
        return None
    first = _integer(start, "start", "range")
    last = _integer(end, "end", "range")
    stride = _integer(step, "step", "range")
    if stride == 0:
        raise FunctionError("The step of function range must not be 0")
    count = max(0, (last - first) // stride + 1)
    if count > MAX_RANGE_ITEMS:
        raise FunctionError(
            f"The function range would make {count} items; at most {MAX_RANGE_ITEMS} are allowed"
        )
    items = list(range(first, last + (1 if stride > 0 else -1), stride))
    if not items:
        return None
    return items[0] if len(items) == 1 else items


def hash_(value: str | None, algorithm: str | None) -> str | None:
    """``$hash(value, algorithm)``: the hex digest of the string's UTF-8 bytes, with MD5,
    SHA-1, SHA-256, SHA-384 or SHA-512."""
    if value is None or algorithm is None:
        return None
    name = _ALGORITHMS.get(algorithm)
    if name is None:
        known = ", ".join(_ALGORITHMS)
        raise FunctionError(
            f"The algorithm of function hash must be one of {known}; got {algorithm!r}"
        )
    return hashlib.new(name, value.encode("utf-8", "surrogatepass")).hexdigest()


def _caller_rng(function: str) -> random.Random:
    rng = RNG.get()
    if rng is None:
        raise FunctionError(f"The function {function} needs a random generator; none was given")
    return rng


def random_(seed: float | None = None) -> float:
    """``$random([seed])``: a number from 0 (included) to 1 (excluded); with a seed, always
    the same number for that seed."""
    if seed is None:
        return _caller_rng("random").random()
    if not math.isfinite(seed):
        raise FunctionError(f"The seed of function random must be a finite number: {seed}")
    return random.Random(int(seed) if seed == int(seed) else seed).random()


def _no_generator(*args: Any) -> Any:
    raise FunctionError("The function shuffle needs a random generator; none was given")


# Bound over the built-in $shuffle when the caller gives no generator.
WITHOUT_GENERATOR: Final = _no_generator


def uuid_() -> str:
    """``$uuid()``: a version 4 UUID, from the caller's generator."""
    return str(uuid.UUID(int=_caller_rng("uuid").getrandbits(128), version=4))


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def boxed_parse(text: str | None) -> list[Any] | None:
    """The host half of ``$parse(text)``: ``[value]`` for the JSON text (strict JSON: no NaN,
    no Infinity), undefined for undefined."""
    if text is None:
        return None
    try:
        return [json.loads(text, parse_constant=_reject_constant)]
    except (ValueError, RecursionError) as error:
        raise FunctionError(f"The argument of function parse is not valid JSON: {error}") from None


# name -> (implementation, JSONata signature), registered on every compiled expression.
REGISTERED: Final[dict[str, tuple[Callable[..., Any], str]]] = {
    "partition": (partition, "<an:a>"),
    "range": (range_, "<nnn:x>"),
    "hash": (hash_, "<ss:s>"),
    "random": (random_, "<n?:n>"),
    "uuid": (uuid_, "<:s>"),
    BOXED_PARSE: (boxed_parse, "<s:a>"),
}

# The names the functions take in an expression: not workflow variables.
FUNCTION_NAMES: Final = frozenset({*REGISTERED, "parse", "eval", "now", "millis"})


def _no_clock(*args: Any) -> Any:
    raise FunctionError("The evaluation time was not given, so $now() and $millis() are unknown")


# Bound over the built-ins for each evaluation: $eval is not available in Step Functions
# (calling it fails as calling any non-function does, T1006).
WITHOUT_EVAL: Final[dict[str, Any]] = {"eval": None}
# ... and, when the caller gives no evaluation time, $now() and $millis() fail rather than
# read the clock.
WITHOUT_CLOCK: Final[dict[str, Any]] = {"eval": None, "now": _no_clock, "millis": _no_clock}
