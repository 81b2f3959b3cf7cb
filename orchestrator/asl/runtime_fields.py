"""The numbers a state reads from its input at run time (the ``...Path`` fields), checked as AWS
checks them.

A definition's own numbers are validated when it is loaded; these come from the data, so any
value can arrive: a string, a negative, ``1e400``, a year past 9999. Each function returns a
number the interpreter can use as it is (no overflow further on) or raises
:class:`StateRuntimeError` (``States.Runtime``) with AWS's cause where AWS's is known (recorded
in the conformance corpus), and one in the same style where it is not.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from orchestrator.asl import bounds, errors
from orchestrator.asl.bounds import MAX_TASK_SECONDS, MAX_WAIT_SECONDS
from orchestrator.asl.definition import MapState, Seconds, WaitState
from orchestrator.asl.errors import StatesError
from orchestrator.asl.loader import parse_timestamp
from orchestrator.asl.paths import Path, PathNotFound

# AWS documents no upper bound for MaxConcurrency or ToleratedFailureCount; the loader holds
# their constant forms to 99999999 and the Path forms are held to the same here.
MAX_COUNT = MAX_TASK_SECONDS


class StateRuntimeError(StatesError):
    """A States.Runtime error raised inside a state: the interpreter prefixes where it happened."""

    def __init__(self, detail: str) -> None:
        super().__init__(errors.RUNTIME, detail)


def _shown(value: Any) -> str:
    """A value as AWS quotes it in a cause: a string bare, anything else as JSON."""
    return value if isinstance(value, str) else bounds.text(value)


def _is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _pick(path: Path, data: Any, variables: Mapping[str, Any] | None) -> Any:
    """What ``path`` selects from ``data``, or from the variable it names."""
    if path.variable is None:
        return path.read(data)
    if variables is None or path.variable not in variables:
        raise PathNotFound(path.text, "$" + path.variable)
    return path.read(variables[path.variable])


def wait_seconds(
    state: WaitState, data: Any, now: datetime, variables: Mapping[str, Any] | None = None
) -> float:
    """How long a Wait state waits from ``now``: 0 for a moment already past."""
    if state.seconds is not None:
        if state.seconds.value is not None:
            seconds: float = state.seconds.value
        else:
            path = state.seconds.path
            assert path is not None
            try:
                value = _pick(path, data, variables)
            except PathNotFound:
                raise StateRuntimeError(
                    f"The SecondsPath parameter does not reference an input value: {path.text}"
                ) from None
            if not _is_integer(value):
                raise StateRuntimeError(
                    "The SecondsPath parameter cannot be parsed as a long value:"
                    f" {path.text} == {_shown(value)}"
                )
            if value < 0:
                raise StateRuntimeError(
                    f"The SecondsPath parameter references a negative value: {path.text} == {value}"
                )
            seconds = value
    else:
        seconds = (_wait_until(state, data, variables) - now).total_seconds()
    if seconds > MAX_WAIT_SECONDS:  # before float(): 10**400 from SecondsPath would overflow it
        raise StateRuntimeError("Wait state delay is too long.")
    return max(float(seconds), 0.0)


def _wait_until(state: WaitState, data: Any, variables: Mapping[str, Any] | None) -> datetime:
    if state.timestamp_path is None:
        moment = parse_timestamp(state.timestamp or "")
        assert moment is not None  # the loader checked it
        return moment
    path = state.timestamp_path
    try:
        text = _pick(path, data, variables)
    except PathNotFound:
        raise StateRuntimeError(
            f"The TimestampPath parameter does not reference an input value: {path.text}"
        ) from None
    # Four-digit years only, as AWS's parser: 10000-01-01T00:00:00Z is not a timestamp.
    moment = parse_timestamp(text) if isinstance(text, str) else None
    if moment is None:
        raise StateRuntimeError(
            "The TimestampPath parameter does not reference a valid ISO-8601 extended"
            f" offset date-time format string: {path.text} == {_shown(text)}"
        )
    return moment


def task_seconds(
    seconds: Seconds | None, field: str, data: Any, variables: Mapping[str, Any] | None = None
) -> int | None:
    """TimeoutSeconds/HeartbeatSeconds, or their Path form read from ``data``: 1..99999999."""
    if seconds is None:
        return None
    if seconds.value is not None:
        return seconds.value
    path = seconds.path
    assert path is not None
    try:
        value = _pick(path, data, variables)
    except PathNotFound as missing:
        raise StateRuntimeError(missing.describe(path.text)) from None
    if not _is_integer(value) or value <= 0:
        raise StateRuntimeError(
            f"The {field} field refers to value {bounds.text(value)!r} which is not a valid"
            f" positive integer: {path.text}"
        )
    if value > MAX_TASK_SECONDS:
        raise StateRuntimeError(
            f"The {field} field refers to value {value} which is more than the maximum of"
            f" {MAX_TASK_SECONDS}: {path.text}"
        )
    return int(value)


def read_count(path: Path, data: Any, variables: Mapping[str, Any] | None) -> Any:
    """What a count's ``...Path`` reads (None when nothing is there); an integer given as
    text ("2") is that integer, as AWS parses it."""
    value = _read(path, data, variables)
    if isinstance(value, str) and re.fullmatch(r"[+-]?\d{1,10}", value):
        return int(value)
    return value


def _number_read(path: Path, data: Any, variables: Mapping[str, Any] | None) -> Any:
    """What a percentage's Path reads; a number given as text ("1.5") is that number."""
    value = _read(path, data, variables)
    if isinstance(value, str) and re.fullmatch(r"[+-]?\d{1,10}(\.\d{1,10})?", value):
        return float(value)
    return value


