"""Numbers at run time: retry delays never overflow and are capped, no timer's due date can
overflow whatever the input, and the ``...Path`` fields are checked as AWS checks them
(States.Runtime, AWS's causes where they are recorded)."""

from __future__ import annotations

import dataclasses
import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from orchestrator.asl import bounds, interpreter
from orchestrator.asl.definition import StateMachine, TaskState
from orchestrator.asl.errors import RUNTIME
from tests.asl.bounds_support import LAMBDA, T0, machine, run_steps, start


def failing_task(**retry: Any) -> StateMachine:
    m = machine(
        {
            "T": {
                "Type": "Task",
                "Resource": LAMBDA + "F",
                "Retry": [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 4}],
                "End": True,
            }
        }
    )
    task = m.states["T"]
    assert isinstance(task, TaskState)
    # Set the numbers on the loaded machine: the loader may refuse them, the core must not
    # depend on that.
    retrier = dataclasses.replace(task.retriers[0], **retry)
    return dataclasses.replace(
        m,
        scopes=(
            dataclasses.replace(
                m.scopes[0], states={"T": dataclasses.replace(task, retriers=(retrier,))}
            ),
        ),
    )


def retry_delays(m: StateMachine) -> list[float]:
    def fails(event: Any) -> Any:
        raise AssertionError("unreachable")

    first = start(m, {})
    state, delays = first.state, []
    for _ in range(10):
        (dispatch,) = [c for c in first.commands if isinstance(c, interpreter.DispatchTask)]
        failed = interpreter.step(
            m, state, interpreter.TaskFailed(dispatch.token, dispatch.attempt, "E", "c", T0)
        )
        state = failed.state
        retries = [ref for ref in state.timers.values() if ref.kind == "retry"]
        if not retries:
            break
        delays.append((retries[0].due - T0).total_seconds())
        (timer,) = [t for t, ref in state.timers.items() if ref.kind == "retry"]
        first = interpreter.step(m, state, interpreter.TimerFired(timer, T0))
        state = first.state
    return delays


def test_a_huge_backoff_rate_caps_the_delay_instead_of_overflowing() -> None:
    delays = retry_delays(failing_task(backoff_rate=1e300))
    assert delays == [1.0, 365 * 24 * 3600, 365 * 24 * 3600, 365 * 24 * 3600]
    delays = retry_delays(failing_task(backoff_rate=1e300, max_delay_seconds=5))
    assert delays == [1.0, 5.0, 5.0, 5.0]


def test_an_express_retry_never_waits_past_its_five_minutes() -> None:
    m = dataclasses.replace(failing_task(interval_seconds=99_999_999), type="EXPRESS")
    assert retry_delays(m)[0] == 300


@pytest.mark.parametrize(
    ("interval", "backoff", "used", "max_delay", "expected"),
    [
        (1, 2.0, 3, None, 8.0),
        (1, 1e300, 2, None, 100.0),  # overflow: the cap
        (1, math.inf, 1, None, 100.0),
        (1, math.nan, 1, None, 0.0),
        (10, 2.0, 10, 30, 30.0),
        (99_999_999, 2.0, 0, None, 100.0),
    ],
)
def test_retry_delay_never_raises(
    interval: float, backoff: float, used: int, max_delay: int | None, expected: float
) -> None:
    assert bounds.retry_delay(interval, backoff, used, max_delay, cap=100) == expected


def test_retry_delay_is_at_most_the_largest_max_delay_seconds() -> None:
    assert bounds.retry_delay(1, 1e300, 5, None, cap=10**12) == 31_622_401


@pytest.mark.parametrize("seconds", [-1.0, math.nan, math.inf, 1e300, 10**400])
def test_timer_seconds_are_made_safe(seconds: float) -> None:
    safe = bounds.timer_seconds(seconds)
    assert 0 <= safe <= bounds.MAX_TIMER_SECONDS
    timedelta(seconds=safe)  # no OverflowError


def test_no_timer_overflows_even_at_the_end_of_time() -> None:
    late = datetime(9999, 12, 31, 23, 0, tzinfo=UTC)
    m = machine({"W": {"Type": "Wait", "Seconds": 99_999_999, "End": True}})
    step = start(m, {}, late)
    dues = [c.due for c in step.commands if isinstance(c, interpreter.StartTimer)]
    assert dues and all(due == datetime.max.replace(tzinfo=UTC) for due in dues)
    assert step.state.status == "RUNNING"


# -- the Path forms, read at run time -------------------------------------------------------


def wait_path(value: Any, field: str = "SecondsPath") -> interpreter.Step:
    m = machine({"W": {"Type": "Wait", field: "$.v", "End": True}})
    return start(m, {"v": value})


@pytest.mark.parametrize(
    ("value", "cause"),
    [
        (-1, "The SecondsPath parameter references a negative value: $.v == -1"),
        (1.5, "The SecondsPath parameter cannot be parsed as a long value: $.v == 1.5"),
        ("10", "The SecondsPath parameter cannot be parsed as a long value: $.v == 10"),
        (True, "The SecondsPath parameter cannot be parsed as a long value: $.v == true"),
        (2**31, "Wait state delay is too long."),
        (10**400, "Wait state delay is too long."),
    ],
)
def test_seconds_path(value: Any, cause: str) -> None:
    step = wait_path(value)
    assert step.state.error == RUNTIME
    assert step.state.cause is not None and step.state.cause.endswith(cause)


