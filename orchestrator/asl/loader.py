"""Loading a definition: JSON text -> validated, compiled :class:`StateMachine`.

Validation collects every problem before giving up, as AWS's ValidateStateMachineDefinition
does, and locates each one by JSON Pointer and, from the source text, by line and column.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path as FilePath
from typing import Any, TypeVar

import json_source_map

from orchestrator.asl import errors
from orchestrator.asl.choice import compile_choices
from orchestrator.asl.definition import (
    AnyState,
    Catcher,
    ChoiceState,
    FailState,
    MapState,
    ParallelState,
    PassState,
    Retrier,
    Scope,
    Seconds,
    StateMachine,
    SucceedState,
    TaskState,
    WaitState,
)
from orchestrator.asl.errors import DefinitionError, Problem
from orchestrator.asl.intrinsics import compile_intrinsic, is_intrinsic
from orchestrator.asl.paths import (
    Path,
    ReferencePath,
    UnsupportedPath,
    compile_path,
    compile_reference_path,
)
from orchestrator.asl.templates import Template, compile_template, escape_pointer

P = TypeVar("P", Path, ReferencePath)
_COMMON = {"Type", "Comment"}
_IO = {"InputPath", "OutputPath"}
_MOVES = {"Next", "End"}
_RECOVERY = {"Parameters", "ResultSelector", "ResultPath", "Retry", "Catch"}
ALLOWED_FIELDS: dict[str, set[str]] = {
    "Pass": _COMMON | _IO | _MOVES | {"Parameters", "ResultPath", "Result"},
    "Task": _COMMON
    | _IO
    | _MOVES
    | _RECOVERY
    | {
        "Resource",
        "TimeoutSeconds",
        "TimeoutSecondsPath",
        "HeartbeatSeconds",
        "HeartbeatSecondsPath",
        "Credentials",
    },
    "Choice": _COMMON | _IO | {"Choices", "Default"},
    "Wait": _COMMON | _IO | _MOVES | {"Seconds", "Timestamp", "SecondsPath", "TimestampPath"},
    "Succeed": _COMMON | _IO,
    "Fail": _COMMON | {"Error", "Cause", "ErrorPath", "CausePath"},
    "Parallel": _COMMON | _IO | _MOVES | _RECOVERY | {"Branches"},
    "Map": _COMMON
    | _IO
    | _MOVES
    | _RECOVERY
    | {
        "ItemProcessor",
        "Iterator",
        "ItemsPath",
        "ItemSelector",
        "MaxConcurrency",
        "MaxConcurrencyPath",
        "ToleratedFailureCount",
        "ToleratedFailureCountPath",
        "ToleratedFailurePercentage",
        "ToleratedFailurePercentagePath",
        "ItemReader",
        "ItemBatcher",
        "ResultWriter",
        "Label",
    },
}
# Valid ASL fields of any state type (JSONata, variables) that are not run yet.
UNSUPPORTED_STATE_FIELDS = {"Assign", "Arguments", "Output", "QueryLanguage"}
# Valid ASL of particular state types that is not run yet (Distributed Map, credentials).
UNSUPPORTED_FIELDS = {
    "Task": {"Credentials"},
    "Map": {"ItemReader", "ItemBatcher", "ResultWriter", "Label"},
}
TOP_LEVEL_FIELDS = {"Comment", "StartAt", "States", "Version", "TimeoutSeconds", "QueryLanguage"}
MAX_STATE_NAME = 80
LAMBDA_ARN = re.compile(
    r"^arn:[\w-]+:lambda:[\w-]*:\d*:function:(?P<name>[^:\s]{1,140})(?::[^:\s]+)?$"
)
LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"
WAIT_FOR_TOKEN = ".waitForTaskToken"
MAX_TIMEOUT_SECONDS = 99_999_999


def function_name_of(value: str) -> str:
    """The function name in a Lambda function name, partial ARN or ARN (qualifier dropped)."""
    if match := LAMBDA_ARN.match(value):
        return match.group("name")
    return value.split(":")[0]


def load_definition_file(path: str | FilePath) -> StateMachine:
    """Load ``NAME.asl.json`` (or ``NAME.json``) as state machine ``NAME``."""
    file = FilePath(path)
    name = file.name.removesuffix(".json").removesuffix(".asl")
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DefinitionError([Problem("UNREADABLE_FILE", str(exc))], str(file)) from exc
    return load_definition(text, name=name, source=str(file))


def load_definition(text: str, *, name: str, source: str = "") -> StateMachine:
    """Parse and validate definition ``text``; raises :class:`DefinitionError` listing problems."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        problem = Problem("INVALID_JSON", exc.msg, "", exc.lineno, exc.colno)
        raise DefinitionError([problem], source) from None
    checker = _Checker()
    machine = checker.check(document, name)
    if checker.problems:
        located = _locate(checker.problems, text)
        raise DefinitionError(located, source)
    assert machine is not None
    return dataclasses.replace(machine, source=text)


