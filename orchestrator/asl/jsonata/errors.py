"""The errors of JSONata evaluation, with AWS's cause texts.

AWS reports a failed JSONata field as ``States.QueryEvaluationError`` with a cause such as
(recorded in the conformance corpus)::

    An error occurred while executing the state 'State0' (entered at the event id #2).
    The JSONata expression '$doesNotExist' specified for the field 'Output/result'
    returned nothing (undefined).

The first sentence names the state and its event: the interpreter knows those and prefixes
them. :class:`JsonataError` carries the rest (from "The JSONata expression ..."), built here
once, and the field's ``location`` (``Output/result``), which AWS also writes into the
``EvaluationFailed`` event.
"""

from __future__ import annotations

from typing import Any

import orjson

from orchestrator.asl.errors import StatesError
from orchestrator.asl.json_text import json_type

QUERY_EVALUATION_ERROR = "States.QueryEvaluationError"


class JsonataError(StatesError):
    """A JSONata field that failed when evaluated: ``error`` and ``cause`` as AWS reports them
    (the cause without the state's sentence, which the interpreter prefixes), ``location`` the
    field (``Output/result``; empty when the caller named none) and ``expression`` its text."""

    def __init__(self, cause: str, *, expression: str, location: str) -> None:
        super().__init__(QUERY_EVALUATION_ERROR, cause)
        self.expression = expression
        self.location = location


class JsonataSyntaxError(ValueError):
    """An expression that does not parse (or is too long), found when it is compiled.

    ``code`` is the JSONata error code (``S0202``), ``message`` the jsonata-js text,
    ``position`` where the offending token starts (in characters, from 0) in the string as
    written in the definition, ``{%`` included, and ``pointer`` the JSON Pointer of that string inside the compiled
    template (empty for a lone expression), so the loader can say where the problem is.
    """

    def __init__(self, code: str, message: str, position: int, pointer: str = "") -> None:
        super().__init__(f"{code}: {message} (at character {position})")
        self.code = code
        self.message = message
        self.position = position
        self.pointer = pointer

    def at(self, pointer: str) -> JsonataSyntaxError:
        """The same error, located at ``pointer`` inside a template."""
        return JsonataSyntaxError(self.code, self.message, self.position, pointer)


def _subject(expression: str, location: str) -> str:
    where = f" specified for the field '{location}'" if location else ""
    return f"The JSONata expression '{expression}'{where}"


def returned_nothing(expression: str, location: str) -> JsonataError:
    """The field's expression evaluated to undefined (AWS fails the state, at any depth)."""
    cause = f"{_subject(expression, location)} returned nothing (undefined)."
    return JsonataError(cause, expression=expression, location=location)


def unsupported_result(expression: str, location: str) -> JsonataError:
    """The expression evaluated to a function, which is no JSON value."""
    cause = f"{_subject(expression, location)} returned an unsupported result type."
    return JsonataError(cause, expression=expression, location=location)


def evaluation_failed(expression: str, location: str, detail: str) -> JsonataError:
    """The evaluation raised an error; ``detail`` is ``"<code>: <message>"`` for a JSONata
    error (``T1006: Attempted to invoke a non-function``)."""
    cause = f"{_subject(expression, location)} threw an error during evaluation. {detail}"
    return JsonataError(cause, expression=expression, location=location)


def unexpected_type(expression: str, location: str, expected: str, value: Any) -> JsonataError:
    """The expression's value is not of the type the field needs (a Map's ``Items`` must be an
    array): ``expected`` is a JSON type name; the value is printed as compact JSON."""
    printed = orjson.dumps(value).decode()
    cause = (
        f"{_subject(expression, location)} returned an unexpected result type. "
        f"Expected '{expected}', but was '{json_type(value)}' for value: {printed}"
    )
    return JsonataError(cause, expression=expression, location=location)
