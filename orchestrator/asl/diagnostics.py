"""AWS's answer to ValidateStateMachineDefinition, made from this engine's own problems.

The loader's codes say more (``INVALID_JSONPATH``, ``UNKNOWN_FIELD``, ...) and the CLI keeps
them. The API answers as AWS does: AWS's diagnostic codes (the ``stepfunctions`` API model:
INVALID_JSON_DESCRIPTION, MISSING_DESCRIPTION, SCHEMA_VALIDATION_FAILED, INVALID_RESOURCE,
MISSING_END_STATE, DUPLICATE_STATE_NAME, INVALID_STATE_NAME, MISSING_TRANSITION_TARGET,
TOO_DEEPLY_NESTED), AWS's messages where they are known, and AWS's locations: a path such as
``/States/C/Choices[0]/Next`` (array elements in brackets), ``/`` for the definition itself,
none for a workflow with no terminal state, and for invalid JSON the parser's
``[Source: (String)"..."; line: L, column: C]``.

A valid definition that reads a variable before any state can have assigned it gets a WARNING
(``UNASSIGNED_VARIABLE``, see :mod:`.variable_check`): AWS creates it, and the state fails
when it runs.

Valid ASL this engine does not run yet keeps its own code, ``UNSUPPORTED``, as an ERROR: AWS
would accept it, but a state machine cannot be created with it here, and an ERROR says exactly
that ("you cannot create or update a state machine with this definition").
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from orchestrator.asl.errors import DefinitionError, Problem
from orchestrator.asl.loader import check_definition, parse_definition
from orchestrator.asl.variable_check import unassigned_reads

# AWS's default and largest maxResults; 0 means the default.
MAX_RESULTS = 100
# This engine's codes whose AWS code has the same name or a named counterpart; every other
# code is a schema problem on AWS (SCHEMA_VALIDATION_FAILED).
AWS_CODES = {
    "INVALID_JSON": "INVALID_JSON_DESCRIPTION",
    "TOO_DEEPLY_NESTED": "TOO_DEEPLY_NESTED",
    "INVALID_RESOURCE": "INVALID_RESOURCE",
    "MISSING_END_STATE": "MISSING_END_STATE",
    "DUPLICATE_STATE_NAME": "DUPLICATE_STATE_NAME",
    "INVALID_STATE_NAME": "INVALID_STATE_NAME",
    "MISSING_TRANSITION_TARGET": "MISSING_TRANSITION_TARGET",
    "UNREACHABLE_STATE": "MISSING_TRANSITION_TARGET",  # AWS: 'State "X" is not reachable.'
    "UNSUPPORTED": "UNSUPPORTED",
}
SCHEMA = "SCHEMA_VALIDATION_FAILED"
# Jackson, AWS's JSON parser, quotes at most this much of the text in its locations.
_SOURCE_EXCERPT = 500
_REQUIRED = ("StartAt", "States", "Type", "Resource")


def aws_diagnostics(
    text: str, *, max_results: int = MAX_RESULTS, machine_type: str = "STANDARD"
) -> dict[str, Any]:
    """ValidateStateMachineDefinition's output for definition ``text``.

    ``{"result": "OK" | "FAIL", "diagnostics": [{"severity", "code", "message"[, "location"]}],
    "truncated": bool}``; at most ``max_results`` diagnostics (0, or more than 100, means 100,
    as on AWS). ``machine_type`` EXPRESS adds AWS's refusal of ``.waitForTaskToken`` and
    ``.sync`` integrations. Pure: no I/O.
    """
    limit = max_results if 0 < max_results <= MAX_RESULTS else MAX_RESULTS
    if not text.strip():
        code = "MISSING_DESCRIPTION" if not text else SCHEMA
        message = (
            "Received a null or empty workflow input"
            if not text
            else "Definition must be a valid JSON object"
        )
        return _answer([_diagnostic(code, message)], limit)
    document: Any = None  # the definition's JSON value, unless the text cannot be read
    problems: list[Problem] = []
    try:
        document, duplicates = parse_definition(text)
        check_definition(text, document, duplicates, name="Validation")
    except DefinitionError as exc:
        problems = exc.problems
    diagnostics = _convert(problems, document, text)
    if not problems:
        # Valid, and AWS would create it; a variable read before any state assigns it fails
        # the state when it runs: a warning (result stays OK).
        diagnostics.extend(
            {
                "severity": "WARNING",
                "code": problem.code,
                "message": problem.message,
                "location": _location(problem.pointer, document),
            }
            for problem in unassigned_reads(document)
        )
    if machine_type == "EXPRESS" and document is not None:
        diagnostics.extend(_express(document))
    truncated = any(p.code == "TOO_MANY_PROBLEMS" for p in problems)
    return _answer(diagnostics, limit, truncated=truncated)


def _answer(
    diagnostics: list[dict[str, str]], limit: int, *, truncated: bool = False
) -> dict[str, Any]:
    failed = any(d["severity"] == "ERROR" for d in diagnostics)
    return {
        "result": "FAIL" if failed else "OK",
        "diagnostics": diagnostics[:limit],
        "truncated": truncated or len(diagnostics) > limit,
    }


def _diagnostic(code: str, message: str, location: str | None = None) -> dict[str, str]:
    found = {"severity": "ERROR", "code": code, "message": message}
    if location is not None:
        found["location"] = location
    return found


def _convert(problems: list[Problem], document: Any, text: str) -> list[dict[str, str]]:
    """One diagnostic per problem, in order; missing required fields of one object make one
    diagnostic, as AWS words it ("These fields are required: [States, StartAt]")."""
    required: dict[str, list[str]] = {}  # object pointer -> its missing required fields
    order: list[Problem | str] = []  # a problem, or the pointer of a group of missing fields
    for problem in problems:
        parent, _, field = problem.pointer.rpartition("/")
        missing = problem.code == "MISSING_FIELD" and problem.message.endswith("is missing")
        if missing and field in _REQUIRED:
            if parent not in required:
                required[parent] = []
                order.append(parent)
            required[parent].append(field)
        else:
            order.append(problem)
    diagnostics = []
    for entry in order:
        if isinstance(entry, str):
            fields = ", ".join(required[entry])
            message = f"These fields are required: [{fields}]"
            diagnostics.append(_diagnostic(SCHEMA, message, _location(entry, document)))
        elif (converted := _one(entry, document, text)) is not None:
            diagnostics.append(converted)
    return diagnostics


def _one(problem: Problem, document: Any, text: str) -> dict[str, str] | None:
    code = AWS_CODES.get(problem.code, SCHEMA)
    pointer = problem.pointer
    if problem.code == "TOO_MANY_PROBLEMS":
        return None
    if problem.code == "INVALID_JSON":
        source = _source(text, problem.line or 1, problem.column or 1)
        return _diagnostic(code, f"{problem.message}\n at {source}", source)
    if problem.code == "DEFINITION_TOO_LARGE" or (problem.code == "INVALID_TYPE" and not pointer):
        message = problem.message if pointer or problem.code != "INVALID_TYPE" else ""
        return _diagnostic(code, message or "Definition must be a valid JSON object")
    if problem.code == "MISSING_END_STATE":
        scope = pointer.removesuffix("/States")
        location = _location(scope, document) if scope else None
        return _diagnostic(code, "Workflow has no terminal state", location)
    if problem.code == "MISSING_TRANSITION_TARGET":
        target = _value_at(pointer, document)
        if isinstance(target, str):
            return _diagnostic(
                code, f"Missing 'Next' target: {target}", _location(pointer, document)
            )
    if problem.code == "UNREACHABLE_STATE":
        name = _unescape(pointer.rpartition("/")[2])
        return _diagnostic(code, f'State "{name}" is not reachable.', _location(pointer, document))
    if problem.code == "DUPLICATE_STATE_NAME":
        name = _unescape(pointer.rpartition("/")[2])
        return _diagnostic(code, f"Duplicate State name: {name}", _location(pointer, document))
    if problem.code == "UNKNOWN_FIELD":
        parent, _, field = pointer.rpartition("/")
        return _diagnostic(
            code, f"Field '{_unescape(field)}' is not supported", _location(parent, document)
        )
    return _diagnostic(code, problem.message, _location(pointer, document))


def _location(pointer: str, document: Any) -> str:
    """AWS's location for a JSON Pointer: names as written, array indexes in brackets.

    Without the document (JSON too deep to read), a segment of digits is taken as an index.
    """
    if not pointer:
        return "/"
    location, node = "", document
    for segment in pointer.split("/")[1:]:
        key = _unescape(segment)
        if (document is None or isinstance(node, list)) and key.isdigit():
            location += f"[{key}]"
            node = node[int(key)] if isinstance(node, list) and int(key) < len(node) else None
        else:
            location += f"/{key}"
            node = node.get(key) if isinstance(node, dict) else None
    return location


def _value_at(pointer: str, document: Any) -> Any:
    node = document
    for segment in pointer.split("/")[1:]:
        key = _unescape(segment)
        if isinstance(node, dict):
            node = node.get(key)
        elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
            node = node[int(key)]
        else:
            return None
    return node


def _unescape(segment: str) -> str:
    return segment.replace("~1", "/").replace("~0", "~")


def _source(text: str, line: int, column: int) -> str:
    """Jackson's location: ``[Source: (String)"<text>"; line: L, column: C]``."""
    excerpt = f'"{text[:_SOURCE_EXCERPT]}"'
    if len(text) > _SOURCE_EXCERPT:
        excerpt += f"[truncated {len(text) - _SOURCE_EXCERPT} chars]"
    return f"[Source: (String){excerpt}; line: {line}, column: {column}]"


