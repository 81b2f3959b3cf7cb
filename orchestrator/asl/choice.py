"""Choice rules of the Amazon States Language (JSONPath flavour): compiled once, evaluated often.

:func:`compile_choices` turns a Choice state's raw ``Choices`` array into :class:`ChoiceBranch`
values (a rule plus its ``Next``) and a list of every :class:`Problem` found, each pointing at the
exact element or field. :func:`compile_rule` does the same for one nested rule (the ones inside
``And``/``Or``/``Not``, which must not have ``Next``).

Evaluation is pure and synchronous. The semantics follow the ASL specification and AWS:

* A comparison whose operands are not of the operator's type is simply false.
* Numbers compare as numbers (a JSON boolean is not a number); strings compare ordinally
  (by code point); timestamps (RFC 3339 with an uppercase ``T`` and ``Z``, optional fraction and
  offset) compare as instants, and a string that is not a valid timestamp makes them false.
* ``StringMatches``: ``*`` matches any run of characters, ``\\*`` is a literal ``*`` and
  ``\\\\`` a literal backslash; the whole string must match (in linear time).
* A ``Variable`` (or ``...Path`` operand) that selects nothing raises ``States.Runtime``, except
  for ``IsPresent``, which then compares "not present" with its operand.
* A path starting with ``$$`` reads the context object (one ``$`` is dropped).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from orchestrator.asl import errors
from orchestrator.asl.errors import Problem, StatesError
from orchestrator.asl.json_text import json_type
from orchestrator.asl.paths import Path, PathNotFound, UnsupportedPath, compile_path
from orchestrator.asl.templates import Template, compile_assign

# Problem codes.
UNKNOWN_FIELD = "UNKNOWN_FIELD"
UNSUPPORTED = "UNSUPPORTED"
INVALID_FIELD = "INVALID_FIELD"
# A JSONata choice rule's fields, refused in a JSONPath Choice state.
_JSONATA_FIELDS = ("Condition", "Output")
MISSING_FIELD = "MISSING_FIELD"
FIELD_NOT_ALLOWED = "FIELD_NOT_ALLOWED"
INVALID_TYPE = "INVALID_TYPE"
INVALID_JSONPATH = "INVALID_JSONPATH"
INVALID_TIMESTAMP = "INVALID_TIMESTAMP"
EMPTY_ARRAY = "EMPTY_ARRAY"
MULTIPLE_OPERATORS = "MULTIPLE_OPERATORS"
NO_OPERATOR = "NO_OPERATOR"
MISSING_NEXT = "MISSING_NEXT"
NEXT_NOT_ALLOWED = "NEXT_NOT_ALLOWED"


class Rule(Protocol):
    """A compiled choice rule."""

    def evaluate(self, data: Any, context: Any) -> bool:
        """Whether the rule holds for the state input ``data`` and the context object."""
        ...


@dataclass(frozen=True)
class ChoiceBranch:
    """A top-level ``Choices[]`` element: when ``rule`` holds, assign ``assign`` (if any)
    and go to ``next``."""

    rule: Rule
    next: str
    assign: Any = None  # a JSONPath Template, or a JSONata one
    output: Any = None  # a JSONata rule's Output


# --------------------------------------------------------------------------------------------
# Values: type tests and conversions

TimestampKey = tuple[int, Decimal]

_TIMESTAMP = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})"
    r"(?:\.([0-9]+))?(?:Z|([+-])([0-9]{2}):([0-9]{2}))",
    re.ASCII,
)
_EPOCH = datetime(1970, 1, 1)


def _timestamp_key(text: str) -> TimestampKey | None:
    """The instant ``text`` denotes, as (whole UTC seconds, fraction); None when it is invalid."""
    m = _TIMESTAMP.fullmatch(text)
    if m is None:
        return None
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    try:
        local = datetime(year, month, day, hour, minute, second)
    except ValueError:
        return None
    offset = 0
    if m.group(8) is not None:
        off_hours, off_minutes = int(m.group(9)), int(m.group(10))
        if off_hours > 23 or off_minutes > 59:
            return None
        offset = (off_hours * 60 + off_minutes) * 60
        if m.group(8) == "-":
            offset = -offset
    delta = local - _EPOCH
    seconds = delta.days * 86400 + delta.seconds - offset
    fraction = Decimal("0." + m.group(7)) if m.group(7) else Decimal(0)
    return (seconds, fraction)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_timestamp(value: Any) -> bool:
    return isinstance(value, str) and _timestamp_key(value) is not None


def _as_string(value: Any) -> Any:
    return value if isinstance(value, str) else None


def _as_number(value: Any) -> Any:
    return value if _is_number(value) else None


def _as_boolean(value: Any) -> Any:
    return value if isinstance(value, bool) else None


def _as_timestamp(value: Any) -> Any:
    return _timestamp_key(value) if isinstance(value, str) else None


# family -> (conversion to a comparable key, or None when the value is not of that type;
#            the JSON type the literal operand must have, for messages)
_FAMILIES: dict[str, tuple[Callable[[Any], Any], str]] = {
    "String": (_as_string, "a string"),
    "Numeric": (_as_number, "a number"),
    "Boolean": (_as_boolean, "a boolean"),
    "Timestamp": (_as_timestamp, "a timestamp string"),
}

_RELATIONS: dict[str, Callable[[Any, Any], bool]] = {
    "Equals": operator.eq,
    "LessThan": operator.lt,
    "GreaterThan": operator.gt,
    "LessThanEquals": operator.le,
    "GreaterThanEquals": operator.ge,
}

# Binary comparisons: operator name -> (family, relation, operand is a path)
_COMPARISONS: dict[str, tuple[str, str, bool]] = {}
for _family in _FAMILIES:
    for _relation in _RELATIONS:
        if _family == "Boolean" and _relation != "Equals":
            continue
        _COMPARISONS[f"{_family}{_relation}"] = (_family, _relation, False)
        _COMPARISONS[f"{_family}{_relation}Path"] = (_family, _relation, True)

_TYPE_TESTS: dict[str, Callable[[Any], bool]] = {
    "IsNull": lambda value: value is None,
    "IsNumeric": _is_number,
    "IsString": lambda value: isinstance(value, str),
    "IsBoolean": lambda value: isinstance(value, bool),
    "IsTimestamp": _is_timestamp,
}

STRING_MATCHES = "StringMatches"
IS_PRESENT = "IsPresent"

#: Every comparison operator a data-test rule may use.
COMPARISON_OPERATORS: frozenset[str] = frozenset(
    {*_COMPARISONS, *_TYPE_TESTS, STRING_MATCHES, IS_PRESENT}
)
_BOOLEAN_OPERATORS = ("And", "Or", "Not")


@dataclass(frozen=True)
class Wildcard:
    """A ``StringMatches`` pattern, split at its unescaped ``*`` into literal pieces.

    ``\\*`` is a literal ``*`` and ``\\\\`` a literal backslash; any other backslash is
    itself. A string matches when it starts with the first piece, ends with the last, and
    holds the pieces between in order without overlap. Finding each middle piece at its
    leftmost place is enough (a later place never leaves more room for the rest), so
    matching takes linear time, where a backtracking regex took exponential time
    (``*a*a*a*b`` against 1,000 characters froze the service for 18 s).
    """

    pieces: tuple[str, ...]  # one more than the wildcards

    def matches(self, text: str) -> bool:
        """Whether the whole of ``text`` matches the pattern."""
        pieces = self.pieces
        if len(pieces) == 1:
            return text == pieces[0]
        first, last = pieces[0], pieces[-1]
        if len(first) + len(last) > len(text) or not text.startswith(first):
            return False
        if not text.endswith(last):
            return False
        position, end = len(first), len(text) - len(last)
        for piece in pieces[1:-1]:
            found = text.find(piece, position, end)
            if found < 0:
                return False
            position = found + len(piece)
        return True


def compile_wildcard(pattern: str) -> Wildcard:
    """The :class:`Wildcard` for a ``StringMatches`` pattern."""
    pieces: list[str] = []
    current: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern) and pattern[i + 1] in "*\\":
            current.append(pattern[i + 1])
            i += 2
            continue
        if char == "*":
            pieces.append("".join(current))
            current = []
        else:
            current.append(char)
        i += 1
    pieces.append("".join(current))
    return Wildcard(tuple(pieces))


# --------------------------------------------------------------------------------------------
# Compiled rules


def _invalid_path_cause(text: str) -> str:
    return f"Invalid path '{text}': The choice state's condition path references an invalid value."


@dataclass(frozen=True)
class PathRef:
    """A path as written in a rule (a ``$$...`` path reads the context object)."""

    text: str
    path: Path

    def read(self, data: Any, context: Any) -> Any:
        """The selected value; raises ``States.Runtime`` when the path selects nothing."""
        try:
            return self.path.read(self.path.root(data, context))
        except PathNotFound:
            raise StatesError(errors.RUNTIME, _invalid_path_cause(self.text)) from None

    def exists(self, data: Any, context: Any) -> bool:
        """Whether the path selects something."""
        try:
            return self.path.exists(self.path.root(data, context))
        except PathNotFound:  # a variable with no value
            return False


@dataclass(frozen=True)
class AndRule:
    """``And``: every rule holds (evaluated in order, stopping at the first false)."""

    rules: tuple[Rule, ...]

    def evaluate(self, data: Any, context: Any) -> bool:
        return all(rule.evaluate(data, context) for rule in self.rules)


@dataclass(frozen=True)
class OrRule:
    """``Or``: some rule holds (evaluated in order, stopping at the first true)."""

    rules: tuple[Rule, ...]

    def evaluate(self, data: Any, context: Any) -> bool:
        return any(rule.evaluate(data, context) for rule in self.rules)


@dataclass(frozen=True)
class NotRule:
    """``Not``: the rule does not hold."""

    rule: Rule

    def evaluate(self, data: Any, context: Any) -> bool:
        return not self.rule.evaluate(data, context)


@dataclass(frozen=True)
class CompareRule:
    """A binary comparison (``NumericLessThan``, ``StringEqualsPath``, ...).

    ``operand`` is the literal already converted to its comparable key, or a :class:`PathRef`
    for the ``...Path`` operators (read and converted at evaluation).
    """

    variable: PathRef
    operator: str
    family: str
    relation: str
    operand: Any

    def evaluate(self, data: Any, context: Any) -> bool:
        convert = _FAMILIES[self.family][0]
        value = self.variable.read(data, context)
        operand = self.operand
        if isinstance(operand, PathRef):
            operand = convert(operand.read(data, context))
            if operand is None:
                return False
        key = convert(value)
        if key is None:
            return False
        return _RELATIONS[self.relation](key, operand)


@dataclass(frozen=True)
class MatchRule:
    """``StringMatches``: the value is a string that the wildcard pattern matches entirely."""

    variable: PathRef
    pattern: str
    wildcard: Wildcard

    def evaluate(self, data: Any, context: Any) -> bool:
        value = self.variable.read(data, context)
        return isinstance(value, str) and self.wildcard.matches(value)


@dataclass(frozen=True)
class TypeTestRule:
    """``IsNull``/``IsNumeric``/``IsString``/``IsBoolean``/``IsTimestamp``."""

    variable: PathRef
    operator: str
    operand: bool

    def evaluate(self, data: Any, context: Any) -> bool:
        return _TYPE_TESTS[self.operator](self.variable.read(data, context)) == self.operand


@dataclass(frozen=True)
class PresentRule:
    """``IsPresent``: whether the variable selects anything equals the operand; never fails."""

    variable: PathRef
    operand: bool

    def evaluate(self, data: Any, context: Any) -> bool:
        return self.variable.exists(data, context) == self.operand


# --------------------------------------------------------------------------------------------
# Compilation


def _child(pointer: str, key: str | int) -> str:
    token = str(key).replace("~", "~0").replace("/", "~1")
    return f"{pointer}/{token}"


def _describe(value: Any) -> str:
    text = repr(value) if isinstance(value, str | int | float) else ""
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{json_type(value)} {text}".rstrip()


class _Compiler:
    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.assign: Template | None = None  # the Assign of the top-level rule compiled last

    def assign_template(self, raw: Any, pointer: str) -> Template | None:
        template, problems = compile_assign(raw, pointer)
        for code, message, where in problems:
            self.problem(code, message, where)
        return template

    def problem(self, code: str, message: str, pointer: str) -> None:
        self.problems.append(Problem(code, message, pointer))

    def path_ref(self, text: Any, field: str, pointer: str) -> PathRef | None:
        if not isinstance(text, str):
            self.problem(
                INVALID_TYPE,
                f"{field} must be a string holding a JSONPath, got {_describe(text)}",
                pointer,
            )
            return None
        try:
            path = compile_path(text)
        except UnsupportedPath as exc:
            self.problem(UNSUPPORTED, f"{field}: {exc}", pointer)
            return None
        except ValueError as exc:
            self.problem(
                INVALID_JSONPATH, f"{field} {text!r} is not a valid JSONPath: {exc}", pointer
            )
            return None
        return PathRef(text, path)

    def rule(self, raw: Any, pointer: str, top_level: bool) -> tuple[Rule | None, str | None]:
        """Compile one rule object; the second value is its ``Next`` (top level only)."""
        what = "a choice rule" if top_level else "a nested choice rule"
        if not isinstance(raw, dict):
            self.problem(INVALID_TYPE, f"{what} must be an object, got {_describe(raw)}", pointer)
            return None, None
        ok = True

        next_state: str | None = None
        if top_level:
            if "Next" not in raw:
                self.problem(MISSING_NEXT, "a top-level choice rule must have 'Next'", pointer)
                ok = False
            elif not isinstance(raw["Next"], str):
                self.problem(
                    INVALID_TYPE,
                    f"Next must be a state name (string), got {_describe(raw['Next'])}",
                    _child(pointer, "Next"),
                )
                ok = False
            else:
                next_state = raw["Next"]
        elif "Next" in raw:
            self.problem(
                NEXT_NOT_ALLOWED,
                "a nested choice rule (inside And/Or/Not) must not have 'Next'",
                _child(pointer, "Next"),
            )
            ok = False

        if "Comment" in raw and not isinstance(raw["Comment"], str):
            self.problem(
                INVALID_TYPE,
                f"Comment must be a string, got {_describe(raw['Comment'])}",
                _child(pointer, "Comment"),
            )
            ok = False

        for key in (key for key in raw if key in _JSONATA_FIELDS):
            self.problem(
                INVALID_FIELD,
                f"{key!r} in {what} is JSONata's: it is not allowed in a JSONPath Choice state",
                _child(pointer, key),
            )
        if "Condition" in raw:  # a JSONata rule: nothing more to check in JSONPath terms
            return None, next_state
        if "Assign" in raw:
            if top_level:
                self.assign = self.assign_template(raw["Assign"], _child(pointer, "Assign"))
            else:
                self.problem(
                    FIELD_NOT_ALLOWED,
                    "'Assign' belongs to a top-level choice rule, not one inside And/Or/Not",
                    _child(pointer, "Assign"),
                )
                ok = False

        booleans = [key for key in raw if key in _BOOLEAN_OPERATORS]
        comparisons = [key for key in raw if key in COMPARISON_OPERATORS]
        known = {
            "Next",
            "Comment",
            "Variable",
            "Assign",
            *_BOOLEAN_OPERATORS,
            *COMPARISON_OPERATORS,
            *_JSONATA_FIELDS,
        }
        for key in raw:
            if key not in known:
                self.problem(
                    UNKNOWN_FIELD, f"unknown field {key!r} in {what}", _child(pointer, key)
                )
                ok = False

        operators = booleans + comparisons
        if len(operators) > 1:
            self.problem(
                MULTIPLE_OPERATORS,
                f"{what} must have exactly one operator, found {', '.join(operators)}",
                pointer,
            )
            ok = False
        elif not operators:
            if "Variable" in raw:
                message = f"{what} has 'Variable' but no comparison operator"
            else:
                message = (
                    f"{what} must have 'And', 'Or', 'Not', or 'Variable' with a comparison operator"
                )
            self.problem(NO_OPERATOR, message, pointer)
            ok = False

        variable: PathRef | None = None
        if booleans and "Variable" in raw:
            self.problem(
                FIELD_NOT_ALLOWED,
                f"'Variable' is not allowed with the boolean operator {booleans[0]!r}",
                _child(pointer, "Variable"),
            )
            ok = False
        elif "Variable" in raw:
            variable = self.path_ref(raw["Variable"], "Variable", _child(pointer, "Variable"))
            ok = ok and variable is not None
        elif comparisons:
            self.problem(
                MISSING_FIELD,
                f"a choice rule with {comparisons[0]!r} must have 'Variable'",
                pointer,
            )
            ok = False

        built: list[Rule | None] = [self.boolean(op, raw[op], pointer) for op in booleans]
        built += [self.comparison(op, raw[op], _child(pointer, op), variable) for op in comparisons]
        if not ok or len(built) != 1 or built[0] is None:
            return None, None
        return built[0], next_state

    def boolean(self, name: str, raw: Any, pointer: str) -> Rule | None:
        field_pointer = _child(pointer, name)
        if name == "Not":
            inner, _ = self.rule(raw, field_pointer, top_level=False)
            return None if inner is None else NotRule(inner)
        if not isinstance(raw, list):
            self.problem(
                INVALID_TYPE,
                f"{name} must be an array of choice rules, got {_describe(raw)}",
                field_pointer,
            )
            return None
        if not raw:
            self.problem(EMPTY_ARRAY, f"{name} must not be empty", field_pointer)
            return None
        rules = [
            self.rule(item, _child(field_pointer, i), top_level=False)[0]
            for i, item in enumerate(raw)
        ]
        if any(rule is None for rule in rules):
            return None
        complete = tuple(rule for rule in rules if rule is not None)
        return AndRule(complete) if name == "And" else OrRule(complete)

    def comparison(
        self, name: str, raw: Any, pointer: str, variable: PathRef | None
    ) -> Rule | None:
        """Check the operand of ``name``; build the rule when the variable is known too."""
        if name == IS_PRESENT or name in _TYPE_TESTS:
            if not isinstance(raw, bool):
                self.problem(
                    INVALID_TYPE, f"{name} must be true or false, got {_describe(raw)}", pointer
                )
                return None
            if variable is None:
                return None
            if name == IS_PRESENT:
                return PresentRule(variable, raw)
            return TypeTestRule(variable, name, raw)

        if name == STRING_MATCHES:
            if not isinstance(raw, str):
                self.problem(
                    INVALID_TYPE, f"{name} must be a string, got {_describe(raw)}", pointer
                )
                return None
            if variable is None:
                return None
            return MatchRule(variable, raw, compile_wildcard(raw))

        family, relation, is_path = _COMPARISONS[name]
        operand: Any
        if is_path:
            operand = self.path_ref(raw, name, pointer)
            if operand is None:
                return None
        else:
            convert, expected = _FAMILIES[family]
            if family == "Timestamp" and isinstance(raw, str):
                operand = convert(raw)
                if operand is None:
                    self.problem(
                        INVALID_TIMESTAMP,
                        f"{name} must be an RFC 3339 timestamp such as "
                        f"'2016-08-18T17:33:00Z', got {raw!r}",
                        pointer,
                    )
                    return None
            else:
                operand = convert(raw)
                if operand is None:
                    self.problem(
                        INVALID_TYPE, f"{name} must be {expected}, got {_describe(raw)}", pointer
                    )
                    return None
        if variable is None:
            return None
        return CompareRule(variable, name, family, relation, operand)


def compile_rule(raw: Any, pointer: str) -> tuple[Rule | None, list[Problem]]:
    """Compile a nested choice rule (one without ``Next``); the rule is None when invalid."""
    compiler = _Compiler()
    rule, _ = compiler.rule(raw, pointer, top_level=False)
    return (rule if not compiler.problems else None), compiler.problems


def compile_choices(choices: Any, pointer: str) -> tuple[list[ChoiceBranch], list[Problem]]:
    """Compile a Choice state's ``Choices`` array.

    Returns the branches of the valid elements, and every problem found in any element.
    """
    compiler = _Compiler()
    if not isinstance(choices, list):
        compiler.problem(
            INVALID_TYPE,
            f"Choices must be an array of choice rules, got {_describe(choices)}",
            pointer,
        )
        return [], compiler.problems
    if not choices:
        compiler.problem(EMPTY_ARRAY, "Choices must have at least one choice rule", pointer)
        return [], compiler.problems
    branches: list[ChoiceBranch] = []
    for index, raw in enumerate(choices):
        before = len(compiler.problems)
        compiler.assign = None
        rule, next_state = compiler.rule(raw, _child(pointer, index), top_level=True)
        if rule is not None and next_state is not None and len(compiler.problems) == before:
            branches.append(ChoiceBranch(rule, next_state, compiler.assign))
    return branches, compiler.problems
