"""Property tests of payload templates and intrinsic functions: any template over any data, and
any intrinsic call with any arguments, gives a value within the bounds or raises StatesError
(States.Runtime, or States.DataLimitExceeded past the payload limit); never anything else."""

from __future__ import annotations

import random
from typing import Any

from hypothesis import assume, event, given, settings
from hypothesis import strategies as st

from orchestrator.asl import bounds
from orchestrator.asl.errors import DATA_LIMIT_EXCEEDED, RUNTIME, StatesError
from orchestrator.asl.intrinsics import REGISTRY, compile_intrinsic
from orchestrator.asl.templates import compile_template

ALLOWED = {RUNTIME, DATA_LIMIT_EXCEEDED}
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=5)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from("abcxy"), inner, max_size=4)
    ),
    max_leaves=12,
)
# Values that may be large or deep: a long string, a wide array, a deep nest.
big_values = st.sampled_from(
    [
        "x" * 200_000,
        list(range(3_000)),
        {"k": "y" * 140_000},
        [[[[[[[[[[1]]]]]]]]]],
        "é" * 70_000,
    ]
)
# Half the fields are large: calls that combine two of them pass the payload limit.
data_values = st.dictionaries(
    st.sampled_from("abcxy"), json_values | big_values, min_size=3, max_size=5
)
paths = st.sampled_from(["$.a", "$.b", "$.c", "$.x", "$.y"]) | st.sampled_from(
    ["$", "$.a[0]", "$..a", "$.b[*]", "$.nope"]
)
literals = st.sampled_from(
    ["'{}'", "'a,b'", "'{} and {}'", "1", "-2", "2.5", "true", "null", "'SHA-256'", "'x'"]
)


@st.composite
def calls(draw: st.DrawFn, depth: int = 0) -> str:
    name = draw(st.sampled_from(sorted(REGISTRY)))
    spec = REGISTRY[name]
    least = len(spec.params) - spec.optional
    most = len(spec.params) + (3 if spec.rest is not None else 0)
    count = draw(st.integers(0, 2) if spec.ignores_arguments else st.integers(least, most))
    arguments = []
    for _ in range(count):
        kind = draw(st.integers(0, 3 if depth < 2 else 1))
        if kind == 0:
            arguments.append(draw(literals))
        elif kind == 1:
            arguments.append(draw(paths))
        else:
            arguments.append(draw(calls(depth + 1)))
    return f"{name}({', '.join(arguments)})"


def within_bounds(value: Any) -> None:
    assert bounds.oversize(value) is None
    bounds.json_bytes(value)


@settings(max_examples=250, deadline=None)
@given(calls(), data_values, st.integers(0, 2**32))
def test_any_intrinsic_call_is_bounded_or_a_states_error(text: str, data: Any, seed: int) -> None:
    try:
        call = compile_intrinsic(text)
    except ValueError:
        assume(False)  # the wrong number of arguments: refused when the definition is loaded
        return
    try:
        value = call.evaluate(data, {"Execution": {"Input": data}}, random.Random(seed))
    except StatesError as failure:
        assert failure.error in ALLOWED, failure
        event(failure.error)
        return
    event("value")
    within_bounds(value)


combining = st.sampled_from(
    [
        "States.Array({0}, {1})",
        "States.Array({0}, States.Array({1}, {0}))",
        "States.JsonMerge({0}, {1}, false)",
        "States.Format('{{}} and {{}}', {0}, {1})",
        "States.ArrayPartition({0}, 1)",
        "States.StringSplit({0}, 'x,')",
        "States.JsonToString({0})",
        "States.Array(" + ", ".join(["{0}", "{1}"] * 6) + ")",
    ]
)
large_fields = st.fixed_dictionaries({key: big_values | json_values for key in "abc"})


@settings(max_examples=200, deadline=None)
@given(combining, st.sampled_from("abc"), st.sampled_from("abc"), large_fields)
def test_calls_combining_large_values_stop_at_the_payload_limit(
    shape: str, first: str, second: str, data: Any
) -> None:
    call = compile_intrinsic(shape.format(f"$.{first}", f"$.{second}"))
    try:
        value = call.evaluate(data, {}, random.Random(0))
    except StatesError as failure:
        assert failure.error in ALLOWED, failure
        event(failure.error)
        return
    event("value")
    within_bounds(value)


@st.composite
def templates(draw: st.DrawFn, depth: int = 0) -> Any:
    fields: dict[str, Any] = {}
    for index in range(draw(st.integers(0, 4))):
        kind = draw(st.integers(0, 4 if depth < 2 else 2))
        if kind == 0:
            fields[f"s{index}"] = draw(json_values)
        elif kind == 1:
            fields[f"p{index}.$"] = draw(paths | st.sampled_from(["$$.Execution.Input", "$$.Map"]))
        elif kind == 2:
            fields[f"i{index}.$"] = draw(calls(1))
        elif kind == 3:
            fields[f"o{index}"] = draw(templates(depth + 1))
        else:
            fields[f"l{index}"] = [draw(templates(depth + 1)), draw(json_values)]
    return fields


@settings(max_examples=150, deadline=None)
@given(templates(), data_values, st.integers(0, 2**32))
def test_any_template_renders_within_bounds_or_fails_with_a_states_error(
    raw: Any, data: Any, seed: int
) -> None:
    template, problems = compile_template(raw, "/Parameters")
    assume(template is not None)
    assert template is not None and not problems
    try:
        value = template.render(data, {"Execution": {"Input": data}}, random.Random(seed))
    except StatesError as failure:
        assert failure.error in ALLOWED, failure
        return
    within_bounds(value)
    assert set(value) == {key.removesuffix(".$") for key in raw}


@settings(max_examples=100, deadline=None)
@given(st.integers(2, 40), st.integers(1, 12))
def test_many_references_to_the_whole_input_fail_fast(fields: int, kilobytes: int) -> None:
    raw = {f"f{i}.$": "$" for i in range(fields)}
    template, _ = compile_template(raw, "/Parameters")
    assert template is not None
    data = {"blob": "x" * (kilobytes * 1024)}
    fits = fields * (kilobytes * 1024 + 12) < bounds.MAX_PAYLOAD_BYTES
    try:
        value = template.render(data, None)
    except StatesError as failure:
        assert failure.error == DATA_LIMIT_EXCEEDED and not fits
        return
    within_bounds(value)
