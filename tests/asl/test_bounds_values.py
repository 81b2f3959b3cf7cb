"""Every value the core makes is held to the payload limit and the nesting limit: intrinsics,
templates, state outputs, task results, Map/Parallel results, the start input. Too large is
States.DataLimitExceeded, too deep States.Runtime; nothing takes long to find out, nothing
raises anything else, and what is stored can always be written and read back."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from messages.limits import MAX_JSON_DEPTH, MAX_PAYLOAD_BYTES
from orchestrator.asl import bounds, interpreter
from orchestrator.asl.errors import DATA_LIMIT_EXCEEDED, RUNTIME, StatesError
from orchestrator.asl.execution import ExecutionState
from orchestrator.asl.templates import compile_template
from tests.asl.bounds_support import LAMBDA, T0, machine, run_steps, start, task_map
from tests.asl.intrinsics_support import run


def nested(depth: int, leaf: Any = 1) -> Any:
    value = leaf
    for _ in range(depth - 1):
        value = [value]
    return [value] if depth else value


def storable(state: ExecutionState) -> None:
    """The state can be written and read back (what the shell does with it)."""
    assert ExecutionState.model_validate_json(state.model_dump_json()) == state


def pass_machine(parameters: dict[str, Any]) -> Any:
    return machine({"P": {"Type": "Pass", "Parameters": parameters, "End": True}})


def failed_with(m: Any, data: Any) -> tuple[str | None, str | None]:
    run = run_steps(m, data)
    assert run.state.status == "FAILED", run.state
    storable(run.state)
    return run.state.error, run.state.cause


# -- measuring ----------------------------------------------------------------------------------


def test_json_bytes_is_exact_and_refuses_too_deep_and_too_large() -> None:
    value = {"a": ["é", 1.5, None, True, 2**70]}
    assert (
        bounds.json_bytes(value)
        == json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
    )
    assert bounds.json_size(nested(MAX_JSON_DEPTH)) == 2 * MAX_JSON_DEPTH + 1
    for deep in (nested(MAX_JSON_DEPTH + 1), nested(300), nested(MAX_JSON_DEPTH + 1, 2**70)):
        with pytest.raises(bounds.OutOfBounds) as out:
            bounds.json_bytes(deep)
        assert out.value.excess == "depth"
    with pytest.raises(bounds.OutOfBounds) as out:
        bounds.json_bytes("x" * MAX_PAYLOAD_BYTES)
    assert out.value.excess == "size"


def test_text_never_raises_recursion_error() -> None:
    for depth in (300, 5_000, 50_000):
        with pytest.raises(StatesError) as failure:
            bounds.text(nested(depth))
        assert failure.value.error == RUNTIME
    assert interpreter._text is bounds.text


def test_oversize_walks_shared_values_without_writing_them() -> None:
    huge: Any = ["x" * 1000]
    for _ in range(40):  # 2^40 KB of JSON text in a few hundred bytes of memory
        huge = [huge, huge]
    started = time.perf_counter()
    assert bounds.oversize(huge) == "size"
    assert bounds.oversize(nested(200), max_bytes=None) == "depth"
    assert bounds.oversize({"a": [1, "b"]}) is None
    assert time.perf_counter() - started < 1


# -- intrinsics and templates -------------------------------------------------------------------


def test_nested_array_calls_fail_at_once_instead_of_blowing_up() -> None:
    # The probe's shape: nested States.Array calls of many "$" over a 200 KB input.
    inner = "$"
    for _ in range(9):
        inner = "States.Array(" + ", ".join([inner] + ["$"] * 12) + ")"
    data = {"blob": "x" * 200_000}
    started = time.perf_counter()
    with pytest.raises(StatesError) as failure:
        run(inner, data)
    assert failure.value.error == DATA_LIMIT_EXCEEDED
    assert "States.Array" in failure.value.cause
    assert time.perf_counter() - started < 1


@pytest.mark.parametrize(
    ("call", "data"),
    [
        ("States.Array($.a, $.a)", {"a": "x" * 150_000}),
        (
            "States.JsonMerge($.a, $.b, false)",
            {"a": {"k": "x" * 150_000}, "b": {"j": "y" * 150_000}},
        ),
        ("States.ArrayPartition($.a, 1)", {"a": [0] * 100_000}),
        ("States.StringSplit($.a, ',')", {"a": "a," * 120_000}),
        ("States.Format('{}{}', $.a, $.a)", {"a": "x" * 150_000}),
        ("States.JsonToString($.a)", {"a": ['"'] * 60_000}),
        (
            "States.Format('" + "{}" * 20 + "'" + ", $.a" * 20 + ")",
            {"a": "x" * 20_000},
        ),
        ("States.Array(" + ", ".join(["$.a"] * 40) + ")", {"a": "x" * 10_000}),
    ],
)
def test_an_intrinsic_result_past_the_payload_limit_is_data_limit_exceeded(
    call: str, data: Any
) -> None:
    with pytest.raises(StatesError) as failure:
        run(call, data)
    assert failure.value.error == DATA_LIMIT_EXCEEDED
    assert failure.value.cause.startswith("The intrinsic function States.")
    assert "exceeding the maximum number of bytes service limit" in failure.value.cause


def test_string_to_json_refuses_text_nested_too_deep() -> None:
    text = "[" * 200 + "]" * 200
    with pytest.raises(StatesError) as failure:
        run("States.StringToJson($.t)", {"t": text})
    assert failure.value.error == RUNTIME
    assert "more than 128 levels deep" in failure.value.cause
    for deeper in (10_000, 100_000):  # past Python's own recursion limit too
        with pytest.raises(StatesError):
            run("States.StringToJson($.t)", {"t": "[" * deeper + "]" * deeper})
    assert run("States.StringToJson($.t)", {"t": json.dumps(nested(MAX_JSON_DEPTH))}) == nested(
        MAX_JSON_DEPTH
    )


def test_nested_calls_cannot_nest_a_value_too_deep() -> None:
    data = {"a": nested(MAX_JSON_DEPTH - 1)}
    assert len(json.dumps(run("States.Array($.a)", data))) > 0  # 128 levels: fine
    with pytest.raises(StatesError) as failure:
        run("States.Array(States.Array($.a))", data)
    assert failure.value.error == RUNTIME


def test_a_template_with_many_fields_stops_at_the_limit() -> None:
    raw = {f"f{i}.$": "$" for i in range(1000)}  # each field the whole 10 KB input: 10 MB
    template, problems = compile_template(raw, "/Parameters")
    assert not problems and template is not None
    started = time.perf_counter()
    with pytest.raises(StatesError) as failure:
        template.render(
            {"blob": "x" * 10_000}, None, subject="The Parameters of 'P' produced a value"
        )
    assert failure.value.error == DATA_LIMIT_EXCEEDED
    assert failure.value.cause.startswith("The Parameters of 'P' produced a value with a size")
    assert time.perf_counter() - started < 0.5


def test_parameters_too_large_fail_the_state_catchably() -> None:
    m = machine(
        {
            "T": {
                "Type": "Task",
                "Resource": LAMBDA + "F",
                "Parameters": {"a.$": "$.blob", "b.$": "$.blob"},
                "Catch": [{"ErrorEquals": ["States.DataLimitExceeded"], "Next": "Caught"}],
                "End": True,
            },
            "Caught": {"Type": "Pass", "End": True},
        }
    )
    run = run_steps(m, {"blob": "x" * 150_000}, {"F": lambda event: event})
    assert run.state.status == "SUCCEEDED"
    assert run.state.output["Error"] == DATA_LIMIT_EXCEEDED  # type: ignore[index,call-overload]
    assert "The Parameters of the state 'T' produced a value" in run.state.output["Cause"]  # type: ignore[index,call-overload]
    assert not [e for e in run.history if e.type == "LambdaFunctionScheduled"]


def test_an_item_selector_too_large_fails_the_map() -> None:
    m = machine(
        {
            "Map": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "ItemSelector": {"a.$": "$.blob", "b.$": "$.blob"},
                "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}},
                "End": True,
            }
        }
    )
    error, cause = failed_with(m, {"items": [1, 2], "blob": "x" * 150_000})
    assert error == DATA_LIMIT_EXCEEDED and "ItemSelector" in (cause or "")


# -- state outputs, results, the start input -------------------------------------------------


def test_map_results_past_the_limit_fail_the_map_and_are_not_all_kept() -> None:
    m = machine(
        {
            "Map": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "ItemSelector": {"blob.$": "$.blob"},
                "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}},
                "ResultPath": None,
                "End": True,
            }
        }
    )
    error, cause = failed_with(m, {"items": list(range(400)), "blob": "x" * 1_000})
    assert error == DATA_LIMIT_EXCEEDED
    assert cause == (
        "The state/task 'Map' returned a result with a size exceeding the maximum number of"
        " bytes service limit."
    )


def test_parallel_results_nested_too_deep_fail_the_state() -> None:
    deep = nested(MAX_JSON_DEPTH)  # each branch's output is at the limit: the list is past it
    branches = [{"StartAt": name, "States": {name: {"Type": "Pass", "End": True}}} for name in "LR"]
    m = machine({"Par": {"Type": "Parallel", "Branches": branches, "End": True}})
    error, cause = failed_with(m, deep)
    assert error == RUNTIME
    assert "The state/task 'Par' returned a result that nests" in (cause or "")


def test_result_path_writes_cannot_nest_the_output_too_deep() -> None:
    m = machine(
        {
            "P": {
                "Type": "Pass",
                "Parameters": {"v.$": "$.x"},  # 128 levels: within the limit
                "ResultPath": "$.a",  # one more: past it
                "End": True,
            }
        }
    )
    error, cause = failed_with(m, {"x": nested(MAX_JSON_DEPTH - 1)})
    assert error == RUNTIME and "'P' returned a result that nests" in (cause or "")


@pytest.mark.parametrize("output", [nested(200), {"blob": "x" * MAX_PAYLOAD_BYTES}])
def test_a_task_result_out_of_bounds_fails_the_task(output: Any) -> None:
    m = machine(
        {
            "T": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": "F", "Payload.$": "$"},
                "End": True,
            }
        }
    )
    run = run_steps(m, {}, {"F": lambda event: output})
    assert run.state.status == "FAILED"
    assert run.state.error == (RUNTIME if isinstance(output, list) else DATA_LIMIT_EXCEEDED)
    storable(run.state)


@pytest.mark.parametrize(
    ("data", "error"),
    [(nested(200), RUNTIME), ({"blob": "x" * (MAX_PAYLOAD_BYTES + 1)}, DATA_LIMIT_EXCEEDED)],
)
def test_a_start_input_out_of_bounds_fails_at_once_and_is_not_kept(data: Any, error: str) -> None:
    step = start(machine({"P": {"Type": "Pass", "End": True}}), data)
    assert (step.state.status, step.state.error) == ("FAILED", error)
    assert step.state.input is None
    assert [e.type for e in step.history] == ["ExecutionStarted", "ExecutionFailed"]
    assert step.history[0].details == {
        "input": "",
        "inputDetails": {"truncated": True},
        "roleArn": "",
    }
    storable(step.state)
    json.dumps([e.to_aws() for e in step.history], default=str)


def test_an_input_at_the_limits_runs() -> None:
    step = start(machine({"P": {"Type": "Pass", "End": True}}), nested(MAX_JSON_DEPTH))
    assert step.state.status == "SUCCEEDED" and step.state.output == nested(MAX_JSON_DEPTH)
    storable(step.state)


def test_a_state_with_work_pending_is_stored_and_read_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(interpreter, "MAX_STEP_WORK", 50)  # small steps, a small Map
    m = task_map()
    first = start(m, {"items": list(range(120))})
    dispatched: list[interpreter.DispatchTask] = []
    while not dispatched:  # continue until items run
        assert first.state.continue_timer is not None
        first = interpreter.step(
            m, first.state, interpreter.TimerFired(first.state.continue_timer, T0)
        )
        dispatched = [c for c in first.commands if isinstance(c, interpreter.DispatchTask)]
    assert first.state.pending
    event = interpreter.TaskSucceeded(dispatched[0].token, 0, {"r": [1, {"x": None}]}, T0)
    second = interpreter.step(m, first.state, event)
    assert any(work.kind == "event" for work in second.state.pending)  # it waits its turn
    storable(second.state)
    assert interpreter.step(m, second.state, event).state.pending  # a duplicate waits too
