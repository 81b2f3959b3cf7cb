"""JSONata templates: Arguments/Output/Assign values with {% %} strings at any depth."""

from __future__ import annotations

import random

import pytest

from orchestrator.asl.jsonata import JsonataError, JsonataSyntaxError, compile_template

BINDINGS = {"states": {"input": {"value": "v", "values": [1, 2, 3]}}, "constant": 10}


def test_expressions_are_evaluated_at_any_depth_and_other_strings_kept() -> None:
    template = compile_template(
        {
            "sum": "{% $sum($states.input.values) + $constant %}",
            "list": [
                1,
                "{% $states.input.value %}",
                {"deep": ["{% $count($states.input.values) %}"]},
            ],
            "jsonpath_like": "$states.input",
            "spaced": " {% $states.input %} ",  # recorded: a literal
            "intrinsic_like": "States.Format('{}', 1)",
            "keys.$": "$",
            "null": None,
        }
    )
    assert template.render(BINDINGS) == {
        "sum": 16,
        "list": [1, "v", {"deep": [3]}],
        "jsonpath_like": "$states.input",
        "spaced": " {% $states.input %} ",
        "intrinsic_like": "States.Format('{}', 1)",
        "keys.$": "$",
        "null": None,
    }


def test_a_lone_expression_is_a_template_too() -> None:
    assert compile_template("{% $states.input.values[1] %}").render(BINDINGS) == 2
    assert compile_template(["{% $constant %}"]).render(BINDINGS) == [10]


def test_a_template_without_expressions_renders_its_value() -> None:
    value = {"a": [1, {"b": "x"}], "c": "{%"}
    template = compile_template(value)
    assert template.render({}) == value
    assert template.expressions == ()
    assert template.variables == frozenset()


@pytest.mark.parametrize(
    ("template", "field", "location"),
    [  # the first two recorded on AWS (test_undefined_reference)
        ("{% $doesNotExist %}", "Output", "Output"),
        ({"result": "{% $doesNotExist %}"}, "Output", "Output/result"),
        ({"FunctionName": "{% $doesNotExist %}"}, "Arguments", "Arguments/FunctionName"),
        ({"a": {"b": [0, "{% $doesNotExist %}"]}}, "Assign", "Assign/a/b/1"),
        ({"a/b": "{% $doesNotExist %}"}, "Output", "Output/a/b"),
    ],
)
def test_an_undefined_expression_fails_the_field_with_its_location(
    template: object, field: str, location: str
) -> None:
    with pytest.raises(JsonataError) as caught:
        compile_template(template).render(BINDINGS, field=field)
    assert caught.value.location == location
    assert caught.value.cause == (
        f"The JSONata expression '$doesNotExist' specified for the field '{location}' "
        "returned nothing (undefined)."
    )


def test_variables_are_those_of_every_expression() -> None:
    template = compile_template({"a": "{% $x + $states.input.n %}", "b": ["{% $y & $uuid() %}"]})
    assert template.variables == frozenset({"x", "y"})


def test_a_syntax_error_names_the_string_inside_the_template() -> None:
    with pytest.raises(JsonataSyntaxError) as caught:
        compile_template({"ok": "{% 1 %}", "list": [0, {"a~b": "{% $x + %}"}]})
    assert caught.value.pointer == "/list/1/a~0b"
    assert caught.value.code == "S0207"
    assert caught.value.position == 8  # the end of the expression, where "%}" starts


def test_rendering_uses_the_callers_generator() -> None:
    template = compile_template({"id": "{% $uuid() %}", "n": "{% $random() %}"})
    first = template.render({}, rng=random.Random(1))
    assert first == template.render({}, rng=random.Random(1))
    assert first != template.render({}, rng=random.Random(2))
