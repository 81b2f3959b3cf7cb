"""The functions AWS Step Functions adds to JSONata: $partition, $range, $hash, $random,
$uuid, $parse."""

from __future__ import annotations

import hashlib
import random
import re
from typing import Any

import pytest

from orchestrator.asl.jsonata import JsonataError, compile_expression


def evaluate(field: str, rng: random.Random | None = None, **input_: Any) -> Any:
    return compile_expression(field).evaluate({"states": {"input": input_}}, rng=rng)


def cause(field: str, rng: random.Random | None = None, **input_: Any) -> str:
    with pytest.raises(JsonataError) as caught:
        evaluate(field, rng, **input_)
    return caught.value.cause


@pytest.mark.parametrize(
    ("items", "size", "expected"),
    [  # recorded on AWS (test_array_partition)
        ([0], 1, [[0]]),
        ([0], 5, [[0]]),
        ([0, 1], 1, [[0], [1]]),
        ([0, 1, 2], 2, [[0, 1], [2]]),
        ([0, 1, 2, 3], 3, [[0, 1, 2], [3]]),
        ([0, 1, 2, 3], 4, [[0, 1, 2, 3]]),
        ([], 2, []),
    ],
)
def test_partition(items: list[int], size: int, expected: list[list[int]]) -> None:
    assert (
        evaluate(
            "{% $partition($states.input.items, $states.input.size) %}", items=items, size=size
        )
        == expected
    )


@pytest.mark.parametrize("size", [0, -1, 1.5])
def test_partition_refuses_a_size_that_is_not_a_positive_integer(size: float) -> None:
    assert "chunk size of function partition" in cause(
        "{% $partition([1, 2], $states.input.size) %}", size=size
    )


@pytest.mark.parametrize(
    ("start", "end", "step", "expected"),
    [  # the first four recorded on AWS (test_array_range)
        (0, 9, 3, [0, 3, 6, 9]),
        (0, 10, 3, [0, 3, 6, 9]),
        (1, 9, 9, 1),  # one item: AWS's $range is a sequence, so it is unwrapped
        (1, 9, 2, [1, 3, 5, 7, 9]),
        (10, 0, -5, [10, 5, 0]),
        (0, 10, 2, [0, 2, 4, 6, 8, 10]),
    ],
)
def test_range(start: int, end: int, step: int, expected: Any) -> None:
    assert (
        evaluate(
            "{% $range($states.input.s, $states.input.e, $states.input.t) %}",
            s=start,
            e=end,
            t=step,
        )
        == expected
    )


def test_an_empty_range_is_undefined() -> None:
    assert "returned nothing (undefined)" in cause("{% $range(5, 1, 1) %}")
    assert evaluate("{% $count($range(5, 1, 1)) %}") == 0


def test_range_refuses_step_zero_fractions_and_too_many_items() -> None:
    assert "step of function range must not be 0" in cause("{% $range(0, 3, 0) %}")
    assert "must be an integer" in cause("{% $range(0, 3.5, 1) %}")
    assert "would make 1000000001 items" in cause("{% $range(0, 1e9, 1) %}")


def test_a_wrong_argument_type_fails_with_the_jsonata_signature_error() -> None:
    assert cause("{% $range('a', 3, 1) %}").endswith(
        'T0410: Argument 1 of function "range" does not match function signature'
    )
    assert cause("{% $partition([1]) %}").endswith(
        'T0410: Argument 2 of function "partition" does not match function signature'
    )


