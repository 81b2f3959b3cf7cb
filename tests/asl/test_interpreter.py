"""The pure interpreter: both tutorial paths, the loop variant, data flow, Catch, duplicates."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from orchestrator.asl import interpreter
from orchestrator.asl.definition import StateMachine
from orchestrator.asl.interpreter import HISTORY_FULL_CAUSE
from orchestrator.asl.loader import load_definition, load_definition_file

DEFINITIONS = Path(__file__).resolve().parents[2] / "definitions"
T0 = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)


def clock() -> Iterator[datetime]:
    moment = T0
    while True:
        yield moment
        moment += timedelta(milliseconds=10)


def drive(
    machine: StateMachine,
    execution_input: Any,
    functions: dict[str, Callable[[Any], Any]],
) -> tuple[interpreter.ExecutionState, list[interpreter.HistoryEvent], list[str]]:
    """Run an execution with plain functions; a raised exception becomes a task failure."""
    times = clock()
    start = interpreter.StartExecution(
        execution_arn="arn:aws:states:us-east-1:1:execution:M:e1",
        execution_name="e1",
        state_machine_arn="arn:aws:states:us-east-1:1:stateMachine:M",
        input=execution_input,
        time=next(times),
        token_prefix="tok",
    )
    step = interpreter.step(machine, None, start)
    history, called = list(step.history), []
    commands = list(step.commands)
    while commands:
        command = commands.pop(0)
        if isinstance(command, interpreter.CompleteExecution):
            assert all(isinstance(c, interpreter.CancelTimer) for c in commands)
            continue
        if isinstance(command, interpreter.StartTimer | interpreter.CancelTimer):
            ref = step.state.timers.get(command.timer)
            if isinstance(command, interpreter.StartTimer) and ref and ref.kind == "continue":
                event = interpreter.TimerFired(command.timer, next(times))
                step = interpreter.step(machine, step.state, event)
                history += step.history
                commands += step.commands
            continue  # else the execution's own timer (its maximum duration)
        called.append(command.function_name)
        event: interpreter.Event
        try:
            output = functions[command.function_name](command.payload)
            event = interpreter.TaskSucceeded(command.token, command.attempt, output, next(times))
        except Exception as exc:
            event = interpreter.TaskFailed(
                command.token, command.attempt, type(exc).__name__, str(exc), next(times)
            )
        step = interpreter.step(machine, step.state, event)
        history += step.history
        commands += step.commands
    return step.state, history, called


def tutorial_functions(statuses: list[int]) -> dict[str, Callable[[Any], Any]]:
    """The tutorial's functions, with Work on Case's random draws given in advance."""
    draws = iter(statuses)

    def work(event: dict[str, Any]) -> dict[str, Any]:
        status = next(draws)
        word = "resolved..." if status == 1 else "unresolved..."
        return {"Case": event["Case"], "Status": status, "Message": event["Message"] + word}

    return {
        "OpenCaseFunction": lambda e: {
            "Case": e["inputCaseID"],
            "Message": f"Case {e['inputCaseID']}: opened...",
        },
        "AssignCaseFunction": lambda e: {
            "Case": e["Case"],
            "Message": e["Message"] + "assigned...",
        },
        "WorkOnCaseFunction": work,
        "CloseCaseFunction": lambda e: {**e, "Message": e["Message"] + "closed."},
        "EscalateCaseFunction": lambda e: {**e, "Message": e["Message"] + "escalating."},
    }


def test_tutorial_resolved_case_closes() -> None:
    machine = load_definition_file(DEFINITIONS / "CallCenterStateMachine.asl.json")
    state, history, called = drive(machine, {"inputCaseID": "001"}, tutorial_functions([1]))
    assert state.status == "SUCCEEDED"
    assert state.output == {
        "Case": "001",
        "Status": 1,
        "Message": "Case 001: opened...assigned...resolved...closed.",
    }
    assert called == [
        "OpenCaseFunction",
        "AssignCaseFunction",
        "WorkOnCaseFunction",
        "CloseCaseFunction",
    ]
    assert [e.type for e in history][-3:] == [
        "LambdaFunctionSucceeded",
        "TaskStateExited",
        "ExecutionSucceeded",
    ]


def test_tutorial_unresolved_case_escalates_and_fails() -> None:
    machine = load_definition_file(DEFINITIONS / "CallCenterStateMachine.asl.json")
    state, history, called = drive(machine, {"inputCaseID": "002"}, tutorial_functions([0]))
    assert state.status == "FAILED"
    assert state.error is None
    assert state.cause == "Engage Tier 2 Support."
    assert called[-1] == "EscalateCaseFunction"
    fail_entered = [e for e in history if e.type == "FailStateEntered"]
    assert len(fail_entered) == 1
    assert json.loads(fail_entered[0].details["input"])["Message"] == (  # type: ignore[index]
        "Case 002: opened...assigned...unresolved...escalating."
    )
    assert history[-1].type == "ExecutionFailed"
    assert history[-1].details == {"cause": "Engage Tier 2 Support."}


def test_loop_variant_works_until_resolved() -> None:
    machine = load_definition_file(DEFINITIONS / "CallCenterLoop.asl.json")
    state, _, called = drive(machine, {"inputCaseID": "003"}, tutorial_functions([0, 0, 1]))
    assert state.status == "SUCCEEDED"
    assert called.count("WorkOnCaseFunction") == 3
    assert called.count("EscalateCaseFunction") == 2
    assert state.output["Message"] == (  # type: ignore[index,call-overload]
        "Case 003: opened...assigned...unresolved...escalating."
        "unresolved...escalating.resolved...closed."
    )


def test_history_ids_chain_and_event_shapes() -> None:
    machine = load_definition_file(DEFINITIONS / "CallCenterStateMachine.asl.json")
    _, history, _ = drive(machine, {"inputCaseID": "001"}, tutorial_functions([1]))
    assert [e.id for e in history] == list(range(1, len(history) + 1))
    assert all(e.previous_event_id == e.id - 1 for e in history)
    first = history[0].to_aws()
    assert first["type"] == "ExecutionStarted"
    assert json.loads(first["executionStartedEventDetails"]["input"]) == {"inputCaseID": "001"}
    entered = history[1].to_aws()
    assert entered["stateEnteredEventDetails"]["name"] == "Open Case"
    scheduled = history[2].to_aws()
    assert scheduled["lambdaFunctionScheduledEventDetails"]["resource"].endswith(
        ":function:OpenCaseFunction"
    )
    assert [e.type for e in history].count("ChoiceStateEntered") == 1


def machine_of(states: dict[str, Any], start: str | None = None) -> StateMachine:
    document = {"StartAt": start or next(iter(states)), "States": states}
    return load_definition(json.dumps(document), name="M")


LAMBDA = "arn:aws:lambda:us-east-1:123456789012:function:"


def test_data_flow_order_input_parameters_selector_result_output() -> None:
    machine = machine_of(
        {
            "T": {
                "Type": "Task",
                "Resource": LAMBDA + "F",
                "InputPath": "$.request",
                "Parameters": {
                    "id.$": "$.id",
                    "fixed": 1,
                    "exec.$": "$$.Execution.Name",
                    "nested": {"n.$": "$.id"},
                },
                "ResultSelector": {"value.$": "$.body.value"},
                "ResultPath": "$.result",
                "OutputPath": "$.result",
                "End": True,
            }
        }
    )
    seen: list[Any] = []

    def f(event: Any) -> Any:
        seen.append(event)
        return {"body": {"value": event["id"] * 2}, "noise": True}

    state, _, _ = drive(machine, {"request": {"id": 21}, "other": "x"}, {"F": f})
    assert seen == [{"id": 21, "fixed": 1, "exec": "e1", "nested": {"n": 21}}]
    assert state.status == "SUCCEEDED"
    assert state.output == {"value": 42}


def test_result_path_null_keeps_input_and_input_path_null_gives_empty_object() -> None:
    machine = machine_of(
        {
            "T": {
                "Type": "Task",
                "Resource": LAMBDA + "F",
                "InputPath": None,
                "ResultPath": None,
                "Next": "P",
            },
            "P": {"Type": "Pass", "Result": {"r": 1}, "ResultPath": "$.deep.er", "End": True},
        }
    )
    seen: list[Any] = []
    state, _, _ = drive(machine, {"keep": True}, {"F": lambda e: seen.append(e) or "ignored"})
    assert seen == [{}]
    assert state.output == {"keep": True, "deep": {"er": {"r": 1}}}


def test_pass_parameters_and_succeed_output_path() -> None:
    machine = machine_of(
        {
            "P": {
                "Type": "Pass",
                "Parameters": {"a.$": "$.x", "list": [1, {"b.$": "$.y"}]},
                "Next": "S",
            },
            "S": {"Type": "Succeed", "OutputPath": "$.list[1]"},
        }
    )
    state, history, _ = drive(machine, {"x": 1, "y": "why"}, {})
    assert state.output == {"b": "why"}
    assert [e.type for e in history] == [
        "ExecutionStarted",
        "PassStateEntered",
        "PassStateExited",
        "SucceedStateEntered",
        "SucceedStateExited",
        "ExecutionSucceeded",
    ]


def test_fail_state_error_and_cause_paths() -> None:
    machine = machine_of({"F": {"Type": "Fail", "ErrorPath": "$.e", "CausePath": "$.c"}})
    state, _, _ = drive(machine, {"e": "MyError", "c": "because"}, {})
    assert (state.status, state.error, state.cause) == ("FAILED", "MyError", "because")


def test_no_choice_matched_fails_the_execution() -> None:
    machine = machine_of(
        {
            "C": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.n", "NumericEquals": 1, "Next": "S"}],
            },
            "S": {"Type": "Succeed"},
        }
    )
    state, _, _ = drive(machine, {"n": 2}, {})
    assert (state.status, state.error) == ("FAILED", "States.NoChoiceMatched")


def test_choice_on_missing_variable_is_a_runtime_error() -> None:
    machine = machine_of(
        {
            "C": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.Status", "NumericEquals": 1, "Next": "S"}],
                "Default": "S",
            },
            "S": {"Type": "Succeed"},
        }
    )
    state, _, _ = drive(machine, {}, {})
    assert (state.status, state.error) == ("FAILED", "States.Runtime")
    assert "$.Status" in (state.cause or "")


def test_missing_input_path_is_a_runtime_error() -> None:
    machine = machine_of({"P": {"Type": "Pass", "InputPath": "$.nothing", "End": True}})
    state, _, _ = drive(machine, {"a": 1}, {})
    assert (state.status, state.error) == ("FAILED", "States.Runtime")


def test_result_path_through_a_string_fails_with_result_path_match_failure() -> None:
    machine = machine_of({"P": {"Type": "Pass", "Result": 1, "ResultPath": "$.s.x", "End": True}})
    state, _, _ = drive(machine, {"s": "text"}, {})
    assert (state.status, state.error) == ("FAILED", "States.ResultPathMatchFailure")


class CustomError(Exception):
    pass


def raising(event: Any) -> Any:
    raise CustomError("bad case")


def test_catch_by_name_with_result_path() -> None:
    machine = machine_of(
        {
            "T": {
                "Type": "Task",
                "Resource": LAMBDA + "F",
                "Catch": [
                    {"ErrorEquals": ["Other"], "Next": "Wrong"},
                    {"ErrorEquals": ["CustomError"], "ResultPath": "$.error", "Next": "Handled"},
                ],
                "End": True,
            },
            "Wrong": {"Type": "Fail", "Error": "Wrong"},
            "Handled": {"Type": "Pass", "End": True},
        }
    )
    state, history, _ = drive(machine, {"case": 1}, {"F": raising})
    assert state.status == "SUCCEEDED"
    assert state.output == {"case": 1, "error": {"Error": "CustomError", "Cause": "bad case"}}
    types = [e.type for e in history]
    assert types[types.index("LambdaFunctionFailed") + 1] == "TaskStateExited"


def test_states_all_catches_task_errors_but_uncaught_errors_fail_the_execution() -> None:
    catch_all = machine_of(
        {
            "T": {
                "Type": "Task",
                "Resource": LAMBDA + "F",
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "H"}],
                "End": True,
            },
            "H": {"Type": "Pass", "End": True},
        }
    )
    state, _, _ = drive(catch_all, {}, {"F": raising})
    assert state.status == "SUCCEEDED"
    assert state.output == {"Error": "CustomError", "Cause": "bad case"}
    uncaught = machine_of({"T": {"Type": "Task", "Resource": LAMBDA + "F", "End": True}})
    state, _, _ = drive(uncaught, {}, {"F": raising})
    assert (state.status, state.error, state.cause) == ("FAILED", "CustomError", "bad case")


def test_duplicate_and_stale_results_are_ignored() -> None:
    machine = machine_of(
        {
            "T": {"Type": "Task", "Resource": LAMBDA + "F", "Next": "U"},
            "U": {"Type": "Task", "Resource": LAMBDA + "G", "End": True},
        }
    )
    start = interpreter.StartExecution("arn:e", "e", "arn:m", {}, T0, "p")
    first = interpreter.step(machine, None, start)
    (dispatch,) = [c for c in first.commands if isinstance(c, interpreter.DispatchTask)]
    assert isinstance(dispatch, interpreter.DispatchTask)
    done = interpreter.TaskSucceeded(dispatch.token, 0, {"v": 1}, T0)
    second = interpreter.step(machine, first.state, done)
    assert not second.ignored and second.state.threads[0].state == "U"
    again = interpreter.step(machine, second.state, done)
    assert again.ignored and again.state == second.state and not again.commands
    wrong_attempt = interpreter.step(
        machine, first.state, interpreter.TaskSucceeded(dispatch.token, 1, {}, T0)
    )
    assert wrong_attempt.ignored
    unknown = interpreter.step(machine, first.state, interpreter.TaskSucceeded("nope", 0, {}, T0))
    assert unknown.ignored


def test_step_is_deterministic() -> None:
    machine = load_definition_file(DEFINITIONS / "CallCenterStateMachine.asl.json")
    runs = [drive(machine, {"inputCaseID": "9"}, tutorial_functions([1])) for _ in range(2)]
    assert runs[0][0] == runs[1][0]
    assert [e.to_aws() for e in runs[0][1]] == [e.to_aws() for e in runs[1][1]]


def test_context_object_fields() -> None:
    machine = machine_of(
        {"P": {"Type": "Pass", "Parameters": {"ctx.$": "$$"}, "End": True}},
    )
    state, _, _ = drive(machine, {"in": 1}, {})
    ctx = state.output["ctx"]  # type: ignore[index,call-overload]
    assert ctx["Execution"]["Name"] == "e1"
    assert ctx["Execution"]["Input"] == {"in": 1}
    assert ctx["Execution"]["StartTime"] == "2026-01-02T03:04:05.678Z"
    assert ctx["State"]["Name"] == "P"
    assert ctx["StateMachine"]["Name"] == "M"


def test_endless_pass_loop_stops_at_the_history_cap() -> None:
    machine = machine_of(
        {
            "A": {"Type": "Pass", "Next": "B"},
            "B": {
                "Type": "Choice",
                "Choices": [{"Variable": "$", "IsPresent": True, "Next": "A"}],
                "Default": "End",
            },
            "End": {"Type": "Succeed"},
        }
    )
    state, history, _ = drive(machine, {}, {})
    assert state.status == "FAILED"
    # AWS: event 25,000 may only end the execution; anything else fails it instead.
    assert len(history) == interpreter.MAX_HISTORY_EVENTS
    assert history[-1].type == "ExecutionFailed"
    assert history[-1].details == {"error": "States.Runtime", "cause": HISTORY_FULL_CAUSE}
    assert state.cause == HISTORY_FULL_CAUSE


def test_the_call_center_in_jsonata_closes_or_escalates_with_its_variables() -> None:
    machine = load_definition_file(DEFINITIONS / "CallCenterJsonata.asl.json")
    state, history, called = drive(machine, {"inputCaseID": "004"}, tutorial_functions([1]))
    assert state.status == "SUCCEEDED"
    assert state.output == {
        "Case": "004",
        "Status": 1,
        "Message": "Case 004: opened...assigned...resolved...closed.",
    }
    assigned = [
        e.details["assignedVariables"] for e in history if "assignedVariables" in (e.details or {})
    ]  # type: ignore[index]
    assert assigned == [{"caseId": '"004"'}, {"resolved": "true"}]
    state, _, called = drive(machine, {"inputCaseID": "005"}, tutorial_functions([0]))
    assert (state.status, state.error, state.cause) == (
        "FAILED",
        "CaseEscalated",
        "Case 005: engage Tier 2 Support.",
    )
    assert called[-1] == "EscalateCaseFunction"