def _express(document: Any) -> Iterator[dict[str, str]]:
    """AWS refuses callback and job-run integrations in EXPRESS state machines."""
    for location, resource in _task_resources(document):
        for pattern in (".waitForTaskToken", ".sync"):
            if pattern in resource:
                yield _diagnostic(
                    SCHEMA,
                    f"Express state machine does not support '{pattern}' service integration ",
                    location,
                )
                break


def _task_resources(document: Any) -> Iterator[tuple[str, str]]:
    """(location of ``Resource``, its value) of every Task in every scope, walked iteratively."""
    scopes: list[tuple[str, Any]] = [("", document)]
    while scopes:
        where, scope = scopes.pop()
        states = scope.get("States") if isinstance(scope, dict) else None
        if not isinstance(states, dict):
            continue
        for name, state in states.items():
            if not isinstance(state, dict):
                continue
            at = f"{where}/States/{name}"
            if state.get("Type") == "Task" and isinstance(state.get("Resource"), str):
                yield f"{at}/Resource", state["Resource"]
            branches = state.get("Branches")
            if isinstance(branches, list):
                scopes.extend((f"{at}/Branches[{i}]", b) for i, b in enumerate(branches))
            for key in ("ItemProcessor", "Iterator"):
                if isinstance(state.get(key), dict):
                    scopes.append((f"{at}/{key}", state[key]))
