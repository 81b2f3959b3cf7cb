"""TestState's mocks (November 2025): which states take one, what a mocked result must be,
and a mocked Map or Parallel state.

A mock is for a Task, Map or Parallel state; another state with one is refused, as AWS
refuses it. A mocked result must be JSON; a Map's an array (an object with a
``ResultWriter``), a Parallel's an array of one result per branch; a service integration's
is checked against the AWS API model of the service's response (botocore's), as
``mock.fieldValidationMode`` says: STRICT (the default: types, enums, lengths, ranges and the
required fields), PRESENT (only the fields given) or NONE.

A mocked Map or Parallel state runs no iteration and no branch: the mock's result is the
state's result, then ResultSelector, ResultPath, OutputPath or Output apply, and an
``errorOutput`` fails it (to its Catch and Retry). :func:`stand_in` gives the Task state that
does exactly that; :func:`map_inspection` the Map's own ``inspectionData`` fields.
``stateConfiguration.mapIterationFailureCount`` past the Map's ToleratedFailureCount or
ToleratedFailurePercentage fails it with ``States.ExceedToleratedFailureThreshold``.
"""

from __future__ import annotations

import functools
import json
from typing import Any

import botocore.session
from botocore.exceptions import BotoCoreError

from messages import limits
from orchestrator.api.errors import ApiError
from orchestrator.asl import item_batcher
from orchestrator.asl.item_reader import items_from_object, limit_items
from orchestrator.asl.jsonata import is_expression
from orchestrator.asl.jsonata.templates import compile_template as compile_jsonata
from orchestrator.asl.paths import compile_path
from orchestrator.asl.templates import compile_template as compile_jsonpath

# The Task a mocked Map or Parallel stands in as calls this (the mock answers it).
STAND_IN_RESOURCE = "arn:aws:lambda:us-east-1:123456789012:function:TestState"
EXCEEDED = "States.ExceedToleratedFailureThreshold"
EXCEEDED_CAUSE = "The specified tolerated failure threshold was exceeded"
RUNTIME = "States.Runtime"
_MOCKABLE = ("Task", "Map", "Parallel")
_SCHEMA = "Mock result schema validation error: "
# The fields a stand-in Task keeps of a Map or Parallel state (the rest is the fan-out's).
_KEPT = {
    "JSONPath": (
        "Comment",
        "InputPath",
        "ResultSelector",
        "ResultPath",
        "OutputPath",
        "Assign",
        "Catch",
        "Next",
        "End",
    ),
    "JSONata": ("Comment", "Output", "Assign", "Catch", "Next", "End"),
}
# Service integrations whose botocore service has another name.
_SERVICES = {
    "states": "stepfunctions",
    "sfn": "stepfunctions",
    "emr": "emr",
    "elasticmapreduce": "emr",
    "bedrock": "bedrock-runtime",
}


def check(
    params: dict[str, Any], state: dict[str, Any], language: str, mock: dict[str, Any] | None
) -> Any:
    """Refuse what AWS refuses of ``mock`` and ``stateConfiguration``; the mocked result."""
    kind = state.get("Type")
    configuration = params.get("stateConfiguration") or {}
    if "mapIterationFailureCount" in configuration and mock is None:
        raise _invalid(
            "TestState does not support MapIterationFailureCount when a mock is not specified."
        )
    if mock is None and kind in ("Map", "Parallel"):  # AWS runs no iterations or branches
        raise ApiError(
            "InvalidDefinition",
            "TestState API does not support Map or Parallel states. Supported state types"
            " include: [Task, Wait, Pass, Succeed, Fail, Choice]",
        )
    if mock is None:
        return None
    if kind not in _MOCKABLE:
        raise _invalid(f"State type '{kind}' is not supported when a mock is specified")
    if params.get("revealSecrets"):
        raise _invalid("TestState does not support RevealSecrets when a mock is specified.")
    if "result" in mock and "errorOutput" in mock:
        raise _invalid(
            "A test mock should have only one of the following fields: [result, errorOutput]."
        )
    result = None
    if "result" in mock:
        try:
            result = limits.loads(mock["result"])
        except ValueError:
            raise _invalid("Mocked result must be valid JSON") from None
        _check_shape(state, kind, result, mock, language)
    failures = configuration.get("mapIterationFailureCount")
    if failures is not None and isinstance(result, list) and failures > len(result):
        raise _invalid(
            "Map iteration failure count must be less than or equal to the number of Map iterations"
        )
    caused_by = configuration.get("errorCausedByState")
    if (
        caused_by is not None
        and kind in ("Map", "Parallel")
        and caused_by not in inner_names(state)
    ):
        # Not recorded from AWS: the wording is this engine's.
        raise _invalid(f"errorCausedByState '{caused_by}' is not a state of the {kind} state")
    return result


