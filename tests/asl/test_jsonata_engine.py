"""One JSONata field: recognising it, compiling it, evaluating it to JSON, its errors and bounds."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

import pytest

from orchestrator.asl.jsonata import (
    MAX_EXPRESSION_CHARS,
    QUERY_EVALUATION_ERROR,
    JsonataError,
    JsonataSyntaxError,
    Limits,
    compile_expression,
    is_expression,
    unexpected_type,
)

DATA = {
    "a": {"b": [{"c": 1}, {"c": 2}]},
    "x": [5],
    "n": None,
    "items": [{"k": "x", "v": 1}, {"k": "y", "v": 2}, {"k": "x", "v": 3}],
    "orders": [{"id": 1, "items": [{"p": "x"}, {"p": "y"}]}],
}


def evaluate(field: str, data: Any = None, **variables: Any) -> Any:
    bindings = {"states": {"input": DATA if data is None else data}, **variables}
    return compile_expression(field).evaluate(bindings, rng=random.Random(7), location="Output")


def failure(field: str, **kwargs: Any) -> JsonataError:
    with pytest.raises(JsonataError) as caught:
        compile_expression(field).evaluate(
            {"states": {"input": DATA}}, rng=random.Random(7), location="Output", **kwargs
        )
    assert caught.value.error == QUERY_EVALUATION_ERROR
    return caught.value


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("{% $states.input %}", True),
        ("{%$x%}", True),
        ("{%%}", True),  # an empty expression: a syntax error when compiled, not a literal
        (" {% states.input %} ", False),  # recorded: kept as a literal
        ("{% $x %} ", False),
        ("{% $x", False),
        ("{%}", False),
        ("$states.input", False),
        (1, False),
        (None, False),
    ],
)
def test_is_expression_needs_the_delimiters_at_both_ends(value: Any, expected: bool) -> None:
    assert is_expression(value) is expected


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        # Results recorded on AWS (jsonata-js 2.x) or given by jsonata-js's documentation.
        ("{% $states.input.a.b.c %}", [1, 2]),
        ("{% $states.input.a.b[0].c %}", 1),
        ("{% $states.input.a.b[c>1] %}", {"c": 2}),  # a singleton sequence is unwrapped
        ("{% $states.input.a.b[c=1].c[] %}", [1]),  # ... unless kept with []
        ("{% $states.input.x %}", [5]),
        ("{% $map([1], function($v){$v*2}) %}", 2),
        ("{% $map([1,2,3], function($v){$v*2}) %}", [2, 4, 6]),
        ("{% $filter([1,2,3,4], function($v){$v%2=0}) %}", [2, 4]),
        ("{% $reduce([1,2,3,4], function($a,$b){$a+$b}) %}", 10),
        ("{% $sort([{'n':2},{'n':1}], function($l,$r){$l.n > $r.n}) %}", [{"n": 1}, {"n": 2}]),
        ("{% $states.input.items{k: $sum(v)} %}", {"x": 4, "y": 2}),
        ("{% $states.input.items^(>v).v %}", [3, 2, 1]),
        (
            "{% $states.input.orders.items.{'p': p, 'id': %.id} %}",
            [{"p": "x", "id": 1}, {"p": "y", "id": 1}],
        ),
        (
            "{% $states.input.items#$i[v>1].{'k': k, 'i': $i} %}",
            [{"k": "y", "i": 1}, {"k": "x", "i": 2}],
        ),
        ("{% {'a': nothing, 'b': 1} %}", {"b": 1}),
        ("{% {'a': null} %}", {"a": None}),
        ("{% $exists($states.input.n) %}", True),
        ("{% $exists($states.input.nope) %}", False),
        (
            "{% [$type(null), $type(1), $type([]), $type({}), $type(function(){1})] %}",
            ["null", "number", "array", "object", "function"],
        ),
        ("{% $string(1.0) %}", "1"),
        ("{% $string(1e21) %}", "1e+21"),
        ("{% $string(1e20) %}", "100000000000000000000"),
        ("{% $string(0.1+0.2) %}", "0.3"),
        ("{% 0.1+0.2 %}", 0.30000000000000004),
        ("{% 2 * 1.5 %}", 3),
        ("{% $substring('\U0001f600abc', 1, 2) %}", "ab"),  # code points, not UTF-16 units
        ("{% $replace('John Smith', /(\\w+)\\s(\\w+)/, '$2, $1') %}", "Smith, John"),
        ("{% $contains('hello$world', /^hello\\$/) %}", True),  # recorded
        ("{% $contains('hello$world', /^hello\\ /) %}", False),  # recorded
        ("{% $formatNumber(1234.5678, '#,##0.00') %}", "1,234.57"),
        ("{% [$round(2.5), $round(3.5), $round(-2.5)] %}", [2, 4, -2]),
        ("{% $fromMillis(1577836800000, '[Y0001]-[M01]-[D01]') %}", "2020-01-01"),
        (
            "{% $states.input.orders[0] ~> |items|{'q':3}| %}",
            {"id": 1, "items": [{"p": "x", "q": 3}, {"p": "y", "q": 3}]},
        ),
        ("{% ($f := function($n){$n <= 1 ? 1 : $n * $f($n-1)}; $f(10)) %}", 3628800),
        ("{% $number('2') %}", 2),  # recorded
        ("{% $variable := 1 %}", 1),  # recorded (TimeoutSeconds)
        ("{% null %}", None),
    ],
)
def test_expressions_evaluate_as_jsonata_js_does(field: str, expected: Any) -> None:
    result = evaluate(field)
    assert result == expected
    assert type(result) is type(expected)  # 3, not 3.0: JSON numbers as JavaScript prints them


def test_bindings_are_the_states_object_and_the_workflow_variables() -> None:
    expression = compile_expression(
        "{% $sum($states.input.values) + $constant & $states.context.Id %}"
    )
    bindings = {"states": {"input": {"values": [1, 2]}, "context": {"Id": "x"}}, "constant": 3}
    assert expression.evaluate(bindings) == "6x"
    assert expression.variables == frozenset({"constant"})
    assert expression.text == "$sum($states.input.values) + $constant & $states.context.Id"


def test_variables_leave_out_locals_lambda_parameters_and_functions() -> None:
    expression = compile_expression(
        "{% ($local := 1; $map($list, function($i){$i + $local + $k}) ~> $partition(2)) %}"
    )
    assert expression.variables == frozenset({"list", "k"})
    assert compile_expression("{% $uuid() & $random() & $hash($h, 'MD5') %}").variables == {"h"}


def test_undefined_fails_with_aws_cause() -> None:
    error = failure("{% $doesNotExist %}")
    # Recorded cause, after the interpreter's "An error occurred while executing the state..."
    assert error.cause == (
        "The JSONata expression '$doesNotExist' specified for the field 'Output' "
        "returned nothing (undefined)."
    )
    assert error.location == "Output"
    assert error.expression == "$doesNotExist"


def test_null_is_a_value_and_undefined_is_not() -> None:
    assert evaluate("{% $states.input.n %}") is None
    assert "returned nothing" in failure("{% $states.input.nope %}").cause


def test_a_function_is_an_unsupported_result() -> None:
    # Recorded: '$fn := function($x){$x}' ... returned an unsupported result type.
    error = failure("{% $fn := function($x){$x} %}")
    assert error.cause == (
        "The JSONata expression '$fn := function($x){$x}' specified for the field 'Output' "
        "returned an unsupported result type."
    )


def test_evaluation_errors_carry_the_jsonata_js_code_and_text() -> None:
    # Recorded: ... threw an error during evaluation. T1006: Attempted to invoke a non-function
    error = failure("{% $randomSeeded($states.input.a) %}")
    assert error.cause.endswith(
        "threw an error during evaluation. T1006: Attempted to invoke a non-function"
    )
    assert failure("{% 'a' + 1 %}").cause.endswith(
        'T2001: The left side of the "+" operator must evaluate to a number'
    )
    assert failure("{% $substring('abc', 'x') %}").cause.endswith(
        'T0410: Argument 2 of function "substring" does not match function signature'
    )


def test_a_cause_without_a_location_names_no_field() -> None:
    with pytest.raises(JsonataError) as caught:
        compile_expression("{% $nope %}").evaluate({})
    assert caught.value.cause == "The JSONata expression '$nope' returned nothing (undefined)."


def test_eval_is_not_available() -> None:
    assert failure("{% $eval('1 + 1') %}").cause.endswith(
        "T1006: Attempted to invoke a non-function"
    )


def test_now_and_millis_are_the_given_time_and_never_the_clock() -> None:
    now = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    expression = compile_expression("{% $now() & ' ' & $string($millis()) %}")
    assert expression.evaluate({}, now=now) == "2024-01-02T03:04:05.000Z 1704164645000"
    assert "evaluation time was not given" in failure("{% $now() %}").cause
    assert "evaluation time was not given" in failure("{% $millis() %}").cause


def test_shuffle_draws_on_the_callers_generator() -> None:
    expression = compile_expression("{% $shuffle([1,2,3,4,5,6,7,8,9,10]) %}")
    first = expression.evaluate({}, rng=random.Random(3))
    assert first == expression.evaluate({}, rng=random.Random(3))
    assert sorted(first) == list(range(1, 11))
    others = {tuple(expression.evaluate({}, rng=random.Random(seed))) for seed in range(5)}
    assert len(others) > 1
    with pytest.raises(JsonataError, match="shuffle needs a random generator"):
        expression.evaluate({})


@pytest.mark.parametrize(
    ("field", "code", "position"),
    [
        ("{% 1 + %}", "S0207", 7),
        ("{% $states.input.a[ %}", "S0203", 20),
        ("{%%}", "S0207", 2),
        ("{% {'a': } %}", "S0211", 9),  # where the offending token starts
    ],
)
def test_syntax_errors_are_found_when_compiled_with_a_position(
    field: str, code: str, position: int
) -> None:
    with pytest.raises(JsonataSyntaxError) as caught:
        compile_expression(field)
    assert caught.value.code == code
    assert caught.value.position == position  # in the field as written, "{%" included
    assert caught.value.message


def test_compile_expression_refuses_a_string_without_delimiters() -> None:
    with pytest.raises(ValueError, match="not a JSONata expression"):
        compile_expression("$states.input")


def test_a_too_long_expression_is_refused_when_compiled() -> None:
    with pytest.raises(JsonataSyntaxError, match="longer than"):
        compile_expression("{% " + "1+" * MAX_EXPRESSION_CHARS + "1 %}")


@pytest.mark.parametrize(
    ("field", "code"),
    [
        ("{% ($f := function($n){$f($n+1)}; $f(0)) %}", "U1006"),  # endless tail recursion
        ("{% $count([1..10000000].($ * 2)) %}", "U1001"),  # too big an array
        ("{% ($f := function($n){1 + $f($n+1)}; $f(0)) %}", "D1011"),  # too deep
        ("{% $pad('x', 9000000) %}", "U1001"),  # too long a string
        ("{% [1..100000000] %}", "D2014"),  # jsonata's own range bound
    ],
)
def test_runaway_evaluations_stop_with_a_clear_error(field: str, code: str) -> None:
    assert f"threw an error during evaluation. {code}: " in failure(field).cause


def test_the_step_budget_is_deterministic() -> None:
    limits = Limits(max_steps=5_000)
    loop = compile_expression("{% $reduce([1..2000], function($a, $b){$a + $b}) %}", limits)
    causes = set()
    for _ in range(3):
        with pytest.raises(JsonataError) as caught:
            loop.evaluate({})
        causes.add(caught.value.cause)
    (cause,) = causes  # the same point every time
    assert "U1006: The evaluation exceeded its budget of 5000 steps" in cause
    assert (
        compile_expression("{% $reduce([1..20], function($a, $b){$a + $b}) %}", limits).evaluate({})
        == 210
    )


def test_unexpected_type_prints_the_value_as_aws_does() -> None:
    # Recorded for a Map's Items (the interpreter checks the type, this builds the cause).
    error = unexpected_type("{'foo': 'bar'}", "Items", "array", {"foo": "bar"})
    assert error.cause == (
        "The JSONata expression '{'foo': 'bar'}' specified for the field 'Items' returned an "
        "unexpected result type. Expected 'array', but was 'object' for value: {\"foo\":\"bar\"}"
    )
    assert unexpected_type("true", "Items", "array", True).cause.endswith(
        "'boolean' for value: true"
    )
    assert unexpected_type("$v", "Items", "array", None).cause.endswith("'null' for value: null")
