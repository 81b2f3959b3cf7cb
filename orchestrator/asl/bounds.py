"""The bounds one execution is held to, and the cheap checks that enforce them.

Values: every JSON value the interpreter makes (a state's output, a task result it accepts, a
rendered Parameters/ResultSelector/ItemSelector, an intrinsic function's result, a Map's or
Parallel's results) must fit AWS's payload limit and our nesting limit (:mod:`messages.limits`).
Values are built from references to other values, so nested ``States.Array($, $)`` calls
describe gigabytes of JSON in a few kilobytes of memory, and writing such a value out to
measure it would never end. So the core keeps one rule: *every value it holds is within the
bounds*, checked where a value is made. A value made from a few bounded parts (a ResultPath
write, ``States.JsonMerge``, a template with a few ``.$`` fields) is at most a few payloads
long, and :func:`json_text` writes it out once (orjson, C speed) to measure it exactly; a
value made from many parts (``States.Array`` with many arguments, a template with many ``.$``
fields, a Map's results) is measured part by part with a :class:`Budget`, which stops at the
first part that passes the limit. Nesting is checked in the same call: orjson refuses to
write more than :data:`ORJSON_MAX_DEPTH` levels, so the value is written inside enough
levels of padding that orjson refuses exactly the values deeper than MAX_JSON_DEPTH.

Time and work: AWS's maximum execution durations, the longest timer, the retry delay (capped,
never overflowing) and the work one ``step`` may do before it stops and asks to be continued.
"""

from __future__ import annotations

import json
import math
import threading
from typing import Any, Literal

import orjson

from messages.limits import MAX_JSON_DEPTH, MAX_PAYLOAD_BYTES
from orchestrator.asl import errors
from orchestrator.asl.errors import StatesError

# AWS fails a STANDARD execution whose history would pass this many events.
MAX_HISTORY_EVENTS = 25_000
# AWS's maximum execution durations: EXPRESS 5 minutes, STANDARD one year.
MAX_EXPRESS_SECONDS = 300
MAX_STANDARD_SECONDS = 365 * 24 * 3600
# The longest Wait AWS accepts: 2^31 - 1 seconds (it refuses a timestamp ~70 years ahead).
MAX_WAIT_SECONDS = 2**31 - 1
# No timer is set further ahead than the longest Wait, whatever asked for it.
MAX_TIMER_SECONDS = MAX_WAIT_SECONDS
# The largest MaxDelaySeconds AWS accepts: no retry waits longer.
MAX_RETRY_DELAY_SECONDS = 31_622_401
# The largest TimeoutSeconds/HeartbeatSeconds AWS accepts (also through their Path forms), and
# a definition's other seconds and counts (the Amazon States Language guide: "Retrying after
# an error", "Task", "Wait"). AWS documents no upper bound for the execution's TimeoutSeconds,
# Map's MaxConcurrency or ToleratedFailureCount; ours is the same.
MAX_TASK_SECONDS = 99_999_999
# The work one step may do (history events recorded plus work items taken) before it stops
# and asks the shell to continue it: tens of milliseconds, so no execution holds the service
# for long and an endless loop of Pass states costs one bounded step at a time.
MAX_STEP_WORK = 5_000
# AWS's limit on the variables an execution holds at once (each Assign is held to the payload
# limit, 256 KiB): 10 MiB.
MAX_VARIABLES_BYTES = 10 * 1024 * 1024
# A value made of at most this many bounded parts is measured whole; more, part by part.
MAX_WHOLE_PARTS = 8

Excess = Literal["size", "depth"]


class OutOfBounds(Exception):
    """A value is larger than the payload limit (``size``) or nests too deep (``depth``)."""

    def __init__(self, excess: Excess) -> None:
        super().__init__(excess)
        self.excess = excess


def _orjson_max_depth() -> int:
    """The deepest nesting orjson writes (254 in orjson 3), found rather than assumed."""

    def writes(depth: int) -> bool:
        value: Any = 0
        for _ in range(depth):
            value = [value]
        try:
            orjson.dumps(value)
        except TypeError:
            return False
        return True

    low, high = 1, 4096
    while low < high:  # the largest depth that writes
        middle = (low + high + 1) // 2
        low, high = (middle, high) if writes(middle) else (low, middle - 1)
    return low