def _locate(problems: list[Problem], text: str) -> list[Problem]:
    """Fill in line and column (1-based) from the text for each problem's pointer."""
    try:
        source_map = json_source_map.calculate(text)
    except Exception:  # a locating failure must not hide the problems themselves
        return problems
    located = []
    for problem in problems:
        tokens = problem.pointer.split("/")[1:] if problem.pointer else []
        while True:
            key = "".join("/" + t.replace("~1", "/").replace("~0", "~") for t in tokens)
            entry = source_map.get(key)
            if entry is not None or not tokens:
                break
            tokens.pop()
        if entry is None:
            located.append(problem)
            continue
        where = entry.key_start if problem.code == "UNKNOWN_FIELD" and entry.key_start else None
        where = where or entry.value_start
        located.append(
            Problem(
                problem.code, problem.message, problem.pointer, where.line + 1, where.column + 1
            )
        )
    return located


class _Checker:
    """Walks a parsed definition, collecting problems and building compiled states."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def problem(self, code: str, message: str, pointer: str) -> None:
        self.problems.append(Problem(code, message, pointer))

    def check(self, document: Any, name: str) -> StateMachine | None:
        if not isinstance(document, dict):
            self.problem("INVALID_TYPE", "a definition must be a JSON object", "")
            return None
        for key in document:
            if key not in TOP_LEVEL_FIELDS:
                self.problem(
                    "UNKNOWN_FIELD",
                    f"field {key!r} is not allowed at the top level",
                    f"/{escape_pointer(key)}",
                )
        if document.get("QueryLanguage", "JSONPath") != "JSONPath":
            self.problem(
                "UNSUPPORTED", "only QueryLanguage 'JSONPath' is supported yet", "/QueryLanguage"
            )
            return None  # the states are JSONata: checking them as JSONPath says nothing
        timeout = document.get("TimeoutSeconds")
        if timeout is not None and not _positive_int(timeout):
            self.problem(
                "INVALID_TYPE", "'TimeoutSeconds' must be a positive integer", "/TimeoutSeconds"
            )
        comment = self.optional_string(document, "Comment", "")
        self.scopes: list[Scope | None] = []
        self.check_scope(document, "")
        if self.problems:
            return None
        scopes = tuple(scope for scope in self.scopes if scope is not None)
        return StateMachine(
            name=name,
            scopes=scopes,
            comment=comment,
            timeout_seconds=timeout if _positive_int(timeout) else None,
        )

    def check_scope(self, raw: dict[str, Any], where: str) -> int:
        """Check a set of states with a StartAt (the machine, a branch, an iterator); its id."""
        scope_id = len(self.scopes)
        self.scopes.append(None)  # reserve the id: nested scopes number after their parent
        states_raw = raw.get("States")
        if not isinstance(states_raw, dict) or not states_raw:
            what = "is missing" if states_raw is None else "must be a non-empty object"
            code = "MISSING_FIELD" if states_raw is None else "INVALID_TYPE"
            self.problem(code, f"'States' {what}", f"{where}/States")
            states_raw = {}
        start_at = raw.get("StartAt")
        if not isinstance(start_at, str):
            what = "is missing" if start_at is None else "must be a string"
            code = "MISSING_FIELD" if start_at is None else "INVALID_TYPE"
            self.problem(code, f"'StartAt' {what}", f"{where}/StartAt")
            start_at = None
        elif states_raw:
            self.target_exists(start_at, "StartAt", f"{where}/StartAt", set(states_raw))
        states: dict[str, AnyState] = {}
        for state_name, state_raw in states_raw.items():
            state = self.check_state(state_name, state_raw, set(states_raw), where)
            if state is not None:
                states[state_name] = state
        if start_at is not None and start_at in states_raw:
            self.check_reachable(start_at, states_raw, where)
        if start_at is not None:
            self.scopes[scope_id] = Scope(start_at, states)
        return scope_id

    # -- states ------------------------------------------------------------------------------

    def check_state(self, name: str, raw: Any, names: set[str], scope: str) -> AnyState | None:
        where = f"{scope}/States/{escape_pointer(name)}"
        if len(name) > MAX_STATE_NAME:
            self.problem(
                "INVALID_STATE_NAME", f"state names are at most {MAX_STATE_NAME} characters", where
            )
        if not isinstance(raw, dict):
            self.problem("INVALID_TYPE", "a state must be a JSON object", where)
            return None
        kind = raw.get("Type")
        if kind not in ALLOWED_FIELDS:
            known = ", ".join(sorted(ALLOWED_FIELDS))
            what = "is missing" if kind is None else f"{kind!r} is not a state type ({known})"
            self.problem(
                "MISSING_FIELD" if kind is None else "INVALID_STATE_TYPE",
                f"'Type' {what}",
                f"{where}/Type",
            )
            return None
        before = len(self.problems)
        if raw.get("QueryLanguage", "JSONPath") != "JSONPath":
            self.problem(
                "UNSUPPORTED",
                "only QueryLanguage 'JSONPath' is supported yet",
                f"{where}/QueryLanguage",
            )
            return None
        for key in raw:
            if key in UNSUPPORTED_STATE_FIELDS:
                self.problem(
                    "UNSUPPORTED",
                    f"field {key!r} is not supported yet",
                    f"{where}/{escape_pointer(key)}",
                )
            elif key not in ALLOWED_FIELDS[kind]:
                self.problem(
                    "UNKNOWN_FIELD",
                    f"field {key!r} is not allowed in a {kind} state",
                    f"{where}/{escape_pointer(key)}",
                )
            elif key in UNSUPPORTED_FIELDS.get(kind, ()):
                self.problem(
                    "UNSUPPORTED",
                    f"field {key!r} of Task states is not supported yet",
                    f"{where}/{escape_pointer(key)}",
                )
        common: dict[str, Any] = {
            "name": name,
            "type": kind,
            "comment": self.optional_string(raw, "Comment", where),
        }
        if kind != "Fail":
            common["input_path"] = self.reading_path(raw, "InputPath", where)
            common["output_path"] = self.reading_path(raw, "OutputPath", where)
        else:
            common["input_path"] = common["output_path"] = compile_path("$")
        state: AnyState | None = None
        if kind == "Pass":
            state = PassState(
                **common,
                **self.moves(raw, where, names),
                result=raw.get("Result"),
                has_result="Result" in raw,
                parameters=self.template(raw, "Parameters", where),
                result_path=self.reference_path(raw, "ResultPath", where),
            )
        elif kind == "Task":
            state = self.task(raw, where, names, common)
        elif kind == "Choice":
            state = self.choice(raw, where, names, common)
        elif kind == "Wait":
            state = self.wait(raw, where, names, common)
        elif kind == "Parallel":
            state = self.parallel(raw, where, names, common)
        elif kind == "Map":
            state = self.map(raw, where, names, common)
        elif kind == "Succeed":
            state = SucceedState(**common)
        else:
            state = self.fail(raw, where, common)
        return state if len(self.problems) == before else None

    def task(
        self, raw: dict[str, Any], where: str, names: set[str], common: dict[str, Any]
    ) -> TaskState | None:
        resource = raw.get("Resource")
        function_name, integration, wait_for_token = "", "function", False
        if not isinstance(resource, str):
            what = "is missing" if resource is None else "must be a string"
            self.problem(
                "MISSING_FIELD" if resource is None else "INVALID_TYPE",
                f"'Resource' {what}",
                f"{where}/Resource",
            )
        elif resource.removesuffix(WAIT_FOR_TOKEN) == LAMBDA_INVOKE:
            integration, wait_for_token = "invoke", resource.endswith(WAIT_FOR_TOKEN)
            parameters = raw.get("Parameters")
            if not isinstance(parameters, dict) or not (
                "FunctionName" in parameters or "FunctionName.$" in parameters
            ):
                self.problem(
                    "MISSING_FIELD",
                    "the lambda:invoke integration needs Parameters.FunctionName",
                    f"{where}/Parameters",
                )
        elif resource.startswith("arn:aws:states:::"):
            service = resource.removeprefix("arn:aws:states:::")
            self.problem(
                "UNSUPPORTED",
                f"the service integration {service!r} is not supported yet; Lambda functions are",
                f"{where}/Resource",
            )
        elif match := LAMBDA_ARN.match(resource):
            function_name = match.group("name")
        else:
            self.problem(
                "INVALID_RESOURCE",
                f"{resource!r} is not a Lambda function ARN (arn:aws:lambda:REGION:ACCOUNT:function:NAME)",
                f"{where}/Resource",
            )
        return TaskState(
            **common,
            **self.moves(raw, where, names),
            **self.recovery(raw, where, names),
            resource=resource if isinstance(resource, str) else "",
            function_name=function_name,
            integration=integration,  # type: ignore[arg-type]
            wait_for_token=wait_for_token,
            timeout=self.seconds(raw, "TimeoutSeconds", where),
            heartbeat=self.seconds(raw, "HeartbeatSeconds", where),
        )

    def recovery(self, raw: dict[str, Any], where: str, names: set[str]) -> dict[str, Any]:
        """Parameters, ResultSelector, ResultPath, Retry and Catch of Task/Parallel/Map."""
        return {
            "parameters": self.template(raw, "Parameters", where),
            "result_selector": self.template(raw, "ResultSelector", where),
            "result_path": self.reference_path(raw, "ResultPath", where),
            "retriers": self.retriers(raw.get("Retry"), f"{where}/Retry"),
            "catchers": self.catchers(raw.get("Catch"), f"{where}/Catch", names),
        }

    def seconds(
        self, raw: dict[str, Any], key: str, where: str, *, allow_zero: bool = False
    ) -> Seconds | None:
        """``key`` (a positive integer) or ``key + 'Path'``; None when neither is given."""
        value, path = raw.get(key), raw.get(key + "Path")
        if value is not None and path is not None:
            self.problem(
                "MUTUALLY_EXCLUSIVE",
                f"'{key}' and '{key}Path' cannot both be set",
                f"{where}/{key}",
            )
            return None
        if value is not None:
            ok = _int(value) and (value >= 0 if allow_zero else value > 0)
            if not ok or value > MAX_TIMEOUT_SECONDS:
                kind = "a non-negative" if allow_zero else "a positive"
                self.problem("INVALID_TYPE", f"'{key}' must be {kind} integer", f"{where}/{key}")
                return None
            return Seconds(value=value)
        if path is not None:
            compiled = self.reading_path(raw, key + "Path", where)
            return Seconds(path=compiled) if compiled is not None else None
        return None

    def choice(
        self, raw: dict[str, Any], where: str, names: set[str], common: dict[str, Any]
    ) -> ChoiceState:
        choices = raw.get("Choices")
        if choices is None:
            self.problem("MISSING_FIELD", "a Choice state needs 'Choices'", f"{where}/Choices")
            choices = []
        elif not isinstance(choices, list) or not choices:
            self.problem("INVALID_TYPE", "'Choices' must be a non-empty array", f"{where}/Choices")
            choices = []
        branches, problems = compile_choices(choices, f"{where}/Choices")
        self.problems.extend(problems)
        for i, branch in enumerate(branches):
            self.target_exists(branch.next, "Next", f"{where}/Choices/{i}/Next", names)
        default = self.optional_string(raw, "Default", where)
        if default is not None:
            self.target_exists(default, "Default", f"{where}/Default", names)
        return ChoiceState(**common, branches=tuple(branches), default=default)

    def fail(self, raw: dict[str, Any], where: str, common: dict[str, Any]) -> FailState:
        for field in ("Error", "Cause"):
            if field in raw and field + "Path" in raw:
                self.problem(
                    "MUTUALLY_EXCLUSIVE",
                    f"'{field}' and '{field}Path' cannot both be set",
                    f"{where}/{field}Path",
                )
        return FailState(
            **common,
            error=self.optional_string(raw, "Error", where),
            cause=self.optional_string(raw, "Cause", where),
            error_path=self.path_or_intrinsic(raw, "ErrorPath", where),
            cause_path=self.path_or_intrinsic(raw, "CausePath", where),
        )

    def wait(
        self, raw: dict[str, Any], where: str, names: set[str], common: dict[str, Any]
    ) -> WaitState:
        given = [k for k in ("Seconds", "Timestamp", "SecondsPath", "TimestampPath") if k in raw]
        if len(given) != 1:
            self.problem(
                "MUTUALLY_EXCLUSIVE" if given else "MISSING_FIELD",
                "a Wait state needs exactly one of Seconds, Timestamp, SecondsPath, TimestampPath",
                where,
            )
        timestamp = self.optional_string(raw, "Timestamp", where)
        if timestamp is not None and parse_timestamp(timestamp) is None:
            self.problem(
                "INVALID_TIMESTAMP",
                f"'Timestamp' {timestamp!r} is not an ISO-8601 date-time with an offset",
                f"{where}/Timestamp",
            )
        return WaitState(
            **common,
            **self.moves(raw, where, names),
            seconds=self.seconds(raw, "Seconds", where, allow_zero=True),
            timestamp=timestamp,
            timestamp_path=self.reading_path(raw, "TimestampPath", where)
            if "TimestampPath" in raw
            else None,
        )

    def parallel(
        self, raw: dict[str, Any], where: str, names: set[str], common: dict[str, Any]
    ) -> ParallelState:
        branches = raw.get("Branches")
        scopes: list[int] = []
        if not isinstance(branches, list) or not branches:
            self.problem(
                "MISSING_FIELD" if branches is None else "INVALID_TYPE",
                "a Parallel state needs 'Branches', a non-empty array",
                f"{where}/Branches",
            )
        else:
            for i, branch in enumerate(branches):
                if not isinstance(branch, dict):
                    self.problem(
                        "INVALID_TYPE", "a branch must be an object", f"{where}/Branches/{i}"
                    )
                    continue
                self.unknown_fields(
                    branch, {"StartAt", "States", "Comment"}, f"{where}/Branches/{i}", "a branch"
                )
                scopes.append(self.check_scope(branch, f"{where}/Branches/{i}"))
        return ParallelState(
            **common,
            **self.moves(raw, where, names),
            **self.recovery(raw, where, names),
            branches=tuple(scopes),
        )

    def map(
        self, raw: dict[str, Any], where: str, names: set[str], common: dict[str, Any]
    ) -> MapState:
        key = "ItemProcessor" if "ItemProcessor" in raw else "Iterator"
        processor = raw.get(key)
        iterator = -1
        if "ItemProcessor" in raw and "Iterator" in raw:
            self.problem(
                "MUTUALLY_EXCLUSIVE",
                "'ItemProcessor' and 'Iterator' cannot both be set",
                f"{where}/Iterator",
            )
        if not isinstance(processor, dict):
            self.problem(
                "MISSING_FIELD",
                "a Map state needs 'ItemProcessor' (or 'Iterator')",
                f"{where}/{key}",
            )
        else:
            config = processor.get("ProcessorConfig") or {}
            if isinstance(config, dict) and config.get("Mode", "INLINE") != "INLINE":
                self.problem(
                    "UNSUPPORTED",
                    "Distributed Map is not supported yet",
                    f"{where}/{key}/ProcessorConfig/Mode",
                )
            self.unknown_fields(
                processor,
                {"StartAt", "States", "Comment", "ProcessorConfig"},
                f"{where}/{key}",
                key,
            )
            iterator = self.check_scope(processor, f"{where}/{key}")
        if "ItemSelector" in raw and "Parameters" in raw:
            self.problem(
                "MUTUALLY_EXCLUSIVE",
                "'ItemSelector' and 'Parameters' cannot both be set",
                f"{where}/Parameters",
            )
        selector_key = "ItemSelector" if "ItemSelector" in raw else "Parameters"
        recovery = self.recovery({k: v for k, v in raw.items() if k != "Parameters"}, where, names)
        items_path = self.reading_path(raw, "ItemsPath", where)
        concurrency = self.seconds(raw, "MaxConcurrency", where, allow_zero=True) or Seconds(
            value=0
        )
        return MapState(
            **common,
            **self.moves(raw, where, names),
            **recovery,
            iterator=iterator,
            items_path=items_path or compile_path("$"),
            item_selector=self.template(raw, selector_key, where),
            max_concurrency=concurrency,
            tolerated_failure_count=self.seconds(
                raw, "ToleratedFailureCount", where, allow_zero=True
            ),
            tolerated_failure_percentage=self.percentage(raw, where),
        )

    def percentage(self, raw: dict[str, Any], where: str) -> Seconds | None:
        """ToleratedFailurePercentage: a number from 0 to 100 (or its Path form)."""
        value = raw.get("ToleratedFailurePercentage")
        if value is None:
            return self.seconds(raw, "ToleratedFailurePercentage", where, allow_zero=True)
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 100:
            self.problem(
                "INVALID_TYPE",
                "'ToleratedFailurePercentage' must be a number from 0 to 100",
                f"{where}/ToleratedFailurePercentage",
            )
            return None
        return Seconds(value=value)  # type: ignore[arg-type]

    def unknown_fields(self, raw: dict[str, Any], allowed: set[str], where: str, what: str) -> None:
        for key in raw:
            if key not in allowed:
                self.problem(
                    "UNKNOWN_FIELD",
                    f"field {key!r} is not allowed in {what}",
                    f"{where}/{escape_pointer(key)}",
                )

    def path_or_intrinsic(self, raw: dict[str, Any], key: str, where: str) -> Any:
        """ErrorPath/CausePath: a JSONPath or an intrinsic function call; None when absent."""
        value = raw.get(key)
        if value is None:
            return None
        if isinstance(value, str) and is_intrinsic(value):
            try:
                return compile_intrinsic(value)
            except UnsupportedPath as exc:
                self.problem("UNSUPPORTED", f"'{key}': {exc}", f"{where}/{key}")
            except ValueError as exc:
                self.problem("INVALID_INTRINSIC", f"'{key}': {exc}", f"{where}/{key}")
            return None
        return self.reading_path(raw, key, where)

    def retriers(self, raw: Any, where: str) -> tuple[Retrier, ...]:
        if raw is None:
            return ()
        if not isinstance(raw, list):
            self.problem("INVALID_TYPE", "'Retry' must be an array", where)
            return ()
        result = []
        allowed = {
            "ErrorEquals",
            "IntervalSeconds",
            "MaxAttempts",
            "BackoffRate",
            "MaxDelaySeconds",
            "JitterStrategy",
            "Comment",
        }
        for i, item in enumerate(raw):
            at = f"{where}/{i}"
            if not isinstance(item, dict):
                self.problem("INVALID_TYPE", "a retrier must be an object", at)
                continue
            self.unknown_fields(item, allowed, at, "a retrier")
            equals = self.error_equals(
                item.get("ErrorEquals"), f"{at}/ErrorEquals", last=i == len(raw) - 1
            )
            interval = item.get("IntervalSeconds", 1)
            attempts = item.get("MaxAttempts", 3)
            backoff = item.get("BackoffRate", 2.0)
            max_delay = item.get("MaxDelaySeconds")
            jitter = item.get("JitterStrategy", "NONE")
            if not (_int(interval) and 1 <= interval <= MAX_TIMEOUT_SECONDS):
                self.problem(
                    "INVALID_TYPE",
                    "'IntervalSeconds' must be a positive integer",
                    f"{at}/IntervalSeconds",
                )
            if not (_int(attempts) and attempts >= 0):
                self.problem(
                    "INVALID_TYPE",
                    "'MaxAttempts' must be a non-negative integer",
                    f"{at}/MaxAttempts",
                )
            if isinstance(backoff, bool) or not isinstance(backoff, int | float) or backoff < 1:
                self.problem(
                    "INVALID_TYPE",
                    "'BackoffRate' must be a number of at least 1.0",
                    f"{at}/BackoffRate",
                )
            if max_delay is not None and not (_int(max_delay) and 0 < max_delay < 31_622_400):
                self.problem(
                    "INVALID_TYPE",
                    "'MaxDelaySeconds' must be a positive integer",
                    f"{at}/MaxDelaySeconds",
                )
            if jitter not in ("FULL", "NONE"):
                self.problem(
                    "INVALID_VALUE", "'JitterStrategy' must be FULL or NONE", f"{at}/JitterStrategy"
                )
            result.append(
                Retrier(tuple(equals), interval, attempts, float(backoff), max_delay, jitter)
            )
        return tuple(result)

    # -- fields ------------------------------------------------------------------------------

    def moves(self, raw: dict[str, Any], where: str, names: set[str]) -> dict[str, Any]:
        has_next, end = "Next" in raw, raw.get("End")
        if end is not None and not isinstance(end, bool):
            self.problem("INVALID_TYPE", "'End' must be true or false", f"{where}/End")
        if has_next and end is True:
            self.problem(
                "MUTUALLY_EXCLUSIVE",
                "a state cannot have both 'Next' and 'End': true",
                f"{where}/End",
            )
        elif not has_next and end is not True:
            self.problem("MISSING_TRANSITION", "a state needs 'Next' or 'End': true", where)
        target = self.optional_string(raw, "Next", where)
        if target is not None:
            self.target_exists(target, "Next", f"{where}/Next", names)
        return {"next": target, "end": end is True}

    def target_exists(self, target: str, field: str, pointer: str, names: set[str]) -> None:
        """A StartAt/Next/Default must name a state of its scope."""
        if target not in names:
            self.problem(
                "MISSING_TRANSITION_TARGET",
                f"'{field}' names state {target!r}, which does not exist",
                pointer,
            )

    def catchers(self, raw: Any, where: str, names: set[str]) -> tuple[Catcher, ...]:
        if raw is None:
            return ()
        if not isinstance(raw, list):
            self.problem("INVALID_TYPE", "'Catch' must be an array", where)
            return ()
        result = []
        for i, item in enumerate(raw):
            at = f"{where}/{i}"
            if not isinstance(item, dict):
                self.problem("INVALID_TYPE", "a catcher must be an object", at)
                continue
            for key in item:
                if key in UNSUPPORTED_STATE_FIELDS:
                    self.problem(
                        "UNSUPPORTED",
                        f"field {key!r} of a catcher is not supported yet",
                        f"{at}/{escape_pointer(key)}",
                    )
                elif key not in {"ErrorEquals", "Next", "ResultPath", "Comment"}:
                    self.problem(
                        "UNKNOWN_FIELD",
                        f"field {key!r} is not allowed in a catcher",
                        f"{at}/{escape_pointer(key)}",
                    )
            equals = self.error_equals(
                item.get("ErrorEquals"), f"{at}/ErrorEquals", last=i == len(raw) - 1
            )
            target = item.get("Next")
            if not isinstance(target, str):
                self.problem("MISSING_FIELD", "a catcher needs 'Next'", f"{at}/Next")
            else:
                self.target_exists(target, "Next", f"{at}/Next", names)
            path = self.reference_path(item, "ResultPath", at)
            if isinstance(target, str):
                result.append(Catcher(tuple(equals), target, path))
        return tuple(result)

    def error_equals(self, raw: Any, where: str, *, last: bool) -> list[str]:
        if not isinstance(raw, list) or not raw or not all(isinstance(e, str) for e in raw):
            self.problem(
                "INVALID_TYPE", "'ErrorEquals' must be a non-empty array of error names", where
            )
            return []
        if errors.ALL in raw and (len(raw) > 1 or not last):
            self.problem(
                "STATES_ALL_NOT_LAST",
                "'States.ALL' must appear alone in the last ErrorEquals",
                where,
            )
        return list(raw)

    def optional_string(self, raw: dict[str, Any], key: str, where: str) -> str | None:
        value = raw.get(key)
        if value is not None and not isinstance(value, str):
            self.problem("INVALID_TYPE", f"'{key}' must be a string", f"{where}/{key}")
            return None
        return value

    def reading_path(self, raw: dict[str, Any], key: str, where: str) -> Path | None:
        return self._path_field(raw, key, where, compile_path, "INVALID_JSONPATH")

    def reference_path(self, raw: dict[str, Any], key: str, where: str) -> ReferencePath | None:
        return self._path_field(raw, key, where, compile_reference_path, "INVALID_REFERENCE_PATH")

    def _path_field(
        self, raw: dict[str, Any], key: str, where: str, compile: Callable[[str], P], code: str
    ) -> P | None:
        """A path field: absent means "$", JSON null means None (the field's discard rule)."""
        if key not in raw:
            return compile("$")
        value = raw[key]
        if value is None:
            return None
        try:
            return compile(value)
        except ValueError as exc:
            self.problem(
                "UNSUPPORTED" if isinstance(exc, UnsupportedPath) else code,
                f"'{key}': {exc}",
                f"{where}/{key}",
            )
            return None

    def template(self, raw: dict[str, Any], key: str, where: str) -> Template | None:
        if key not in raw:
            return None
        if not isinstance(raw[key], dict):
            self.problem("INVALID_TYPE", f"'{key}' must be a JSON object", f"{where}/{key}")
            return None
        template, problems = compile_template(raw[key], f"{where}/{key}")
        for code, message, pointer in problems:
            self.problem(code, message, pointer)
        return template

    def check_reachable(self, start_at: str, states_raw: dict[str, Any], scope: str) -> None:
        seen = {start_at}
        todo = [start_at]
        while todo:
            raw = states_raw.get(todo.pop())
            for target in _targets(raw):
                if target in states_raw and target not in seen:
                    seen.add(target)
                    todo.append(target)
        for name in states_raw:
            if name not in seen:
                self.problem(
                    "UNREACHABLE_STATE",
                    f"state {name!r} cannot be reached from StartAt",
                    f"{scope}/States/{escape_pointer(name)}",
                )


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _positive_int(value: Any) -> bool:
    return _int(value) and value > 0


def parse_timestamp(text: str) -> datetime | None:
    """An ISO-8601 date-time with an offset (``Z`` or ``+hh:mm``), as AWS accepts; else None."""
    if not _TIMESTAMP.match(text):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None


_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def _targets(raw: Any) -> list[str]:
    """Every state name a raw state may move to (Next, Default, Choices, Catch)."""
    if not isinstance(raw, dict):
        return []
    found = [raw.get("Next"), raw.get("Default")]
    for group in ("Choices", "Catch"):
        items = raw.get(group)
        if isinstance(items, list):
            found.extend(item.get("Next") for item in items if isinstance(item, dict))
    return [t for t in found if isinstance(t, str)]
