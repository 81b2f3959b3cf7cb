"""Bounded work: each step stops after its budget and is continued by a timer; a run split into
steps has the history of the whole run; AWS's limits per execution (25,000 history events for
STANDARD, exactly; 5 minutes for EXPRESS, one year for STANDARD)."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

import pytest

from orchestrator.asl import bounds, interpreter
from orchestrator.asl.bounds import MAX_HISTORY_EVENTS, MAX_STEP_WORK
from orchestrator.asl.definition import StateMachine
from orchestrator.asl.interpreter import HISTORY_FULL_CAUSE
from orchestrator.local_runner import FakeClock, run_local
from tests.asl.bounds_support import LAMBDA, T0, describe, machine, run_steps
from workers.runtime import Function

# The most one step records: its budget, plus what one last transition or event adds.
STEP_EVENTS = MAX_STEP_WORK + 20


def endless(kind: str, **top: Any) -> StateMachine:
    """Two states in a loop that never ends (its way out is never taken)."""
    return machine(
        {
            "A": {"Type": "Pass", "Next": "B"},
            "B": {
                "Type": "Choice",
                "Choices": [{"Variable": "$", "IsPresent": True, "Next": "A"}],
                "Default": "Out",
            },
            "Out": {"Type": "Succeed"},
        },
        kind,
        **top,
    )


# -- bounded steps ---------------------------------------------------------------------------


def test_an_endless_express_loop_takes_bounded_steps_and_times_out_at_five_minutes() -> None:
    run = run_steps(endless("EXPRESS"), {"x": 1}, tick=timedelta(seconds=60))
    assert (run.state.status, run.state.error) == ("TIMED_OUT", "States.Timeout")
    assert run.history[-1].type == "ExecutionTimedOut"
    assert run.history[-1].timestamp - T0 >= timedelta(minutes=5)
    assert max(run.sizes) <= STEP_EVENTS
    assert len(run.sizes) > 5  # the loop went on, step by step, until its time was up
    assert run.starts[0].due == T0 + timedelta(seconds=300)  # the execution's own timer


def test_an_endless_standard_loop_ends_at_the_history_cap_in_bounded_steps() -> None:
    run = run_steps(endless("STANDARD"), {})
    assert run.state.status == "FAILED" and run.state.cause == HISTORY_FULL_CAUSE
    assert len(run.history) == MAX_HISTORY_EVENTS
    assert max(run.sizes) <= STEP_EVENTS


@pytest.mark.parametrize(
    ("kind", "timeout", "seconds"),
    [
        ("STANDARD", None, 365 * 24 * 3600),  # AWS's maximum: one year
        ("STANDARD", 10, 10),
        ("EXPRESS", None, 300),  # AWS's maximum: five minutes
        ("EXPRESS", 60, 60),
        ("EXPRESS", 3600, 300),  # TimeoutSeconds cannot lengthen it
    ],
)
def test_every_execution_has_a_timer_at_its_maximum_duration(
    kind: str, timeout: int | None, seconds: int
) -> None:
    top = {} if timeout is None else {"TimeoutSeconds": timeout}
    m = machine({"W": {"Type": "Wait", "Seconds": 10**6, "End": True}}, kind, **top)
    step = interpreter.step(
        m, None, interpreter.StartExecution("arn:e", "e", "arn:m", {}, T0, "secret")
    )
    (execution,) = [ref for ref in step.state.timers.values() if ref.kind == "execution"]
    assert execution.due == T0 + timedelta(seconds=seconds)
    starts = {c.timer: c.due for c in step.commands if isinstance(c, interpreter.StartTimer)}
    assert execution.due in starts.values()


def counted_loop(limit: int) -> StateMachine:
    return machine(
        {
            "Add": {
                "Type": "Pass",
                "Parameters": {"n.$": "States.MathAdd($.n, 1)"},
                "Next": "More?",
            },
            "More?": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.n", "NumericLessThan": limit, "Next": "Add"}],
                "Default": "Done",
            },
            "Done": {"Type": "Succeed"},
        }
    )


def test_a_step_stops_after_its_budget_and_a_continue_timer_goes_on() -> None:
    m = counted_loop(3000)  # about 12,000 events
    first = interpreter.step(
        m, None, interpreter.StartExecution("arn:e", "e", "arn:m", {"n": 0}, T0, "secret")
    )
    assert first.state.status == "RUNNING" and first.state.pending
    timer = first.state.continue_timer
    assert timer is not None and first.state.timers[timer].kind == "continue"
    assert interpreter.StartTimer(timer, T0) in first.commands  # due at once
    assert "secret" not in timer
    # The continuation is one more timer event; a stale firing of it is ignored.
    second = interpreter.step(m, first.state, interpreter.TimerFired(timer, T0))
    assert second.history[0].id == first.history[-1].id + 1
    assert interpreter.step(m, second.state, interpreter.TimerFired(timer, T0)).ignored


def test_the_in_process_runner_continues_long_steps() -> None:
    result = run_local(counted_loop(3000), {"n": 0}, {}, clock=FakeClock())
    assert result.state.status == "SUCCEEDED" and result.state.output == {"n": 3000}
    assert len(result.history) > 2 * MAX_STEP_WORK
    assert not result.state.timers and not result.state.pending


def test_a_stop_ends_the_execution_at_once_whatever_is_pending() -> None:
    first = interpreter.step(
        endless("EXPRESS"),
        None,
        interpreter.StartExecution("arn:e", "e", "arn:m", {}, T0, "secret"),
    )
    assert first.state.pending
    stopped = interpreter.step(
        endless("EXPRESS"), first.state, interpreter.StopExecution("E", "c", T0)
    )
    assert stopped.state.status == "ABORTED" and not stopped.state.pending
    assert [e.type for e in stopped.history] == ["ExecutionAborted"]
    cancelled = {c.timer for c in stopped.commands if isinstance(c, interpreter.CancelTimer)}
    assert first.state.continue_timer in cancelled and not stopped.state.timers


# -- a run split into steps is the whole run -------------------------------------------------


def fan_out_machine(draws: bool = True) -> StateMachine:
    """A Map of Task items, each followed by a Parallel of Pass states: many events, tasks
    whose results arrive while work is pending, and nested fan-outs (and random draws)."""
    draw = {"id.$": "States.UUID()"} if draws else {"id.$": "$.doubled"}
    return machine(
        {
            "Map": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "ItemSelector": {"v.$": "$$.Map.Item.Value", "i.$": "$$.Map.Item.Index"},
                "ItemProcessor": {
                    "StartAt": "Work",
                    "States": {
                        "Work": {"Type": "Task", "Resource": LAMBDA + "F", "Next": "Both"},
                        "Both": {
                            "Type": "Parallel",
                            "Branches": [
                                {"StartAt": "L", "States": {"L": {"Type": "Pass", "End": True}}},
                                {
                                    "StartAt": "R",
                                    "States": {
                                        "R": {
                                            "Type": "Pass",
                                            "Parameters": draw,
                                            "End": True,
                                        }
                                    },
                                },
                            ],
                            "End": True,
                        },
                    },
                },
                "End": True,
            }
        },
        "EXPRESS",
    )


def test_a_run_split_into_steps_has_the_history_of_the_whole_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = {"items": list(range(1700))}  # starting them takes more than a step's budget
    functions = {"F": lambda event: {"doubled": event["v"] * 2}}
    split = run_steps(fan_out_machine(), data, functions)
    monkeypatch.setattr(interpreter, "MAX_STEP_WORK", 10**9)
    whole = run_steps(fan_out_machine(), data, functions)
    assert split.state.status == whole.state.status == "SUCCEEDED"
    assert split.state.output == whole.state.output
    assert describe(split.history) == describe(whole.history)  # UUIDs and tokens included
    assert max(split.sizes) <= MAX_STEP_WORK < whole.sizes[0]  # whole, the start is one step
    assert any(".c" in start.timer for start in split.starts)  # split, a timer continued it


def test_the_in_process_runner_gives_the_same_history_split_or_whole(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # (Each run_local draws its own secret, so random values differ between runs: none here.)
    functions = {"F": Function("F", lambda event, context: {"doubled": event["v"] * 2})}
    data = {"items": list(range(1700))}
    split = run_local(fan_out_machine(draws=False), data, functions, clock=FakeClock(T0))
    monkeypatch.setattr(interpreter, "MAX_STEP_WORK", 10**9)
    whole = run_local(fan_out_machine(draws=False), data, functions, clock=FakeClock(T0))
    assert split.state.status == "SUCCEEDED" and split.state.output == whole.state.output
    assert describe(split.history) == describe(whole.history)


# -- the STANDARD history cap, in one place ---------------------------------------------------


def map_of_passes(items: int) -> tuple[StateMachine, dict[str, Any]]:
    m = machine(
        {
            "First": {"Type": "Pass", "Next": "Map"},
            "Map": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "ItemProcessor": {
                    "StartAt": "P",
                    "States": {"P": {"Type": "Pass", "End": True}},
                },
                "End": True,
            },
        }
    )
    return m, {"items": list(range(items))}


def test_a_history_of_exactly_25000_events_ending_in_success_succeeds() -> None:
    # 8 events around the Map and 4 an item: 8 + 4 x 6248 = 25,000.
    run = run_steps(*map_of_passes(6248))
    assert run.state.status == "SUCCEEDED"
    assert len(run.history) == MAX_HISTORY_EVENTS
    assert run.history[-1].type == "ExecutionSucceeded"


def test_fan_out_cannot_overshoot_the_history_cap() -> None:
    # One more item: event 25,000 would not end the execution, so it fails it (AWS's rule).
    for items in (6249, 10_000):
        run = run_steps(*map_of_passes(items))
        assert run.state.status == "FAILED", items
        assert len(run.history) == MAX_HISTORY_EVENTS
        assert run.history[-1].type == "ExecutionFailed"
        assert run.history[-1].details == {"error": "States.Runtime", "cause": HISTORY_FULL_CAUSE}
        assert not run.state.timers and not run.state.threads


def test_express_executions_have_no_history_cap() -> None:
    m, data = map_of_passes(7000)
    run = run_steps(dataclasses.replace(m, type="EXPRESS"), data)
    assert run.state.status == "SUCCEEDED" and len(run.history) > MAX_HISTORY_EVENTS


def test_the_payload_limit_is_the_shared_one() -> None:
    assert interpreter.MAX_PAYLOAD_BYTES == bounds.MAX_PAYLOAD_BYTES == 262_144
