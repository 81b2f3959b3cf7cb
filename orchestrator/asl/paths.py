"""JSONPath as ASL uses it.

Reading paths (InputPath, OutputPath, ``.$`` values, a Choice's ``Variable``) and reference
paths (ResultPath). A path made only of names and indexes (``$.a.b['c d'][0]``) is *definite*:
it selects one value or fails, and is walked here directly because it is the hot path. Any
other path (wildcards, slices, filters, ``..``) goes to jsonpath-ng and yields the list of
matches, as AWS's JsonPath does for indefinite paths.

AWS's JsonPath (Jayway) reads a dot before a bracket as nothing: ``$.items.[?(@.x == 1)]``,
``$.a.[0]`` and ``$.a.[*]`` are ``$.items[?(@.x == 1)]``, ``$.a[0]`` and ``$.a[*]``. The path is
read in that form here too (its text stays as written, for error messages).
"""

from __future__ import annotations

import functools
import logging
import re
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from jsonpath_ng.exceptions import JsonPathLexerError, JsonPathParserError
from jsonpath_ng.ext.filter import And, Expression, Filter, Or
from jsonpath_ng.ext.parser import ExtendedJsonPathLexer, ExtendedJsonPathParser
from jsonpath_ng.jsonpath import (
    Child,
    Descendants,
    Fields,
    Index,
    JSONPath,
    Root,
    Slice,
    This,
    Wildcard,
)

try:  # jsonpath-ng 1.16 carries its own PLY; without it, paths parse the library's slower way
    from jsonpath_ng._ply import lex as ply_lex
except ImportError:  # pragma: no cover
    ply_lex = None  # type: ignore[assignment]

from orchestrator.asl.errors import abbreviate

Step = str | int

_DOT_NAME = re.compile(r"\.([^.\[\]\s*'\"()?@,:]+)")
_BRACKET_NAME = re.compile(r"\[\s*(?:'((?:[^'\\]|\\.)*)'|\"((?:[^\"\\]|\\.)*)\")\s*\]")
_BRACKET_INDEX = re.compile(r"\[\s*(\d+)\s*\]")


class UnsupportedPath(ValueError):
    """Valid ASL that this engine does not evaluate yet (a ``$variable`` reference)."""


# ``$name``: a workflow variable (AWS: a letter or underscore, then word characters).
_VARIABLE = re.compile(r"^\$([A-Za-z_][A-Za-z0-9_]*)")
# The deepest expression tree accepted for a path that jsonpath-ng evaluates. jsonpath-ng
# walks its tree recursively when it reads data, so a path of hundreds of steps (``$[*][*]…``)
# would raise RecursionError at run time; real paths have a handful of steps. AWS documents no
# limit; this one is ours.
MAX_PATH_DEPTH = 64


class PathNotFound(LookupError):
    """A definite path selected nothing in the data.

    ``where`` is the path up to the step that failed, in bracket form (``$['a']['b']``), as
    AWS quotes it in its error causes.
    """

    def __init__(self, path: str, where: str = "", *, at_end: bool = True) -> None:
        super().__init__(path)
        self.where = where or path
        self.at_end = at_end  # the last step was missing (not one on the way)

    def describe(self, text: str) -> str:
        """AWS's words: 'No results' for a missing last step, else 'Missing property'."""
        if self.at_end:
            return f"Invalid path '{text}' : No results for path: {self.where}"
        return f"Invalid path '{text}' : Missing property in path {self.where}"


def _bracket(steps: tuple[Step, ...]) -> str:
    return "$" + "".join(f"[{step}]" if isinstance(step, int) else f"['{step}']" for step in steps)


class PathWriteError(LookupError):
    """A reference path cannot be written into the data (e.g. a step through a string)."""


def _split_simple(text: str) -> tuple[Step, ...] | None:
    """The steps of a definite path, or None when the path needs a full JSONPath engine."""
    if not text.startswith("$"):
        return None
    steps: list[Step] = []
    pos = 1
    while pos < len(text):
        if text.startswith("..", pos):
            return None
        if m := _DOT_NAME.match(text, pos):
            steps.append(m.group(1))
        elif m := _BRACKET_NAME.match(text, pos):
            # Only the quote that delimits the name is escaped; other backslashes are kept,
            # as AWS's JsonPath reads ``$['a\\"b']`` (the key ``a\\"b``).
            if m.group(1) is not None:
                steps.append(m.group(1).replace("\\'", "'"))
            else:
                steps.append(m.group(2).replace('\\"', '"'))
        elif m := _BRACKET_INDEX.match(text, pos):
            steps.append(int(m.group(1)))
        else:
            return None
        pos = m.end()
    return tuple(steps)