def _invalid(message: str) -> ApiError:
    return ApiError("ValidationException", message)


def _check_shape(
    state: dict[str, Any], kind: Any, result: Any, mock: dict[str, Any], language: str
) -> None:
    if kind == "Map":
        if "ResultWriter" in state and not isinstance(result, dict):
            raise _invalid("Mocked result must be a JSON object.")
        if "ResultWriter" not in state and not isinstance(result, list):
            raise _invalid("Mocked result must be an array.")
    elif kind == "Parallel":
        if not isinstance(result, list):
            raise _invalid("Mocked result must be an array.")
        if len(result) != len(state.get("Branches") or []):
            raise _invalid(
                "Mocked result must contain the same number of items as number of Parallel"
                " branches."
            )
    elif kind == "Task" and mock.get("fieldValidationMode", "STRICT") != "NONE":
        shape = _output_shape(state.get("Resource"))
        if shape is not None:
            _validate(result, shape, None, mock.get("fieldValidationMode", "STRICT") == "STRICT")


def inner_names(state: dict[str, Any]) -> set[str]:
    """The names of the states inside a Map or Parallel state, at any depth."""
    names: set[str] = set()
    todo = [state]
    while todo:
        current = todo.pop()
        parts: list[Any] = []
        for key in ("ItemProcessor", "Iterator"):
            parts.append(current.get(key))
        branches = current.get("Branches")
        if isinstance(branches, list):
            parts.extend(branches)
        for part in parts:
            if isinstance(part, dict) and isinstance(part.get("States"), dict):
                for name, inner in part["States"].items():
                    names.add(name)
                    if isinstance(inner, dict):
                        todo.append(inner)
    return names


# -- The service's response model --------------------------------------------------------------


def _output_shape(resource: Any) -> Any:
    """botocore's output shape of a request-response service integration, if it has one."""
    if not isinstance(resource, str) or not resource.startswith("arn:aws:states:::"):
        return None
    parts = resource[len("arn:aws:states:::") :].split(":")
    if parts[0] == "aws-sdk" and len(parts) == 3:
        service, action = parts[1], parts[2]
    elif len(parts) == 2 and "." not in parts[1]:  # .sync and .waitForTaskToken answer else
        service, action = parts
    else:
        return None
    return _shape(_SERVICES.get(service, service), action[:1].upper() + action[1:])


@functools.lru_cache(maxsize=256)
def _shape(service: str, operation: str) -> Any:
    try:
        model = _session().get_service_model(service)
        return model.operation_model(operation).output_shape
    except (BotoCoreError, KeyError, ValueError):
        return None


@functools.lru_cache(maxsize=1)
def _session() -> Any:
    return botocore.session.get_session()


def _validate(value: Any, shape: Any, field: str | None, strict: bool) -> None:
    """Raise AWS's ValidationException where ``value`` does not fit ``shape``."""
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            if field is None:
                raise _invalid(f"{_SCHEMA}Mock result must be a JSON object")
            raise _invalid(f"{_SCHEMA}Field '{field}' must be an object")
        members = {name[:1].upper() + name[1:]: member for name, member in shape.members.items()}
        if strict:
            for name in shape.required_members:
                cased = name[:1].upper() + name[1:]
                if cased not in value:
                    raise _invalid(f"{_SCHEMA}Required field '{cased}' is missing")
        for name, item in value.items():
            if name in members:  # fields outside the model pass (forward compatibility)
                _validate(item, members[name], name, strict)
    elif kind == "list":
        if not isinstance(value, list):
            raise _invalid(f"{_SCHEMA}Field '{field}' must be an array")
        for item in value:
            _validate(item, shape.member, field, strict)
    elif kind == "map":
        if not isinstance(value, dict):
            raise _invalid(f"{_SCHEMA}Field '{field}' must be an object")
        for item in value.values():
            _validate(item, shape.value, field, strict)
    elif kind in ("string", "timestamp", "blob"):
        if not isinstance(value, str):
            raise _invalid(f"{_SCHEMA}Field '{field}' must be a string")
        if kind == "string" and shape.enum and value not in shape.enum:
            raise _invalid(f"{_SCHEMA}Field '{field}' is not an expected value")
        least = shape.metadata.get("min")
        if kind != "timestamp" and isinstance(least, int) and len(value) < least:
            raise _invalid(f"{_SCHEMA}Field '{field}' is smaller than the minimum length")
    elif kind in ("integer", "long", "float", "double"):
        whole = kind in ("integer", "long")
        if isinstance(value, bool) or not isinstance(value, int if whole else int | float):
            raise _invalid(f"{_SCHEMA}Field '{field}' must be a number")
        least, most = shape.metadata.get("min"), shape.metadata.get("max")
        if isinstance(least, int | float) and value < least:
            raise _invalid(f"{_SCHEMA}Field '{field}' is less than the minimum value")
        if isinstance(most, int | float) and value > most:
            raise _invalid(f"{_SCHEMA}Field '{field}' exceeds the maximum value")
    elif kind == "boolean" and not isinstance(value, bool):
        raise _invalid(f"{_SCHEMA}Field '{field}' must be a boolean")


