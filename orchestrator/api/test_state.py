"""TestState: run one state on an input, in isolation, and say what it did.

The state runs through the same interpreter as any execution, inside a small machine built
around it: its ``Next``, Choice and Catch targets become Succeed states (so the state they
lead to is ``nextState``), its retriers are kept aside, ``context`` is laid over the context
object, and given ``variables`` are assigned by a Pass state before it (the cause's "entered at the event id" is given as AWS numbers it,
from the tested state). A Task calls nothing: ``mock`` gives its result or its error, as a
Step Functions Local mock would (a Task without a mock is refused: this engine does not call
a worker or a service from TestState). Waits take no time.

The answer is AWS's: ``status`` SUCCEEDED, CAUGHT_ERROR (a catcher took the error; its index
in ``inspectionData.errorDetails``), RETRIABLE (a retrier matches with attempts left, counting
``stateConfiguration.retrierRetryCount`` as used; its index and backoff) or FAILED;
``output``, ``nextState``, ``error``/``cause``; with ``inspectionLevel`` DEBUG or TRACE, the
data after each stage of the state's data flow (:mod:`orchestrator.console.stages`) and the
variables after it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

import messages
from messages import limits
from orchestrator.api.errors import ApiError
from orchestrator.asl import errors
from orchestrator.asl.errors import DefinitionError
from orchestrator.asl.loader import load_definition
from orchestrator.console.progress import progress
from orchestrator.console.stages import data_flow
from orchestrator.local_runner import FakeClock, run_local

# The tested state's name when the definition is a single state (AWS shows none).
SINGLE = "TestState"
_VARIABLES = "TestState variables"
# Waits and backoffs are scaled to nothing; not to zero, so the execution's own deadline (a
# year, scaled alike) still comes after them.
_NO_TIME = 1e-9
_ENTERED = re.compile(r"\(entered at the event id #(\d+)\)")
# Stage names of the console's data flow, and the inspectionData field each one fills.
_FIELDS = {
    "State input": "input",
    "After InputPath": "afterInputPath",
    "After Parameters": "afterParameters",
    "Arguments": "afterArguments",
    "Task result": "result",
    "Result": "result",
    "After ResultSelector": "afterResultSelector",
    "After ResultPath": "afterResultPath",
}


def test_state(params: dict[str, Any], role_arn: str) -> dict[str, Any]:
    """TestState's answer for ``params`` (the API's request, already shape-checked)."""
    context = _json(params.get("context", "{}"), "context")
    if not isinstance(context, dict):
        raise ApiError("ValidationException", "context must be a JSON object")
    document = _json(params["definition"], "definition")
    if not isinstance(document, dict):
        raise ApiError("InvalidDefinition", "Invalid State Machine Definition: not an object")
    name, state, language = _the_state(document, params.get("stateName"))
    variables = _json(params.get("variables", "{}"), "variables")
    if not isinstance(variables, dict):
        raise ApiError("ValidationException", "variables must be a JSON object")
    data = _json(params.get("input", "{}"), "input")
    mock = params.get("mock")
    if state.get("Type") == "Task" and mock is None:
        raise ApiError(
            "ValidationException",
            "TestState of a Task needs a mock here (result or errorOutput): this engine does"
            " not call a worker or a service from TestState",
        )
    retriers = state.get("Retry") or []
    machine = _machine(name, {k: v for k, v in state.items() if k != "Retry"}, language, variables)
    caller = _mocked(name, mock) if mock is not None else None
    result = run_local(
        machine,
        data,
        {},
        clock=FakeClock(),
        caller=caller,
        time_scale=_NO_TIME,
        role_arn=role_arn,
        context=context or None,
    )
    events = [event.to_aws() for event in result.history]
    shift = 2 if variables else 0
    read = progress(events)
    steps = [step for step in read["steps"] if step["name"] == name]
    step = steps[0] if steps else None
    following = [s for s in read["steps"] if step is not None and s["id"] > step["id"]]
    next_state = following[0]["name"] if following else None
    answer: dict[str, Any] = {}
    error, cause = _failure(events, result.state, step)
    retry = _retriable(retriers, error, params.get("stateConfiguration") or {})
    if retry is not None:
        answer.update(status="RETRIABLE", error=error)
        if cause is not None:
            answer["cause"] = _renumbered(cause, shift)
        details = {"retryIndex": retry[0], "retryBackoffIntervalSeconds": retry[1]}
        return _inspected(answer, params, machine, step, variables, details)
    if step is not None and step["exitedEventId"] is not None:
        answer["output"] = json.dumps(step["output"], separators=(",", ":"))
        caught = _catch_index(state, next_state, error)
        if caught is not None:
            answer.update(status="CAUGHT_ERROR", error=error)
            if cause is not None:
                answer["cause"] = _renumbered(cause, shift)
            answer["nextState"] = next_state
            return _inspected(answer, params, machine, step, variables, {"catchIndex": caught})
        answer["status"] = "SUCCEEDED"
        if next_state is not None:
            answer["nextState"] = next_state
        return _inspected(answer, params, machine, step, variables, None)
    if result.state.status == "SUCCEEDED" and step is None:
        raise ApiError("InternalFailure", "the state did not run")
    answer["status"] = "FAILED"
    if error is not None:
        answer["error"] = error
    if cause is not None:
        answer["cause"] = _renumbered(cause, shift)
    return _inspected(answer, params, machine, step, variables, None)


def _json(text: Any, field: str) -> Any:
    if not isinstance(text, str):
        raise ApiError("ValidationException", f"{field} must be JSON text")
    try:
        return limits.loads(text)
    except ValueError as exc:
        code = "InvalidDefinition" if field == "definition" else "InvalidExecutionInput"
        raise ApiError(code, f"{field} is not valid JSON: {exc}") from None


def _the_state(document: dict[str, Any], state_name: str | None) -> tuple[str, dict[str, Any], str]:
    """(name, state, query language) of the state to test."""
    language = document.get("QueryLanguage", "JSONPath")
    if state_name is None:
        if "States" in document:
            raise ApiError(
                "ValidationException", "stateName is needed to test a state of a definition"
            )
        return SINGLE, document, document.get("QueryLanguage", "JSONPath")
    states = document.get("States")
    found = _search(states, state_name) if isinstance(states, dict) else None
    if found is None:
        raise ApiError("ValidationException", f"No state named {state_name!r} in the definition")
    return state_name, found, found.get("QueryLanguage", language)


def _search(states: dict[str, Any], name: str) -> dict[str, Any] | None:
    """The state named ``name`` in ``states`` or any nested scope."""
    todo = [states]
    while todo:
        scope = todo.pop()
        for state_name, state in scope.items():
            if not isinstance(state, dict):
                continue
            if state_name == name:
                return state
            for key in ("Branches", "ItemProcessor", "Iterator"):
                nested = state.get(key)
                for part in nested if isinstance(nested, list) else [nested]:
                    if isinstance(part, dict) and isinstance(part.get("States"), dict):
                        todo.append(part["States"])
    return None


def _machine(name: str, state: dict[str, Any], language: str, variables: dict[str, Any]) -> Any:
    """A machine of the state, its targets as Succeed states, and the variables before it."""
    targets = {state.get("Next"), state.get("Default")}
    for group in ("Choices", "Catch"):
        items = state.get(group)
        if isinstance(items, list):
            targets.update(item.get("Next") for item in items if isinstance(item, dict))
    states: dict[str, Any] = {name: {**state, "QueryLanguage": language}}
    for target in targets:
        if isinstance(target, str) and target != name:
            states[target] = {"Type": "Succeed"}
    start = name
    if variables:
        states[_VARIABLES] = {"Type": "Pass", "Assign": dict(variables), "Next": name}
        start = _VARIABLES
    document = {"StartAt": start, "States": states}
    try:
        return load_definition(json.dumps(document), name="TestState")
    except DefinitionError as exc:
        problems = "; ".join(p.describe() for p in exc.problems if _VARIABLES not in p.pointer)
        raise ApiError(
            "InvalidDefinition", f"Invalid State Machine Definition: '{problems}'"
        ) from None


def _mocked(name: str, mock: dict[str, Any]) -> Any:
    """A caller answering the tested state's task with the mock's result or error."""
    result = _json(mock["result"], "mock.result") if "result" in mock else None
    thrown = mock.get("errorOutput")

    def call(request: messages.IntegrationRequest) -> Sequence[messages.AnyTaskResult] | None:
        if request.state_name != name:
            return None
        if thrown is not None:
            return [
                messages.TaskCallFailed(
                    task_token=request.task_token,
                    attempt=request.attempt,
                    error=thrown.get("error", ""),
                    cause=thrown.get("cause", ""),
                )
            ]
        return [
            messages.TaskSucceeded(
                task_token=request.task_token,
                attempt=request.attempt,
                output=result,
                response=True,
            )
        ]

    return call


def _failure(
    events: list[dict[str, Any]], state: Any, step: dict[str, Any] | None
) -> tuple[str | None, str | None]:
    """The error and cause of the tested state's failure, if it failed."""
    if step is not None and step.get("attempts"):
        last = step["attempts"][-1]
        return last.get("error"), last.get("cause")
    if state.status in ("FAILED", "TIMED_OUT"):  # (a wait past the execution's year)
        return state.error, state.cause
    return None, None