ORJSON_MAX_DEPTH = _orjson_max_depth()
# Levels of padding around a value so that orjson fails exactly past MAX_JSON_DEPTH.
_PADDING = ORJSON_MAX_DEPTH - MAX_JSON_DEPTH
_scratch = threading.local()
# The shortest text that can nest deeper than MAX_JSON_DEPTH (an opening and a closing
# bracket per level).
_DEEP_TEXT = 2 * MAX_JSON_DEPTH + 1


def _padded_dumps(value: Any) -> bytes:
    """orjson's text of ``[[...[value]...]]`` (:data:`_PADDING` levels), from a reused chain."""
    chain = getattr(_scratch, "chain", None)
    if chain is None:
        innermost: list[Any] = [None]
        outer = innermost
        for _ in range(_PADDING - 1):
            outer = [outer]
        chain = _scratch.chain = (outer, innermost)
    outer, innermost = chain
    innermost[0] = value
    try:
        return orjson.dumps(outer)
    finally:
        innermost[0] = None


def json_bytes(value: Any, max_bytes: int | None = MAX_PAYLOAD_BYTES) -> bytes:
    """The compact UTF-8 JSON text of ``value``, which must be bounded (see the module doc).

    Raises :class:`OutOfBounds` when the text passes ``max_bytes`` (None: no size limit) or
    the value nests deeper than MAX_JSON_DEPTH; never RecursionError.
    """
    try:
        text = orjson.dumps(value)
    except TypeError as failure:  # orjson's JSONEncodeError
        if "Recursion" in str(failure):
            raise OutOfBounds("depth") from None
        text = _fallback(value)  # integers beyond 64 bits
    else:
        # Nesting past the limit takes more than twice as many brackets as the limit: only
        # then count them (in C), and only past that the exact check (a few microseconds).
        # (An orjson that nests less than our limit refuses deeper values by itself.)
        if (
            len(text) > _DEEP_TEXT
            and _PADDING > 0
            and text.count(b"[") + text.count(b"{") > MAX_JSON_DEPTH
        ):
            try:
                _padded_dumps(value)
            except TypeError:
                raise OutOfBounds("depth") from None
    if max_bytes is not None and len(text) > max_bytes:
        raise OutOfBounds("size")
    return text


def json_text(value: Any, max_bytes: int | None = MAX_PAYLOAD_BYTES) -> str:
    """:func:`json_bytes` as a string: the text history events and results show."""
    return json_bytes(value, max_bytes).decode()


def text(value: Any) -> str:
    """The JSON text of a value the core holds, for history events and causes.

    Every such value is within the nesting limit; one that is not (a broken invariant) is a
    States.Runtime error, never a RecursionError.
    """
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # nested past orjson's limit, or integers beyond 64 bits
        pass
    try:
        return _fallback(value).decode()
    except OutOfBounds:
        raise StatesError(
            errors.RUNTIME,
            f"The value nests arrays and objects more than {MAX_JSON_DEPTH} levels deep.",
        ) from None


def json_size(value: Any) -> int:
    """The size in bytes of ``value``'s JSON text (a bounded value, no more than a few
    payloads); OutOfBounds("depth") for one nested too deep."""
    return len(json_bytes(value, None))


def _fallback(value: Any) -> bytes:
    if oversize(value, max_bytes=None) is not None:
        raise OutOfBounds("depth")
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8", "surrogatepass"
    )


