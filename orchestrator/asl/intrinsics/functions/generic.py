"""States.Format: a string built from a template and the values of the other arguments."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from orchestrator.asl.intrinsics import java
from orchestrator.asl.intrinsics.nodes import StringLiteral
from orchestrator.asl.intrinsics.spec import ANY, STRING, InvalidArguments, function


@dataclass(frozen=True)
class _Template:
    """A literal template, read once: its text split at each unescaped ``{}``."""

    pieces: tuple[str, ...]
    malformed: bool  # an unescaped '{' or '}' that is not part of '{}'


def _literal_template(args: Sequence[Any]) -> _Template | None:
    """The template when it is written as a literal; None when it comes from a path or call.

    In a literal, ``\\{`` and ``\\}`` are braces of the text, not a placeholder. AWS accepts a
    definition whose template has a lone unescaped brace and fails the call when it runs.
    """
    if not args or not isinstance(args[0], StringLiteral):
        return None
    raw = args[0].raw
    pieces: list[str] = []
    current: list[str] = []
    pos = 0
    while pos < len(raw):
        char = raw[pos]
        if char == "\\":
            current.append(raw[pos + 1])  # the lexer let only valid escapes through
            pos += 2
        elif raw.startswith("{}", pos):
            pieces.append("".join(current))
            current = []
            pos += 2
        elif char in "{}":
            return _Template((), malformed=True)
        else:
            current.append(char)
            pos += 1
    pieces.append("".join(current))
    return _Template(tuple(pieces), malformed=False)


@function("States.Format", STRING, rest=ANY, prepare=_literal_template)
def _format(args: list[Any], rng: random.Random, literal: _Template | None) -> str:
    template, values = args[0], args[1:]
    if literal is None:
        pieces: Sequence[str] = template.split("{}")  # a template read from the data
    elif literal.malformed:
        raise InvalidArguments
    else:
        pieces = literal.pieces
    if len(pieces) != len(values) + 1:
        raise InvalidArguments  # one argument per occurrence of {}
    parts = [pieces[0]]
    for value, piece in zip(values, pieces[1:], strict=True):
        parts.append(java.to_string(value))
        parts.append(piece)
    return "".join(parts)
