"""Property-based fuzzing of the definition loader and of AWS's diagnostics.

Whatever the text (random JSON made of ASL's words, or a real definition mutated), loading it
either gives a state machine or raises :class:`DefinitionError` with located problems; nothing
else escapes, and each load finishes within a bound. The seeds are the AWS-recorded corpus
definitions when ``../shared/conformance`` is there, and this repository's own definitions.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from orchestrator.asl.definition import StateMachine
from orchestrator.asl.diagnostics import aws_diagnostics
from orchestrator.asl.errors import DefinitionError
from orchestrator.asl.loader import load_definition
from tests.asl.fuzz_support import fuzz

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT.parent / "shared" / "conformance"
# Seconds one load may take; real ones take milliseconds.
BOUND = 2.0


def seed_definitions() -> list[str]:
    """Every definition at hand: the repository's, plus a spread of the corpus's."""
    seeds = [p.read_text() for p in sorted((ROOT / "definitions").glob("*.asl.json"))]
    seeds += [p.read_text() for p in sorted((ROOT / "tests" / "fixtures").glob("*.asl.json"))]
    for name in ("cases.jsonl", "integrations.jsonl"):
        file = CORPUS / name
        if file.is_file():
            with file.open(encoding="utf-8") as lines:
                records = [json.loads(line) for line in lines if line.strip()]
            # A spread of the corpus: every group, without the choice operators' 491 near-copies.
            seeds += [r["definition"] for r in records[::7]]
    return seeds


SEEDS = seed_definitions()

WORDS = [
    "Type", "Pass", "Task", "Choice", "Wait", "Succeed", "Fail", "Parallel", "Map", "Next",
    "End", "StartAt", "States", "Resource", "Parameters", "ResultPath", "InputPath",
    "OutputPath", "Retry", "Catch", "ErrorEquals", "IntervalSeconds", "MaxAttempts",
    "BackoffRate", "MaxDelaySeconds", "TimeoutSeconds", "HeartbeatSeconds", "Branches",
    "ItemProcessor", "Iterator", "ItemsPath", "MaxConcurrency", "Choices", "Default",
    "Variable", "StringEquals", "NumericEquals", "And", "Or", "Not", "Seconds", "Timestamp",
    "QueryLanguage", "JSONPath", "JSONata", "A", "B", "x.$", "States.ALL", "$", "$.a",
    "$.a.[0]", "$$.Execution.Id", "States.Format('{}', $.a)", "States.Array(States.Array(1))",
    "arn:aws:lambda:us-east-1:123456789012:function:F", "arn:aws:states:::lambda:invoke",
    "arn:aws:states:us-east-1:123456789012:activity:X",
]  # fmt: skip
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(WORDS),
    st.text(max_size=12),
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(WORDS), inner, max_size=4),
    ),
    max_leaves=12,
)


def state_strategy() -> st.SearchStrategy[dict[str, Any]]:
    fields = st.dictionaries(st.sampled_from(WORDS), JSON_VALUES, max_size=5)
    return st.builds(
        lambda kind, extra: {"Type": kind, **extra},
        st.sampled_from(["Pass", "Task", "Choice", "Wait", "Succeed", "Fail", "Parallel", "Map"]),
        fields,
    )


DEFINITIONS = st.builds(
    lambda start, states, extra: {"StartAt": start, "States": states, **extra},
    st.sampled_from(["A", "B", "C"]),
    st.dictionaries(st.sampled_from(["A", "B", "C", "D"]), state_strategy(), max_size=4),
    st.dictionaries(st.sampled_from(["Comment", "TimeoutSeconds", "QueryLanguage"]), SCALARS),
)


def check_loads(text: str) -> None:
    """Loading ``text`` gives a machine or a DefinitionError of well-formed problems, quickly."""
    started = time.perf_counter()
    try:
        machine = load_definition(text, name="Fuzz")
    except DefinitionError as exc:
        assert exc.problems
        for problem in exc.problems:
            assert problem.code and problem.code.isupper()
            assert isinstance(problem.message, str) and problem.message
            assert problem.pointer == "" or problem.pointer.startswith("/")
            assert (problem.line is None) == (problem.column is None)
            assert problem.line is None or problem.line >= 1
            assert len(problem.message) < 2000
        str(exc)
    else:
        assert isinstance(machine, StateMachine)
    assert time.perf_counter() - started < BOUND
    answer = aws_diagnostics(text)
    assert answer["result"] in ("OK", "FAIL")
    errors = [d for d in answer["diagnostics"] if d["severity"] == "ERROR"]
    assert (answer["result"] == "OK") == (not errors)
    # A loadable definition gets no errors (at most warnings, such as an unassigned variable).
    assert all(d["severity"] in ("ERROR", "WARNING") for d in answer["diagnostics"])
    assert len(answer["diagnostics"]) <= 100


@fuzz(150)
@given(DEFINITIONS)
def test_random_definitions_load_or_are_refused_with_problems(document: dict[str, Any]) -> None:
    check_loads(json.dumps(document))


@fuzz(100)
@given(JSON_VALUES)
def test_any_json_value_loads_or_is_refused(value: Any) -> None:
    check_loads(json.dumps(value))


MUTATIONS = st.sampled_from(["delete", "insert", "duplicate", "truncate", "swap"])
NOISE = st.sampled_from([*'{}[],:"\\$.\n 0-eE', "NaN", "1e999", "[[[[", "}}}}", "\\u0000"])


@fuzz(300)
@given(st.sampled_from(SEEDS), st.lists(st.tuples(MUTATIONS, st.floats(0, 1), st.floats(0, 1), NOISE), min_size=1, max_size=4))  # fmt: skip
def test_mutated_text_of_real_definitions_never_escapes(
    seed: str, mutations: list[tuple[str, float, float, str]]
) -> None:
    text = seed
    for kind, a, b, noise in mutations:
        i, j = sorted((int(a * len(text)), int(b * len(text))))
        if kind == "delete":
            text = text[:i] + text[j:]
        elif kind == "insert":
            text = text[:i] + noise + text[i:]
        elif kind == "duplicate":
            text = text[:j] + text[i:j] + text[j:]
        elif kind == "truncate":
            text = text[:j]
        else:
            text = text[:i] + text[j:] + text[i:j]
    check_loads(text)


def paths_of(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += paths_of(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += paths_of(child, (*prefix, index))
    return found


@fuzz(200)
@given(st.sampled_from(SEEDS), st.data())
def test_mutated_values_of_real_definitions_never_escape(seed: str, data: st.DataObject) -> None:
    try:
        document = json.loads(seed)
    except ValueError:
        return
    for _ in range(data.draw(st.integers(1, 3))):
        places = paths_of(document)[1:]
        if not places:
            break
        *parent_path, last = data.draw(st.sampled_from(places))
        parent = document
        for step in parent_path:
            parent = parent[step]
        if data.draw(st.booleans()) and isinstance(parent, dict):
            del parent[last]
        else:
            parent[last] = data.draw(JSON_VALUES)
    check_loads(json.dumps(document))
