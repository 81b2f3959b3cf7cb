"""One JSONata field: recognising ``{% ... %}``, compiling it once, evaluating it to JSON.

The engine is jlens (a JSONata 2.x engine in Rust whose errors carry jsonata-js's codes and
texts, which AWS copies into its causes). An expression is compiled when the definition is
loaded; evaluating it takes the bindings (``states`` and the workflow variables), the
caller's random generator and, optionally, the evaluation time, and returns plain JSON data
(``dict``/``list``/``str``/``int``/``float``/``bool``/``None``) or raises
:class:`~orchestrator.asl.jsonata.errors.JsonataError` with AWS's cause.

Bounds (:class:`Limits`): the expression's length, and per evaluation a budget of steps
(deterministic: the same expression and data always stop at the same point), a call depth,
and the size of any string or array made on the way. A wall-clock timeout is off by default:
it would make an execution's outcome depend on the machine.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import jlens
import orjson

from orchestrator.asl.jsonata import errors, functions
from orchestrator.asl.jsonata.errors import JsonataError, JsonataSyntaxError

OPEN: Final = "{%"
CLOSE: Final = "%}"
# A longer expression is refused when compiled (AWS bounds only the definition, at 1 MiB).
MAX_EXPRESSION_CHARS = 65_536


@dataclass(frozen=True)
class Limits:
    """What one evaluation may spend. ``max_steps`` (about 20 million a second) is the bound
    that stops runaway loops; ``timeout_seconds`` (wall clock, off by default) a last resort."""

    max_steps: int = 2_000_000
    max_depth: int = 10_000
    max_string_length: int = 8 * 1024 * 1024  # bytes
    max_array_length: int = 1_000_000
    timeout_seconds: float | None = None

    def options(self) -> dict[str, Any]:
        """jlens's evaluation options for these limits."""
        options: dict[str, Any] = {
            "max_steps": self.max_steps,
            "max_depth": self.max_depth,
            "max_string_length": self.max_string_length,
            "max_array_length": self.max_array_length,
        }
        if self.timeout_seconds is not None:
            options["timeout"] = self.timeout_seconds
        return options


DEFAULT_LIMITS: Final = Limits()


_NAME = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


def is_expression(value: Any) -> bool:
    """Whether a field's value is a JSONata expression: a string that starts with ``{%`` and
    ends with ``%}``, with nothing before or after (AWS keeps ``" {% x %} "`` as a literal)."""
    return (
        isinstance(value, str)
        and len(value) >= len(OPEN) + len(CLOSE)
        and value.startswith(OPEN)
        and value.endswith(CLOSE)
    )


def _compile(source: str) -> jlens.Expression:
    compiled = jlens.Expression(source)
    for name, (implementation, signature) in functions.REGISTERED.items():
        compiled.register_function(name, implementation, signature)
    return compiled


def _syntax_error(error: jlens.JlensError) -> JsonataSyntaxError:
    # Where the offending token starts (jsonata-js's own position is where it ends), counted
    # in the field as written: the expression's text starts after "{%".
    start = error.start if error.start is not None else error.position
    return JsonataSyntaxError(error.code, str(error), (start or 0) + len(OPEN))


