"""Request validation against botocore's model of the service, with AWS's answers.

AWS checks every request against the service model before any action runs: a value of the
wrong JSON type is a ``SerializationException``; a missing required member, a string or list
of the wrong length, a number out of range or a value outside an enum is a
``ValidationException`` worded as AWS words it, for example::

    1 validation error detected: Value 'succeeded' at 'statusFilter' failed to satisfy
    constraint: Member must satisfy enum value set: [RUNNING, SUCCEEDED, ...]

Members the model does not know are ignored, and ``null`` counts as absent, as AWS does.
The walk follows the shape, so it is as deep as the model (a few levels), whatever arrives.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.model import ListShape, MapShape, Shape, StructureShape

from orchestrator.api.errors import ApiError
from orchestrator.asl.json_text import json_type_phrase

# How many problems the message spells out (the count says how many there are).
_LISTED = 10
_ASCII_PATTERN = "\\p{ASCII}*"


def validate(params: Mapping[str, Any], shape: StructureShape) -> None:
    """Check ``params`` (a request body) against ``shape``; raise :class:`ApiError` if bad."""
    problems: list[str] = []
    _structure(params, shape, "", problems)
    if problems:
        count = len(problems)
        plural = "s" if count > 1 else ""
        listed = "; ".join(problems[:_LISTED])
        more = f"; and {count - _LISTED} more" if count > _LISTED else ""
        raise ApiError(
            "ValidationException", f"{count} validation error{plural} detected: {listed}{more}"
        )


def _structure(value: Any, shape: StructureShape, path: str, problems: list[str]) -> None:
    _expect(isinstance(value, dict), "an object", value, path)
    for name, member in shape.members.items():
        where = f"{path}.{name}" if path else name
        item = value.get(name)
        if item is None:
            if name in shape.required_members:
                problems.append(
                    f"Value null at '{where}' failed to satisfy constraint: Member must not be null"
                )
            continue
        _member(item, member, where, problems)


def _member(value: Any, shape: Shape, path: str, problems: list[str]) -> None:
    kind = shape.type_name
    if isinstance(shape, StructureShape):
        _structure(value, shape, path, problems)
    elif isinstance(shape, ListShape):
        _expect(isinstance(value, list), "an array", value, path)
        _length(len(value), value, shape, path, problems)
        for index, item in enumerate(value, start=1):
            if item is not None:
                _member(item, shape.member, f"{path}.{index}.member", problems)
    elif isinstance(shape, MapShape):
        _expect(isinstance(value, dict), "an object", value, path)
        _length(len(value), value, shape, path, problems)
        for key, item in value.items():
            if item is not None:
                _member(item, shape.value, f"{path}.{key}", problems)
    elif kind == "string":
        _expect(isinstance(value, str), "a string", value, path)
        _string(value, shape, path, problems)
    elif kind == "boolean":
        _expect(isinstance(value, bool), "a boolean", value, path)
    elif kind in ("integer", "long"):
        _expect(isinstance(value, int) and not isinstance(value, bool), "an integer", value, path)
        _range(value, shape, path, problems)
    elif kind in ("double", "float"):
        number = isinstance(value, int | float) and not isinstance(value, bool)
        _expect(number, "a number", value, path)
        _range(value, shape, path, problems)
    elif kind == "timestamp":
        number = isinstance(value, int | float) and not isinstance(value, bool)
        _expect(number or isinstance(value, str), "a timestamp", value, path)
    else:  # blob and anything newer: a string on the wire
        _expect(isinstance(value, str), "a string", value, path)


def _string(value: str, shape: Shape, path: str, problems: list[str]) -> None:
    metadata = shape.metadata
    enum = metadata.get("enum")
    if enum and value not in enum:
        problems.append(
            _problem(value, shape, path, f"satisfy enum value set: [{', '.join(enum)}]")
        )
        return
    _length(len(value), value, shape, path, problems)
    if metadata.get("pattern") == _ASCII_PATTERN and not value.isascii():
        problems.append(
            _problem(value, shape, path, f"satisfy regular expression pattern: {_ASCII_PATTERN}")
        )


def _length(length: int, value: Any, shape: Shape, path: str, problems: list[str]) -> None:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is not None and length < low:
        problems.append(_problem(value, shape, path, f"have length greater than or equal to {low}"))
    elif high is not None and length > high:
        problems.append(_problem(value, shape, path, f"have length less than or equal to {high}"))


def _range(value: float, shape: Shape, path: str, problems: list[str]) -> None:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is not None and value < low:
        problems.append(_problem(value, shape, path, f"have value greater than or equal to {low}"))
    elif high is not None and value > high:
        problems.append(_problem(value, shape, path, f"have value less than or equal to {high}"))


def _problem(value: Any, shape: Shape, path: str, constraint: str) -> str:
    # AWS leaves sensitive values (inputs, outputs, definitions, tokens) out of its messages.
    shown = "" if shape.metadata.get("sensitive") else f" '{_text(value)}'"
    return f"Value{shown} at '{path}' failed to satisfy constraint: Member must {constraint}"


def _text(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_text(item) for item in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _expect(ok: bool, expected: str, value: Any, path: str) -> None:
    if not ok:
        raise ApiError(
            "SerializationException",
            f"Expected {expected} at '{path or 'the request body'}', got {json_type_phrase(value)}",
        )
