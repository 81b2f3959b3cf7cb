"""RedriveExecution in the pure core: a failed, stopped or timed-out execution runs again from
the top-level state it ended in, on that state's input, with its ARN and its history."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from orchestrator.asl import interpreter
from orchestrator.asl.loader import load_definition
from orchestrator.local_runner import FakeClock, run_local

# Fails on the first run ($$.Execution.RedriveCount 0 gives index -1), succeeds once redriven.
PICK = (
    "States.ArrayGetItem(States.ArrayRange(7, 7, 1), States.MathAdd($$.Execution.RedriveCount, -1))"
)


def machine(states: dict[str, Any]) -> Any:
    return load_definition(json.dumps({"StartAt": next(iter(states)), "States": states}), name="R")


def redriven(definition: Any, state: interpreter.ExecutionState, clock: FakeClock) -> Any:
    """Redrive ``state`` and run it to its end (Pass and Wait states only)."""
    clock.sleep(60)
    step = interpreter.step(definition, state, interpreter.RedriveExecution(clock.now()))
    history = list(step.history)
    commands = list(step.commands)
    while commands:
        command = commands.pop(0)
        if isinstance(command, interpreter.StartTimer):
            ref = step.state.timers.get(command.timer)
            if ref is not None and ref.kind != "execution":
                step = interpreter.step(
                    definition, step.state, interpreter.TimerFired(command.timer, command.due)
                )
                history += step.history
                commands += step.commands
    return step.state, history


def test_a_failed_execution_runs_again_from_its_failed_state() -> None:
    definition = machine(
        {
            "Prepare": {
                "Type": "Pass",
                "Result": {"ready": True},
                "ResultPath": "$.prep",
                "Next": "Pick",
            },
            "Pick": {
                "Type": "Pass",
                "Parameters": {"v.$": PICK},
                "ResultPath": "$.pick",
                "Next": "Done",
            },
            "Done": {"Type": "Succeed"},
        }
    )
    clock = FakeClock()
    first = run_local(definition, {"order": 1}, {}, clock=clock)
    assert first.state.status == "FAILED" and first.state.error == "States.Runtime"
    assert first.state.redrive_from is not None and first.state.redrive_from["state"] == "Pick"
    assert interpreter.redrivable(first.state) is None
    state, history = redriven(definition, first.state, clock)
    assert state.status == "SUCCEEDED" and state.redrive_count == 1
    assert state.output == {"order": 1, "prep": {"ready": True}, "pick": {"v": 7}}
    assert state.execution_arn == first.state.execution_arn
    assert history[0].type == "ExecutionRedriven" and history[0].details == {"redriveCount": 1}
    assert history[0].id == first.history[-1].id + 1  # the history goes on
    entered = [e.details["name"] for e in history if e.type.endswith("StateEntered")]  # type: ignore[index]
    assert entered == ["Pick", "Done"]  # Prepare is not run again
    assert state.error is None and state.stop_time is not None
    assert interpreter.redrivable(state) is not None  # SUCCEEDED now


def test_a_stopped_execution_runs_again_from_the_state_it_was_in() -> None:
    definition = machine(
        {
            "Pause": {"Type": "Wait", "Seconds": 100, "Next": "Done"},
            "Done": {"Type": "Pass", "Result": "done", "End": True},
        }
    )
    clock = FakeClock()
    start = interpreter.StartExecution(
        execution_arn="arn:aws:states:us-east-1:1:execution:R:e",
        execution_name="e",
        state_machine_arn="arn:aws:states:us-east-1:1:stateMachine:R",
        input={"x": 1},
        time=clock.now(),
        token_prefix="t",
    )
    started = interpreter.step(definition, None, start)
    stopped = interpreter.step(
        definition,
        started.state,
        interpreter.StopExecution(None, None, clock.now() + timedelta(seconds=1)),
    )
    assert stopped.state.status == "ABORTED"
    assert stopped.state.redrive_from == {"state": "Pause", "input": {"x": 1}, "type": "Wait"}
    state, _ = redriven(definition, stopped.state, clock)
    assert (state.status, state.output) == ("SUCCEEDED", "done")


# Fails for item or branch 2 on the first run only.
FLAKY_TWO = {
    "StartAt": "Which",
    "States": {
        "Which": {
            "Type": "Choice",
            "Choices": [
                {
                    "And": [
                        {"Variable": "$.n", "NumericEquals": 2},
                        {"Variable": "$$.Execution.RedriveCount", "NumericEquals": 0},
                    ],
                    "Next": "Bad",
                }
            ],
            "Default": "Good",
        },
        "Bad": {"Type": "Fail", "Error": "Flaky"},
        "Good": {
            "Type": "Pass",
            "Parameters": {"n.$": "$.n", "run.$": "$$.Execution.RedriveCount"},
            "End": True,
        },
    },
}


def test_a_map_redriven_runs_only_its_failed_and_unfinished_items_again() -> None:
    definition = machine(
        {
            "Start": {"Type": "Pass", "Assign": {"label": "kept"}, "Next": "Each"},
            "Each": {
                "Type": "Map",
                "MaxConcurrency": 1,
                "ItemSelector": {"n.$": "$$.Map.Item.Value"},
                "ItemProcessor": FLAKY_TWO,
                "Next": "Label",
            },
            "Label": {
                "Type": "Pass",
                "Parameters": {"items.$": "$", "label.$": "$label"},
                "End": True,
            },
        }
    )
    clock = FakeClock()
    failed = run_local(definition, [0, 1, 2, 3], {}, clock=clock).state
    assert (failed.status, failed.error) == ("FAILED", "Flaky")
    assert interpreter.redrivable(failed) is None
    state, history = redriven(definition, failed, clock)
    assert state.status == "SUCCEEDED", (state.error, state.cause)
    # Items 0 and 1 kept their first run's results; 2 and 3 ran in the redrive.
    assert state.output == {
        "items": [{"n": 0, "run": 0}, {"n": 1, "run": 0}, {"n": 2, "run": 1}, {"n": 3, "run": 1}],
        "label": "kept",  # the variable assigned before the redrive
    }
    started = [e.details["index"] for e in history if e.type == "MapIterationStarted"]
    assert started == [2, 3]


def test_a_parallel_redriven_runs_only_its_failed_branch_again() -> None:
    run = {"run.$": "$$.Execution.RedriveCount"}
    first = {"StartAt": "One", "States": {"One": {"Type": "Pass", "Parameters": run, "End": True}}}
    second = {
        "StartAt": "Second?",
        "States": {
            "Second?": {
                "Type": "Choice",
                "Choices": [
                    {"Variable": "$$.Execution.RedriveCount", "NumericEquals": 0, "Next": "Bad"}
                ],
                "Default": "Two",
            },
            "Bad": {"Type": "Fail", "Error": "Flaky"},
            "Two": {"Type": "Pass", "Parameters": run, "End": True},
        },
    }
    definition = machine({"Both": {"Type": "Parallel", "Branches": [first, second], "End": True}})
    clock = FakeClock()
    failed = run_local(definition, {}, {}, clock=clock).state
    assert failed.status == "FAILED"
    state, history = redriven(definition, failed, clock)
    assert state.status == "SUCCEEDED"
    assert state.output == [{"run": 0}, {"run": 1}]
    entered = [e.details["name"] for e in history if e.type.endswith("StateEntered")]
    assert entered == ["Both", "Second?", "Two"]  # the second branch only


def test_a_redriven_distributed_map_starts_children_for_the_items_it_lacks() -> None:
    definition = machine(
        {
            "Each": {
                "Type": "Map",
                "MaxConcurrency": 1,
                "ItemSelector": {"n.$": "$$.Map.Item.Value"},
                "ItemProcessor": {
                    **FLAKY_TWO,
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                },
                "End": True,
            }
        }
    )
    clock = FakeClock()
    failed = run_local(definition, [0, 1, 2], {}, clock=clock).state
    assert failed.error == "States.ExceedToleratedFailureThreshold"
    clock.sleep(60)
    step = interpreter.step(definition, failed, interpreter.RedriveExecution(clock.now()))
    starts = [c for c in step.commands if isinstance(c, interpreter.DispatchTask)]
    assert [c.parameters["Index"] for c in starts] == [2]
