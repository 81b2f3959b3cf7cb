"""Property-based fuzzing of the intrinsic-function lexer and parser.

Any text either compiles or is refused with ``ValueError`` (its message short and naming a
column), quickly; any call built from the registered functions with an accepted number of
arguments, nested up to AWS's limit of 10, compiles; one nested deeper is refused; evaluating
a compiled call on any data raises nothing but ``StatesError``.
"""

from __future__ import annotations

import random
import time
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from orchestrator.asl.errors import StatesError
from orchestrator.asl.intrinsics import compile_intrinsic
from orchestrator.asl.intrinsics.lexer import tokenize
from orchestrator.asl.intrinsics.parser import MAX_NESTING
from orchestrator.asl.intrinsics.spec import REGISTRY
from tests.asl.fuzz_support import fuzz

NAMES = sorted(REGISTRY)
ARITIES = {name: [n for n in range(5) if REGISTRY[name].arity_problem(n) is None] for name in NAMES}

TEXT = st.one_of(
    st.text(max_size=60),
    st.lists(
        st.sampled_from(
            [*NAMES, "(", ")", ",", " ", "'a'", "'{}'", "'\\\\'", "'\\x'", "'", "1", "-1", "2.5",
             "1e3", "-", "true", "null", "$", "$.a", "$$.Execution.Id", "$.a[0]", "$[", "States.",
             "States.Nope"]
        ),
        max_size=25,
    ).map("".join),
)  # fmt: skip
LITERALS = st.sampled_from(
    ["'a'", "'{}'", "'x\\'y'", "'\\{\\}'", "1", "-2", "0.5", "true", "false", "null", "$.a", "$.b[0]",
     "$$.Execution.Id", "$", "$.a.[0]", "$.n", "$.s", "$.arr"]
)  # fmt: skip
DATA = st.fixed_dictionaries(
    {
        "a": st.one_of(
            st.integers(-3, 3), st.text(max_size=5), st.lists(st.integers(), max_size=3)
        ),
        "b": st.lists(st.one_of(st.integers(-3, 3), st.text(max_size=3)), max_size=3),
        "n": st.integers(-10, 10),
        "s": st.text(max_size=10),
        "arr": st.lists(st.integers(-5, 5), max_size=6),
    }
)


def calls(depth: int) -> st.SearchStrategy[str]:
    """A well-formed call nesting at most ``depth`` calls deep."""
    arguments = (
        LITERALS if depth <= 1 else st.one_of(LITERALS, st.deferred(lambda: calls(depth - 1)))
    )

    @st.composite
    def call(draw: st.DrawFn) -> str:
        name = draw(st.sampled_from(NAMES))
        count = draw(st.sampled_from(ARITIES[name]))
        args = [draw(arguments) for _ in range(count)]
        return f"{name}({', '.join(args)})"

    return call()


@fuzz(500)
@given(TEXT)
def test_any_text_compiles_or_is_refused_quickly(text: str) -> None:
    started = time.perf_counter()
    try:
        compile_intrinsic(text)
    except ValueError as exc:
        assert len(str(exc)) < 600
    assert time.perf_counter() - started < 0.5
    try:
        tokens = tokenize(text)
    except ValueError:
        return
    assert tokens[-1].kind == "end"


@fuzz(300)
@given(calls(4), DATA)
def test_well_formed_calls_compile_and_evaluate_to_a_value_or_a_states_error(
    text: str, data: dict[str, Any]
) -> None:
    intrinsic = compile_intrinsic(text)
    context = {"Execution": {"Id": "arn:aws:states:us-east-1:1:execution:M:e"}}
    try:
        intrinsic.evaluate(data, context, random.Random(0), field="x.$")
    except StatesError as exc:
        assert exc.error.startswith("States.")


@fuzz(100)
@given(
    st.integers(1, 30), st.sampled_from(["States.Array", "States.JsonToString", "States.Format"])
)
def test_nesting_is_accepted_up_to_ten_and_refused_beyond(depth: int, name: str) -> None:
    text = f"{name}(" * depth + "$.a" + ")" * depth
    if depth <= MAX_NESTING:
        compile_intrinsic(text)
    else:
        try:
            compile_intrinsic(text)
        except ValueError as exc:
            assert f"more than {MAX_NESTING} deep" in str(exc)
        else:
            raise AssertionError(f"{depth} levels were accepted")
