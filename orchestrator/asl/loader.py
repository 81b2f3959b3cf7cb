"""Loading a definition: JSON text -> validated, compiled :class:`StateMachine`.

Validation collects every problem before giving up, as AWS's ValidateStateMachineDefinition
does, and locates each one by JSON Pointer and, from the source text, by line and column.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
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
    PassState,
    StateMachine,
    SucceedState,
    TaskState,
)
from orchestrator.asl.errors import DefinitionError, Problem
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
ALLOWED_FIELDS: dict[str, set[str]] = {
    "Pass": _COMMON | _IO | _MOVES | {"Parameters", "ResultPath", "Result"},
    "Task": _COMMON
    | _IO
    | _MOVES
    | {
        "Resource",
        "Parameters",
        "ResultSelector",
        "ResultPath",
        "Retry",
        "Catch",
        "TimeoutSeconds",
        "TimeoutSecondsPath",
        "HeartbeatSeconds",
        "HeartbeatSecondsPath",
        "Credentials",
    },
    "Choice": _COMMON | _IO | {"Choices", "Default"},
    "Succeed": _COMMON | _IO,
    "Fail": _COMMON | {"Error", "Cause", "ErrorPath", "CausePath"},
}
# Valid ASL that this engine does not run yet: rejected by name rather than run wrongly.
UNSUPPORTED_TYPES = {"Wait", "Parallel", "Map"}
# Valid ASL fields of any state type (JSONata, variables) that are not run yet.
UNSUPPORTED_STATE_FIELDS = {"Assign", "Arguments", "Output", "QueryLanguage"}
UNSUPPORTED_TASK_FIELDS = {
    "Retry",
    "TimeoutSeconds",
    "TimeoutSecondsPath",
    "HeartbeatSeconds",
    "HeartbeatSecondsPath",
    "Credentials",
}
TOP_LEVEL_FIELDS = {"Comment", "StartAt", "States", "Version", "TimeoutSeconds", "QueryLanguage"}
MAX_STATE_NAME = 80
LAMBDA_ARN = re.compile(
    r"^arn:[\w-]+:lambda:[\w-]*:\d*:function:(?P<name>[^:\s]{1,140})(?::[^:\s]+)?$"
)


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
    return StateMachine(
        name=machine.name,
        start_at=machine.start_at,
        states=machine.states,
        comment=machine.comment,
        timeout_seconds=machine.timeout_seconds,
        source=text,
    )


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
        if "TimeoutSeconds" in document:
            self.problem(
                "UNSUPPORTED",
                "an execution-level TimeoutSeconds is not supported yet",
                "/TimeoutSeconds",
            )
        comment = self.optional_string(document, "Comment", "")
        states_raw = document.get("States")
        if not isinstance(states_raw, dict) or not states_raw:
            what = "is missing" if states_raw is None else "must be a non-empty object"
            self.problem(
                "MISSING_FIELD" if states_raw is None else "INVALID_TYPE",
                f"'States' {what}",
                "/States",
            )
            states_raw = {}
        start_at = document.get("StartAt")
        if not isinstance(start_at, str):
            what = "is missing" if start_at is None else "must be a string"
            self.problem(
                "MISSING_FIELD" if start_at is None else "INVALID_TYPE",
                f"'StartAt' {what}",
                "/StartAt",
            )
            start_at = None
        elif states_raw and start_at not in states_raw:
            self.problem(
                "MISSING_TRANSITION_TARGET",
                f"'StartAt' names state {start_at!r}, which does not exist",
                "/StartAt",
            )
        states: dict[str, AnyState] = {}
        for state_name, raw in states_raw.items():
            state = self.check_state(state_name, raw, set(states_raw))
            if state is not None:
                states[state_name] = state
        if start_at is not None and start_at in states_raw:
            self.check_reachable(start_at, states_raw)
        if self.problems or start_at is None:
            return None
        return StateMachine(name=name, start_at=start_at, states=states, comment=comment)

    # -- states ------------------------------------------------------------------------------

    def check_state(self, name: str, raw: Any, names: set[str]) -> AnyState | None:
        where = f"/States/{escape_pointer(name)}"
        if len(name) > MAX_STATE_NAME:
            self.problem(
                "INVALID_STATE_NAME", f"state names are at most {MAX_STATE_NAME} characters", where
            )
        if not isinstance(raw, dict):
            self.problem("INVALID_TYPE", "a state must be a JSON object", where)
            return None
        kind = raw.get("Type")
        if kind in UNSUPPORTED_TYPES:
            self.problem("UNSUPPORTED", f"{kind} states are not supported yet", f"{where}/Type")
            return None
        if kind not in ALLOWED_FIELDS:
            known = ", ".join(sorted(ALLOWED_FIELDS.keys() | UNSUPPORTED_TYPES))
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
            elif kind == "Task" and key in UNSUPPORTED_TASK_FIELDS:
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
        elif kind == "Succeed":
            state = SucceedState(**common)
        else:
            state = self.fail(raw, where, common)
        return state if len(self.problems) == before else None

    def task(
        self, raw: dict[str, Any], where: str, names: set[str], common: dict[str, Any]
    ) -> TaskState | None:
        resource = raw.get("Resource")
        function_name = ""
        if not isinstance(resource, str):
            what = "is missing" if resource is None else "must be a string"
            self.problem(
                "MISSING_FIELD" if resource is None else "INVALID_TYPE",
                f"'Resource' {what}",
                f"{where}/Resource",
            )
        elif resource.startswith("arn:aws:states:::"):
            integration = resource.removeprefix("arn:aws:states:::")
            self.problem(
                "UNSUPPORTED",
                f"the service integration {integration!r} is not supported yet; call a Lambda function by its ARN",
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
        catchers = self.catchers(raw.get("Catch"), f"{where}/Catch", names)
        return TaskState(
            **common,
            **self.moves(raw, where, names),
            resource=resource if isinstance(resource, str) else "",
            function_name=function_name,
            parameters=self.template(raw, "Parameters", where),
            result_selector=self.template(raw, "ResultSelector", where),
            result_path=self.reference_path(raw, "ResultPath", where),
            catchers=catchers,
        )

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
            if branch.next not in names:
                self.problem(
                    "MISSING_TRANSITION_TARGET",
                    f"'Next' names state {branch.next!r}, which does not exist",
                    f"{where}/Choices/{i}/Next",
                )
        default = self.optional_string(raw, "Default", where)
        if default is not None and default not in names:
            self.problem(
                "MISSING_TRANSITION_TARGET",
                f"'Default' names state {default!r}, which does not exist",
                f"{where}/Default",
            )
        return ChoiceState(**common, branches=tuple(branches), default=default)

    def fail(self, raw: dict[str, Any], where: str, common: dict[str, Any]) -> FailState:
        for field in ("Error", "Cause"):
            if field in raw and field + "Path" in raw:
                self.problem(
                    "MUTUALLY_EXCLUSIVE",
                    f"'{field}' and '{field}Path' cannot both be set",
                    f"{where}/{field}Path",
                )
        error_path = raw.get("ErrorPath")
        cause_path = raw.get("CausePath")
        return FailState(
            **common,
            error=self.optional_string(raw, "Error", where),
            cause=self.optional_string(raw, "Cause", where),
            error_path=self.reading_path(raw, "ErrorPath", where)
            if error_path is not None
            else None,
            cause_path=self.reading_path(raw, "CausePath", where)
            if cause_path is not None
            else None,
        )

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
        if target is not None and target not in names:
            self.problem(
                "MISSING_TRANSITION_TARGET",
                f"'Next' names state {target!r}, which does not exist",
                f"{where}/Next",
            )
        return {"next": target, "end": end is True}

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
            elif target not in names:
                self.problem(
                    "MISSING_TRANSITION_TARGET",
                    f"'Next' names state {target!r}, which does not exist",
                    f"{at}/Next",
                )
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

    def check_reachable(self, start_at: str, states_raw: dict[str, Any]) -> None:
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
                    f"/States/{escape_pointer(name)}",
                )


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
