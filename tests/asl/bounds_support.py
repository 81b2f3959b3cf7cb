"""Helpers shared by the tests of the core's bounds (test_bounds_*.py, test_fuzz_core*.py)."""

from __future__ import annotations

import dataclasses
import json
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from orchestrator.asl import interpreter
from orchestrator.asl.definition import StateMachine
from orchestrator.asl.execution import ExecutionState
from orchestrator.asl.loader import load_definition

T0 = datetime(2026, 3, 1, tzinfo=UTC)
LAMBDA = "arn:aws:lambda:us-east-1:123456789012:function:"
SECRET = "secret-prefix-0123456789abcdef"


def machine(states: dict[str, Any], kind: str = "STANDARD", **top: Any) -> StateMachine:
    """A machine of ``states`` (the first starts), STANDARD or EXPRESS."""
    document = {"StartAt": next(iter(states)), "States": states, **top}
    loaded = load_definition(json.dumps(document), name="M")
    return dataclasses.replace(loaded, type=kind) if kind != "STANDARD" else loaded


def task_map() -> StateMachine:
    """An EXPRESS machine of one inline Map over ``$.items`` whose iteration is a Task of F."""
    return machine(
        {
            "Map": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "ItemProcessor": {
                    "StartAt": "T",
                    "States": {"T": {"Type": "Task", "Resource": LAMBDA + "F", "End": True}},
                },
                "End": True,
            }
        },
        "EXPRESS",
    )


def start(m: StateMachine, data: Any, now: datetime = T0) -> interpreter.Step:
    """The first step of an execution of ``m`` on ``data``."""
    event = interpreter.StartExecution(
        "arn:aws:states:us-east-1:1:execution:M:e", "e", "arn:m", data, now, SECRET
    )
    return interpreter.step(m, None, event)


@dataclasses.dataclass
class Run:
    state: ExecutionState
    history: list[interpreter.HistoryEvent]
    sizes: list[int]  # history events per step
    starts: list[interpreter.StartTimer]


def run_steps(
    m: StateMachine,
    data: Any,
    functions: dict[str, Callable[[Any], Any]] | None = None,
    *,
    tick: timedelta = timedelta(0),
    max_steps: int = 10_000,
) -> Run:
    """Drive ``step`` as the service does: task results as they come, then due timers in
    order of due time; the clock moves ``tick`` a step."""
    now = T0
    step = start(m, data, now)
    run = Run(step.state, list(step.history), [len(step.history)], [])
    inbox: deque[interpreter.Event] = deque()
    while True:
        for command in step.commands:
            if isinstance(command, interpreter.DispatchTask):
                output = (functions or {})[command.function_name](command.payload)
                inbox.append(interpreter.TaskSucceeded(command.token, command.attempt, output, now))
            elif isinstance(command, interpreter.StartTimer):
                run.starts.append(command)
        state = step.state
        if state.status != "RUNNING" or len(run.sizes) >= max_steps:
            return run
        now += tick
        if inbox:
            event = inbox.popleft()
        else:
            timer, ref = min(state.timers.items(), key=lambda item: item[1].due)
            now = max(now, ref.due)
            event = interpreter.TimerFired(timer, now)
        step = interpreter.step(m, state, event)
        run.state = step.state
        run.history += step.history
        run.sizes.append(len(step.history))


def describe(history: list[interpreter.HistoryEvent]) -> list[Any]:
    return [event.to_aws() for event in history]