# -- A mocked Map or Parallel ------------------------------------------------------------------


def stand_in(state: dict[str, Any], language: str) -> dict[str, Any]:
    """The Task state that does what a mocked Map or Parallel does with its result."""
    task = {key: state[key] for key in _KEPT[language] if key in state}
    if state.get("Type") == "Parallel":
        for key in ("Parameters", "Arguments"):
            if key in state:
                task[key] = state[key]
    task["Type"] = "Task"
    task["Resource"] = STAND_IN_RESOURCE
    return task


def map_error(
    state: dict[str, Any],
    language: str,
    data: Any,
    variables: dict[str, Any],
    result: Any,
    configuration: dict[str, Any],
    context: dict[str, Any] | None = None,
) -> dict[str, str] | None:
    """``States.Runtime`` when a JSONPath Map's ItemsPath selects no array (AWS's cause,
    recorded for an ItemsPath that reads the context object); else
    ``States.ExceedToleratedFailureThreshold`` when the mocked iterations that failed are
    more than the Map tolerates (a Map that declares no tolerance ignores the count)."""
    not_array = _items_not_array(state, language, data, context)
    if not_array is not None:
        return {"error": RUNTIME, "cause": not_array}
    failures = configuration.get("mapIterationFailureCount")
    if state.get("Type") != "Map" or not failures or not isinstance(result, list):
        return None
    count = _field(state, "ToleratedFailureCount", language, data, variables)
    percentage = _field(state, "ToleratedFailurePercentage", language, data, variables)
    exceeded = False
    if isinstance(count, int | float) and not isinstance(count, bool):
        exceeded = failures > count
    if isinstance(percentage, int | float) and not isinstance(percentage, bool) and result:
        exceeded = exceeded or failures * 100 / len(result) > percentage
    return {"error": EXCEEDED, "cause": EXCEEDED_CAUSE} if exceeded else None