@dataclass(frozen=True)
class Path:
    """A compiled reading path. Build one with :func:`compile_path`."""

    text: str
    steps: tuple[Step, ...] | None
    _expr: Any = field(default=None, compare=False, repr=False)
    # ``$$...``: the path reads the context object, not the state's data.
    context: bool = False
    # ``$name...``: the path reads workflow variable ``name`` (the steps are after it).
    variable: str | None = None

    @property
    def reads_context(self) -> bool:
        """Whether reading it needs the context object (``$$``, or a variable, which the
        context object carries: :class:`Variables`)."""
        return self.context or self.variable is not None

    def root(self, data: Any, context: Any) -> Any:
        """What the path reads: the context object, a variable's value, or ``data``.

        Raises :class:`PathNotFound` for a variable that has no value in scope.
        """
        if self.variable is not None:
            variables = getattr(context, "variables", None)
            if variables is None or self.variable not in variables:
                raise PathNotFound(self.text, "$" + self.variable, at_end=not self.steps)
            return variables[self.variable]
        return context if self.context else data

    @property
    def definite(self) -> bool:
        """Whether the path selects a single value (not a list of matches)."""
        return self.steps is not None

    def read(self, data: Any) -> Any:
        """The value the path selects; raises :class:`PathNotFound` when there is none.

        ``data`` is what the path reads: the context object when :attr:`context` is set.
        """
        if self.steps is None:
            return [match.value for match in self._expr.find(data)]
        value = data
        for depth, step in enumerate(self.steps):
            if isinstance(step, str):
                if not isinstance(value, dict) or step not in value:
                    at_end = depth == len(self.steps) - 1
                    raise PathNotFound(self.text, _bracket(self.steps[: depth + 1]), at_end=at_end)
                value = value[step]
            else:
                if not isinstance(value, list) or step >= len(value):
                    at_end = depth == len(self.steps) - 1
                    raise PathNotFound(self.text, _bracket(self.steps[: depth + 1]), at_end=at_end)
                value = value[step]
        return value

    def exists(self, data: Any) -> bool:
        """Whether the path selects something (a definite path) or any match (otherwise)."""
        if self.steps is None:
            return bool(self._expr.find(data))
        try:
            self.read(data)
        except PathNotFound:
            return False
        return True


def compile_path(text: str) -> Path:
    """Compile a reading path; raises ``ValueError`` saying why when it is not valid JSONPath."""
    if isinstance(text, str) and text.startswith("States."):
        raise ValueError(f"{abbreviate(text)} is an intrinsic function call, not a JSONPath")
    if not isinstance(text, str) or not text.startswith("$"):
        raise ValueError(f"{abbreviate(text)} is not a JSONPath: it must start with '$'")
    if match := _VARIABLE.match(text):
        name = match.group(1)
        body = _drop_dots_before_brackets("$" + text[1 + len(name) :])
        steps = _split_simple(body)
        if steps is not None:
            return Path(text, steps, variable=name)
        return Path(text, None, _parse_indefinite(body, text), variable=name)
    context = text.startswith("$$")
    body = _drop_dots_before_brackets(text[1:] if context else text)  # "$$.a" reads "$.a"
    steps = _split_simple(body)
    if steps is not None:
        return Path(text, steps, context=context)
    return Path(text, None, _parse_indefinite(body, text), context=context)


def _drop_dots_before_brackets(text: str) -> str:
    """``text`` with each ``.`` that directly precedes a ``[`` removed (outside quotes).

    Jayway reads ``$.a.[0]`` as ``$.a[0]``; ``..[`` (a deep scan) keeps both dots.
    """
    if ".[" not in text:
        return text
    kept: list[str] = []
    quote = ""
    i = 0
    while i < len(text):
        char = text[i]
        if quote:
            if char == "\\" and i + 1 < len(text):
                kept.append(text[i : i + 2])
                i += 2
                continue
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "." and text.startswith("[", i + 1) and not (i and text[i - 1] == "."):
            i += 1
            continue
        kept.append(char)
        i += 1
    return "".join(kept)


# jsonpath-ng builds its parser, and its lexer, anew for each path (most of the cost of a
# parse). Here each thread builds them once and reuses them: a definition of thousands of
# filter paths loads in a fraction of the time. PLY keeps state while it lexes and parses,
# hence one of each per thread.
_PER_THREAD = threading.local()


class _ReusedLexer(ExtendedJsonPathLexer):
    """jsonpath-ng's lexer, tokenizing with one PLY lexer per thread, reset before each path."""

    def tokenize(self, string: str) -> Iterator[Any]:
        lexer = getattr(_PER_THREAD, "lexer", None)
        if lexer is None:
            lexer = _PER_THREAD.lexer = ply_lex.lex(  # type: ignore[no-untyped-call]
                module=self,
                debug=False,
                optimize=True,
                lextab=self._ply_table_module,
                errorlog=logging.getLogger(__name__),
            )
        lexer.lexstatestack = []  # as a new lexer starts: no string left open by the last
        lexer.begin("INITIAL")
        lexer.lineno = 1
        lexer.latest_newline = 0
        lexer.string_value = None
        lexer.input(string)
        while (token := lexer.token()) is not None:
            token.col = token.lexpos - lexer.latest_newline
            yield token
        if lexer.string_value is not None:
            raise JsonPathLexerError("Unexpected EOF in string literal or identifier")


