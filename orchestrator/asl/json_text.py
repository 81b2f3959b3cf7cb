"""Where in a definition's text its JSON goes wrong: syntax errors, nesting, bad numbers.

Python's parser says where it *stopped*. For a missing ``}`` that is usually the end of the
file, because everything after the unclosed object parses as more of its fields. The text's
indentation tells better: a line indented no deeper than the line that opened a still-open
object (in a file that indents the object's contents) is where its ``}`` was forgotten.

Each helper makes one :class:`Problem` with a line and column. The scans are linear, run only
on text that was already refused, and never recurse, whatever the nesting.
"""

from __future__ import annotations

import bisect
import json
import re
from dataclasses import dataclass
from typing import Any

from orchestrator.asl.errors import Problem
from orchestrator.asl.templates import escape_pointer

# One token of JSON text as far as locating is concerned: a string (possibly unterminated,
# then up to the end of its line), a bracket, a separator, a line break, a number, a bare word
# (NaN, Infinity, true, ...), or any other single character.
_TOKEN = re.compile(
    r'"(?:[^"\\\n]|\\.)*"?'
    r"|[{}\[\]:,\n]"
    r"|-?(?:NaN|Infinity)"
    r"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?"
    r"|[A-Za-z_]\w*"
    r"|[^\s]"
)
_CLOSER = {"{": "}", "[": "]"}
# The longest pointer given for a too-deep value (its outer levels; line and column say where).
_MAX_POINTER = 120
# Python refuses integers of more digits than this (``sys.get_int_max_str_digits``).
_MAX_INT_DIGITS = 4300


def line_column(text: str, offset: int) -> tuple[int, int]:
    """The 1-based line and column of character ``offset`` of ``text``."""
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def syntax_problem(text: str, error: json.JSONDecodeError) -> Problem:
    """INVALID_JSON for ``error``, placed where a bracket was likely forgotten when it can tell.

    The message keeps the parser's own words and position; the problem's line and column are
    those of the likely place when the indentation points to one before where the parser
    stopped.
    """
    stopped = f"line {error.lineno}, column {error.colno}"
    hint = _unclosed(text, error.pos)
    if hint is not None:
        opener = f"the '{hint.opener}' opened at line {hint.line}, column {hint.column}"
        line, column = line_column(text, hint.before)
        if hint.before < error.pos:
            message = (
                f"{error.msg} at {stopped}; a '{_CLOSER[hint.opener]}' is probably missing"
                f" before line {line}, column {column}: {opener} is still open there, but"
                " that line is indented no deeper than the line that opened it"
            )
            return Problem("INVALID_JSON", message, "", line, column)
    if not text[error.pos :].strip():
        open_at = _innermost_open(text, error.pos)
        if open_at is not None:
            line, column = line_column(text, open_at)
            message = (
                f"{error.msg} at the end of the text: the '{text[open_at]}' opened at"
                f" line {line}, column {column} is never closed"
            )
            return Problem("INVALID_JSON", message, "", error.lineno, error.colno)
    return Problem("INVALID_JSON", error.msg, "", error.lineno, error.colno)


def too_deep_problem(text: str, limit: int) -> Problem:
    """TOO_DEEPLY_NESTED at the bracket that opens level ``limit + 1``, with its pointer."""
    frames: list[_Frame] = []
    expect_key = False
    for match in _TOKEN.finditer(text):
        token = match.group()
        if token in "{[":
            if len(frames) == limit:
                line, column = line_column(text, match.start())
                pointer = ""
                for frame in frames:  # the outer levels: where the nesting starts, briefly
                    segment = "/" + escape_pointer(frame.segment())
                    if len(pointer) + len(segment) > _MAX_POINTER:
                        break
                    pointer += segment
                message = (
                    f"the definition nests arrays and objects more than {limit} levels deep"
                    f" (the limit); level {limit + 1} opens at line {line}, column {column}"
                )
                return Problem("TOO_DEEPLY_NESTED", message, pointer, line, column)
            frames.append(_Frame(token))
            expect_key = token == "{"
        elif token in "}]":
            if frames:
                frames.pop()
            expect_key = False
        elif token == ",":
            if frames and frames[-1].kind == "[":
                frames[-1].index += 1
            expect_key = bool(frames) and frames[-1].kind == "{"
        elif token.startswith('"') and expect_key and frames:
            frames[-1].key = _string_value(token)
            expect_key = False
    message = f"the definition nests arrays and objects more than {limit} levels deep"
    return Problem("TOO_DEEPLY_NESTED", message)


def number_problem(text: str, error: ValueError) -> Problem:
    """INVALID_JSON for a NaN, an Infinity or a number no double can hold, where it is."""
    for match in _TOKEN.finditer(text):
        token = match.group()
        if token.startswith('"'):
            continue
        if _bad_number(token):
            line, column = line_column(text, match.start())
            message = f"{token[:40]} is not a JSON number this engine (or AWS) accepts: {error}"
            return Problem("INVALID_JSON", message, "", line, column)
    return Problem("INVALID_JSON", str(error))


def _bad_number(token: str) -> bool:
    if token.lstrip("-") in ("NaN", "Infinity"):
        return True
    if not token.lstrip("-")[:1].isdigit():
        return False
    if any(c in token for c in ".eE"):
        return float(token) in (float("inf"), float("-inf"))
    return len(token.lstrip("-")) > _MAX_INT_DIGITS