def test_seconds_path_at_its_limits_waits() -> None:
    for value, seconds in ((0, None), (2**31 - 1, 2**31 - 1)):
        step = wait_path(value)
        waits = [ref for ref in step.state.timers.values() if ref.kind == "wait"]
        if seconds is None:
            assert step.state.status == "SUCCEEDED" and not waits
        else:
            assert waits[0].due == T0 + timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("value", "cause"),
    [
        ("10000-01-01T00:00:00Z", "does not reference a valid ISO-8601 extended offset date-time"),
        ("9999-12-31T23:59:59Z", "Wait state delay is too long."),
        (
            12,
            "does not reference a valid ISO-8601 extended offset date-time format string: $.v == 12",
        ),
    ],
)
def test_timestamp_path_far_away_or_not_a_timestamp(value: Any, cause: str) -> None:
    step = wait_path(value, "TimestampPath")
    assert step.state.error == RUNTIME and cause in (step.state.cause or "")


def test_timestamp_path_long_past_does_not_wait() -> None:
    for value in ("0001-01-01T00:00:00+23:59", "1970-01-01T00:00:00Z"):
        assert wait_path(value, "TimestampPath").state.status == "SUCCEEDED"


@pytest.mark.parametrize("field", ["TimeoutSecondsPath", "HeartbeatSecondsPath"])
@pytest.mark.parametrize(
    ("value", "cause"),
    [
        (0, "which is not a valid positive integer"),
        (-5, "which is not a valid positive integer"),
        ("60", "which is not a valid positive integer"),
        (2.5, "which is not a valid positive integer"),
        (100_000_000, "which is more than the maximum of 99999999"),
        (10**400, "which is more than the maximum of 99999999"),
    ],
)
def test_task_seconds_paths(field: str, value: Any, cause: str) -> None:
    m = machine({"T": {"Type": "Task", "Resource": LAMBDA + "F", field: "$.v", "End": True}})
    step = start(m, {"v": value})
    assert step.state.error == RUNTIME
    assert f"The {field} field refers to value" in (step.state.cause or "")
    assert cause in (step.state.cause or "")


def test_task_seconds_paths_at_the_limit_set_their_timers() -> None:
    m = machine(
        {
            "T": {
                "Type": "Task",
                "Resource": LAMBDA + "F",
                "TimeoutSecondsPath": "$.t",
                "HeartbeatSecondsPath": "$.h",
                "End": True,
            }
        }
    )
    step = start(m, {"t": 99_999_999, "h": 1})
    kinds = {ref.kind: ref.due for ref in step.state.timers.values()}
    assert kinds["timeout"] == T0 + timedelta(seconds=99_999_999)
    assert kinds["heartbeat"] == T0 + timedelta(seconds=1)


def map_with(field: str, value: Any) -> interpreter.Step:
    m = machine(
        {
            "Map": {
                "Type": "Map",
                "ItemsPath": "$.items",
                field: "$.v",
                "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}},
                "End": True,
            }
        }
    )
    return start(m, {"items": [1, 2], "v": value})


@pytest.mark.parametrize(
    ("field", "value", "cause"),
    [
        # AWS's causes, recorded in the conformance corpus:
        (
            "MaxConcurrencyPath",
            "NoNumber",
            'The MaxConcurrencyPath field refers to value "NoNumber" which is not a valid'
            " integer: $.v",
        ),
        (
            "ToleratedFailureCountPath",
            {},
            'The ToleratedFailureCountPath field refers to value "{}" which is not a valid'
            " integer: $.v",
        ),
        ("ToleratedFailureCountPath", -1, "ToleratedFailureCount cannot be negative."),
        (
            "ToleratedFailurePercentagePath",
            "NoNumber",
            'The ToleratedFailurePercentagePath field refers to value "NoNumber" which is not a'
            " valid float: $.v",
        ),
        (
            "ToleratedFailurePercentagePath",
            100.1,
            "ToleratedFailurePercentage must be between 0 and 100.",
        ),
        (
            "ToleratedFailurePercentagePath",
            -1,
            "ToleratedFailurePercentage must be between 0 and 100.",
        ),
        # And ours in the same words past the largest count:
        ("MaxConcurrencyPath", -1, 'refers to value "-1" which is not a valid integer'),
        ("MaxConcurrencyPath", 10**12, "which is not a valid integer"),
        ("ToleratedFailureCountPath", 10**400, "which is not a valid integer"),
    ],
)
def test_map_paths(field: str, value: Any, cause: str) -> None:
    step = map_with(field, value)
    assert step.state.error == RUNTIME
    assert step.state.cause is not None and cause in step.state.cause
    assert step.state.cause.startswith("An error occurred while executing the state 'Map'")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("MaxConcurrencyPath", 0),
        ("MaxConcurrencyPath", 1),
        ("ToleratedFailureCountPath", 0),
        ("ToleratedFailurePercentagePath", 100),
        ("ToleratedFailurePercentagePath", 0.5),
    ],
)
def test_map_paths_within_range_run(field: str, value: Any) -> None:
    run = run_steps(
        machine(
            {
                "Map": {
                    "Type": "Map",
                    "ItemsPath": "$.items",
                    field: "$.v",
                    "ItemProcessor": {
                        "StartAt": "P",
                        "States": {"P": {"Type": "Pass", "End": True}},
                    },
                    "End": True,
                }
            }
        ),
        {"items": [1, 2], "v": value},
    )
    assert run.state.status == "SUCCEEDED" and run.state.output == [1, 2]