def map_inspection(
    state: dict[str, Any],
    language: str,
    data: Any,
    variables: dict[str, Any],
    configuration: dict[str, Any],
    context: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A mocked Map's own ``inspectionData`` fields (AWS's: the items after each stage of the
    fan-out, MaxConcurrency and the tolerance it declares; only ``afterInputPath`` when its
    ItemsPath selects no array, as recorded). ``context`` is the context object ``$$``."""
    shown: dict[str, Any] = {}
    if _items_not_array(state, language, data, context) is not None:
        # (read without fail: the ItemsPath was read from it)
        shown["afterInputPath"] = _text(compile_path(state.get("InputPath", "$")).read(data))
        return shown
    try:
        items = _items(state, language, data, variables, configuration, shown, context)
        selector = state.get("ItemSelector", state.get("Parameters"))
        if items is not None and selector is not None:
            chosen = [
                _selected(selector, language, data, variables, index, item, context)
                for index, item in enumerate(items)
            ]
            shown["afterItemSelector"] = _text(chosen)
            items = chosen
        batcher = state.get("ItemBatcher")
        if items is not None and isinstance(batcher, dict):
            shown["afterItemBatcher"] = _text(
                item_batcher.batches(
                    items,
                    _number(batcher, "MaxItemsPerBatch", language, data, variables),
                    _number(batcher, "MaxInputBytesPerBatch", language, data, variables),
                    batcher.get("BatchInput"),
                )
            )
    except Exception:  # a stage that fails is not shown; the run says why
        pass
    concurrency = _field(state, "MaxConcurrency", language, data, variables)
    shown["maxConcurrency"] = concurrency if isinstance(concurrency, int) else 0
    count = _field(state, "ToleratedFailureCount", language, data, variables)
    if isinstance(count, int | float) and not isinstance(count, bool):
        shown["toleratedFailureCount"] = int(count)
    percentage = _field(state, "ToleratedFailurePercentage", language, data, variables)
    if isinstance(percentage, int | float) and not isinstance(percentage, bool):
        shown["toleratedFailurePercentage"] = float(percentage)
    return shown


def _items(
    state: dict[str, Any],
    language: str,
    data: Any,
    variables: dict[str, Any],
    configuration: dict[str, Any],
    shown: dict[str, Any],
    context: dict[str, Any] | None = None,
) -> list[Any] | None:
    """The items the Map would iterate over: the reader's (``mapItemReaderData``) or the
    input's, noting ``afterInputPath``/``afterItemsPath`` (JSONPath) as it goes."""
    effective = data
    if language == "JSONPath":
        effective = compile_path(state.get("InputPath", "$")).read(data)
        shown["afterInputPath"] = _text(effective)
    reader = state.get("ItemReader")
    if isinstance(reader, dict):
        body = configuration.get("mapItemReaderData")
        if not isinstance(body, str):
            return None
        config = reader.get("ReaderConfig") or {}
        items = items_from_object(body, config)
        return limit_items(items, _number(config, "MaxItems", language, data, variables))
    if language == "JSONPath":
        items = _read_items_path(state, effective, context)
        shown["afterItemsPath"] = _text(items)
    else:
        items = _evaluated(state.get("Items", "{% $states.input %}"), data, variables)
    return items if isinstance(items, list) else None


def _items_not_array(
    state: dict[str, Any], language: str, data: Any, context: dict[str, Any] | None
) -> str | None:
    """AWS's cause when a JSONPath Map (no ItemReader) has an ItemsPath that selects
    something other than an array: the path as it reads its root (``$$.a`` as ``$.a``)."""
    if (
        state.get("Type") != "Map"
        or language != "JSONPath"
        or isinstance(state.get("ItemReader"), dict)
    ):
        return None
    text = state.get("ItemsPath", "$")
    try:
        path = compile_path(text)
        effective = compile_path(state.get("InputPath", "$")).read(data)
        items = _read_items_path(state, effective, context)
    except Exception:  # a path not found, or not valid: the run says why
        return None
    if isinstance(items, list):
        return None
    shown = text[1:] if path.context else text
    return f'Reference path "{shown}" must point to array.'


def _read_items_path(state: dict[str, Any], effective: Any, context: dict[str, Any] | None) -> Any:
    path = compile_path(state.get("ItemsPath", "$"))
    return path.read(path.root(effective, context or {}) if path.context else effective)


def _selected(
    selector: Any,
    language: str,
    data: Any,
    variables: dict[str, Any],
    index: int,
    item: Any,
    given: dict[str, Any] | None = None,
) -> Any:
    context = {**(given or {}), "Map": {"Item": {"Index": index, "Value": item}}}
    if language == "JSONPath":
        template, _problems = compile_jsonpath(selector, "/ItemSelector")
        return template.render(data, context) if template is not None else selector
    names = {**variables, "states": {"input": data, "context": context}}
    return compile_jsonata(selector).render(names, field="ItemSelector")


def _field(
    state: dict[str, Any], name: str, language: str, data: Any, variables: dict[str, Any]
) -> Any:
    """A count's value: given, a ``{% %}`` expression, or read by its ``...Path`` field."""
    try:
        if name in state:
            value = state[name]
            return _evaluated(value, data, variables) if language == "JSONata" else value
        path = state.get(name + "Path")
        if isinstance(path, str):
            value = compile_path(path).read(data)
            if isinstance(value, str):
                return json.loads(value)
            return value
    except Exception:  # the run fails on it, with AWS's cause
        return None
    return None


def _number(
    holder: dict[str, Any], name: str, language: str, data: Any, variables: dict[str, Any]
) -> Any:
    value = _field(holder, name, language, data, variables)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _evaluated(value: Any, data: Any, variables: dict[str, Any]) -> Any:
    if not is_expression(value):
        return value
    return compile_jsonata(value).render({**variables, "states": {"input": data}})


def _text(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))
