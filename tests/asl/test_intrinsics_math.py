"""States.MathAdd, States.MathRandom and States.UUID (randomness only from the given rng)."""

from __future__ import annotations

import random
import uuid

import pytest

from orchestrator.asl.intrinsics import compile_intrinsic
from tests.asl.intrinsics_support import invalid, run


@pytest.mark.parametrize(
    ("a", "b", "total"),
    [
        (-9, 3, -6),
        # recorded on AWS: each operand is rounded as Java's Math.round does
        (1.49, 1.5, 3),
        (1.5, 1.51, 4),
        (-1.49, -1.5, -2),
        (-1.5, -1.51, -3),
        (1.49, -1.49, 0),
        (0.5, 0, 1),
        (-0.5, 0.5, 1),
        (-0.5, 0, 0),
        (2.5, 0, 3),
        (-2.5, 0, -2),
        (0.49999999999999994, 0, 0),
        (2147483646, 1, 2147483647),
        (-2147483647, -1, -2147483648),
    ],
)
def test_math_add(a: float, b: float, total: int) -> None:
    result = run("States.MathAdd($.a, $.b)", {"a": a, "b": b})
    assert (result, type(result)) == (total, int)


@pytest.mark.parametrize(
    "args",
    ["2147483647, 1", "-2147483648, -1", "3000000000, 1", "'a', 1", "1, '2'", "null, 1", "true, 1"],
)
def test_math_add_invalid_arguments(args: str) -> None:
    assert invalid(f"States.MathAdd({args})") == "Invalid arguments in States.MathAdd"


def test_math_add_nested() -> None:
    assert run("States.MathAdd(States.MathAdd($.x, 1), -2)", {"x": 5}) == 4


def test_math_random_is_in_range_and_drawn_from_the_given_rng() -> None:
    intrinsic = compile_intrinsic("States.MathRandom($.start, $.end)")
    data = {"start": 1, "end": 4}
    values = {intrinsic.evaluate(data, {}, random.Random(seed)) for seed in range(50)}
    assert values == {1, 2, 3}  # the end is excluded
    first = [intrinsic.evaluate(data, {}, random.Random(7)) for _ in range(5)]
    assert first == [intrinsic.evaluate(data, {}, random.Random(7)) for _ in range(5)]


def test_math_random_truncates_bounds() -> None:
    data = {"start": 12.5, "end": 44.51}
    for seed in range(20):
        assert 12 <= run("States.MathRandom($.start, $.end)", data, random.Random(seed)) < 44
    assert run("States.MathRandom(1.6, 2.4)") == 1


def test_math_random_with_a_seed_does_not_use_the_rng() -> None:
    rng = random.Random(1)
    state = rng.getstate()
    seeded = {run("States.MathRandom(0, 999, 3)", rng=random.Random(n)) for n in range(5)}
    assert len(seeded) == 1
    assert 0 <= seeded.pop() < 999
    run("States.MathRandom(0, 999, $.seed)", {"seed": -10}, rng)
    assert rng.getstate() == state


@pytest.mark.parametrize(
    "args", ["1, 1", "10, 5", "1.4, 1.6", "'a', 10", "1, 'b'", "1, 10, 'seed'", "1, 10, null"]
)
def test_math_random_invalid_arguments(args: str) -> None:
    assert invalid(f"States.MathRandom({args})") == "Invalid arguments in States.MathRandom"


def test_uuid_is_a_version_4_uuid_from_the_rng() -> None:
    text = run("States.UUID()", rng=random.Random(42))
    parsed = uuid.UUID(text)
    assert (parsed.version, parsed.variant, str(parsed)) == (4, uuid.RFC_4122, text)
    assert text == run("States.UUID()", rng=random.Random(42))
    rng = random.Random(42)
    two = run("States.Array(States.UUID(), States.UUID())", rng=rng)
    assert two[0] == text and two[1] != text
