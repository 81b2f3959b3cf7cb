"""The recursive-descent parser: intrinsic text to a compiled :class:`Intrinsic`.

Grammar (tokens from :mod:`.lexer`)::

    intrinsic := call END
    call      := NAME "(" [ argument { "," argument } ] ")"
    argument  := STRING | NUMBER | "true" | "false" | "null" | PATH | call

Calls nest at most :data:`MAX_NESTING` deep (AWS: "You can nest up to 10 intrinsic functions
within a field"). The function name must be registered and the argument count must fit its
declaration; anything else raises ``ValueError`` saying what and where.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from orchestrator.asl import errors
from orchestrator.asl.intrinsics import lexer
from orchestrator.asl.intrinsics.functions import load as _load_functions
from orchestrator.asl.intrinsics.lexer import IntrinsicSyntaxError, Token, excerpt
from orchestrator.asl.intrinsics.nodes import (
    Call,
    Literal,
    MissingPath,
    Node,
    PathArgument,
    StringLiteral,
)
from orchestrator.asl.intrinsics.spec import REGISTRY
from orchestrator.asl.paths import UnsupportedPath, compile_path

MAX_NESTING = 10
_PREFIX = "States."
_LOOKS_LIKE_CALL = re.compile(r"States\.[A-Za-z0-9_]+\s*\(")
_KEYWORDS: dict[str, Any] = {"true": True, "false": False, "null": None}

_load_functions()


@dataclass(frozen=True)
class Intrinsic:
    """A compiled intrinsic call; :meth:`evaluate` runs it. Build one with compile_intrinsic."""

    text: str
    root: Call = field(repr=False)

    @property
    def uses_random(self) -> bool:
        """Whether evaluating may draw from the random generator (MathRandom, UUID)."""
        return self.root.uses_random

    def evaluate(
        self, data: Any, context: Any, rng: random.Random, *, field: str | None = None
    ) -> Any:
        """The call's value for the state's ``data`` and the ``context`` object.

        Randomness comes only from ``rng``. A failure raises ``StatesError``: ``Invalid
        arguments in States.X`` for an argument of the wrong kind or value, or AWS's "could not
        be found in the input" for a path that selects nothing (naming ``field``, the key or
        field that holds the call, when given).
        """
        try:
            return self.root.evaluate(data, context, rng)
        except MissingPath as missing:
            where = f" specified for the field '{field}'" if field is not None else ""
            raise errors.StatesError(
                errors.RUNTIME,
                f"The JSONPath '{missing.path.text}'{where} could not be found in the input"
                f" '{_compact(missing.source)}'",
            ) from None


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def is_intrinsic(text: Any) -> bool:
    """Whether ``text`` is meant as an intrinsic call (``States.Name(`` at its start)."""
    return isinstance(text, str) and _LOOKS_LIKE_CALL.match(text) is not None


def compile_intrinsic(text: str) -> Intrinsic:
    """Parse and check an intrinsic call.

    Raises ``ValueError`` (its message says what is wrong and at which column) for a syntax
    error, an unknown function, a wrong argument count or nesting deeper than MAX_NESTING.
    A ``$variable`` argument raises ``UnsupportedPath`` (a ValueError) as paths do.
    """
    if not isinstance(text, str):
        raise ValueError(
            f"an intrinsic function call must be a string, not {errors.abbreviate(text)}"
        )
    parser = _Parser(text, lexer.iter_tokens(text))
    root = parser.call(depth=1)
    parser.expect(lexer.END, "expected the end of the text after the call")
    return Intrinsic(text, root)


class _Parser:
    def __init__(self, text: str, tokens: Iterator[Token]) -> None:
        self.text = text
        self.tokens = tokens
        self.current = next(tokens)

    def advance(self) -> None:
        """Move to the next token (the END token is the last; the parser stops there)."""
        if self.current.kind != lexer.END:
            self.current = next(self.tokens)

    def error(self, message: str, token: Token | None = None) -> IntrinsicSyntaxError:
        where = token if token is not None else self.current
        return IntrinsicSyntaxError(self.text, where.position, message)

    def expect(self, kind: str, message: str) -> Token:
        token = self.current
        if token.kind != kind:
            raise self.error(f"{message}, found {_describe(token)}")
        self.advance()
        return token

    def call(self, depth: int) -> Call:
        name = self.current
        if name.kind != lexer.NAME or not name.text.startswith(_PREFIX):
            raise self.error(
                f"expected an intrinsic function such as States.Format, found {_describe(name)}"
            )
        spec = REGISTRY.get(name.text)
        if spec is None:
            raise self.error(f"unknown intrinsic function {errors.abbreviate(name.text)}")
        if depth > MAX_NESTING:
            raise self.error(
                f"intrinsic functions nest more than {MAX_NESTING} deep (AWS's limit)", name
            )
        self.advance()
        self.expect(lexer.LPAREN, f"expected '(' after {name.text}")
        args: list[Node] = []
        if self.current.kind != lexer.RPAREN:
            args.append(self.argument(depth))
            while self.current.kind == lexer.COMMA:
                self.advance()
                args.append(self.argument(depth))
        self.expect(lexer.RPAREN, "expected ',' or ')' after an argument")
        problem = spec.arity_problem(len(args))
        if problem is not None:
            raise self.error(problem, name)
        if spec.ignores_arguments:
            args = []
        static = spec.prepare(args) if spec.prepare is not None else None
        return Call(spec, tuple(args), static)

    def argument(self, depth: int) -> Node:
        token = self.current
        if token.kind == lexer.STRING:
            self.advance()
            assert isinstance(token.value, str)
            return StringLiteral(token.value, token.text)
        if token.kind == lexer.NUMBER:
            self.advance()
            return Literal(token.value)
        if token.kind == lexer.PATH:
            self.advance()
            return PathArgument(self.path(token))
        if token.kind == lexer.NAME:
            if token.text in _KEYWORDS:
                self.advance()
                return Literal(_KEYWORDS[token.text])
            return self.call(depth + 1)
        raise self.error(f"expected an argument, found {_describe(token)}")

    def path(self, token: Token) -> Any:
        try:
            return compile_path(token.text)
        except UnsupportedPath as exc:
            raise UnsupportedPath(
                f"{exc} (column {token.position + 1} of {excerpt(self.text, token.position)})"
            ) from None
        except ValueError as exc:
            raise self.error(f"invalid JSONPath argument: {exc}", token) from None


def _describe(token: Token) -> str:
    if token.kind == lexer.END:
        return "the end of the text"
    if token.kind == lexer.STRING:
        return "a string literal"
    return errors.abbreviate(token.text)
