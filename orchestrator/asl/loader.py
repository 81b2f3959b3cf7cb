"""Loading a definition: JSON text -> validated, compiled :class:`StateMachine`.

Validation collects every problem before giving up, as AWS's ValidateStateMachineDefinition
does, and locates each one by JSON Pointer and, from the source text, by line and column.
The work is bounded: a definition over AWS's 1 MiB is refused before it is parsed, JSON nested
deeper than :data:`messages.limits.MAX_JSON_DEPTH` or holding NaN, Infinity or numbers no
double can hold is refused where it goes wrong, and every later walk is linear in the size.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path as FilePath
from typing import Any, TypeVar

from messages import limits
from orchestrator.asl import errors, json_text, resources, services
from orchestrator.asl.bounds import MAX_RETRY_DELAY_SECONDS, MAX_TASK_SECONDS
from orchestrator.asl.choice import ChoiceBranch, compile_choices
from orchestrator.asl.definition import (
    AnyState,
    Catcher,
    ChoiceState,
    Distribution,
    FailState,
    ItemBatcher,
    ItemReader,
    MapState,
    ParallelState,
    PassState,
    ResultWriter,
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
from orchestrator.asl.jsonata import JsonataSyntaxError, compile_expression, is_expression
from orchestrator.asl.jsonata import compile_template as compile_jsonata_template
from orchestrator.asl.jsonata_states import ConditionRule
from orchestrator.asl.paths import (
    Path,
    ReferencePath,
    UnsupportedPath,
    compile_path,
    compile_reference_path,
)
from orchestrator.asl.resources import function_name_of
from orchestrator.asl.templates import Template, compile_assign, compile_template, escape_pointer

P = TypeVar("P", Path, ReferencePath)
_COMMON = {"Type", "Comment", "QueryLanguage"}
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
for _kind in ("Pass", "Task", "Choice", "Wait", "Parallel", "Map"):
    ALLOWED_FIELDS[_kind].add("Assign")
# The state types that may assign workflow variables (AWS: not Succeed or Fail).
_ASSIGNING = {kind for kind, fields in ALLOWED_FIELDS.items() if "Assign" in fields}
# Valid ASL of particular state types that is not run yet (none at the moment).
UNSUPPORTED_FIELDS: dict[str, set[str]] = {}
# The S3 reads an ItemReader may make, and AWS's limit on its MaxItems.
_READER_RESOURCES = {
    "arn:aws:states:::s3:getObject": "getObject",
    "arn:aws:states:::s3:listObjectsV2": "listObjectsV2",
}
_READER_CONFIG = {"InputType", "CSVHeaderLocation", "CSVHeaders", "CSVDelimiter", "MaxItems"}
_INPUT_TYPES = ("JSON", "JSONL", "CSV", "MANIFEST")
MAX_READER_ITEMS = 100_000_000
_MAX_LABEL = 40
_WRITER_RESOURCE = "arn:aws:states:::s3:putObject"
# A Label becomes part of ARNs: no whitespace, wildcards, brackets, slashes or colons.
_VALID_LABEL = re.compile(r"[^\s<>{}\[\]?*\"#%\\^|~`$&,;:/\x00-\x1f\x7f-\x9f]+")
TOP_LEVEL_FIELDS = {"Comment", "StartAt", "States", "Version", "TimeoutSeconds", "QueryLanguage"}
QUERY_LANGUAGES = ("JSONPath", "JSONata")
# The fields of the JSONata states run here (JSONPath's paths, Parameters and Result are not).
_JSONATA_COMMON = {"Type", "Comment", "QueryLanguage"}
JSONATA_FIELDS: dict[str, set[str]] = {
    "Pass": _JSONATA_COMMON | {"Next", "End", "Output", "Assign"},
    "Succeed": _JSONATA_COMMON | {"Output"},
    "Fail": _JSONATA_COMMON | {"Error", "Cause"},
    "Wait": _JSONATA_COMMON | {"Seconds", "Timestamp", "Next", "End", "Output", "Assign"},
    "Choice": _JSONATA_COMMON | {"Choices", "Default", "Output", "Assign"},
    "Task": _JSONATA_COMMON
    | {"Next", "End", "Output", "Assign", "Resource", "Arguments", "Credentials"}
    | {"TimeoutSeconds", "HeartbeatSeconds", "Retry", "Catch"},
    "Parallel": _JSONATA_COMMON
    | {"Next", "End", "Output", "Assign", "Arguments", "Branches", "Retry", "Catch"},
    "Map": _JSONATA_COMMON
    | {"Next", "End", "Output", "Assign", "Items", "ItemSelector", "ItemProcessor", "Iterator"}
    | {"MaxConcurrency", "ToleratedFailureCount", "ToleratedFailurePercentage"}
    | {"Retry", "Catch", "ItemReader", "ItemBatcher", "ResultWriter", "Label"},
}
# The fields of a catcher in each query language.
CATCHER_FIELDS = {
    "JSONPath": {"ErrorEquals", "Next", "ResultPath", "Comment", "Assign"},
    "JSONata": {"ErrorEquals", "Next", "Output", "Comment", "Assign"},
}
MAX_STATE_NAME = 80
# A definition with more problems than this lists the first ones and says how many more.
MAX_PROBLEMS = 1000
# The longest problem message; longer ones are cut in the middle.
MAX_MESSAGE = 500


def load_definition_file(path: str | FilePath) -> StateMachine:
    """Load ``NAME.asl.json`` (or ``NAME.json``) as state machine ``NAME``."""
    file = FilePath(path)
    name = file.name.removesuffix(".json").removesuffix(".asl")
    try:
        size = file.stat().st_size
        if size > limits.MAX_DEFINITION_BYTES:  # refused before it is read, whatever its size
            raise DefinitionError([_too_large(size)], str(file))
        text = file.read_text(encoding="utf-8-sig")  # a byte-order mark is not JSON
    except (OSError, UnicodeDecodeError) as exc:
        raise DefinitionError([Problem("UNREADABLE_FILE", str(exc))], str(file)) from exc
    return load_definition(text, name=name, source=str(file))


def load_definition(text: str, *, name: str, source: str = "") -> StateMachine:
    """Parse and validate definition ``text``; raises :class:`DefinitionError` listing problems."""
    document, duplicates = parse_definition(text, source)
    return check_definition(text, document, duplicates, name=name, source=source)


def check_definition(
    text: str, document: Any, duplicates: dict[int, list[str]], *, name: str, source: str = ""
) -> StateMachine:
    """Validate ``document`` and ``duplicates``, what :func:`parse_definition` made of
    ``text``; raises :class:`DefinitionError` listing problems located in ``text``."""
    checker = _Checker(duplicates)
    try:
        machine = checker.check(document, name)
    except RecursionError:  # cannot happen within MAX_JSON_DEPTH; a problem, never a crash
        problem = Problem("TOO_DEEPLY_NESTED", "the definition nests too deeply to be checked")
        raise DefinitionError([problem], source) from None
    if checker.problems:
        problems = checker.problems
        if len(problems) > MAX_PROBLEMS:
            more = len(problems) - MAX_PROBLEMS
            problems = [
                *problems[:MAX_PROBLEMS],
                Problem("TOO_MANY_PROBLEMS", f"{more} more problem(s) are not listed"),
            ]
        raise DefinitionError(locate_problems([_brief(p) for p in problems], text), source)
    assert machine is not None
    return dataclasses.replace(machine, source=text)


def parse_definition(text: str, source: str = "") -> tuple[Any, dict[int, list[str]]]:
    """The JSON value of definition ``text``, and the keys each object repeats (by ``id``).

    Raises :class:`DefinitionError` with one located problem when the text is too large, is
    not JSON, nests too deep or holds a number JSON has no value for.
    """
    # Counted in characters first: a text of more characters has more bytes still, and is
    # refused without encoding it.
    size = len(text)
    if size <= limits.MAX_DEFINITION_BYTES:
        size = len(text.encode("utf-8", "surrogatepass"))
    if size > limits.MAX_DEFINITION_BYTES:
        raise DefinitionError([_too_large(size)], source)
    try:
        limits.loads(text)
    except limits.JsonTooDeep as exc:
        raise DefinitionError([json_text.too_deep_problem(text, exc.limit)], source) from None
    except json.JSONDecodeError as exc:
        raise DefinitionError([json_text.syntax_problem(text, exc)], source) from None
    except ValueError as exc:  # NaN, Infinity, a number too large for a double
        raise DefinitionError([json_text.number_problem(text, exc)], source) from None
    # Parsed again to learn which keys an object repeats (Python keeps the last silently;
    # AWS refuses a state name given twice). Cannot fail: limits.loads accepted the text.
    duplicates: dict[int, list[str]] = {}

    def remember_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        value = dict(pairs)
        if len(value) != len(pairs):
            seen: set[str] = set()
            repeated = duplicates[id(value)] = []
            for key, _ in pairs:
                if key in seen:
                    repeated.append(key)
                seen.add(key)
        return value

    return json.loads(text, object_pairs_hook=remember_duplicates), duplicates


def _brief(problem: Problem) -> Problem:
    """``problem`` with its message cut in the middle past MAX_MESSAGE characters (a backstop:
    messages quote what they refuse, and a definition may hold a value of a megabyte)."""
    if len(problem.message) <= MAX_MESSAGE:
        return problem
    half = MAX_MESSAGE // 2
    cut = len(problem.message) - 2 * half
    message = f"{problem.message[:half]}...[{cut} characters]...{problem.message[-half:]}"
    return dataclasses.replace(problem, message=message)


def _too_large(size: int) -> Problem:
    return Problem(
        "DEFINITION_TOO_LARGE",
        f"the definition is over the limit of {limits.MAX_DEFINITION_BYTES} bytes of UTF-8"
        f" (1 MiB, as on AWS): {size} bytes or more",
    )


def locate_problems(problems: list[Problem], text: str) -> list[Problem]:
    """Fill in line and column (1-based) from the text for each problem's pointer.

    A pointer that is not in the text (a field that is missing) is placed at the nearest
    enclosing value that is.
    """
    wanted: set[str] = set()
    for problem in problems:
        pointer = problem.pointer
        while pointer not in wanted:
            wanted.add(pointer)
            pointer = pointer.rpartition("/")[0]
    found = json_text.locate(text, wanted)
    lines = json_text.LineIndex(text)
    located = []
    for problem in problems:
        pointer = problem.pointer
        while pointer not in found and pointer:
            pointer = pointer.rpartition("/")[0]
        entry = found.get(pointer)
        if entry is None or problem.line is not None:
            located.append(problem)
            continue
        key_offset, value_offset = entry
        offset = key_offset if problem.code == "UNKNOWN_FIELD" and key_offset else value_offset
        line, column = lines.line_column(offset)
        located.append(Problem(problem.code, problem.message, problem.pointer, line, column))
    return located


class _Checker:
    """Walks a parsed definition, collecting problems and building compiled states."""

    def __init__(self, duplicates: dict[int, list[str]] | None = None) -> None:
        self.problems: list[Problem] = []
        self.duplicates = duplicates or {}  # keys an object repeats, by the object's id
        self.state_names: dict[str, str] = {}  # every state name so far -> its pointer
        self.default_language = "JSONPath"  # the machine's QueryLanguage
        self.language = "JSONPath"  # the state being checked's

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
                    f"field {errors.abbreviate(key)} is not allowed at the top level",
                    f"/{escape_pointer(key)}",
                )
        if not self.query_language(document, ""):
            return None  # the states are JSONata: checking them as JSONPath says nothing
        timeout = self.integer(document, "TimeoutSeconds", "", 1, MAX_TASK_SECONDS)
        comment = self.optional_string(document, "Comment", "")
        self.scopes: list[Scope | None] = []
        self.check_scope(document, "")
        if self.problems:
            return None
        scopes = tuple(scope for scope in self.scopes if scope is not None)
        return StateMachine(name=name, scopes=scopes, comment=comment, timeout_seconds=timeout)

    def query_language(self, raw: dict[str, Any], where: str) -> bool:
        """Whether ``QueryLanguage`` is valid here; the language of the object is set in
        :attr:`language` (a state inherits the machine's)."""
        language = raw.get("QueryLanguage", self.default_language)
        if language not in QUERY_LANGUAGES:
            self.problem(
                "INVALID_VALUE",
                f"'QueryLanguage' must be one of {', '.join(QUERY_LANGUAGES)}",
                f"{where}/QueryLanguage",
            )
            return False
        if where and self.default_language == "JSONata" and language == "JSONPath":
            self.problem(
                "INVALID_VALUE",
                "a state cannot use JSONPath when the state machine's QueryLanguage is JSONata",
                f"{where}/QueryLanguage",
            )
            return False
        self.language = language
        if not where:
            self.default_language = language
        return True

    def check_scope(self, raw: dict[str, Any], where: str) -> int:
        """Check a set of states with a StartAt (the machine, a branch, an iterator); its id."""
        scope_id = len(self.scopes)
        self.scopes.append(None)  # reserve the id: nested scopes number after their parent
        outer_language = self.language  # its states set their own; the owner's comes back
        states_raw = raw.get("States")
        if not isinstance(states_raw, dict) or not states_raw:
            what = "is missing" if states_raw is None else "must be a non-empty object"
            code = "MISSING_FIELD" if states_raw is None else "INVALID_TYPE"
            self.problem(code, f"'States' {what}", f"{where}/States")
            states_raw = {}
        start_at = raw.get("StartAt")
        names = set(states_raw)
        if not isinstance(start_at, str):
            what = "is missing" if start_at is None else "must be a string"
            code = "MISSING_FIELD" if start_at is None else "INVALID_TYPE"
            self.problem(code, f"'StartAt' {what}", f"{where}/StartAt")
            start_at = None
        elif states_raw:
            self.target_exists(start_at, "StartAt", f"{where}/StartAt", names)
        for repeated in self.duplicates.get(id(states_raw), ()):
            self.problem(
                "DUPLICATE_STATE_NAME",
                f"state name {errors.abbreviate(repeated)} is given twice in this 'States' object (JSON keeps"
                " only the last); state names must be unique in the whole state machine",
                f"{where}/States/{escape_pointer(repeated)}",
            )
        states: dict[str, AnyState] = {}
        for state_name, state_raw in states_raw.items():
            pointer = f"{where}/States/{escape_pointer(state_name)}"
            if (first := self.state_names.setdefault(state_name, pointer)) != pointer:
                self.problem(
                    "DUPLICATE_STATE_NAME",
                    f"state name {errors.abbreviate(state_name)} is already used at"
                    f" {errors.abbreviate(first)}; state names must be"
                    " unique in the whole state machine, Parallel branches and Map processors"
                    " included",
                    pointer,
                )
            state = self.check_state(state_name, state_raw, names, where)
            if state is not None:
                states[state_name] = state
        if states_raw and not any(_terminal(state) for state in states_raw.values()):
            # AWS checks that some state ends the workflow, and then reports no unreachable
            # states (they would be every state but the loop's).
            self.problem(
                "MISSING_END_STATE",
                "no state ends this "
                + ("workflow" if not where else "branch" if "/Branches/" in where else "iteration")
                + ': a Succeed or Fail state, or a state with "End": true, is needed',
                f"{where}/States",
            )
        elif start_at is not None and start_at in states_raw:
            self.check_reachable(start_at, states_raw, where)
        if start_at is not None:
            self.scopes[scope_id] = Scope(start_at, states)
        self.language = outer_language
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
        if not isinstance(kind, str) or kind not in ALLOWED_FIELDS:
            known = ", ".join(sorted(ALLOWED_FIELDS))
            what = (
                "is missing"
                if kind is None
                else f"{errors.abbreviate(kind)} is not a state type ({known})"
            )
            self.problem(
                "MISSING_FIELD" if kind is None else "INVALID_STATE_TYPE",
                f"'Type' {what}",
                f"{where}/Type",
            )
            return None
        before = len(self.problems)
        if not self.query_language(raw, where):
            return None
        if self.language == "JSONata":
            jsonata = self.jsonata_state(raw, where, names, kind, name)
            return jsonata if len(self.problems) == before else None
        for key in raw:
            if key not in ALLOWED_FIELDS[kind] and key in JSONATA_FIELDS[kind]:
                self.problem(
                    "INVALID_FIELD",
                    f"field {errors.abbreviate(key)} is not allowed in a JSONPath {kind} state"
                    ' (it is JSONata\'s: set "QueryLanguage": "JSONata")',
                    f"{where}/{escape_pointer(key)}",
                )
            elif key not in ALLOWED_FIELDS[kind]:
                self.problem(
                    "UNKNOWN_FIELD",
                    f"field {errors.abbreviate(key)} is not allowed in a {kind} state",
                    f"{where}/{escape_pointer(key)}",
                )
            elif key in UNSUPPORTED_FIELDS.get(kind, ()):
                self.problem(
                    "UNSUPPORTED",
                    f"field {key!r} of {kind} states is not supported yet",
                    f"{where}/{escape_pointer(key)}",
                )
        common: dict[str, Any] = {
            "name": name,
            "type": kind,
            "comment": self.optional_string(raw, "Comment", where),
        }
        if "Assign" in raw and kind in _ASSIGNING:
            common["assign"] = self.assign(raw["Assign"], f"{where}/Assign")
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
        kind = resources.Resource("invalid")
        integration, function_name = "function", ""
        if not isinstance(resource, str):
            what = "is missing" if resource is None else "must be a string"
            self.problem(
                "MISSING_FIELD" if resource is None else "INVALID_TYPE",
                f"'Resource' {what}",
                f"{where}/Resource",
            )
        else:
            kind = resources.classify(resource)
            function_name = kind.function_name
            if kind.kind == "service":
                integration = self.integration(kind, raw, where)
                given = raw.get(self.arguments_field)
                name = given.get("FunctionName") if isinstance(given, dict) else None
                if integration == "invoke" and isinstance(name, str) and not is_expression(name):
                    # Known before it runs: the shell declares its queue up front.
                    function_name = function_name_of(name)
            elif kind.kind == "activity":
                integration = "activity"
            elif kind.kind == "invalid":
                self.problem("INVALID_RESOURCE", kind.problem, f"{where}/Resource")
        timeout = self.seconds(raw, "TimeoutSeconds", where)
        heartbeat = self.seconds(raw, "HeartbeatSeconds", where)
        limit = timeout.value if timeout is not None else None  # None: absent or a Path
        beat = heartbeat.value if heartbeat is not None else None
        if limit is not None and beat is not None and beat >= limit:
            self.problem(
                "INVALID_VALUE",
                f"'HeartbeatSeconds' ({beat}) must be smaller than 'TimeoutSeconds' ({limit})",
                f"{where}/HeartbeatSeconds",
            )
        return TaskState(
            **common,
            **self.moves(raw, where, names),
            **self.recovery(raw, where, names),
            resource=resource if isinstance(resource, str) else "",
            function_name=function_name,
            integration=integration,  # type: ignore[arg-type]
            service=kind.service,
            action=kind.action,
            pattern=kind.pattern,
            region=kind.region,
            wait_for_token=kind.wait_for_token,
            timeout=timeout,
            heartbeat=heartbeat,
            credentials=self.any_template(raw, "Credentials", where),
        )

    def integration(self, kind: resources.Resource, raw: dict[str, Any], where: str) -> str:
        """``invoke`` for Lambda's invoke integration, else ``service``; a problem for a
        service, action or pattern AWS does not have."""
        problem = services.resource_problem(kind.service, kind.action, kind.pattern)
        if problem is not None:
            self.problem("INVALID_RESOURCE", problem, f"{where}/Resource")
        if (kind.service, kind.action) != ("lambda", "invoke"):
            return "service"
        field = self.arguments_field
        parameters = raw.get(field)
        if field == "Arguments" and isinstance(parameters, str) and is_expression(parameters):
            return "invoke"  # the expression gives the FunctionName
        if not isinstance(parameters, dict) or not (
            "FunctionName" in parameters or "FunctionName.$" in parameters
        ):
            self.problem(
                "MISSING_FIELD",
                f"the lambda:invoke integration needs {field}.FunctionName",
                f"{where}/{field}",
            )
        return "invoke"

    def recovery(self, raw: dict[str, Any], where: str, names: set[str]) -> dict[str, Any]:
        """Parameters, ResultSelector, ResultPath, Retry and Catch of Task/Parallel/Map (or
        Arguments, Retry and Catch in a JSONata state)."""
        if self.language == "JSONata":
            return {
                "arguments": self.jsonata_template(raw["Arguments"], f"{where}/Arguments")
                if "Arguments" in raw
                else None,
                "result_path": compile_reference_path("$"),
                "retriers": self.retriers(raw.get("Retry"), f"{where}/Retry"),
                "catchers": self.catchers(raw.get("Catch"), f"{where}/Catch", names),
            }
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
        """``key`` (an integer up to 99999999) or ``key + 'Path'``; None when neither is given.

        Positive, or non-negative with ``allow_zero``. A ``...Path`` is checked when it is read.
        """
        value, path = raw.get(key), raw.get(key + "Path")
        if self.language == "JSONata" and isinstance(value, str) and is_expression(value):
            expression = self.jsonata_expression(raw, key, where)
            return Seconds(expression=expression) if expression is not None else None
        if value is not None and path is not None:
            self.problem(
                "MUTUALLY_EXCLUSIVE",
                f"'{key}' and '{key}Path' cannot both be set",
                f"{where}/{key}",
            )
            return None
        if value is not None:
            checked = self.integer(raw, key, where, 0 if allow_zero else 1, MAX_TASK_SECONDS)
            return Seconds(value=checked) if checked is not None else None
        if path is not None:
            compiled = self.reading_path(raw, key + "Path", where)
            return Seconds(path=compiled) if compiled is not None else None
        return None

    def integer(self, raw: dict[str, Any], key: str, where: str, low: int, high: int) -> int | None:
        """``raw[key]`` when it is an integer from ``low`` to ``high``; None (and a problem,
        unless the field is absent) otherwise."""
        value = raw.get(key)
        if value is None:
            return None
        wanted = f"'{key}' must be an integer from {low} to {high}"
        if not _int(value):
            self.problem("INVALID_TYPE", wanted, f"{where}/{key}")
            return None
        if not low <= value <= high:
            self.problem(
                "INVALID_VALUE", f"{wanted}, not {errors.abbreviate(value)}", f"{where}/{key}"
            )
            return None
        return int(value)

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
                f"'Timestamp' {errors.abbreviate(timestamp)} is not an ISO-8601 date-time with an offset",
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
        distribution: Distribution | None = None
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
            distribution = self.distribution(raw, processor, f"{where}/{key}", where)
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
            items=self.jsonata_template(raw["Items"], f"{where}/Items") if "Items" in raw else None,
            item_selector=self.any_template(raw, selector_key, where),
            max_concurrency=concurrency,
            tolerated_failure_count=self.seconds(
                raw, "ToleratedFailureCount", where, allow_zero=True
            ),
            tolerated_failure_percentage=self.percentage(raw, where),
            distribution=distribution,
        )

    def distribution(
        self, raw: dict[str, Any], processor: dict[str, Any], at: str, where: str
    ) -> Distribution | None:
        """A DISTRIBUTED Map's settings (None for INLINE, whose own fields they are not)."""
        config = processor.get("ProcessorConfig") or {}
        if not isinstance(config, dict):
            self.problem(
                "INVALID_TYPE", "'ProcessorConfig' must be an object", f"{at}/ProcessorConfig"
            )
            config = {}
        self.unknown_fields(
            config, {"Mode", "ExecutionType"}, f"{at}/ProcessorConfig", "ProcessorConfig"
        )
        mode = config.get("Mode", "INLINE")
        if mode not in ("INLINE", "DISTRIBUTED"):
            self.problem(
                "INVALID_VALUE",
                f"'Mode' must be INLINE or DISTRIBUTED, not {errors.abbreviate(mode)}",
                f"{at}/ProcessorConfig/Mode",
            )
            return None
        if mode == "INLINE":
            for field in ("ItemReader", "ItemBatcher", "ResultWriter", "Label"):
                if field in raw:
                    self.problem(
                        "INVALID_FIELD",
                        f"'{field}' needs ProcessorConfig.Mode DISTRIBUTED",
                        f"{where}/{field}",
                    )
            return None
        execution_type = config.get("ExecutionType")
        if execution_type not in ("STANDARD", "EXPRESS"):
            self.problem(
                "INVALID_VALUE" if "ExecutionType" in config else "MISSING_FIELD",
                "a DISTRIBUTED Map needs ProcessorConfig.ExecutionType STANDARD or EXPRESS",
                f"{at}/ProcessorConfig/ExecutionType",
            )
            execution_type = "STANDARD"
        label = raw.get("Label")
        if label is not None and not (
            isinstance(label, str)
            and 0 < len(label) <= _MAX_LABEL
            and _VALID_LABEL.fullmatch(label)
        ):
            self.problem(
                "INVALID_VALUE",
                f"'Label' must be 1 to {_MAX_LABEL} characters with no spaces, slashes, colons"
                " or wildcards",
                f"{where}/Label",
            )
            label = None
        return Distribution(
            execution_type="EXPRESS" if execution_type == "EXPRESS" else "STANDARD",
            label=label,
            reader=self.item_reader(raw, where) if "ItemReader" in raw else None,
            batcher=self.item_batcher(raw, where) if "ItemBatcher" in raw else None,
            writer=self.result_writer(raw, where) if "ResultWriter" in raw else None,
        )

    def result_writer(self, raw: dict[str, Any], where: str) -> ResultWriter | None:
        at = f"{where}/ResultWriter"
        writer = raw["ResultWriter"]
        if not isinstance(writer, dict):
            self.problem("INVALID_TYPE", "'ResultWriter' must be an object", at)
            return None
        arguments_key = "Arguments" if self.language == "JSONata" else "Parameters"
        self.unknown_fields(writer, {"Resource", arguments_key, "WriterConfig"}, at, "ResultWriter")
        if writer.get("Resource") != _WRITER_RESOURCE:
            self.problem(
                "INVALID_VALUE",
                f"ResultWriter's 'Resource' must be {_WRITER_RESOURCE}",
                f"{at}/Resource",
            )
        config = writer.get("WriterConfig") or {}
        if not isinstance(config, dict):
            self.problem("INVALID_TYPE", "'WriterConfig' must be an object", f"{at}/WriterConfig")
            config = {}
        self.unknown_fields(
            config, {"OutputType", "Transformation"}, f"{at}/WriterConfig", "WriterConfig"
        )
        for field, allowed in (
            ("OutputType", ("JSON", "JSONL")),
            ("Transformation", ("NONE", "COMPACT", "FLATTEN")),
        ):
            if field in config and config[field] not in allowed:
                self.problem(
                    "INVALID_VALUE",
                    f"'{field}' must be one of " + ", ".join(allowed),
                    f"{at}/WriterConfig/{field}",
                )
        if arguments_key not in writer:
            self.problem(
                "MISSING_FIELD", f"a ResultWriter needs '{arguments_key}' (Bucket, Prefix)", at
            )
            return None
        arguments = self.any_template(writer, arguments_key, at)
        return ResultWriter(arguments=arguments, config=dict(config))

    def item_reader(self, raw: dict[str, Any], where: str) -> ItemReader | None:
        at = f"{where}/ItemReader"
        reader = raw["ItemReader"]
        if not isinstance(reader, dict):
            self.problem("INVALID_TYPE", "'ItemReader' must be an object", at)
            return None
        arguments_key = "Arguments" if self.language == "JSONata" else "Parameters"
        self.unknown_fields(reader, {"Resource", arguments_key, "ReaderConfig"}, at, "ItemReader")
        action = _READER_RESOURCES.get(str(reader.get("Resource")))
        if action is None:
            self.problem(
                "INVALID_VALUE",
                "ItemReader's 'Resource' must be one of " + ", ".join(_READER_RESOURCES),
                f"{at}/Resource",
            )
            return None
        config = reader.get("ReaderConfig") or {}
        if not isinstance(config, dict):
            self.problem("INVALID_TYPE", "'ReaderConfig' must be an object", f"{at}/ReaderConfig")
            config = {}
        self.unknown_fields(
            config,
            _READER_CONFIG | ({"MaxItemsPath"} if self.language == "JSONPath" else set()),
            f"{at}/ReaderConfig",
            "ReaderConfig",
        )
        input_type = config.get("InputType")
        if action == "getObject" and input_type is not None and input_type not in _INPUT_TYPES:
            self.problem(
                "INVALID_VALUE",
                "'InputType' must be one of " + ", ".join(_INPUT_TYPES),
                f"{at}/ReaderConfig/InputType",
            )
        max_items: Seconds | None
        value = config.get("MaxItems")
        if value is not None and not (self.language == "JSONata" and isinstance(value, str)):
            checked = self.integer(config, "MaxItems", f"{at}/ReaderConfig", 0, MAX_READER_ITEMS)
            max_items = Seconds(value=checked) if checked is not None else None
        else:
            max_items = self.seconds(config, "MaxItems", f"{at}/ReaderConfig", allow_zero=True)
        arguments = (
            self.any_template(reader, arguments_key, at) if arguments_key in reader else None
        )
        rest = {k: v for k, v in config.items() if k not in ("MaxItems", "MaxItemsPath")}
        return ItemReader(action=action, arguments=arguments, config=rest, max_items=max_items)

    def item_batcher(self, raw: dict[str, Any], where: str) -> ItemBatcher | None:
        at = f"{where}/ItemBatcher"
        batcher = raw["ItemBatcher"]
        if not isinstance(batcher, dict):
            self.problem("INVALID_TYPE", "'ItemBatcher' must be an object", at)
            return None
        fields = {"MaxItemsPerBatch", "MaxInputBytesPerBatch", "BatchInput"}
        if self.language == "JSONPath":
            fields |= {"MaxItemsPerBatchPath", "MaxInputBytesPerBatchPath"}
        self.unknown_fields(batcher, fields, at, "ItemBatcher")
        max_items = self.seconds(batcher, "MaxItemsPerBatch", at)
        max_bytes = self.seconds(batcher, "MaxInputBytesPerBatch", at)
        if max_items is None and max_bytes is None:
            self.problem(
                "MISSING_FIELD",
                "an ItemBatcher needs MaxItemsPerBatch or MaxInputBytesPerBatch (or a Path form)",
                at,
            )
        batch_input = (
            self.any_template(batcher, "BatchInput", at) if "BatchInput" in batcher else None
        )
        return ItemBatcher(max_items=max_items, max_bytes=max_bytes, batch_input=batch_input)

    def percentage(self, raw: dict[str, Any], where: str) -> Seconds | None:
        """ToleratedFailurePercentage: a number from 0 to 100 (or its Path form)."""
        value = raw.get("ToleratedFailurePercentage")
        if value is None or (isinstance(value, str) and self.language == "JSONata"):
            return self.seconds(raw, "ToleratedFailurePercentage", where, allow_zero=True)
        if not _number(value) or not 0 <= value <= 100:
            self.problem(
                "INVALID_TYPE" if not _number(value) else "INVALID_VALUE",
                "'ToleratedFailurePercentage' must be a number from 0 to 100",
                f"{where}/ToleratedFailurePercentage",
            )
            return None
        if "ToleratedFailurePercentagePath" in raw:
            self.problem(
                "MUTUALLY_EXCLUSIVE",
                "'ToleratedFailurePercentage' and 'ToleratedFailurePercentagePath' cannot both"
                " be set",
                f"{where}/ToleratedFailurePercentage",
            )
            return None
        return Seconds(value=value)  # a percentage: may be fractional

    def unknown_fields(self, raw: dict[str, Any], allowed: set[str], where: str, what: str) -> None:
        for key in raw:
            if key not in allowed:
                self.problem(
                    "UNKNOWN_FIELD",
                    f"field {errors.abbreviate(key)} is not allowed in {what}",
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
            interval = self.integer(item, "IntervalSeconds", at, 1, MAX_TASK_SECONDS)
            attempts = self.integer(item, "MaxAttempts", at, 0, MAX_TASK_SECONDS)
            max_delay = self.integer(item, "MaxDelaySeconds", at, 1, MAX_RETRY_DELAY_SECONDS)
            backoff = item.get("BackoffRate", 2.0)
            jitter = item.get("JitterStrategy", "NONE")
            if not _number(backoff) or backoff < 1:
                self.problem(
                    "INVALID_TYPE" if not _number(backoff) else "INVALID_VALUE",
                    "'BackoffRate' must be a number of at least 1.0",
                    f"{at}/BackoffRate",
                )
            if jitter not in ("FULL", "NONE"):
                self.problem(
                    "INVALID_VALUE", "'JitterStrategy' must be FULL or NONE", f"{at}/JitterStrategy"
                )
            result.append(
                Retrier(
                    tuple(equals),
                    1 if interval is None else interval,
                    3 if attempts is None else attempts,
                    float(backoff) if _number(backoff) else 2.0,
                    max_delay,
                    jitter,
                )
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
                f"'{field}' names state {errors.abbreviate(target)}, which does not exist",
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
            allowed = CATCHER_FIELDS[self.language]
            for key in item:
                if key not in allowed:
                    other = any(key in fields for fields in CATCHER_FIELDS.values())
                    self.problem(
                        "INVALID_FIELD" if other else "UNKNOWN_FIELD",
                        f"field {errors.abbreviate(key)} is not allowed in a {self.language}"
                        " catcher",
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
            if self.language == "JSONata":
                path = None
                assign = (
                    self.jsonata_assign(item["Assign"], f"{at}/Assign")
                    if "Assign" in item
                    else None
                )
                output = (
                    self.jsonata_template(item["Output"], f"{at}/Output")
                    if "Output" in item
                    else None
                )
            else:
                path = self.reference_path(item, "ResultPath", at)
                assign = self.assign(item["Assign"], f"{at}/Assign") if "Assign" in item else None
                output = None
            if isinstance(target, str):
                result.append(Catcher(tuple(equals), target, path, assign, output))
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

    # -- JSONata states ------------------------------------------------------------------------

    def jsonata_state(
        self, raw: dict[str, Any], where: str, names: set[str], kind: str, name: str
    ) -> AnyState | None:
        """A JSONata state: its fields are values or ``{% %}`` expressions."""
        allowed = JSONATA_FIELDS[kind]
        for key in raw:
            if key in UNSUPPORTED_FIELDS.get(kind, ()):
                self.problem(
                    "UNSUPPORTED",
                    f"field {key!r} of {kind} states is not supported yet",
                    f"{where}/{escape_pointer(key)}",
                )
            elif key not in allowed:
                jsonpath = key in ALLOWED_FIELDS[kind]
                self.problem(
                    "INVALID_FIELD" if jsonpath else "UNKNOWN_FIELD",
                    f"field {errors.abbreviate(key)} is not allowed in a JSONata {kind} state"
                    + (" (it is JSONPath's)" if jsonpath else ""),
                    f"{where}/{escape_pointer(key)}",
                )
        common: dict[str, Any] = {
            "name": name,
            "type": kind,
            "comment": self.optional_string(raw, "Comment", where),
            "query_language": "JSONata",
            "input_path": compile_path("$"),
            "output_path": compile_path("$"),
        }
        if "Output" in raw:
            common["output"] = self.jsonata_template(raw["Output"], f"{where}/Output")
        if "Assign" in raw:
            common["assign"] = self.jsonata_assign(raw["Assign"], f"{where}/Assign")
        if kind == "Task":
            return self.task(raw, where, names, common)
        if kind == "Parallel":
            return self.parallel(raw, where, names, common)
        if kind == "Map":
            return self.map(raw, where, names, common)
        if kind == "Pass":
            return PassState(**common, **self.moves(raw, where, names), result_path=None)
        if kind == "Succeed":
            return SucceedState(**common)
        if kind == "Fail":
            return FailState(
                **common,
                error=raw["Error"] if isinstance(raw.get("Error"), str) else None,
                cause=raw["Cause"] if isinstance(raw.get("Cause"), str) else None,
                error_expression=self.jsonata_expression(raw, "Error", where),
                cause_expression=self.jsonata_expression(raw, "Cause", where),
            )
        if kind == "Wait":
            seconds, timestamp = raw.get("Seconds"), raw.get("Timestamp")
            if (seconds is None) == (timestamp is None):
                self.problem(
                    "MISSING_FIELD", "a Wait state needs one of Seconds and Timestamp", where
                )
            plain_seconds = None
            if seconds is not None and not is_expression(seconds):
                plain_seconds = self.seconds(raw, "Seconds", where, allow_zero=True)
            return WaitState(
                **common,
                **self.moves(raw, where, names),
                seconds=plain_seconds,
                timestamp=timestamp
                if isinstance(timestamp, str) and not is_expression(timestamp)
                else None,
                seconds_expression=self.jsonata_expression(raw, "Seconds", where),
                timestamp_expression=self.jsonata_expression(raw, "Timestamp", where),
            )
        return self.jsonata_choice(raw, where, names, common)

    def jsonata_choice(
        self, raw: dict[str, Any], where: str, names: set[str], common: dict[str, Any]
    ) -> ChoiceState:
        choices = raw.get("Choices")
        branches = []
        if not isinstance(choices, list) or not choices:
            self.problem("INVALID_TYPE", "'Choices' must be a non-empty array", f"{where}/Choices")
            choices = []
        for i, rule in enumerate(choices):
            at = f"{where}/Choices/{i}"
            if not isinstance(rule, dict):
                self.problem("INVALID_TYPE", "a choice rule must be an object", at)
                continue
            for key in rule:
                if key not in {"Condition", "Next", "Comment", "Output", "Assign"}:
                    self.problem(
                        "UNKNOWN_FIELD",
                        f"field {errors.abbreviate(key)} is not allowed in a JSONata choice rule",
                        f"{at}/{escape_pointer(key)}",
                    )
            condition = rule.get("Condition")
            target = rule.get("Next")
            if not isinstance(target, str):
                self.problem("MISSING_FIELD", "a choice rule needs 'Next'", f"{at}/Next")
                continue
            self.target_exists(target, "Next", f"{at}/Next", names)
            if isinstance(condition, bool):
                test: Any = condition
            elif is_expression(condition):
                test = self.jsonata_expression(rule, "Condition", at)
            else:
                self.problem(
                    "INVALID_TYPE",
                    "'Condition' must be a boolean or a {% %} expression",
                    f"{at}/Condition",
                )
                continue
            branches.append(
                ChoiceBranch(
                    ConditionRule(test, f"{at}/Condition"),
                    target,
                    self.jsonata_assign(rule["Assign"], f"{at}/Assign")
                    if "Assign" in rule
                    else None,
                    self.jsonata_template(rule["Output"], f"{at}/Output")
                    if "Output" in rule
                    else None,
                )
            )
        default = self.optional_string(raw, "Default", where)
        if default is not None:
            self.target_exists(default, "Default", f"{where}/Default", names)
        return ChoiceState(**common, branches=tuple(branches), default=default)

    def jsonata_expression(self, raw: dict[str, Any], key: str, where: str) -> Any:
        """``raw[key]`` compiled when it is a ``{% %}`` expression; None otherwise."""
        value = raw.get(key)
        if not isinstance(value, str) or not is_expression(value):
            return None
        try:
            return compile_expression(value)
        except JsonataSyntaxError as exc:
            self.problem("INVALID_JSONATA", f"{exc}", f"{where}/{escape_pointer(key)}")
            return None

    def jsonata_template(self, value: Any, where: str) -> Any:
        try:
            return compile_jsonata_template(value)
        except JsonataSyntaxError as exc:
            self.problem("INVALID_JSONATA", f"{exc}", where + (exc.pointer or ""))
            return None

    def jsonata_assign(self, value: Any, where: str) -> Any:
        if not isinstance(value, dict):
            self.problem("INVALID_TYPE", "'Assign' must be a JSON object", where)
            return None
        return self.jsonata_template(value, where)

    def assign(self, raw: Any, where: str) -> Template | None:
        """An ``Assign`` object, compiled (every problem of its names and values reported)."""
        template, problems = compile_assign(raw, where)
        for code, message, pointer in problems:
            self.problem(code, message, pointer)
        return template

    @property
    def arguments_field(self) -> str:
        """Where the state being checked gives its task's arguments."""
        return "Arguments" if self.language == "JSONata" else "Parameters"

    def any_template(self, raw: dict[str, Any], key: str, where: str) -> Any:
        """``raw[key]`` compiled as a template of the state's query language; None if absent."""
        if self.language == "JSONata":
            return self.jsonata_template(raw[key], f"{where}/{key}") if key in raw else None
        return self.template(raw, key, where)

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
                    f"state {errors.abbreviate(name)} cannot be reached from StartAt",
                    f"{scope}/States/{escape_pointer(name)}",
                )


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value: Any) -> bool:
    """A finite JSON number (``limits.loads`` refuses NaN and infinities in the text)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _terminal(raw: Any) -> bool:
    """Whether a raw state ends its scope: Succeed, Fail, or ``"End": true``."""
    return isinstance(raw, dict) and (
        raw.get("Type") in ("Succeed", "Fail") or raw.get("End") is True
    )


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
