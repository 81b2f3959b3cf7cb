"""Step Functions Local's mock configuration file (``SFN_MOCK_CONFIG``): read, checked, answered.

Step Functions Local answers the Task states of an execution started on
``stateMachineArn#TestCaseName`` from this file instead of calling their services (AWS Step
Functions Developer Guide: "Using mocked service integrations for testing in Step Functions
Local", "Configuration file for mocked service integrations"). The format::

    {"StateMachines": {MACHINE: {"TestCases": {CASE: {STATE: RESPONSE, ...}}}},
     "MockedResponses": {RESPONSE: {"0": {"Return": ANY},
                                    "1-2": {"Throw": {"Error": "...", "Cause": "..."}}}}}

What Step Functions Local does with it, and so what this module answers:

- An invocation key is a 0-based invocation number of one state in one execution: one number
  (``"3"``) or an inclusive range (``"1-2"``). The number counts every call of that state name
  in the execution: retries, passes round a loop, and the iterations of a Map or branches of a
  Parallel all advance one shared counter (with MaxConcurrency above 1 the order is the order
  of the calls, which AWS's guide warns is unpredictable). The caller counts;
  :meth:`TestCase.response` answers one number.
- States inside a Map or Parallel are named by their own names (unique in a state machine).
- An invocation that no key covers makes SFN Local fail the execution with ``States.Runtime``
  ("If you do not specify a mocked response, the state machine execution will fail"), so
  :meth:`TestCase.response` answers it with a :class:`MockThrow` of :data:`RUNTIME_ERROR`.
  The caller fails the execution with it: States.ALL does not match States.Runtime.
- A state the test case does not name is called for real: mocked and real calls mix in one
  execution (the guide's HybridPath).
- ``Return`` is any JSON value, the task's result as its service would give it (for
  ``lambda:invoke`` the ``{"StatusCode", "Payload"}`` of the API); nothing checks its shape.
- ``Throw`` has ``Error`` and ``Cause``, both strings, both required: the task fails with them,
  subject to its Retry and Catch like any task failure.
- ``.waitForTaskToken`` and ``.sync``: the mocked response is the task's final result. SFN
  Local makes a task token for the call but waits for no callback and polls no job.
- Activity states cannot be mocked: SFN Local fails the execution with
  :data:`ACTIVITY_NOT_MOCKABLE_CAUSE` (the caller, which knows the resource, applies it).

Refused when the file is read, with every problem listed and located (JSON Pointer, line and
column): keys this format does not have, a missing ``StateMachines``, ``MockedResponses`` or
``TestCases``, a response with both or neither of Return and Throw, invocation keys that are
not numbers or ranges or run backwards, overlapping ranges, a key given twice, a test case
naming a mocked response that is not defined, and anything that is not a JSON object. Like SFN
Local, a mocked response may leave gaps or have no keys at all; the invocations it does not
cover fail when they happen. Bounded: a file over :data:`MAX_CONFIG_BYTES` is refused before
it is parsed, and JSON nested deeper than :data:`messages.limits.MAX_JSON_DEPTH` or holding
NaN, Infinity or numbers no double can hold is refused where it goes wrong.
"""

from __future__ import annotations

import bisect
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, TypeAlias

from messages import limits
from orchestrator.asl import json_text
from orchestrator.asl.errors import RUNTIME, abbreviate
from orchestrator.asl.json_text import json_type_phrase
from orchestrator.asl.templates import escape_pointer

# The largest mock configuration read (far beyond any hand-written or generated test file).
MAX_CONFIG_BYTES = 10 * 1024 * 1024
# The largest invocation number a key may name (SFN Local counts in a Java int).
MAX_INVOCATION = 2**31 - 1
# A configuration with more problems than this lists the first ones and says how many more.
MAX_PROBLEMS = 1000
# The longest JSON Pointer shown for a problem; longer ones are cut in the middle.
MAX_SHOWN_POINTER = 200
# The error an invocation no key covers fails the execution with (SFN Local's behaviour).
RUNTIME_ERROR = RUNTIME
# SFN Local's cause when a test case mocks an Activity state (it fails the execution).
ACTIVITY_NOT_MOCKABLE_CAUSE = (
    "Activity state cannot be mocked. Please remove mocks mapped for all activity state in"
    " the mock config file."
)

_INVOCATION_KEY = re.compile(r"([0-9]+)(?:-([0-9]+))?")
_TOP_FIELDS = ("StateMachines", "MockedResponses")
_RESPONSE_FIELDS = ("Return", "Throw")
_THROW_FIELDS = ("Error", "Cause")


