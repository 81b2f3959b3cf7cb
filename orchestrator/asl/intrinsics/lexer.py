"""The tokenizer for intrinsic function calls such as ``States.Format('{}', $.a)``.

Tokens: a function name (``States.Format``), ``(``, ``)``, ``,``, a string literal in single
quotes, a number (JSON syntax: ``-1``, ``2.5``, ``1e3``), ``true``/``false``/``null`` (names),
and a JSONPath (``$...`` into the data, ``$$...`` into the context object). Whitespace between
tokens is skipped.

String literals follow AWS's escaping rules: ``\\'``, ``\\{``, ``\\}`` and ``\\\\`` stand for
``'``, ``{``, ``}`` and ``\\``; any other backslash is an error (AWS refuses such a definition).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from orchestrator.asl.errors import abbreviate

NAME = "name"
STRING = "string"
NUMBER = "number"
PATH = "path"
LPAREN = "("
RPAREN = ")"
COMMA = ","
END = "end"

_ESCAPABLE = "'{}\\"
_DIGITS = "0123456789"
_NAME_START = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_"
_NAME_CHARS = _NAME_START + _DIGITS + "."


class IntrinsicSyntaxError(ValueError):
    """The text is not a well-formed intrinsic call; says what is wrong and where."""

    def __init__(self, text: str, position: int, message: str) -> None:
        self.text = text
        self.position = position
        super().__init__(f"{message} at column {position + 1} of {excerpt(text, position)}")


def excerpt(text: str, position: int, width: int = 30) -> str:
    """``text`` quoted, or only its part around ``position`` when it is long (a call may be
    hundreds of kilobytes; a message quotes what is near the problem)."""
    if len(text) <= 2 * width + 20:
        return repr(text)
    start, end = max(0, position - width), min(len(text), position + width)
    before = f"[{start} characters]..." if start else ""
    after = f"...[{len(text) - end} characters]" if end < len(text) else ""
    return f"{before}{text[start:end]!r}{after}"


@dataclass(frozen=True)
class Token:
    kind: str
    text: str  # as written (a string literal without its quotes, escapes not applied)
    position: int  # offset of the token's first character
    value: object = None  # a string literal unescaped, a number parsed


def tokenize(text: str) -> list[Token]:
    """The tokens of ``text``, ending with an END token; raises IntrinsicSyntaxError."""
    return list(iter_tokens(text))


def iter_tokens(text: str) -> Iterator[Token]:
    """The tokens of ``text`` one by one, as the parser asks for them, ending with END.

    Lazy, so that a call the parser refuses early (nested too deep, an unknown function) is
    refused without reading the rest of a long text.
    """
    pos = 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos == len(text):
            yield Token(END, "", pos)
            return
        char = text[pos]
        if char in "(),":
            yield Token(char, char, pos)
            pos += 1
        elif char == "'":
            token = _string(text, pos)
            yield token
            pos += len(token.text) + 2
        elif char == "-" or char in _DIGITS:
            token = _number(text, pos)
            yield token
            pos += len(token.text)
        elif char == "$":
            token = _path(text, pos)
            yield token
            pos += len(token.text)
        elif char in _NAME_START:
            end = pos
            while end < len(text) and text[end] in _NAME_CHARS:
                end += 1
            yield Token(NAME, text[pos:end], pos)
            pos = end
        else:
            raise IntrinsicSyntaxError(text, pos, f"unexpected character {char!r}")


def _string(text: str, start: int) -> Token:
    pos = start + 1
    value: list[str] = []
    while pos < len(text):
        char = text[pos]
        if char == "'":
            return Token(STRING, text[start + 1 : pos], start, "".join(value))
        if char == "\\":
            if pos + 1 == len(text):
                break
            escaped = text[pos + 1]
            if escaped not in _ESCAPABLE:
                raise IntrinsicSyntaxError(
                    text,
                    pos,
                    f"invalid escape '\\{escaped}' in a string literal"
                    " (only \\', \\{, \\} and \\\\ are allowed)",
                )
            value.append(escaped)
            pos += 2
            continue
        value.append(char)
        pos += 1
    raise IntrinsicSyntaxError(text, start, "unterminated string literal")


def _number(text: str, start: int) -> Token:
    """A JSON number: ``-?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?``."""
    pos = start
    if text[pos] == "-":
        pos += 1

    def digits(at: int) -> int:
        while at < len(text) and text[at] in _DIGITS:
            at += 1
        return at

    if pos < len(text) and text[pos] == "0":
        pos += 1
    elif pos < len(text) and text[pos] in _DIGITS:
        pos = digits(pos)
    else:
        raise IntrinsicSyntaxError(text, start, "a number needs digits after '-'")
    is_float = False
    if pos < len(text) and text[pos] == ".":
        after = digits(pos + 1)
        if after == pos + 1:
            raise IntrinsicSyntaxError(text, pos, "a number needs digits after '.'")
        pos, is_float = after, True
    if pos < len(text) and text[pos] in "eE":
        at = pos + 1
        if at < len(text) and text[at] in "+-":
            at += 1
        after = digits(at)
        if after == at:
            raise IntrinsicSyntaxError(text, pos, "a number needs digits in its exponent")
        pos, is_float = after, True
    if pos < len(text) and not (text[pos].isspace() or text[pos] in ",)"):
        written = abbreviate(text[start : pos + 1])
        raise IntrinsicSyntaxError(text, start, f"malformed number {written}")
    written = text[start:pos]
    return Token(NUMBER, written, start, float(written) if is_float else int(written))


def _path(text: str, start: int) -> Token:
    """A JSONPath runs to a ``,``, ``)`` or space outside brackets, parentheses and quotes."""
    pos = start
    closers: list[str] = []  # the brackets and parentheses still open, innermost last
    quote = ""
    while pos < len(text):
        char = text[pos]
        if quote:
            if char == "\\":
                pos += 1
            elif char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char in "[(":
            closers.append("]" if char == "[" else ")")
        elif char in "])":
            if not closers and char == ")":
                break  # the ')' that closes the call
            if not closers or closers.pop() != char:
                raise IntrinsicSyntaxError(text, pos, f"unbalanced {char!r} in a JSONPath")
        elif not closers and (char == "," or char.isspace()):
            break
        pos += 1
    if quote or closers:
        raise IntrinsicSyntaxError(text, start, "unterminated JSONPath")
    return Token(PATH, text[start:pos], start)
