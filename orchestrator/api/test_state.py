"""TestState: run one state on an input, in isolation, and say what it did.

The state runs through the same interpreter as any execution, inside a small machine built
around it: its ``Next``, Choice and Catch targets become Succeed states (so the state they
lead to is ``nextState``), its retriers are kept aside, ``context`` is the whole context
object (with a mock, checked as AWS checks it: only AWS's fields, of their types, and
``Task`` only for a ``.sync`` or ``.waitForTaskToken`` Task), and given ``variables`` are
assigned by a Pass state before it (the cause's "entered at the event id" is given as AWS
numbers it, from the tested state). A Task calls nothing: ``mock`` gives its result or its
error, as a Step Functions Local mock would (a ``.waitForTaskToken`` Task's as its callback;
a Task without a mock is refused: this engine does not call a worker or a service from
TestState). Waits take no time. A mocked Map or Parallel runs none of its states: a Task
stands in for it, answered by the mock; the mock rules, the field validation and the Map's
own inspection data are :mod:`orchestrator.api.test_state_mocks`'s.

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
from orchestrator.api import test_state_mocks as mocks
from orchestrator.api.errors import ApiError
from orchestrator.asl import errors
from orchestrator.asl.errors import DefinitionError
from orchestrator.asl.loader import load_definition
from orchestrator.asl.paths import PathNotFound, compile_path
from orchestrator.console.progress import progress
from orchestrator.console.stages import data_flow
from orchestrator.local_runner import FakeClock, run_local

# The tested state's name when the definition is a single state: AWS's, as its recorded
# answers show it (``$$.State.Name``, and "/States/StateName/Branches" in a definition error).
SINGLE = "StateName"
_NESTED_SINGLE = "TestState"
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
# The context object a mocked state may be given: AWS's fields and the type of each (None:
# any JSON); anything else is refused, with AWS's messages.
_CONTEXT_FIELDS: dict[str, dict[str, type | None]] = {
    "Execution": {"Id": str, "Input": None, "Name": str, "RoleArn": str, "StartTime": str},
    "State": {"EnteredTime": str, "Name": str, "RetryCount": int},
    "StateMachine": {"Id": str, "Name": str},
    "Task": {"Token": str},
}
_TYPE_NAMES = {str: "a string", int: "an integer"}
# The integration patterns whose Task has a token (``$$.Task``) that a context may give.
_TOKEN_PATTERNS = (".sync", ".sync:2", ".waitForTaskToken")


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
    result_mock = mocks.check(params, state, language, mock)
    if mock is not None:
        _check_context(context, state)
    if state.get("Type") == "Task" and mock is None:
        raise ApiError(
            "ValidationException",
            "TestState of a Task needs a mock here (result or errorOutput): this engine does"
            " not call a worker or a service from TestState",
        )
    retriers = state.get("Retry") or []
    fanned = state.get("Type") in ("Map", "Parallel") and mock is not None
    # What a mocked Map's ItemsPath and ItemSelector read as ``$$``: the context given (AWS
    # takes it as the whole context object), else the little that is known before the run.
    seen = context if "context" in params else {"Execution": {"Input": data}}
    # A mocked Map or Parallel runs none of its states: what they call is not checked.
    machine = _machine(
        name, {k: v for k, v in state.items() if k != "Retry"}, language, variables, fanned
    )
    configuration = params.get("stateConfiguration") or {}
    if fanned:
        # A mocked Map or Parallel runs nothing: a Task stands in, answered by the mock.
        assert mock is not None
        thrown = mock.get("errorOutput") or mocks.map_error(
            state, language, data, variables, result_mock, configuration, seen
        )
        if thrown is not None:
            mock = {"errorOutput": thrown}
        machine = _machine(name, mocks.stand_in(state, language), language, variables)
    caller = _mocked(name, mock) if mock is not None else None
    result = run_local(
        machine,
        data,
        {},
        clock=FakeClock(),
        caller=caller,
        time_scale=_NO_TIME,
        role_arn=role_arn,
        context=context if "context" in params else None,
    )
    events = [event.to_aws() for event in result.history]
    shift = 2 if variables else 0
    read = progress(events)
    steps = [step for step in read["steps"] if step["name"] == name]
    step = steps[0] if steps else None
    targets = _targets(state)
    following = [
        s
        for s in read["steps"]
        if step is not None and s["id"] > step["id"] and s["name"] in targets
    ]
    next_state = following[0]["name"] if following else None
    answer: dict[str, Any] = {}
    error, cause = _failure(events, result.state, step)
    extra = None
    if fanned:
        extra = {}
        if state.get("Type") == "Map":
            extra = mocks.map_inspection(state, language, data, variables, configuration, seen)
    inspect = _Inspection(params, machine, step, variables, extra, language)
    inspect.state = state
    retry = _retriable(retriers, error, configuration)
    if retry is not None and retry[1] is not None:
        answer.update(status="RETRIABLE", error=error)
        if cause is not None:
            answer["cause"] = _renumbered(cause, shift)
        details = {"retryIndex": retry[0], "retryBackoffIntervalSeconds": retry[1]}
        return inspect(answer, details)
    if step is not None and step["exitedEventId"] is not None:
        answer["output"] = json.dumps(step["output"], separators=(",", ":"))
        caught = _catch_index(state, next_state, error)
        if caught is not None:
            answer.update(status="CAUGHT_ERROR", error=error)
            if cause is not None:
                answer["cause"] = _renumbered(cause, shift)
            answer["nextState"] = next_state
            return inspect(answer, {"catchIndex": caught})
        answer["status"] = "SUCCEEDED"
        if next_state is not None:
            answer["nextState"] = next_state
        return inspect(answer, None)
    if result.state.status == "SUCCEEDED" and step is None:
        raise ApiError("InternalFailure", "the state did not run")
    answer["status"] = "FAILED"
    if error is not None:
        answer["error"] = error
    if cause is not None:
        answer["cause"] = _renumbered(cause, shift)
    # A retrier spent: AWS names it, with no backoff.
    return inspect(answer, {"retryIndex": retry[0]} if retry is not None else None)


def _json(text: Any, field: str) -> Any:
    if not isinstance(text, str):
        raise ApiError("ValidationException", f"{field} must be JSON text")
    try:
        return limits.loads(text)
    except ValueError as exc:
        code = "InvalidDefinition" if field == "definition" else "InvalidExecutionInput"
        raise ApiError(code, f"{field} is not valid JSON: {exc}") from None


def _check_context(context: dict[str, Any], state: dict[str, Any]) -> None:
    """Refuse, as AWS does (its messages recorded), a context object that a mocked state may
    not be given: a field AWS does not know, one of the wrong type, ``Map``, or ``Task`` for a
    state with no task token."""
    for key, value in context.items():
        if key == "Map":
            raise _bad_context("'Map' field is not supported when mocking a Context object")
        fields = _CONTEXT_FIELDS.get(key)
        if fields is None:
            raise _bad_context(f"Field '{key}' is not allowed")
        if value is None:
            continue
        if not isinstance(value, dict):
            raise _bad_context(f"{key} must be an object")  # (not recorded)
        for name, item in value.items():
            if name not in fields:
                raise _bad_context(f"Field '{name}' is not allowed")
            kind = fields[name]
            if kind is None or item is None:
                continue
            if isinstance(item, bool) or not isinstance(item, kind):
                raise _bad_context(f"{key}.{name} must be {_TYPE_NAMES[kind]}")
    resource = state.get("Resource")
    if "Task" in context and not (
        state.get("Type") == "Task"
        and isinstance(resource, str)
        and resource.endswith(_TOKEN_PATTERNS)
    ):
        raise _bad_context(
            "Context object contains 'Task' when state is not a Task state with a '.sync' or"
            " '.waitForTaskToken' service integration pattern"
        )


def _bad_context(message: str) -> ApiError:
    return ApiError("ValidationException", f"Invalid Context object provided: {message}")


def _the_state(document: dict[str, Any], state_name: str | None) -> tuple[str, dict[str, Any], str]:
    """(name, state, query language) of the state to test."""
    language = document.get("QueryLanguage", "JSONPath")
    if state_name is None:
        if "States" in document:
            raise ApiError(
                "ValidationException", "stateName is needed to test a state of a definition"
            )
        # AWS names the state StateName (here TestState when a state inside it has that name).
        name = _NESTED_SINGLE if SINGLE in mocks.inner_names(document) else SINGLE
        return name, document, document.get("QueryLanguage", "JSONPath")
    states = document.get("States")
    found = _search(states, state_name) if isinstance(states, dict) else None
    if found is None:
        raise ApiError("ValidationException", "State not found in definition")
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


def _targets(state: dict[str, Any]) -> set[Any]:
    """The states the tested state may lead to (Next, Default, its Choices' and Catch's)."""
    targets = {state.get("Next"), state.get("Default")}
    for group in ("Choices", "Catch"):
        items = state.get(group)
        if isinstance(items, list):
            targets.update(item.get("Next") for item in items if isinstance(item, dict))
    return targets


def _machine(
    name: str,
    state: dict[str, Any],
    language: str,
    variables: dict[str, Any],
    nested_resources: bool = False,
) -> Any:
    """A machine of the state, its targets as Succeed states, and the variables before it."""
    targets = _targets(state)
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
        shown = [
            p
            for p in exc.problems
            if _VARIABLES not in p.pointer
            and not (nested_resources and p.code == "INVALID_RESOURCE" and _nested(p.pointer))
        ]
        if not shown and nested_resources:
            return None
        problems = "; ".join(p.describe() for p in shown)
        raise ApiError(
            "InvalidDefinition", f"Invalid State Machine Definition: '{problems}'"
        ) from None


def _nested(pointer: str) -> bool:
    return any(f"/{key}/" in pointer for key in ("ItemProcessor", "Iterator", "Branches"))


def _mocked(name: str, mock: dict[str, Any]) -> Any:
    """A caller answering the tested state's task with the mock's result or error."""
    result = _json(mock["result"], "mock.result") if "result" in mock else None
    thrown = mock.get("errorOutput")

    def call(request: messages.IntegrationRequest) -> Sequence[messages.AnyTaskResult] | None:
        if request.state_name != name:
            return None
        if request.pattern == ".waitForTaskToken":  # the mock answers as its callback would
            if thrown is not None:
                return [
                    messages.TaskCallbackFailure(
                        task_token=request.task_token,
                        error=thrown.get("error", ""),
                        cause=thrown.get("cause", ""),
                    )
                ]
            return [messages.TaskCallbackSuccess(task_token=request.task_token, output=result)]
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
) -> tuple[int, int | None] | None:
    """(index, backoff seconds) of the retrier that matches ``error``, if one does; the
    backoff is None when its attempts are spent."""
    if error is None or error == errors.RUNTIME:
        return None
    used = int(configuration.get("retrierRetryCount", 0))
    for index, retrier in enumerate(retriers):
        if not isinstance(retrier, dict):
            continue
        if not errors.error_matches(error, retrier.get("ErrorEquals") or []):
            continue
        if used >= int(retrier.get("MaxAttempts", 3)):
            return index, None
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


class _Inspection:
    """Adds ``inspectionData`` to an answer when the inspection level asks for it."""

    def __init__(
        self,
        params: dict[str, Any],
        machine: Any,
        step: dict[str, Any] | None,
        variables: dict[str, Any],
        fanned: dict[str, Any] | None,
        language: str,
    ) -> None:
        self.params, self.machine, self.step, self.variables = params, machine, step, variables
        # A mocked Map's or Parallel's own fields (None for another state).
        self.fanned, self.language = fanned, language
        self.state: dict[str, Any] = {}

    def __call__(
        self, answer: dict[str, Any], error_details: dict[str, Any] | None
    ) -> dict[str, Any]:
        if self.params.get("inspectionLevel", "INFO") == "INFO":
            return answer
        data: dict[str, Any] = {}
        step = self.step
        if step is not None:
            for stage in data_flow(self.machine, step):
                field = _FIELDS.get(stage["stage"])
                if field is not None and stage.get("known", True) and field not in data:
                    data[field] = json.dumps(stage["value"], separators=(",", ":"))
            assigned = {**self.variables, **(step.get("assignedVariables") or {})}
            if assigned:
                data["variables"] = json.dumps(assigned, separators=(",", ":"))
        if self.state.get("Type") == "Pass" and self.language == "JSONPath" and data:
            _pass_stages(self.state, data)
        if (
            self.state.get("Type") == "Task"
            and self.fanned is None
            and self.language == "JSONPath"
            and step is not None
            and "result" in data
        ):
            _task_stages(self.state, step, data)
        if self.fanned is not None:
            # AWS shows a mocked Map's or Parallel's input and its own fields, and (JSONPath)
            # the result after ResultSelector and ResultPath.
            if "result" in data:
                data.setdefault("afterResultSelector", data["result"])
            kept: tuple[str, ...] = ("input", "variables")
            if self.language == "JSONPath":
                kept += ("afterResultSelector", "afterResultPath")
            data = {key: value for key, value in data.items() if key in kept}
            data.update(self.fanned)
        if error_details is not None:
            data["errorDetails"] = error_details
        answer["inspectionData"] = data
        return answer


def _pass_stages(state: dict[str, Any], data: dict[str, Any]) -> None:
    """A Pass state's stages as AWS shows them: every stage of its data flow, each the one
    before when the state has no such field; with a ``Result``, the result instead of the
    stages that lead to it."""
    if "Result" in state:
        data.pop("afterInputPath", None)
        data.pop("afterParameters", None)
        if "result" in data:
            data.setdefault("afterResultSelector", data["result"])
        return
    if "afterInputPath" in data:
        data.setdefault("afterParameters", data["afterInputPath"])
        # A Pass has no ResultSelector: AWS shows its stage with the value before it.
        data.setdefault("afterResultSelector", data["afterParameters"])


def _task_stages(state: dict[str, Any], step: dict[str, Any], data: dict[str, Any]) -> None:
    """A JSONPath Task's stages after its result as AWS shows them: ``afterResultSelector``
    the result itself when the state has no ResultSelector; both stages read back from the
    state's output when the console could not tell them (a ResultSelector that reads ``$$``)."""
    if "ResultSelector" not in state:
        data.setdefault("afterResultSelector", data["result"])
    if step.get("exitedEventId") is None or state.get("OutputPath", "$") != "$":
        return
    output = step.get("output")
    data.setdefault("afterResultPath", json.dumps(output, separators=(",", ":")))
    result_path = state.get("ResultPath", "$")
    if "afterResultSelector" in data or not isinstance(result_path, str):
        return
    try:
        path = compile_path(result_path)
        if path.reads_context or not path.definite:
            return
        selected = path.read(output)
    except (ValueError, PathNotFound):
        return
    data["afterResultSelector"] = json.dumps(selected, separators=(",", ":"))
