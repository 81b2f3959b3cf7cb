"""Wait, Retry, timeouts, heartbeats, Parallel, Map and task tokens, on a fake clock.

Each test runs a small definition through the in-process runner, which drives the pure
interpreter; the fake clock makes waits and backoffs take no real time while keeping their
order and length observable.
"""

from __future__ import annotations

import itertools
import json
from datetime import timedelta
from typing import Any

import pytest

from orchestrator.asl.definition import StateMachine
from orchestrator.asl.loader import load_definition
from orchestrator.local_runner import FakeClock, LocalResult, run_local, send_task_success
from workers.runtime import Context, Function

LAMBDA = "arn:aws:lambda:us-east-1:123456789012:function:"


def machine(states: dict[str, Any], **top: Any) -> StateMachine:
    document = {"StartAt": next(iter(states)), "States": states, **top}
    return load_definition(json.dumps(document), name="M")


def fn(name: str, handler: Any) -> Function:
    return Function(name, handler)


def run(
    m: StateMachine, data: Any, *functions: Function, clock: FakeClock | None = None
) -> LocalResult:
    return run_local(m, data, {f.name: f for f in functions}, clock=clock or FakeClock())


def types(result: LocalResult) -> list[str]:
    return [event.type for event in result.history]


# -- Wait ----------------------------------------------------------------------------------------


def test_wait_seconds_waits_on_the_clock() -> None:
    clock = FakeClock()
    start = clock.now()
    m = machine(
        {"W": {"Type": "Wait", "Seconds": 90, "Next": "P"}, "P": {"Type": "Pass", "End": True}}
    )
    result = run(m, {"a": 1}, clock=clock)
    assert result.state.status == "SUCCEEDED"
    assert result.state.output == {"a": 1}
    assert clock.now() - start == timedelta(seconds=90)
    assert types(result)[:4] == [
        "ExecutionStarted",
        "WaitStateEntered",
        "WaitStateExited",
        "PassStateEntered",
    ]


def test_wait_timestamp_path_in_the_past_does_not_wait() -> None:
    clock = FakeClock()
    start = clock.now()
    m = machine({"W": {"Type": "Wait", "TimestampPath": "$.at", "End": True}})
    result = run(m, {"at": "2016-03-14T01:59:00Z"}, clock=clock)
    assert result.state.status == "SUCCEEDED"
    assert clock.now() == start


def test_wait_timestamp_in_the_future_waits_until_then() -> None:
    clock = FakeClock()
    until = (clock.now() + timedelta(hours=2)).isoformat().replace("+00:00", "Z")
    m = machine({"W": {"Type": "Wait", "Timestamp": until, "End": True}})
    assert run(m, {}, clock=clock).state.status == "SUCCEEDED"
    assert clock.now().isoformat().replace("+00:00", "Z") == until


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (-1, "references a negative value: $.s == -1"),
        (1.5, "cannot be parsed as a long value: $.s == 1.5"),
        (None, None),
    ],
)
def test_wait_seconds_path_errors(value: Any, message: str | None) -> None:
    m = machine({"W": {"Type": "Wait", "SecondsPath": "$.s", "End": True}})
    result = run(m, {} if value is None else {"s": value})
    assert (result.state.status, result.state.error) == ("FAILED", "States.Runtime")
    assert (result.state.cause or "").startswith(
        "An error occurred while executing the state 'W' (entered at the event id #2)."
    )
    assert (message or "does not reference an input value: $.s") in (result.state.cause or "")


# -- Retry ---------------------------------------------------------------------------------------


class Flaky(Exception):
    pass


def flaky(failures: int) -> Function:
    """Fails ``failures`` times, then returns the attempt number it succeeded on."""
    calls: list[int] = []

    def handler(event: Any, context: Context) -> Any:
        calls.append(context.attempt)
        if len(calls) <= failures:
            raise Flaky(f"attempt {len(calls)}")
        return {"attempts": len(calls)}

    return fn("F", handler)