def _string_value(token: str) -> str:
    try:
        value = json.loads(token)
    except ValueError:
        return token.strip('"')
    return value if isinstance(value, str) else token


@dataclass
class _Frame:
    kind: str  # "{" or "["
    key: str = ""
    index: int = 0

    def segment(self) -> str:
        return self.key if self.kind == "{" else str(self.index)


@dataclass
class _Hint:
    opener: str  # "{" or "["
    line: int  # where it was opened
    column: int
    before: int  # the offset of the first character of the line that should have closed it


@dataclass
class _Open:
    char: str
    offset: int
    line: int
    indent: int  # of the line it was opened on
    content_indent: int | None = None  # of the first line inside it


def _unclosed(text: str, end: int) -> _Hint | None:
    """The first line, before ``end``, indented as if the innermost open bracket had closed.

    Only a bracket whose contents are indented deeper than its own line counts: in text that
    does not indent (minified, or everything flush left) indentation says nothing.
    """
    stack: list[_Open] = []
    line, line_start, line_indent = 1, 0, 0
    first_on_line = True
    for match in _TOKEN.finditer(text, 0, end):
        token, offset = match.group(), match.start()
        if token == "\n":
            line, line_start, first_on_line = line + 1, match.end(), True
            continue
        if first_on_line:
            first_on_line = False
            line_indent = offset - line_start
            if stack and stack[-1].line != line:
                top = stack[-1]
                if top.content_indent is None:
                    top.content_indent = line_indent
                if top.content_indent > top.indent and (
                    line_indent < top.indent
                    or (line_indent == top.indent and token != _CLOSER[top.char])
                ):
                    column = top.offset - text.rfind("\n", 0, top.offset)
                    return _Hint(top.char, top.line, column, offset)
        if token in "{[":
            stack.append(_Open(token, offset, line, line_indent))
        elif token in "}]" and stack:
            stack.pop()
    return None


def _innermost_open(text: str, end: int) -> int | None:
    """The offset of the innermost bracket still open at ``end``, if any."""
    stack: list[int] = []
    for match in _TOKEN.finditer(text, 0, end):
        token = match.group()
        if token in "{[":
            stack.append(match.start())
        elif token in "}]" and stack:
            stack.pop()
    return stack[-1] if stack else None


def locate(text: str, pointers: set[str]) -> dict[str, tuple[int | None, int]]:
    """Where each JSON Pointer of ``pointers`` is in valid JSON ``text``.

    Answers ``(key offset or None, value offset)`` for each pointer found (the key of an
    object member; None for array elements and the root). ``pointers`` must hold the
    ancestors of each pointer too: only their members are looked at, so the work stays linear
    however deep and wide the text. One pass, no recursion.
    """
    children: dict[str, set[str]] = {}  # a wanted pointer -> the segments wanted under it
    for wanted in pointers:
        if wanted:
            parent, _, segment = wanted.rpartition("/")
            children.setdefault(parent, set()).add(segment)
    found: dict[str, tuple[int | None, int]] = {}
    frames: list[_Member] = []
    for match in _TOKEN.finditer(text):
        token, offset = match.group(), match.start()
        if token == "\n":
            continue
        key_offset: int | None = None
        pointer: str | None
        if not frames:
            pointer = "" if "" in pointers else None
        else:
            frame = frames[-1]
            if token in "}]":
                frames.pop()
                continue
            if frame.expect == "comma":
                if token == ",":
                    frame.index += 1
                    frame.expect = "key" if frame.kind == "{" else "value"
                continue
            if frame.expect == "key":
                frame.expect, frame.key_offset = "colon", offset
                frame.key = _string_value(token) if frame.pointer is not None else ""
                continue
            if frame.expect == "colon":
                frame.expect = "value"
                continue
            frame.expect = "comma"
            pointer = None
            if frame.pointer is not None:  # only members of wanted values can be wanted
                segment = escape_pointer(frame.key if frame.kind == "{" else str(frame.index))
                if segment in children.get(frame.pointer, ()):
                    pointer = f"{frame.pointer}/{segment}"
            key_offset = frame.key_offset if frame.kind == "{" else None
        if pointer is not None:
            found[pointer] = (key_offset, offset)
        if token in "{[":
            frames.append(_Member(token, pointer, "key" if token == "{" else "value"))
    return found


@dataclass
class _Member:
    kind: str  # "{" or "["
    pointer: str | None  # of the object or array itself; None when nothing in it is wanted
    expect: str  # "key", "colon", "value" or "comma"
    key: str = ""
    key_offset: int = 0
    index: int = 0


class LineIndex:
    """Line and column of many offsets of one text, each found by bisection."""

    def __init__(self, text: str) -> None:
        self.starts = [0, *(match.end() for match in re.finditer("\n", text))]

    def line_column(self, offset: int) -> tuple[int, int]:
        """The 1-based line and column of ``offset``."""
        line = bisect.bisect_right(self.starts, offset)
        return line, offset - self.starts[line - 1] + 1


def json_type(value: Any) -> str:
    """The JSON type of a parsed value, as AWS's messages name it (``number``, ``array``...)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def json_type_phrase(value: Any) -> str:
    """:func:`json_type` with its article, for a problem's text (``an array``, ``null``)."""
    kind = json_type(value)
    if kind == "null":
        return kind
    return ("an " if kind[0] in "aeiou" else "a ") + kind