class Expression:
    """A compiled ``{% ... %}`` field. ``text`` is the expression as AWS quotes it in causes
    (inside the delimiters, trimmed); ``variables`` the workflow variables it reads."""

    def __init__(self, field: str, limits: Limits = DEFAULT_LIMITS) -> None:
        if not is_expression(field):
            raise ValueError(f"not a JSONata expression (no {OPEN} ... {CLOSE}): {field!r}")
        inner = field[len(OPEN) : -len(CLOSE)]
        if len(inner) > MAX_EXPRESSION_CHARS:
            raise JsonataSyntaxError(
                "S0000",
                f"The expression is longer than {MAX_EXPRESSION_CHARS} characters",
                MAX_EXPRESSION_CHARS + len(OPEN),
            )
        self.text = inner.strip()
        self._limits = limits
        try:
            plain = _compile(inner)
        except jlens.JlensError as error:
            raise _syntax_error(error) from None
        self._body = inner
        self._compiled = plain
        if "parse" in inner:
            # $parse is a lambda over the boxed host function (see functions.PARSE_PRELUDE).
            # The text parsed alone, so wrapping it in a block cannot fail.
            self._body = f"({functions.PARSE_PRELUDE}\n{inner}\n)"
            self._compiled = _compile(self._body)
        self._probe: jlens.Expression | None = None  # $type(...), compiled when needed
        # Shuffling draws on the seed jlens is given: only then is one taken from the caller.
        self._shuffles = "shuffle" in inner
        # Whether an evaluation may draw randomness ($random, $uuid, $shuffle): only then
        # does the caller seed a generator for it (seeding costs more than most evaluations).
        self.uses_random = any(word in inner for word in ("random", "uuid", "shuffle"))
        # Host functions in the bindings cost each evaluation: only bound over the built-ins
        # ($now, $millis) when the text may call them.
        self._reads_clock = "now" in inner or "millis" in inner
        read = plain.reads()
        names = set(read["bindings"]) - {"states"}
        # Every name it reads that a variable may bind (a variable may shadow a function:
        # an Assign of "sum" makes $sum that value), and those that are no function's name.
        # (jlens leaves built-in function names out of its reads: the text says them.)
        self.names_read: frozenset[str] = frozenset(names | set(_NAME.findall(inner))) - {"states"}
        self.variables: frozenset[str] = frozenset(names - functions.FUNCTION_NAMES)
        # Which members of $states it reads (None: all of it): the caller builds only those
        # (the context object is rebuilt for each state otherwise).
        states = read["bindings"].get("states")
        self.states_read: frozenset[str] | None = (
            frozenset(states) if isinstance(states, dict) else None if states else frozenset()
        )

    def __repr__(self) -> str:
        return f"Expression({OPEN} {self.text} {CLOSE})"

    def evaluate(
        self,
        bindings: Mapping[str, Any],
        *,
        rng: random.Random | None = None,
        now: datetime | None = None,
        location: str = "",
    ) -> Any:
        """The expression's value for ``bindings`` (``{"states": {...}, "<var>": value}``),
        as plain JSON data.

        ``rng`` gives ``$random()``, ``$uuid()`` and ``$shuffle`` their randomness (without
        one they fail); ``now`` is what ``$now()``/``$millis()`` return (without it they
        fail: the core reads no clock). ``location`` names the field in causes
        (``Output/result``). Raises :class:`JsonataError` when the evaluation fails, when the
        value is undefined, or when it is a function.
        """
        removed = (
            functions.WITHOUT_CLOCK if now is None and self._reads_clock else functions.WITHOUT_EVAL
        )
        environment = {**bindings, **removed}
        options = self._limits.options()
        if now is not None:
            options["now"] = now
        if self._shuffles:
            if rng is None:  # jlens would shuffle with randomness of its own
                environment["shuffle"] = functions.WITHOUT_GENERATOR
            else:
                options["seed"] = rng.getrandbits(63)
        text = self._run(self._compiled, environment, options, rng, location)
        if text is None:
            raise self._why_undefined(environment, options, rng, location)
        return orjson.loads(text)

    def _run(
        self,
        compiled: jlens.Expression,
        environment: dict[str, Any],
        options: dict[str, Any],
        rng: random.Random | None,
        location: str,
    ) -> str | None:
        token = functions.RNG.set(rng)
        try:
            return compiled.evaluate_json(None, environment, **options)
        except jlens.JlensError as error:
            detail = f"{error.code}: {error}"
            raise errors.evaluation_failed(self.text, location, detail) from None
        except functions.FunctionError as error:
            raise errors.evaluation_failed(self.text, location, str(error)) from None
        finally:
            functions.RNG.reset(token)

    def _why_undefined(
        self,
        environment: dict[str, Any],
        options: dict[str, Any],
        rng: random.Random | None,
        location: str,
    ) -> JsonataError:
        # A function and undefined both come out of jlens as no JSON at all; AWS tells them
        # apart. Asking $type() evaluates the expression once more, on this failure path only.
        if self._probe is None:
            self._probe = _compile(f"$type(({self._body}\n))")
        kind = self._run(self._probe, environment, options, rng, location)
        if kind == '"function"':
            return errors.unsupported_result(self.text, location)
        return errors.returned_nothing(self.text, location)


def compile_expression(field: str, limits: Limits = DEFAULT_LIMITS) -> Expression:
    """Compile a field's ``{% ... %}`` string once (at load time).

    Raises :class:`JsonataSyntaxError` (code, jsonata-js message, position in ``field``) when
    the expression does not parse, and ``ValueError`` when ``field`` is not an expression
    (see :func:`is_expression`).
    """
    return Expression(field, limits)