def oversize(
    value: Any, max_bytes: int | None = MAX_PAYLOAD_BYTES, max_depth: int = MAX_JSON_DEPTH
) -> Excess | None:
    """``"depth"`` when ``value`` nests deeper than ``max_depth``, ``"size"`` when its JSON
    text would pass ``max_bytes`` (a lower bound: UTF-8 without escapes), else None.

    A walk in Python, iterative, stopping at the first bound passed, and counting a shared
    value as often as its text would repeat it: for values of any size or shape (slower than
    :func:`json_bytes`, which needs a bounded value).
    """
    total = 0
    limit = math.inf if max_bytes is None else max_bytes
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > max_depth:
                return "depth"
            total += 1 + len(item)
            if isinstance(item, dict):
                total += sum(_leaf_bytes(key) + 1 for key in item)
                children: Any = item.values()
            else:
                children = item
            for child in children:
                if isinstance(child, dict | list):
                    stack.append((child, depth + 1))
                else:
                    total += _leaf_bytes(child)
        else:
            total += _leaf_bytes(item)
        if total > limit:
            return "size"
    return None


def _leaf_bytes(value: Any) -> int:
    if isinstance(value, str):
        size = len(value) if value.isascii() else len(value.encode("utf-8", "surrogatepass"))
        return size + 2
    if value is None or value is True:
        return 4
    if value is False:
        return 5
    if isinstance(value, int):
        if -(2**63) < value < 2**63:
            return len(repr(value))
        return (value.bit_length() - 1) * 30103 // 100000 + 1  # digits, without writing them
    return len(repr(value))


class Budget:
    """Bytes counted part by part, failing as soon as the sum passes the payload limit."""

    __slots__ = ("total",)

    def __init__(self) -> None:
        self.total = 0

    def add(self, value: Any) -> None:
        """Count ``value`` (bounded) and a separator; OutOfBounds when the sum passes the
        limit."""
        self.total += json_size(value) + 1
        if self.total > MAX_PAYLOAD_BYTES:
            raise OutOfBounds("size")


def bounds_error(excess: Excess, subject: str) -> StatesError:
    """The StatesError for a value out of bounds; ``subject`` says whose and how
    (``The state/task 'X' returned a result``) and the cause goes on from there.

    Too large is ``States.DataLimitExceeded``: AWS raises it when a state's input after
    Parameters, its result or its output passes the payload limit, with this cause. Too deep
    is ``States.Runtime``: AWS documents no nesting limit; ours keeps every stored value
    readable, and like AWS's other runtime faults it is not caught by ``States.ALL``.
    """
    if excess == "size":
        return StatesError(
            errors.DATA_LIMIT_EXCEEDED,
            f"{subject} with a size exceeding the maximum number of bytes service limit.",
        )
    return StatesError(
        errors.RUNTIME,
        f"{subject} that nests arrays and objects more than {MAX_JSON_DEPTH} levels deep.",
    )


def checked_bytes(value: Any, subject: str) -> bytes:
    """``value``'s JSON text, or the StatesError of :func:`bounds_error` for ``subject``."""
    try:
        return json_bytes(value)
    except OutOfBounds as out:
        raise bounds_error(out.excess, subject) from None


def max_duration_seconds(machine_type: str, timeout_seconds: int | None) -> int:
    """How long an execution may run: its TimeoutSeconds, within AWS's maximum for the type."""
    limit = MAX_EXPRESS_SECONDS if machine_type == "EXPRESS" else MAX_STANDARD_SECONDS
    return limit if timeout_seconds is None else max(0, min(timeout_seconds, limit))


def retry_delay(
    interval: float, backoff: float, used: int, max_delay: float | None, cap: float
) -> float:
    """IntervalSeconds x BackoffRate^used, capped by MaxDelaySeconds (at most AWS's maximum
    of it) and ``cap`` (the execution's longest duration); never raises.

    A huge BackoffRate (``1e300``) overflows a float: the delay is then the cap.
    """
    try:
        delay = float(interval) * float(backoff) ** used
    except OverflowError:
        delay = math.inf
    if not delay >= 0:  # NaN, or a negative from nonsense input
        delay = 0.0
    limit = min(float(cap), float(MAX_RETRY_DELAY_SECONDS))
    if max_delay is not None:
        limit = min(limit, float(max_delay))
    return min(delay, limit)


def timer_seconds(seconds: float) -> float:
    """``seconds`` made safe for a timer: 0 for a negative or NaN, at most MAX_TIMER_SECONDS."""
    if not seconds > 0:
        return 0.0
    return float(min(seconds, MAX_TIMER_SECONDS))
