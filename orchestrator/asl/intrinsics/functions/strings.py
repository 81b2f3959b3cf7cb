"""States.StringSplit."""

from __future__ import annotations

import random
from typing import Any

from orchestrator.asl.intrinsics.spec import STRING, function


@function("States.StringSplit", STRING, STRING)
def _string_split(args: list[Any], rng: random.Random, static: Any) -> list[str]:
    """Java's ``StringTokenizer``: every character of the second argument is a delimiter, and
    empty tokens are dropped (AWS: ``", , ,"`` split on ``","`` is ``[" ", " "]``)."""
    text, delimiters = args
    tokens: list[str] = []
    start = 0
    for pos, char in enumerate(text):
        if char in delimiters:
            if pos > start:
                tokens.append(text[start:pos])
            start = pos + 1
    if start < len(text):
        tokens.append(text[start:])
    return tokens