class MockConfigError(ValueError):
    """A mock configuration was refused; ``problems`` lists every one, each ``"where: what"``."""

    def __init__(self, problems: Sequence[str], source: str = "<mock config>") -> None:
        self.problems = list(problems)
        self.source = source
        lines = "\n".join(f"  {problem}" for problem in self.problems)
        super().__init__(
            f"{source}: the mock configuration is refused, {len(self.problems)} problem(s):\n{lines}"
        )


@dataclass(frozen=True)
class MockReturn:
    """A mocked task succeeds with ``value`` (any JSON value; shared, never to be mutated)."""

    value: Any


@dataclass(frozen=True)
class MockThrow:
    """A mocked task fails with ``error`` and ``cause``."""

    error: str
    cause: str


MockResponse: TypeAlias = MockReturn | MockThrow


@dataclass(frozen=True)
class MockedResponse:
    """One entry of ``MockedResponses``: its name and its answers, by invocation range.

    ``ranges`` holds ``(first, last, response)`` sorted by ``first``, not overlapping.
    """

    name: str
    ranges: tuple[tuple[int, int, MockResponse], ...]

    def at(self, invocation: int) -> MockResponse | None:
        """The response for 0-based ``invocation``, or None when no key covers it."""
        index = bisect.bisect_right(self.ranges, invocation, key=lambda entry: entry[0]) - 1
        if index >= 0:
            _, last, response = self.ranges[index]
            if invocation <= last:
                return response
        return None

    def keys(self) -> str:
        """The invocations answered, as the file's keys in order (``"0, 1-2, 3"``)."""
        return ", ".join(
            str(first) if first == last else f"{first}-{last}" for first, last, _ in self.ranges
        )


@dataclass(frozen=True)
class TestCase:
    """One test case of one state machine: which states it mocks, with which responses."""

    __test__ = False  # a library class, not a pytest test class

    state_machine: str
    name: str
    states: Mapping[str, MockedResponse]

    def mocks(self, state_name: str) -> bool:
        """Whether the test case mocks ``state_name`` (if not, the state is called for real)."""
        return state_name in self.states

    def response(self, state_name: str, invocation: int) -> MockResponse | None:
        """The answer to 0-based ``invocation`` of ``state_name`` in this execution.

        None when the state is not mocked (call it for real). An invocation no key covers
        answers SFN Local's failure: a :class:`MockThrow` of :data:`RUNTIME_ERROR`, with which
        the caller fails the execution.
        """
        if invocation < 0:
            raise ValueError(f"an invocation number counts from 0, not {invocation}")
        mocked = self.states.get(state_name)
        if mocked is None:
            return None
        response = mocked.at(invocation)
        if response is not None:
            return response
        answered = mocked.keys() or "none"
        cause = (
            f"No mocked response for invocation {invocation} of state {state_name!r}: mocked"
            f" response {mocked.name!r} (test case {self.name!r} of state machine"
            f" {self.state_machine!r}) answers invocations: {answered}."
        )
        return MockThrow(RUNTIME_ERROR, cause)


@dataclass(frozen=True)
class MockConfig:
    """A checked mock configuration: test cases by state machine name, then test case name."""

    source: str
    machines: Mapping[str, Mapping[str, TestCase]]

    @classmethod
    def parse(cls, text: str, source: str = "<mock config>") -> MockConfig:
        """Parse and check ``text``; :class:`MockConfigError` lists every problem found."""
        document, duplicates = _parse_json(text, source)
        checker = _Checker(duplicates)
        machines = checker.check(document)
        if checker.problems:
            raise MockConfigError(_located(checker.problems, text), source)
        return cls(source, machines)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> MockConfig:
        """Read and check the file at ``path`` (UTF-8, a byte-order mark allowed)."""
        source = os.fspath(path)
        try:
            with open(path, "rb") as file:
                data = file.read(MAX_CONFIG_BYTES + 1)  # never more than one byte too many
        except OSError as exc:
            raise MockConfigError([f"/: cannot be read: {exc}"], source) from None
        if len(data) > MAX_CONFIG_BYTES:
            raise MockConfigError([_too_large(f"at least {MAX_CONFIG_BYTES + 1:,}")], source)
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise MockConfigError([f"/: is not UTF-8 text: {exc}"], source) from None
        return cls.parse(text, source)

    def test_case(self, state_machine: str, test_case: str) -> TestCase | None:
        """Test case ``test_case`` of state machine ``state_machine`` (a name), if defined."""
        return self.machines.get(state_machine, {}).get(test_case)

    def state_machines(self) -> dict[str, tuple[str, ...]]:
        """Each state machine name with the names of its test cases, in the file's order."""
        return {machine: tuple(cases) for machine, cases in self.machines.items()}