def _retriable(
    retriers: list[Any], error: str | None, configuration: dict[str, Any]
) -> tuple[int, int] | None:
    """(index, backoff seconds) of the retrier that would retry ``error``, if one would."""
    if error is None or error == errors.RUNTIME:
        return None
    used = int(configuration.get("retrierRetryCount", 0))
    for index, retrier in enumerate(retriers):
        if not isinstance(retrier, dict):
            continue
        if not errors.error_matches(error, retrier.get("ErrorEquals") or []):
            continue
        if used >= int(retrier.get("MaxAttempts", 3)):
            return None
        delay = (
            float(retrier.get("IntervalSeconds", 1))
            * float(retrier.get("BackoffRate", 2.0)) ** used
        )
        if "MaxDelaySeconds" in retrier:
            delay = min(delay, float(retrier["MaxDelaySeconds"]))
        return index, int(delay)
    return None


def _catch_index(state: dict[str, Any], next_state: str | None, error: str | None) -> int | None:
    """The index of the catcher that took ``error`` (and led to ``next_state``), if any."""
    if error is None:
        return None
    for index, catcher in enumerate(state.get("Catch") or []):
        if isinstance(catcher, dict) and errors.error_matches(
            error, catcher.get("ErrorEquals") or []
        ):
            return index if catcher.get("Next") == next_state else None
    return None


def _renumbered(cause: str, shift: int) -> str:
    """A cause's "entered at the event id #N" as AWS numbers it for the tested state."""
    if not shift:
        return cause
    return _ENTERED.sub(lambda m: f"(entered at the event id #{int(m.group(1)) - shift})", cause)


def _inspected(
    answer: dict[str, Any],
    params: dict[str, Any],
    machine: Any,
    step: dict[str, Any] | None,
    variables: dict[str, Any],
    error_details: dict[str, Any] | None,
) -> dict[str, Any]:
    """``answer`` with ``inspectionData`` when the inspection level asks for it."""
    if params.get("inspectionLevel", "INFO") == "INFO":
        return answer
    data: dict[str, Any] = {}
    if step is not None:
        for stage in data_flow(machine, step):
            field = _FIELDS.get(stage["stage"])
            if field is not None and stage.get("known", True) and field not in data:
                data[field] = json.dumps(stage["value"], separators=(",", ":"))
        assigned = {**variables, **(step.get("assignedVariables") or {})}
        if assigned:
            data["variables"] = json.dumps(assigned, separators=(",", ":"))
    if error_details is not None:
        data["errorDetails"] = error_details
    answer["inspectionData"] = data
    return answer
