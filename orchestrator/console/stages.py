"""A step's data flow, stage by stage, as the console's step panel shows it.

The history records a state's input, the request its task sent, the task's result and the
state's output. What lies between (InputPath's selection, ResultSelector's and ResultPath's
values) is computed again here from the definition, with the same compiled paths and
templates the interpreter used. A stage that reads the context object or a variable cannot
be recomputed from the history alone, so it is shown as not known rather than guessed. A
JSONata state's stages are its arguments, result and output, all recorded.
"""

from __future__ import annotations

from typing import Any

from orchestrator.asl.definition import (
    AnyState,
    MapState,
    ParallelState,
    PassState,
    StateMachine,
    TaskState,
)
from orchestrator.asl.errors import StatesError
from orchestrator.asl.flows import apply_result_path
from orchestrator.asl.paths import Path, PathNotFound, ReferencePath

# Shown for a stage that cannot be recomputed from the history.
UNKNOWN = {"known": False}


def find_state(machine: StateMachine, name: str) -> AnyState | None:
    """The state named ``name`` in any scope (names are unique in a machine)."""
    for scope in machine.scopes:
        if name in scope.states:
            return scope.states[name]
    return None


def data_flow(machine: StateMachine, step: dict[str, Any]) -> list[dict[str, Any]]:
    """The stages of ``step`` (a :func:`orchestrator.console.progress.progress` step):
    ``[{"stage", "field", "value"} | {"stage", "field", "known": False}]``, in order."""
    state = find_state(machine, str(step.get("name")))
    if state is None:
        return []
    task = step.get("task") or {}
    data = step.get("input")
    if state.query_language == "JSONata":
        stages = [_stage("State input", "$states.input", data)]
        if isinstance(state, TaskState | ParallelState) and task:
            stages.append(_stage("Arguments", "Arguments", task.get("parameters")))
        if task.get("result") is not None:
            stages.append(_stage("Result", "$states.result", task.get("result")))
        stages.append(_output(step, "State output (Output)"))
        return stages
    stages = [_stage("State input", "$", data)]
    effective = _read(state.input_path, data)
    stages.append(_known("After InputPath", state.input_path, effective))
    result: Any
    if isinstance(state, TaskState):
        if state.parameters is not None:
            stages.append(_stage("After Parameters", "Parameters", task.get("parameters")))
        result = task.get("result")
        if result is not None:
            stages.append(_stage("Task result", "result", result))
            stages.extend(_after_result(state, data, result))
    elif isinstance(state, PassState):
        result = effective
        if state.parameters is not None:
            result = _rendered(state.parameters, effective)
            stages.append(_stage("After Parameters", "Parameters", result))
        if state.has_result:
            result = state.result
            stages.append(_stage("Result", "Result", result))
        stages.append(_after_result_path(state.result_path, data, result))
    elif isinstance(state, MapState | ParallelState) and state.parameters is not None:
        stages.append(_stage("After Parameters", "Parameters", UNKNOWN))
    stages.append(_output(step, "State output (after OutputPath)"))
    return stages


def _after_result(state: TaskState, data: Any, result: Any) -> list[dict[str, Any]]:
    stages = []
    selected: Any = result
    if state.result_selector is not None:
        selected = _rendered(state.result_selector, result)
        stages.append(_stage("After ResultSelector", "ResultSelector", selected))
    stages.append(_after_result_path(state.result_path, data, selected))
    return stages


def _after_result_path(path: ReferencePath | None, data: Any, result: Any) -> dict[str, Any]:
    """The stage after ResultPath put ``result`` into the state's input ``data``."""
    merged: Any = UNKNOWN
    if result is not UNKNOWN:
        try:
            merged = apply_result_path(path, data, result)
        except StatesError:
            merged = UNKNOWN
    text = path.text if path is not None else "null"
    return _stage("After ResultPath", f"ResultPath {text}", merged)


def _rendered(template: Any, data: Any) -> Any:
    """A JSONPath template rendered over ``data``; UNKNOWN when it reads ``$$``, a variable
    or randomness, or fails."""
    if data is UNKNOWN or template.uses_context or template.uses_random:
        return UNKNOWN
    try:
        return template.render(data, None)
    except StatesError:
        return UNKNOWN


def _read(path: Path | None, data: Any) -> Any:
    if path is None:
        return {}
    if path.reads_context:
        return UNKNOWN
    try:
        return path.read(data)
    except PathNotFound:
        return UNKNOWN


def _known(stage: str, path: Path | None, value: Any) -> dict[str, Any]:
    return _stage(stage, f"InputPath {path.text if path is not None else 'null'}", value)


def _output(step: dict[str, Any], stage: str) -> dict[str, Any]:
    if step.get("exitedEventId") is None:
        return _stage(stage, "output", UNKNOWN)
    return _stage(stage, "output", step.get("output"))


def _stage(stage: str, field: str, value: Any) -> dict[str, Any]:
    if value is UNKNOWN:
        return {"stage": stage, "field": field, "known": False}
    return {"stage": stage, "field": field, "value": value}
