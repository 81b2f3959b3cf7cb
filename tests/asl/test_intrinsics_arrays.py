"""The array intrinsics. Expected values marked AWS come from the conformance corpus or from
behaviour observed on AWS (truncated integer arguments, HashSet order, string comparison)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.asl.intrinsics_support import invalid, run


def test_array_builds_an_array_of_its_arguments() -> None:
    assert run("States.Array()") == []
    assert run("States.Array($.a, 'b', 3, null)", {"a": {"x": []}}) == [{"x": []}, "b", 3, None]
    assert run("States.Array(1, States.Array(2, 3))") == [1, [2, 3]]


@pytest.mark.parametrize(
    ("items", "size", "expected"),
    [
        ([], 1, []),
        ([0], 5, [[0]]),
        ([0, 1, 2, 3], 3, [[0, 1, 2], [3]]),
        ([1, 2, 3, 4, 5], 2.6, [[1, 2], [3, 4], [5]]),  # AWS truncates 2.6 to 2
        ([1, 2, 3], 2147483647, [[1, 2, 3]]),
    ],
)
def test_array_partition(items: list[Any], size: float, expected: list[Any]) -> None:
    assert run("States.ArrayPartition($.a, $.n)", {"a": items, "n": size}) == expected


@pytest.mark.parametrize("size", [0, -1, 0.49, -0.4, 0.6, "2", None, True])
def test_array_partition_needs_a_positive_integer_size(size: Any) -> None:
    cause = invalid("States.ArrayPartition($.a, $.n)", {"a": [1, 2, 3], "n": size})
    assert cause == "Invalid arguments in States.ArrayPartition"


def test_array_partition_needs_an_array() -> None:
    assert (
        invalid("States.ArrayPartition('abc', 2)") == "Invalid arguments in States.ArrayPartition"
    )


@pytest.mark.parametrize(
    ("items", "value", "expected"),
    [
        ([], None, False),
        ([[1, 2, 3], 2], [1, 2, 3], True),
        ([{"1": 2, "2": []}], {"1": 2, "2": []}, True),
        ([{"1": 2, "2": []}], [], False),
        ([True, False], False, True),
        ([1, None, 3], None, True),
        ([0, 1, -1], False, False),
        # AWS compares printed forms: these match, and reordered keys do not
        (["true", "false"], True, True),
        (["9007199254740991"], 9007199254740991, True),
        ([{"a": 1, "b": 2}], {"b": 2, "a": 1}, False),
    ],
)
def test_array_contains(items: list[Any], value: Any, expected: bool) -> None:
    assert run("States.ArrayContains($.a, $.v)", {"a": items, "v": value}) is expected


def test_array_contains_needs_an_array() -> None:
    assert invalid("States.ArrayContains('x', 'x')") == "Invalid arguments in States.ArrayContains"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ("0, 9, 3", [0, 3, 6, 9]),
        ("0, 10, 3", [0, 3, 6, 9]),
        ("1, 9, 9", [1]),
        ("1, 9, 2", [1, 3, 5, 7, 9]),
        ("-2, 2, 2", [-2, 0, 2]),
        ("3, 3, -1", [3]),
        ("5, 1, -2", [5, 3, 1]),
        ("5, 1, 1", []),
        ("1, 5, -1", []),
        ("1.4, 5.6, 2.2", [1, 3, 5]),
        ("1.6, 1.4, 1", [1]),  # AWS truncates: (1, 1, 1)
        ("5.4, -0.6, -2.4", [5, 3, 1]),  # AWS: like (5, 0, -2)
    ],
)
def test_array_range(args: str, expected: list[int]) -> None:
    assert run(f"States.ArrayRange({args})") == expected


def test_array_range_holds_at_most_1000_items() -> None:
    assert len(run("States.ArrayRange(1, 1000, 1)")) == 1000
    assert run("States.ArrayRange(1000, 1, -1)")[-1] == 1
    for args in ("1, 1001, 1", "1001, 1, -1", "1, 10, 0", "1, 10, 0.49", "'a', 5, 1", "1, 5, null"):
        assert invalid(f"States.ArrayRange({args})") == "Invalid arguments in States.ArrayRange"


def test_array_get_item() -> None:
    data = {"a": [1, 2, 3, 4, 5, 6, 7, 8, 9], "i": 5}
    assert run("States.ArrayGetItem($.a, $.i)", data) == 6
    assert run("States.ArrayGetItem($.a, 1.2)", data) == 2  # AWS truncates the index
    assert run("States.ArrayGetItem(States.Array('x', null), 1)") is None
    assert run("States.ArrayGetItem($.a, 999)", {"a": []}) is None  # as AWS answers


@pytest.mark.parametrize(
    "args", ["$.a, 3", "$.a, -1", "$.a, '1'", "$.a, true", "'not-array', 0", "$.o, 0"]
)
def test_array_get_item_out_of_range_or_wrong_kind(args: str) -> None:
    data = {"a": [10, 20, 30], "o": {"0": 1}}
    assert (
        invalid(f"States.ArrayGetItem({args})", data) == "Invalid arguments in States.ArrayGetItem"
    )


def test_array_length() -> None:
    assert run("States.ArrayLength($)", list(range(9))) == 9
    assert run("States.ArrayLength(States.Array())") == 0
    assert invalid("States.ArrayLength($.o)", {"o": {"k": 1}}) == (
        "Invalid arguments in States.ArrayLength"
    )


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        ([1, 2, 3, 3, 3, 4], [1, 2, 3, 4]),
        (["a", "b", "a", "c", "b"], ["a", "b", "c"]),
        ([], []),
        ([True, False, True, False], [False, True]),  # AWS: HashSet order
        ([None, None, 1, None], [None, 1]),
        ([1, "1", "01"], [1, "1", "01"]),
        ([1, 1.0], [1.0, 1]),  # Integer and Double differ in Java; 1.0 hashes to bucket 0
        ([{"a": 1, "b": 2}, {"b": 2, "a": 1}], [{"a": 1, "b": 2}]),
        ([[1, 2], [1, 2], [2, 1]], [[2, 1], [1, 2]]),  # AWS: HashSet order
        ([{"nested": {"x": 1}}, {"nested": {"x": 1}}], [{"nested": {"x": 1}}]),
    ],
)
def test_array_unique(items: list[Any], expected: list[Any]) -> None:
    result = run("States.ArrayUnique($)", items)
    assert result == expected
    assert [type(item) for item in result] == [type(item) for item in expected]


def test_array_unique_needs_an_array() -> None:
    assert invalid("States.ArrayUnique('x')") == "Invalid arguments in States.ArrayUnique"
