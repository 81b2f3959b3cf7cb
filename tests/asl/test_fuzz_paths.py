"""Property-based fuzzing of JSONPath: compiling any text, reading and writing any data.

A path either compiles or is refused with ``ValueError``; a compiled path reads any JSON value
giving a value, a list of matches or :class:`PathNotFound`, and nothing else; a reference path
writes or raises :class:`PathWriteError`.
"""

from __future__ import annotations

import time
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from orchestrator.asl.paths import (
    PathNotFound,
    PathWriteError,
    compile_path,
    compile_reference_path,
)
from tests.asl.fuzz_support import fuzz

KEYS = st.sampled_from(["a", "b", "x", "items", "0", "a b", "é", ""])
JSON = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-5, 5),
        st.floats(allow_nan=False, allow_infinity=False),
        st.sampled_from(["a", "b", "", "1"]),
    ),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(KEYS, inner, max_size=4)),
    max_leaves=20,
)
PATH_TEXT = st.text(alphabet=list("$.[]'\"*?@()=<>!&|,:-_ab0123 \\~`"), max_size=40).map(
    lambda text: "$" + text
)
STEPS = st.sampled_from(
    [
        ".a",
        ".b",
        ".items",
        "['a']",
        "['a b']",
        '["x"]',
        "[0]",
        "[1]",
        ".[0]",
        ".[1]",
        "[*]",
        ".[*]",
        "..a",
        "..[0]",
        "[?(@.x == 1)]",
        ".[?(@.x == 1)]",
        "[?(@.x > 0)]",
        "[?(@.a)]",
        "[1:3]",
        ".[0:2]",
        "[-1:]",
    ]
)
STRUCTURED = st.lists(STEPS, max_size=6).map(lambda steps: "$" + "".join(steps))


def read_safely(text: str, data: Any) -> None:
    """Compiling ``text`` and reading ``data`` with it raises nothing but the expected errors."""
    try:
        path = compile_path(text)
    except ValueError:
        return
    started = time.perf_counter()
    try:
        found = path.read(data)
    except PathNotFound as missing:
        assert path.definite
        assert missing.describe(text).startswith(f"Invalid path '{text}'")
    else:
        if not path.definite:
            assert isinstance(found, list)
    path.exists(data)
    assert time.perf_counter() - started < 1


@fuzz(300)
@given(PATH_TEXT, JSON)
def test_any_text_compiles_or_is_refused_and_reads_safely(text: str, data: Any) -> None:
    read_safely(text, data)


@fuzz(200)
@given(STRUCTURED, JSON)
def test_paths_of_valid_steps_compile_and_read_safely(text: str, data: Any) -> None:
    compile_path(text)
    read_safely(text, data)


@fuzz(100)
@given(
    st.lists(st.integers(-3, 3), max_size=5),
    st.integers(0, 5),
    st.sampled_from(["a", "items"]),
)
def test_a_dot_before_an_index_reads_as_the_index(items: list[int], index: int, key: str) -> None:
    data = {key: items}
    plain, dotted = compile_path(f"$.{key}[{index}]"), compile_path(f"$.{key}.[{index}]")
    assert plain.exists(data) == dotted.exists(data)
    if plain.exists(data):
        assert plain.read(data) == dotted.read(data) == items[index]
    assert compile_path(f"$.{key}.[*]").read(data) == items


@fuzz(200)
@given(PATH_TEXT, JSON, JSON)
def test_reference_paths_compile_or_are_refused_and_write_safely(
    text: str, data: Any, value: Any
) -> None:
    try:
        path = compile_reference_path(text)
    except ValueError:
        return
    try:
        written = path.write(data, value)
    except PathWriteError:
        return
    assert compile_path(text).read(written) == value