def retry_machine(**retrier: Any) -> StateMachine:
    return machine(
        {
            "T": {
                "Type": "Task",
                "Resource": LAMBDA + "F",
                "Retry": [{"ErrorEquals": ["Flaky"], **retrier}],
                "End": True,
            }
        }
    )


def scheduled_times(result: LocalResult) -> list[float]:
    times = [e.timestamp for e in result.history if e.type == "LambdaFunctionScheduled"]
    return [(t - times[0]).total_seconds() for t in times]


def test_retry_backs_off_then_succeeds() -> None:
    result = run(retry_machine(IntervalSeconds=2, BackoffRate=3.0, MaxAttempts=3), {}, flaky(2))
    assert result.state.status == "SUCCEEDED"
    assert result.state.output == {"attempts": 3}
    assert scheduled_times(result) == [0.0, 2.0, 8.0]  # 2, then 2 * 3


def test_retry_max_delay_caps_the_backoff() -> None:
    result = run(
        retry_machine(IntervalSeconds=10, BackoffRate=10.0, MaxAttempts=3, MaxDelaySeconds=30),
        {},
        flaky(3),
    )
    assert scheduled_times(result) == [0.0, 10.0, 40.0, 70.0]


def test_retry_full_jitter_stays_within_the_backoff() -> None:
    result = run(
        retry_machine(IntervalSeconds=8, BackoffRate=2.0, MaxAttempts=3, JitterStrategy="FULL"),
        {},
        flaky(3),
    )
    times = scheduled_times(result)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert len(gaps) == 3
    for gap, ceiling in zip(gaps, [8, 16, 32], strict=True):
        assert 0 <= gap <= ceiling


def test_retries_exhausted_fail_with_the_last_error() -> None:
    result = run(retry_machine(IntervalSeconds=1, MaxAttempts=2), {}, flaky(5))
    assert (result.state.status, result.state.error) == ("FAILED", "Flaky")
    assert json.loads(result.state.cause or "{}")["errorMessage"] == "attempt 3"
    assert types(result).count("LambdaFunctionScheduled") == 3


def test_max_attempts_zero_never_retries_and_retry_count_is_in_the_context() -> None:
    assert (
        types(run(retry_machine(MaxAttempts=0), {}, flaky(1))).count("LambdaFunctionScheduled") == 1
    )
    seen: list[Any] = []
    m = machine(
        {
            "T": {
                "Type": "Task",
                "Resource": LAMBDA + "F",
                "Parameters": {"count.$": "$$.State.RetryCount"},
                "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1}],
                "End": True,
            }
        }
    )

    def handler(event: Any, context: Context) -> Any:
        seen.append(event["count"])
        if len(seen) < 3:
            raise Flaky("again")
        return "ok"

    assert run(m, {}, fn("F", handler)).state.status == "SUCCEEDED"
    assert seen == [0, 1, 2]


def test_retry_then_catch_with_a_separate_retrier_counter_each() -> None:
    m = machine(
        {
            "T": {
                "Type": "Task",
                "Resource": LAMBDA + "F",
                "Retry": [
                    {"ErrorEquals": ["Other"], "MaxAttempts": 5},
                    {"ErrorEquals": ["Flaky"], "MaxAttempts": 1, "IntervalSeconds": 1},
                ],
                "Catch": [{"ErrorEquals": ["Flaky"], "ResultPath": "$.caught", "Next": "Done"}],
                "End": True,
            },
            "Done": {"Type": "Pass", "End": True},
        }
    )
    result = run(m, {"in": 1}, flaky(9))
    assert result.state.status == "SUCCEEDED"
    assert result.state.output["caught"]["Error"] == "Flaky"  # type: ignore[index,call-overload]
    assert types(result).count("LambdaFunctionScheduled") == 2


# -- timeouts and heartbeats ---------------------------------------------------------------------


def sleeper(seconds: float, clock: FakeClock) -> Function:
    def handler(event: Any, context: Context) -> Any:
        clock.sleep(seconds)
        return event

    return fn("F", handler)


