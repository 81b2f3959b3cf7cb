"""Which variables a state may read before any state can have assigned them.

AWS creates a state machine that reads an unassigned variable and fails it when the state
runs (``States.QueryEvaluationError``: "returned nothing (undefined)"; in JSONPath
``States.Runtime``). ``validate`` and ValidateStateMachineDefinition warn of it instead, with
where: a may-assign analysis over each scope's transitions (a variable assigned on some path
into a state is available there), a Parallel branch or Map iteration seeing what its state
sees. Pure; it reads a definition the loader has accepted.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from orchestrator.asl.errors import Problem
from orchestrator.asl.jsonata import JsonataSyntaxError, compile_expression, is_expression
from orchestrator.asl.templates import escape_pointer

CODE = "UNASSIGNED_VARIABLE"
# A JSONPath field that may name a variable: a template value, a path field, a choice rule's.
_PATH_KEYS = re.compile(r"(\.\$|Path)$")
# ``$name`` at the start of a path or as an intrinsic's argument (``$$`` and ``$.`` are not).
_VARIABLE = re.compile(r"(?<![\w$])\$([A-Za-z_][A-Za-z0-9_]*)")
_QUOTED = re.compile(r"'(?:\\.|[^'\\])*'")
_NESTED = ("Branches", "ItemProcessor", "Iterator")
# Reads that are not variables in JSONPath fields.
_NOT_VARIABLES = {"states"}


def unassigned_reads(document: Any) -> list[Problem]:
    """A problem (code UNASSIGNED_VARIABLE) for each variable read where no state before it
    can have assigned it, at the field that reads it."""
    if not isinstance(document, dict):
        return []
    language = document.get("QueryLanguage", "JSONPath")
    found: list[Problem] = []
    _check_scope(document, frozenset(), language, "", found)
    return found


def _check_scope(
    scope: dict[str, Any], outer: frozenset[str], default: str, where: str, found: list[Problem]
) -> None:
    states = scope.get("States")
    start = scope.get("StartAt")
    if not isinstance(states, dict) or not isinstance(start, str) or start not in states:
        return
    visible: dict[str, frozenset[str]] = {start: outer}
    todo = [start]
    while todo:
        name = todo.pop()
        raw = states.get(name)
        if not isinstance(raw, dict):
            continue
        for target, assigned in _transitions(raw):
            now = visible[name] | assigned
            if target in states and (target not in visible or not now <= visible[target]):
                visible[target] = visible.get(target, frozenset()) | now
                todo.append(target)
    for name, raw in states.items():
        if not isinstance(raw, dict):
            continue
        here = visible.get(name, outer)
        pointer = f"{where}/States/{escape_pointer(name)}"
        language = raw.get("QueryLanguage", default)
        for at, variable in _reads(raw, pointer, language):
            if variable not in here:
                found.append(
                    Problem(
                        CODE,
                        f"state {name!r} reads ${variable}, which no state before it assigns:"
                        " it will have no value when the state runs",
                        at,
                    )
                )
        for key in _NESTED:
            nested = raw.get(key)
            for index, branch in enumerate(nested if isinstance(nested, list) else [nested]):
                if isinstance(branch, dict):
                    at = f"{pointer}/{key}" + (f"/{index}" if isinstance(nested, list) else "")
                    _check_scope(branch, here, default, at, found)


def _names(assign: Any) -> frozenset[str]:
    if not isinstance(assign, dict):
        return frozenset()
    return frozenset(key.removesuffix(".$") for key in assign if isinstance(key, str))


def _transitions(raw: dict[str, Any]) -> Iterator[tuple[str, frozenset[str]]]:
    """Each state ``raw`` may move to, with the variables set on the way."""
    assign = _names(raw.get("Assign"))
    if isinstance(raw.get("Next"), str):
        yield raw["Next"], assign
    if isinstance(raw.get("Default"), str):
        yield raw["Default"], assign  # a Choice's own Assign is its Default's
    for group in ("Choices", "Catch"):
        items = raw.get(group)
        for item in items if isinstance(items, list) else []:
            if isinstance(item, dict) and isinstance(item.get("Next"), str):
                yield item["Next"], _names(item.get("Assign"))


def _reads(raw: Any, pointer: str, language: str) -> Iterator[tuple[str, str]]:
    """(pointer, variable) for each variable the state's own fields read."""
    if isinstance(raw, dict):
        for key, value in raw.items():
            if key in _NESTED:
                continue
            at = f"{pointer}/{escape_pointer(str(key))}"
            if isinstance(value, str):
                yield from ((at, name) for name in _string_reads(str(key), value, language))
            else:
                yield from _reads(value, at, language)
    elif isinstance(raw, list):
        for index, item in enumerate(raw):
            if isinstance(item, str):
                yield from (
                    (f"{pointer}/{index}", name) for name in _string_reads("", item, language)
                )
            else:
                yield from _reads(item, f"{pointer}/{index}", language)


def _string_reads(key: str, value: str, language: str) -> frozenset[str]:
    if language == "JSONata":
        if not is_expression(value):
            return frozenset()
        try:
            return compile_expression(value).variables
        except JsonataSyntaxError:
            return frozenset()  # the loader reports it
    if not (_PATH_KEYS.search(key) or key == "Variable") or not value.startswith(("$", "States.")):
        return frozenset()
    return frozenset(_VARIABLE.findall(_QUOTED.sub("''", value))) - _NOT_VARIABLES
