"""Random small machines run through ``step`` with random task outcomes: ``step`` never raises,
every step is bounded in events and time, failures are ASL errors, every state can be stored
and read back, and a finished execution has nothing left (no thread, token, timer or work)."""

from __future__ import annotations

import dataclasses
import json
import time
from collections import deque
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from orchestrator.asl import interpreter
from orchestrator.asl.definition import StateMachine
from orchestrator.asl.errors import DefinitionError
from orchestrator.asl.execution import ExecutionState
from orchestrator.asl.loader import load_definition
from tests.asl.bounds_support import LAMBDA, T0, start

MAX_STEPS = 200
STEP_WORK = 300
ERRORS = ["E1", "E2", "States.TaskFailed", "States.Timeout"]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.text("ab", max_size=3),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from("ab"), inner, max_size=3)
    ),
    max_leaves=6,
)


@st.composite
def leaf_state(draw: st.DrawFn, name: str) -> dict[str, Any]:
    """A state for a Parallel branch or a Map iteration (its own scope: it ends there)."""
    if draw(st.booleans()):
        return {name: {"Type": "Task", "Resource": LAMBDA + "F", "End": True}}
    return {name: {"Type": "Pass", "Parameters": {"v.$": "$"}, "End": True}}


@st.composite
def states(draw: st.DrawFn) -> dict[str, Any]:
    """A chain S0 -> S1 -> ... -> Done (so every state is reachable), with random kinds and
    random jumps back and forth (Choice branches, Catch targets); a Choice may also fail."""
    count = draw(st.integers(1, 5))
    names = [f"S{i}" for i in range(count)] + ["Done"]
    built: dict[str, Any] = {}
    for index in range(count):
        name, following = names[index], names[index + 1]
        anywhere = st.sampled_from(names)
        kind = draw(st.sampled_from(["Pass", "Task", "Choice", "Wait", "Parallel", "Map"]))
        state: dict[str, Any] = {"Type": kind}
        if kind == "Pass":
            state.update(
                draw(
                    st.sampled_from(
                        [
                            {},
                            {"Result": draw(json_values), "ResultPath": "$.r"},
                            {"Parameters": {"n.$": "States.MathAdd($.n, 1)", "k.$": "$.k"}},
                            {"Parameters": {"a.$": "States.Array($, $)"}, "ResultPath": "$.a"},
                        ]
                    )
                )
            )
        elif kind == "Task":
            state["Resource"] = LAMBDA + "F"
            if draw(st.booleans()):
                state["Retry"] = [
                    {
                        "ErrorEquals": [draw(st.sampled_from(["States.ALL", "E1"]))],
                        "IntervalSeconds": draw(st.integers(1, 3)),
                        "MaxAttempts": draw(st.integers(0, 2)),
                        "BackoffRate": draw(st.sampled_from([1.0, 2.0, 1e300])),
                    }
                ]
            if draw(st.booleans()):
                state["Catch"] = [
                    {"ErrorEquals": ["States.ALL"], "Next": draw(anywhere), "ResultPath": "$.err"}
                ]
            if draw(st.booleans()):
                state["TimeoutSeconds"] = draw(st.integers(1, 5))
            state["ResultPath"] = draw(st.sampled_from(["$", "$.out", None]))
        elif kind == "Choice":
            state["Choices"] = [
                {
                    "Variable": "$.n",
                    "NumericLessThan": draw(st.integers(0, 3)),
                    "Next": draw(anywhere),
                },
                {
                    "Variable": "$.k",
                    "StringMatches": draw(st.sampled_from(["*a*", "b*", "\\\\*"])),
                    "Next": "Boom",
                },
            ]
            state["Default"] = following
        elif kind == "Wait":
            state.update(
                draw(st.sampled_from([{"Seconds": 0}, {"Seconds": 5}, {"SecondsPath": "$.n"}]))
            )
        elif kind == "Parallel":
            state["Branches"] = [
                {"StartAt": f"{name}b{i}", "States": draw(leaf_state(f"{name}b{i}"))}
                for i in range(draw(st.integers(1, 2)))
            ]
        elif kind == "Map":
            state["ItemsPath"] = "$.items"
            state["MaxConcurrency"] = draw(st.integers(0, 2))
            state["ItemProcessor"] = {"StartAt": f"{name}i", "States": draw(leaf_state(f"{name}i"))}
            if draw(st.booleans()):
                state["ToleratedFailurePercentage"] = draw(st.sampled_from([0, 50, 100]))
        if kind != "Choice":
            state["Next"] = following
        built[name] = state
    built["Done"] = {"Type": "Succeed"}
    if any(state["Type"] == "Choice" for state in built.values()):
        built["Boom"] = {"Type": "Fail", "Error": "Boom", "Cause": "on purpose"}
    return built


outcomes = st.lists(
    st.one_of(
        st.tuples(st.just("ok"), json_values),
        st.tuples(st.just("fail"), st.sampled_from(ERRORS)),
        st.tuples(st.just("echo"), st.none()),
        st.tuples(st.just("silent"), st.none()),  # the task never answers: its timer will
    ),
    min_size=1,
    max_size=12,
)
inputs = st.fixed_dictionaries(
    {
        "n": st.integers(-1, 4),
        "k": st.text("ab*", max_size=3),
        "items": st.lists(st.integers(0, 3), max_size=4),
    }
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(states(), inputs, outcomes, st.sampled_from(["STANDARD", "EXPRESS"]))
def test_random_machines_step_without_surprises(
    raw: dict[str, Any], data: Any, answers: list[Any], kind: str
) -> None:
    try:
        m = load_definition(json.dumps({"StartAt": "S0", "States": raw}), name="M")
    except DefinitionError:
        assume(False)
        return
    m = m if kind == "STANDARD" else dataclasses.replace(m, type="EXPRESS")
    # Small steps: an endless loop costs a few hundred events a step, not thousands.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(interpreter, "MAX_STEP_WORK", STEP_WORK)
        run(m, data, deque(answers))


def run(m: StateMachine, data: Any, replies: deque[Any]) -> None:
    now = T0
    step = start(m, data, now)
    inbox: deque[interpreter.Event] = deque()
    for _ in range(MAX_STEPS):
        assert len(step.history) <= STEP_WORK + 50
        for command in step.commands:
            if isinstance(command, interpreter.DispatchTask):
                reply, value = replies[0] if replies else ("ok", {})
                replies.rotate(-1)
                if reply == "ok":
                    inbox.append(
                        interpreter.TaskSucceeded(command.token, command.attempt, value, now)
                    )
                elif reply == "echo":
                    inbox.append(
                        interpreter.TaskSucceeded(
                            command.token, command.attempt, command.payload, now
                        )
                    )
                elif reply == "fail":
                    inbox.append(
                        interpreter.TaskFailed(command.token, command.attempt, value, "c", now)
                    )
        state = step.state
        if state.status != "RUNNING":
            break
        if inbox:
            event = inbox.popleft()
        else:
            timer, ref = min(state.timers.items(), key=lambda item: item[1].due)
            now = max(now + timedelta(seconds=10), ref.due)
            event = interpreter.TimerFired(timer, now)
        began = time.perf_counter()
        step = interpreter.step(m, state, event)
        assert time.perf_counter() - began < 2
    state = step.state
    assert ExecutionState.model_validate_json(state.model_dump_json()) == state
    if state.status != "RUNNING":
        assert not (state.threads or state.tokens or state.timers or state.pending)
        if state.status == "FAILED":
            assert state.error or state.cause is not None
    json.dumps([event.to_aws() for event in step.history], default=str)