def test_task_timeout_fails_with_states_timeout() -> None:
    clock = FakeClock()
    m = machine({"T": {"Type": "Task", "Resource": LAMBDA + "F", "TimeoutSeconds": 5, "End": True}})
    result = run(m, {}, sleeper(60, clock), clock=clock)
    assert (result.state.status, result.state.error) == ("FAILED", "States.Timeout")
    assert "LambdaFunctionTimedOut" in types(result)
    assert "LambdaFunctionSucceeded" not in types(result)  # the late result is dropped


def test_a_task_within_its_timeout_succeeds() -> None:
    clock = FakeClock()
    m = machine({"T": {"Type": "Task", "Resource": LAMBDA + "F", "TimeoutSeconds": 5, "End": True}})
    assert run(m, {"x": 1}, sleeper(4, clock), clock=clock).state.output == {"x": 1}


def test_timeout_seconds_path_and_catching_a_timeout() -> None:
    clock = FakeClock()
    m = machine(
        {
            "T": {
                "Type": "Task",
                "Resource": LAMBDA + "F",
                "TimeoutSecondsPath": "$.limit",
                "Catch": [{"ErrorEquals": ["States.Timeout"], "Next": "Late"}],
                "End": True,
            },
            "Late": {"Type": "Pass", "Result": "late", "End": True},
        }
    )
    assert run(m, {"limit": 3}, sleeper(10, clock), clock=clock).state.output == "late"


def test_task_failed_does_not_catch_a_timeout() -> None:
    clock = FakeClock()
    m = machine(
        {
            "T": {
                "Type": "Task",
                "Resource": LAMBDA + "F",
                "TimeoutSeconds": 1,
                "Catch": [{"ErrorEquals": ["States.TaskFailed"], "Next": "P"}],
                "End": True,
            },
            "P": {"Type": "Pass", "End": True},
        }
    )
    assert run(m, {}, sleeper(10, clock), clock=clock).state.error == "States.Timeout"


def test_heartbeat_timeout_without_heartbeats() -> None:
    clock = FakeClock()
    m = machine(
        {
            "T": {
                "Type": "Task",
                "Resource": LAMBDA + "F",
                "HeartbeatSeconds": 2,
                "TimeoutSeconds": 100,
                "End": True,
            }
        }
    )
    result = run(m, {}, sleeper(10, clock), clock=clock)
    assert result.state.error == "States.HeartbeatTimeout"


def test_execution_timeout_times_the_execution_out() -> None:
    m = machine({"W": {"Type": "Wait", "Seconds": 100, "End": True}}, TimeoutSeconds=10)
    result = run(m, {})
    assert (result.state.status, result.state.error) == ("TIMED_OUT", "States.Timeout")
    assert types(result)[-1] == "ExecutionTimedOut"


# -- Parallel ------------------------------------------------------------------------------------


def test_parallel_outputs_are_in_branch_order() -> None:
    m = machine(
        {
            "P": {
                "Type": "Parallel",
                "Branches": [
                    {
                        "StartAt": "A",
                        "States": {
                            "A": {"Type": "Wait", "Seconds": 5, "Next": "A2"},
                            "A2": {"Type": "Pass", "Result": "slow", "End": True},
                        },
                    },
                    {
                        "StartAt": "B",
                        "States": {"B": {"Type": "Pass", "Result": "fast", "End": True}},
                    },
                    {
                        "StartAt": "C",
                        "States": {"C": {"Type": "Task", "Resource": LAMBDA + "F", "End": True}},
                    },
                ],
                "ResultPath": "$.results",
                "End": True,
            }
        }
    )
    result = run(m, {"v": 1}, fn("F", lambda e, c: e["v"] + 1))
    assert result.state.output == {"v": 1, "results": ["slow", "fast", 2]}
    assert types(result)[:3] == ["ExecutionStarted", "ParallelStateEntered", "ParallelStateStarted"]
    assert types(result)[-3:] == [
        "ParallelStateSucceeded",
        "ParallelStateExited",
        "ExecutionSucceeded",
    ]