def split_test_case(state_machine_arn: str) -> tuple[str, str | None]:
    """``"arn:...:stateMachine:Name#Case"`` -> ``("arn:...:stateMachine:Name", "Case")``.

    A state machine name cannot hold ``#``, so the first one starts the test case name. An ARN
    without ``#`` names no test case (None).
    """
    arn, hash_sign, test_case = state_machine_arn.partition("#")
    return (arn, test_case) if hash_sign else (state_machine_arn, None)


def _too_large(size: str) -> str:
    limit = f"{MAX_CONFIG_BYTES:,} bytes ({MAX_CONFIG_BYTES // (1024 * 1024)} MiB)"
    return f"/: the mock configuration is {size} bytes, more than the {limit} accepted"


def _parse_json(text: str, source: str) -> tuple[Any, dict[int, list[str]]]:
    """The JSON value of ``text`` and the keys each object repeats (by ``id``), or one
    located problem when the text is too large, is not JSON or nests too deep."""
    # Counted in characters first: more characters is more bytes still, refused unencoded.
    if len(text) > MAX_CONFIG_BYTES:
        raise MockConfigError([_too_large(f"at least {len(text):,}")], source)
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_CONFIG_BYTES:
        raise MockConfigError([_too_large(f"{size:,}")], source)
    try:
        limits.loads(text)
    except limits.JsonTooDeep as exc:
        deep = json_text.too_deep_problem(text, exc.limit)
        where = _where(deep.pointer, deep.line, deep.column)
        message = f"nests arrays and objects more than {exc.limit} levels deep (the limit)"
        raise MockConfigError([f"{where}: {message}"], source) from None
    except json.JSONDecodeError as exc:
        syntax = json_text.syntax_problem(text, exc)
        raise MockConfigError(
            [f"{_where(None, syntax.line, syntax.column)}: {syntax.message}"], source
        ) from None
    except ValueError as exc:  # NaN, Infinity, a number too large for a double
        number = json_text.number_problem(text, exc)
        raise MockConfigError(
            [f"{_where(None, number.line, number.column)}: {number.message}"], source
        ) from None
    # Parsed again to learn which keys an object repeats: Python keeps the last silently.
    # Cannot fail: limits.loads accepted the text.
    duplicates: dict[int, list[str]] = {}

    def remember_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        value = dict(pairs)
        if len(value) != len(pairs):
            seen: set[str] = set()
            repeated = duplicates[id(value)] = []
            for key, _ in pairs:
                if key in seen and key not in repeated:
                    repeated.append(key)
                seen.add(key)
        return value

    return json.loads(text, object_pairs_hook=remember_duplicates), duplicates


def _where(pointer: str | None, line: int | None, column: int | None) -> str:
    """How a problem says where it is: the JSON Pointer (cut when long; None for a problem
    of the text itself, such as a syntax error), then the line and column."""
    place = f"line {line}, column {column}" if line is not None else ""
    if pointer is None:
        return place or "/"
    shown = pointer or "/"
    if len(shown) > MAX_SHOWN_POINTER:
        half = MAX_SHOWN_POINTER // 2
        shown = f"{shown[:half]}...{shown[-half:]}"
    return f"{shown} ({place})" if place else shown


@dataclass(frozen=True)
class _Problem:
    pointer: str
    message: str
    at_key: bool = False  # located at the member's key rather than its value


def _located(problems: list[_Problem], text: str) -> list[str]:
    """Each problem as ``"where: what"``, its line and column found in ``text``."""
    wanted: set[str] = set()
    for problem in problems:
        pointer = problem.pointer
        while pointer not in wanted:
            wanted.add(pointer)
            pointer = pointer.rpartition("/")[0]
    found = json_text.locate(text, wanted)
    placed = []
    for order, problem in enumerate(problems):
        pointer = problem.pointer
        while pointer not in found and pointer:  # a missing field: where its object is
            pointer = pointer.rpartition("/")[0]
        key_offset, value_offset = found.get(pointer, (None, 0))
        offset = key_offset if problem.at_key and key_offset is not None else value_offset
        placed.append((offset, order, problem))
    placed.sort(key=lambda entry: entry[:2])  # in the file's order, as a reader meets them
    lines = json_text.LineIndex(text)
    shown = []
    for offset, _, problem in placed[:MAX_PROBLEMS]:
        line, column = lines.line_column(offset)
        shown.append(f"{_where(problem.pointer, line, column)}: {problem.message}")
    if len(problems) > MAX_PROBLEMS:
        shown.append(f"/: {len(problems) - MAX_PROBLEMS} more problem(s) are not listed")
    return shown