@pytest.mark.parametrize(
    ("algorithm", "digest"),
    [
        ("MD5", "900150983cd24fb0d6963f7d28e17f72"),
        ("SHA-1", "a9993e364706816aba3e25717850c26c9cd0d89d"),
        ("SHA-256", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        (
            "SHA-384",
            "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed"
            "8086072ba1e7cc2358baeca134c825a7",
        ),
        (
            "SHA-512",
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
            "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
        ),
    ],
)
def test_hash_gives_the_hex_digest(algorithm: str, digest: str) -> None:
    assert evaluate("{% $hash('abc', $states.input.algorithm) %}", algorithm=algorithm) == digest


def test_hash_hashes_the_utf8_bytes_and_refuses_unknown_algorithms() -> None:
    assert evaluate("{% $hash('\u00e9', 'MD5') %}") == hashlib.md5("\u00e9".encode()).hexdigest()
    assert "algorithm of function hash must be one of MD5, SHA-1" in cause(
        "{% $hash('a', 'sha256') %}"
    )


def test_random_without_a_seed_draws_on_the_callers_generator() -> None:
    expression = compile_expression("{% [$random(), $random()] %}")
    first = expression.evaluate({}, rng=random.Random(11))
    assert first == expression.evaluate({}, rng=random.Random(11))
    assert first == [random.Random(11).random(), _second(11)]
    assert all(0 <= value < 1 for value in first)
    assert first != expression.evaluate({}, rng=random.Random(12))


def _second(seed: int) -> float:
    rng = random.Random(seed)
    rng.random()
    return rng.random()


def test_random_with_a_seed_is_always_the_same_number() -> None:
    seeded = compile_expression("{% $random($states.input.seed) %}")
    values = {
        seeded.evaluate({"states": {"input": {"seed": 42}}}, rng=random.Random(n)) for n in range(3)
    }
    assert len(values) == 1
    assert 0 <= values.pop() < 1
    other = seeded.evaluate({"states": {"input": {"seed": 43}}}, rng=random.Random(0))
    assert other != seeded.evaluate({"states": {"input": {"seed": 42}}}, rng=random.Random(0))


def test_random_and_uuid_fail_without_a_generator_rather_than_use_a_global_one() -> None:
    assert "needs a random generator" in cause("{% $random() %}")
    assert "needs a random generator" in cause("{% $uuid() %}")
    assert 0 <= evaluate("{% $random(1) %}") < 1  # the seeded form needs none


def test_uuid_is_a_version_4_uuid_from_the_callers_generator() -> None:
    expression = compile_expression("{% $uuid() %}")
    value = expression.evaluate({}, rng=random.Random(5))
    assert re.fullmatch(
        r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", value
    )
    assert value == expression.evaluate({}, rng=random.Random(5))
    assert value != expression.evaluate({}, rng=random.Random(6))


@pytest.mark.parametrize(
    ("text", "expected"),
    [  # all but the last three recorded on AWS (test_parse)
        ("-0", 0),
        ("1", 1),
        ("1.1", 1.1),
        ("true", True),
        ('"HelloWorld"', "HelloWorld"),
        ('[1, 2, "HelloWorld"]', [1, 2, "HelloWorld"]),
        ('{"Arg1": 1, "Arg2": []}', {"Arg1": 1, "Arg2": []}),
        ("null", None),
        ('{"a": null}', {"a": None}),
        ("[[1]]", [[1]]),
    ],
)
def test_parse(text: str, expected: Any) -> None:
    result = evaluate("{% $parse($states.input.text) %}", text=text)
    assert result == expected
    assert type(result) is type(expected)


def test_parse_keeps_jsonata_semantics_around_it() -> None:
    assert evaluate("{% $parse('[1, 2]')[1] %}") == 2
    assert evaluate("{% $type($parse('null')) %}") == "null"
    assert evaluate("{% $states.input.texts.$parse($) %}", texts=['{"a": 1}', "[2]"]) == [
        {"a": 1},
        2,
    ]
    assert evaluate("{% ($parse := function($x){'mine'}; $parse('1')) %}") == "mine"


def test_parse_refuses_text_that_is_not_json() -> None:
    assert "argument of function parse is not valid JSON" in cause("{% $parse('{') %}")
    assert "not valid JSON" in cause("{% $parse('NaN') %}")
    assert cause("{% $parse(1) %}").endswith(
        'T0410: Argument 1 of function "parse" does not match function signature'
    )