def test_a_failing_branch_fails_the_parallel_and_aborts_the_others() -> None:
    m = machine(
        {
            "P": {
                "Type": "Parallel",
                "Branches": [
                    {
                        "StartAt": "Slow",
                        "States": {
                            "Slow": {"Type": "Task", "Resource": LAMBDA + "Never", "End": True}
                        },
                    },
                    {
                        "StartAt": "Boom",
                        "States": {"Boom": {"Type": "Fail", "Error": "Boom", "Cause": "bad"}},
                    },
                ],
                "Catch": [{"ErrorEquals": ["Boom"], "Next": "Handled"}],
                "End": True,
            },
            "Handled": {"Type": "Pass", "End": True},
        }
    )
    calls: list[Any] = []
    result = run(m, {}, fn("Never", lambda e, c: calls.append(e) or "late"))
    assert result.state.status == "SUCCEEDED"
    assert result.state.output == {"Error": "Boom", "Cause": "bad"}
    assert "ParallelStateFailed" in types(result)
    assert result.state.tokens == {}


def test_parallel_retry_reruns_every_branch() -> None:
    attempts: list[int] = []

    def handler(event: Any, context: Context) -> Any:
        attempts.append(1)
        if len(attempts) == 1:
            raise Flaky("first")
        return "ok"

    m = machine(
        {
            "P": {
                "Type": "Parallel",
                "Branches": [
                    {
                        "StartAt": "T",
                        "States": {"T": {"Type": "Task", "Resource": LAMBDA + "F", "End": True}},
                    }
                ],
                "Retry": [{"ErrorEquals": ["Flaky"], "IntervalSeconds": 1}],
                "End": True,
            }
        }
    )
    result = run(m, {}, fn("F", handler))
    assert result.state.output == ["ok"]
    assert types(result).count("ParallelStateStarted") == 2


# -- Map -----------------------------------------------------------------------------------------


def map_machine(**fields: Any) -> StateMachine:
    return machine(
        {
            "M": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "ItemProcessor": {
                    "StartAt": "T",
                    "States": {"T": {"Type": "Task", "Resource": LAMBDA + "F", "End": True}},
                },
                "End": True,
                **fields,
            }
        }
    )


def test_map_runs_each_item_and_keeps_item_order() -> None:
    result = run(map_machine(), {"items": [3, 1, 2]}, fn("F", lambda e, c: e * 10))
    assert result.state.output == [30, 10, 20]
    assert types(result)[2:4] == ["MapStateStarted", "MapIterationStarted"]
    started = [e.details for e in result.history if e.type == "MapStateStarted"]
    assert started == [{"length": 3}]


def test_map_max_concurrency_is_honoured() -> None:
    clock = FakeClock()
    in_flight, peak = [0], [0]
    m = map_machine(MaxConcurrency=2)
    result_order: list[int] = []

    def handler(event: Any, context: Context) -> Any:
        result_order.append(event)
        return event

    result = run(m, {"items": list(range(7))}, fn("F", handler), clock=clock)
    assert result.state.output == list(range(7))
    # Count iterations running at once from the history: started minus finished.
    for event in result.history:
        if event.type == "MapIterationStarted":
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
        elif event.type == "MapIterationSucceeded":
            in_flight[0] -= 1
    assert peak[0] == 2


def test_map_item_selector_sees_index_and_value() -> None:
    m = map_machine(
        ItemSelector={"i.$": "$$.Map.Item.Index", "v.$": "$$.Map.Item.Value", "all.$": "$.tag"}
    )
    result = run(m, {"items": ["a", "b"], "tag": "T"}, fn("F", lambda e, c: e))
    assert result.state.output == [{"i": 0, "v": "a", "all": "T"}, {"i": 1, "v": "b", "all": "T"}]