class _Checker:
    """Walks a parsed configuration, collecting every problem and building the test cases."""

    def __init__(self, duplicates: dict[int, list[str]]) -> None:
        self.problems: list[_Problem] = []
        self.duplicates = duplicates
        self.refused: set[str] = set()  # mocked responses in the file, refused (and reported)

    def problem(self, pointer: str, message: str, *, at_key: bool = False) -> None:
        self.problems.append(_Problem(pointer, message, at_key))

    def object(self, value: Any, pointer: str, what: str) -> dict[str, Any] | None:
        """``value`` when it is an object (its repeated keys reported), else a problem."""
        if not isinstance(value, dict):
            self.problem(pointer, f"{what} must be a JSON object, not {json_type_phrase(value)}")
            return None
        for key in self.duplicates.get(id(value), ()):
            self.problem(
                f"{pointer}/{escape_pointer(key)}",
                f"key {abbreviate(key)} is given more than once",
                at_key=True,
            )
        return value

    def fields(
        self, value: dict[str, Any], pointer: str, allowed: Sequence[str], required: Sequence[str]
    ) -> None:
        """Report fields of ``value`` not in ``allowed``, and those of ``required`` missing."""
        for key in value:
            if key not in allowed:
                names = " and ".join(repr(name) for name in allowed)
                self.problem(
                    f"{pointer}/{escape_pointer(key)}",
                    f"field {abbreviate(key)} is not allowed here (only {names})",
                    at_key=True,
                )
        for name in required:
            if name not in value:
                self.problem(pointer, f"field {name!r} is required")

    def check(self, document: Any) -> Mapping[str, Mapping[str, TestCase]]:
        root = self.object(document, "", "a mock configuration")
        if root is None:
            return MappingProxyType({})
        self.fields(root, "", _TOP_FIELDS, _TOP_FIELDS)
        responses = self.mocked_responses(root.get("MockedResponses"))
        return self.state_machines(root.get("StateMachines"), responses)

    def mocked_responses(self, value: Any) -> dict[str, MockedResponse] | None:
        """``MockedResponses`` by name (none when missing); None when it is not an object."""
        if value is None:
            return {}  # reported as missing; every name a test case gives is then undefined
        entries = self.object(value, "/MockedResponses", "MockedResponses")
        if entries is None:
            return None
        responses = {}
        for name, entry in entries.items():
            mocked = self.mocked_response(name, entry, f"/MockedResponses/{escape_pointer(name)}")
            if mocked is None:
                self.refused.add(name)
            else:
                responses[name] = mocked
        return responses

    def mocked_response(self, name: str, value: Any, pointer: str) -> MockedResponse | None:
        entry = self.object(value, pointer, "a mocked response")
        if entry is None:
            return None
        ranges: list[tuple[int, int, str, MockResponse]] = []
        sound = True
        for key, item in entry.items():
            key_pointer = f"{pointer}/{escape_pointer(key)}"
            invocations = self.invocation_key(key, key_pointer)
            response = self.response(item, key_pointer)
            if invocations is None or response is None:
                sound = False
                continue
            ranges.append((*invocations, key, response))
        ranges.sort(key=lambda r: (r[0], r[1]))
        reach: tuple[int, str] | None = None  # the furthest invocation answered so far, by key
        for first, last, key, _ in ranges:
            if reach is not None and first <= reach[0]:
                sound = False
                self.problem(
                    f"{pointer}/{escape_pointer(key)}",
                    f"invocation key {abbreviate(key)} overlaps key {abbreviate(reach[1])}:"
                    f" both answer invocation {first}",
                    at_key=True,
                )
            if reach is None or last > reach[0]:
                reach = (last, key)
        if not sound:
            return None
        return MockedResponse(name, tuple((first, last, r) for first, last, _, r in ranges))

    def invocation_key(self, key: str, pointer: str) -> tuple[int, int] | None:
        """The inclusive invocation range ``key`` names (``"3"``, ``"1-2"``), or a problem."""
        match = _INVOCATION_KEY.fullmatch(key)
        if match is None:
            self.problem(
                pointer,
                f"{abbreviate(key)} is not an invocation key: a key is an invocation number"
                ' counted from 0 ("0") or an inclusive range of them ("1-2")',
                at_key=True,
            )
            return None
        numbers = [text for text in match.groups() if text is not None]
        if any(len(text.lstrip("0")) > len(str(MAX_INVOCATION)) for text in numbers):
            self.problem(pointer, f"invocation key {abbreviate(key)} is too large", at_key=True)
            return None
        first, last = int(numbers[0]), int(numbers[-1])
        if last > MAX_INVOCATION:
            self.problem(
                pointer,
                f"invocation key {abbreviate(key)} passes the largest invocation number,"
                f" {MAX_INVOCATION}",
                at_key=True,
            )
            return None
        if last < first:
            self.problem(
                pointer, f"the range {key!r} ends before it starts ({last} < {first})", at_key=True
            )
            return None
        return first, last

    def response(self, value: Any, pointer: str) -> MockResponse | None:
        """One ``{"Return": ...}`` or ``{"Throw": {...}}``, or problems."""
        entry = self.object(value, pointer, "a response")
        if entry is None:
            return None
        unknown = [key for key in entry if key not in _RESPONSE_FIELDS]
        self.fields(entry, pointer, _RESPONSE_FIELDS, ())
        present = [key for key in _RESPONSE_FIELDS if key in entry]
        if len(present) != 1:
            which = "both" if present else "neither"
            self.problem(
                pointer, f"a response has exactly one of 'Return' and 'Throw'; this has {which}"
            )
            return None
        if present == ["Return"]:
            return None if unknown else MockReturn(entry["Return"])
        throw = self.throw(entry["Throw"], f"{pointer}/Throw")
        return None if unknown else throw

    def throw(self, value: Any, pointer: str) -> MockThrow | None:
        entry = self.object(value, pointer, "Throw")
        if entry is None:
            return None
        problems = len(self.problems)
        self.fields(entry, pointer, _THROW_FIELDS, _THROW_FIELDS)
        for name in _THROW_FIELDS:
            if name in entry and not isinstance(entry[name], str):
                self.problem(
                    f"{pointer}/{name}",
                    f"{name} must be a string, not {json_type_phrase(entry[name])}",
                )
        if len(self.problems) > problems:
            return None
        return MockThrow(entry["Error"], entry["Cause"])

    def state_machines(
        self, value: Any, responses: dict[str, MockedResponse] | None
    ) -> Mapping[str, Mapping[str, TestCase]]:
        if value is None:
            return MappingProxyType({})
        entries = self.object(value, "/StateMachines", "StateMachines")
        if entries is None:
            return MappingProxyType({})
        machines = {}
        for machine, entry in entries.items():
            pointer = f"/StateMachines/{escape_pointer(machine)}"
            config = self.object(entry, pointer, "a state machine's configuration")
            if config is None:
                continue
            self.fields(config, pointer, ("TestCases",), ("TestCases",))
            cases = self.object(config.get("TestCases", {}), f"{pointer}/TestCases", "TestCases")
            if cases is None:
                continue
            machines[machine] = MappingProxyType(
                {
                    name: self.test_case(
                        machine,
                        name,
                        case,
                        f"{pointer}/TestCases/{escape_pointer(name)}",
                        responses,
                    )
                    for name, case in cases.items()
                }
            )
        return MappingProxyType(machines)

    def test_case(
        self,
        machine: str,
        name: str,
        value: Any,
        pointer: str,
        responses: dict[str, MockedResponse] | None,
    ) -> TestCase:
        states: dict[str, MockedResponse] = {}
        entry = self.object(value, pointer, "a test case")
        for state, mocked in (entry or {}).items():
            state_pointer = f"{pointer}/{escape_pointer(state)}"
            if not isinstance(mocked, str):
                self.problem(
                    state_pointer,
                    f"a test case maps a state name to the name of a mocked response (a"
                    f" string), not {json_type_phrase(mocked)}",
                )
            elif responses is not None and mocked in responses:
                states[state] = responses[mocked]
            elif responses is not None and mocked not in self.refused:
                self.problem(
                    state_pointer,
                    f"mocked response {abbreviate(mocked)} is not defined in MockedResponses",
                )
        return TestCase(machine, name, MappingProxyType(states))