def _parser() -> ExtendedJsonPathParser:
    parser: ExtendedJsonPathParser | None = getattr(_PER_THREAD, "parser", None)
    if parser is None:
        lexer = _ReusedLexer if ply_lex is not None else ExtendedJsonPathLexer
        parser = _PER_THREAD.parser = ExtendedJsonPathParser(lexer_class=lexer)
    return parser


@functools.lru_cache(maxsize=4096)
def _parse_indefinite(body: str, text: str) -> JSONPath:
    """jsonpath-ng's expression for ``body``; ``ValueError`` naming ``text`` when invalid."""
    try:
        # jsonpath-ng warns of its deprecated syntax (``&``): refused below, not logged.
        with warnings.catch_warnings(action="ignore", category=DeprecationWarning):
            expr = _parser().parse(body)
    except (JsonPathLexerError, JsonPathParserError, Exception) as exc:  # library raises bare
        raise ValueError(f"{abbreviate(text)} is not a valid JSONPath: {exc}") from None
    problem = _unsupported_or_too_deep(expr, MAX_PATH_DEPTH)
    if problem:
        raise ValueError(f"{abbreviate(text)} {problem}")
    return expr


# The parts of jsonpath-ng's language that AWS's JsonPath (Jayway) has too: names, indexes,
# slices, wildcards, deep scans and filters. Its extensions (``&``, ``|``, ``where``,
# ``parent``, arithmetic, ``len``, ``sorted``, ``str()``, ...) are not ASL, and some of them
# raise at run time (``$&0`` raises NotImplementedError when read).
_JAYWAY_NODES = (Root, This, Child, Descendants, Fields, Index, Slice, Wildcard, Filter)
_FILTER_NODES = (Expression, And, Or)


def _unsupported_or_too_deep(expr: JSONPath, limit: int) -> str:
    """Why jsonpath-ng's expression is refused (not AWS's JSONPath, or deeper than ``limit``
    levels), or "" when it is fine. Walked iteratively."""
    stack: list[tuple[Any, int]] = [(expr, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return f"nests more than {limit} steps deep (the limit)"
        if not isinstance(node, _JAYWAY_NODES + _FILTER_NODES):
            return f"uses jsonpath-ng's {type(node).__name__.strip('_')!r}, which is not JSONPath as AWS reads it"
        for child in vars(node).values():
            if isinstance(child, JSONPath):
                stack.append((child, depth + 1))
            elif isinstance(child, list | tuple):
                stack.extend((item, depth + 1) for item in child if isinstance(item, JSONPath))
    return ""


@dataclass(frozen=True)
class ReferencePath:
    """A compiled ResultPath: names and indexes only, so it can be written to."""

    text: str
    steps: tuple[Step, ...]

    def write(self, data: Any, value: Any) -> Any:
        """Return a copy of ``data`` with ``value`` placed at this path.

        Missing objects along the way are created, as AWS does; stepping through a value
        that is not an object (or an index that is not there) raises :class:`PathWriteError`.
        """
        if not self.steps:
            return value
        return self._write(data, 0, value)

    def _write(self, node: Any, depth: int, value: Any) -> Any:
        step = self.steps[depth]
        last = depth == len(self.steps) - 1
        if isinstance(step, str):
            if not isinstance(node, dict):
                raise PathWriteError(self.text)
            copy = dict(node)
            copy[step] = value if last else self._write(node.get(step, {}), depth + 1, value)
            return copy
        if not isinstance(node, list) or step >= len(node):
            raise PathWriteError(self.text)
        items = list(node)
        items[step] = value if last else self._write(node[step], depth + 1, value)
        return items


def compile_reference_path(text: str) -> ReferencePath:
    """Compile a ResultPath; raises ``ValueError`` unless it is ``$`` plus names and indexes."""
    if not isinstance(text, str) or not text.startswith("$"):
        raise ValueError(f"{abbreviate(text)} is not a reference path: it must start with '$'")
    if _VARIABLE.match(text):
        raise ValueError(f"{abbreviate(text)} names a variable; a reference path writes into '$'")
    steps = _split_simple(_drop_dots_before_brackets(text))
    if steps is None:
        raise ValueError(
            f"{abbreviate(text)} is not a reference path: only names and array indexes are allowed"
        )
    return ReferencePath(text, steps)