def _read(path: Path, data: Any, variables: Mapping[str, Any] | None) -> Any:
    try:
        return _pick(path, data, variables)
    except PathNotFound:
        return None


def map_concurrency(state: MapState, data: Any, variables: Mapping[str, Any] | None = None) -> int:
    """MaxConcurrency, or MaxConcurrencyPath read from ``data``; 0 means no limit."""
    spec = state.max_concurrency
    if spec.path is None:
        return spec.value or 0
    value = _read(spec.path, data, variables)
    if isinstance(value, str) and re.fullmatch(r"[+-]?\d{1,10}", value):
        value = int(value)  # AWS parses a number given as text ("1"), as Java's parseInt
    if not _is_integer(value) or not 0 <= value <= MAX_COUNT:
        raise StateRuntimeError(
            f'The MaxConcurrencyPath field refers to value "{_shown(value)}" which is not a'
            f" valid integer: {spec.path.text}"
        )
    return int(value)


def map_tolerance(
    state: MapState, data: Any, count: int, variables: Mapping[str, Any] | None = None
) -> float | None:
    """How many failed items the Map tolerates (the lower of the count and the percentage of
    ``count``), or None when it tolerates none."""
    tolerated: float | None = None
    spec = state.tolerated_failure_count
    if spec is not None:
        value: Any = spec.value
        if spec.path is not None:
            value = read_count(spec.path, data, variables)
            if not _is_integer(value) or value > MAX_COUNT:
                raise StateRuntimeError(
                    f'The ToleratedFailureCountPath field refers to value "{_shown(value)}"'
                    f" which is not a valid integer: {spec.path.text}"
                )
            if value < 0:
                raise StateRuntimeError("ToleratedFailureCount cannot be negative.")
        tolerated = float(value)
    spec = state.tolerated_failure_percentage
    if spec is not None:
        value = spec.value
        if spec.path is not None:
            value = _number_read(spec.path, data, variables)
            if not _is_number(value):
                raise StateRuntimeError(
                    f'The ToleratedFailurePercentagePath field refers to value "{_shown(value)}"'
                    f" which is not a valid float: {spec.path.text}"
                )
            if not 0 <= value <= 100:
                raise StateRuntimeError("ToleratedFailurePercentage must be between 0 and 100.")
        limit = count * float(value) / 100
        tolerated = limit if tolerated is None else min(tolerated, limit)
    return tolerated
