"""The compiled form of an intrinsic call: a tree of literals, paths and calls.

Each node evaluates itself against the state's data, the context object and the execution's
random generator. Nothing is parsed at evaluation time.

Every call's result is held to the bounds of any value (:mod:`orchestrator.asl.bounds`): at
most the payload limit and the nesting limit, or the call fails with
``States.DataLimitExceeded`` (AWS's error when a state's input after Parameters passes the
payload limit, which an intrinsic result always ends up in) or ``States.Runtime`` (too deep).
So nested calls such as ``States.Array($, States.Array($, $))`` cannot build a value of
gigabytes: each level is measured before the next uses it, and the arguments of a call with
many are measured one by one, stopping at the first that passes the limit.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from orchestrator.asl import bounds, errors
from orchestrator.asl.bounds import MAX_WHOLE_PARTS, Budget, OutOfBounds
from orchestrator.asl.intrinsics.spec import FunctionSpec, InvalidArguments
from orchestrator.asl.paths import Path, PathNotFound

# The error an intrinsic failure carries. AWS reports a bad argument as ``States.Runtime`` with
# the cause ``Invalid arguments in States.X`` (observed on AWS, e.g. ``States.MathAdd`` with a
# string operand); ``States.IntrinsicFailure`` is reserved in the language but AWS does not
# raise it here, so a Catch on States.ALL does not catch these either.
INTRINSIC_ERROR = errors.RUNTIME


class MissingPath(Exception):
    """A path argument selected nothing; :class:`Intrinsic` words the AWS cause."""

    def __init__(self, path: Path, source: Any) -> None:
        super().__init__(path.text)
        self.path = path
        self.source = source


@dataclass(frozen=True)
class Literal:
    """A number, ``true``, ``false`` or ``null`` as written."""

    value: Any

    def evaluate(self, data: Any, context: Any, rng: random.Random) -> Any:
        return self.value


@dataclass(frozen=True)
class StringLiteral:
    """A quoted string: ``value`` is unescaped, ``raw`` is as written between the quotes."""

    value: str
    raw: str

    def evaluate(self, data: Any, context: Any, rng: random.Random) -> Any:
        return self.value


@dataclass(frozen=True)
class PathArgument:
    """``$...`` reads the state's data, ``$$...`` the context object, ``$name...`` a
    variable."""

    path: Path

    def evaluate(self, data: Any, context: Any, rng: random.Random) -> Any:
        try:
            source = self.path.root(data, context)
            return self.path.read(source)
        except PathNotFound:
            shown = context if self.path.context else data if self.path.variable is None else None
            raise MissingPath(self.path, shown) from None


Node: TypeAlias = "Literal | StringLiteral | PathArgument | Call"


@dataclass(frozen=True)
class Call:
    """A call of a registered function on its argument nodes."""

    spec: FunctionSpec
    args: tuple[Node, ...]
    static: Any = field(default=None, compare=False)  # what ``spec.prepare`` computed

    def evaluate(self, data: Any, context: Any, rng: random.Random) -> Any:
        values = [arg.evaluate(data, context, rng) for arg in self.args]
        try:
            if len(values) > MAX_WHOLE_PARTS:  # States.Array, States.Format: the result holds them
                budget = Budget()
                for value in values:
                    budget.add(value)
            result = self.spec.impl(self.spec.bind(values), rng, self.static)
            bounds.json_bytes(result)
        except InvalidArguments:
            raise errors.StatesError(
                INTRINSIC_ERROR, f"Invalid arguments in {self.spec.name}"
            ) from None
        except OutOfBounds as out:
            raise bounds.bounds_error(
                out.excess, f"The intrinsic function {self.spec.name} produced a value"
            ) from None
        return result

    @property
    def uses_random(self) -> bool:
        """Whether evaluating this call may draw from the random generator."""
        return self.spec.uses_random or any(
            isinstance(arg, Call) and arg.uses_random for arg in self.args
        )