def test_legacy_iterator_and_parameters() -> None:
    m = machine(
        {
            "M": {
                "Type": "Map",
                "Parameters": {"x.$": "$$.Map.Item.Value"},
                "Iterator": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}},
                "End": True,
            }
        }
    )
    assert run(m, [1, 2]).state.output == [{"x": 1}, {"x": 2}]


def test_empty_map_and_max_concurrency_path() -> None:
    assert run(map_machine(), {"items": []}, fn("F", lambda e, c: e)).state.output == []
    m = map_machine(MaxConcurrencyPath="$.n")
    assert run(m, {"items": [1], "n": 1}, fn("F", lambda e, c: e)).state.output == [1]
    bad = run(m, {"items": [1], "n": "x"}, fn("F", lambda e, c: e))
    assert bad.state.error == "States.Runtime"
    assert 'The MaxConcurrencyPath field refers to value "x" which is not a valid integer: $.n' in (
        bad.state.cause or ""
    )


def test_a_failed_iteration_fails_the_map_unless_tolerated() -> None:
    def handler(event: Any, context: Context) -> Any:
        if event == 2:
            raise Flaky("two")
        return event

    failed = run(map_machine(), {"items": [1, 2, 3]}, fn("F", handler))
    assert (failed.state.status, failed.state.error) == ("FAILED", "Flaky")
    assert "MapIterationFailed" in types(failed)
    tolerated = run(map_machine(ToleratedFailureCount=1), {"items": [1, 2, 3]}, fn("F", handler))
    assert tolerated.state.status == "SUCCEEDED"
    assert tolerated.state.output[0] == 1 and tolerated.state.output[2] == 3  # type: ignore[index]
    exceeded = run(
        map_machine(ToleratedFailurePercentage=10), {"items": [1, 2, 3]}, fn("F", handler)
    )
    assert exceeded.state.error == "States.ExceedToleratedFailureThreshold"


def test_nested_map_in_parallel() -> None:
    m = machine(
        {
            "P": {
                "Type": "Parallel",
                "Branches": [
                    {
                        "StartAt": "M",
                        "States": {
                            "M": {
                                "Type": "Map",
                                "Iterator": {
                                    "StartAt": "Q",
                                    "States": {"Q": {"Type": "Pass", "End": True}},
                                },
                                "End": True,
                            }
                        },
                    }
                ],
                "End": True,
            }
        }
    )
    assert run(m, [1, 2]).state.output == [[1, 2]]


# -- task tokens and lambda:invoke ---------------------------------------------------------------


def test_wait_for_task_token_completes_on_send_task_success() -> None:
    m = machine(
        {
            "T": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                "Parameters": {
                    "FunctionName": "Approver",
                    "Payload": {"token.$": "$$.Task.Token", "order.$": "$.order"},
                },
                "End": True,
            }
        }
    )

    def approver(event: Any, context: Context) -> Any:
        send_task_success(event["token"], {"approved": event["order"]})
        return "ignored: the callback completes the task"

    result = run(m, {"order": 7}, fn("Approver", approver))
    assert result.state.output == {"approved": 7}


def test_lambda_invoke_wraps_the_payload_like_aws() -> None:
    m = machine(
        {
            "T": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {
                    "FunctionName": "arn:aws:lambda:us-east-1:1:function:F:$LATEST",
                    "Payload.$": "$",
                },
                "ResultSelector": {"body.$": "$.Payload", "code.$": "$.StatusCode"},
                "End": True,
            }
        }
    )
    result = run(m, {"x": 1}, fn("F", lambda e, c: {"got": e}))
    assert result.state.output == {"body": {"got": {"x": 1}}, "code": 200}
    assert "TaskScheduled" in types(result) and "TaskSucceeded" in types(result)


def test_a_missing_function_fails_with_resource_not_found() -> None:
    m = machine({"T": {"Type": "Task", "Resource": LAMBDA + "Missing", "End": True}})
    assert run(m, {}).state.error == "Lambda.ResourceNotFoundException"
