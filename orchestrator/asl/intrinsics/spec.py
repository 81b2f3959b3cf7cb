"""The registry of intrinsic functions: each declares its arguments once, checked here.

A function module registers its implementation with :func:`function`, naming the parameter
kinds. The parser checks the argument count against the declaration; at run time
:meth:`FunctionSpec.bind` checks and converts the argument values, and any value of the wrong
kind becomes AWS's ``Invalid arguments in States.X`` failure (see :mod:`.nodes`).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from orchestrator.asl.intrinsics import java


class InvalidArguments(Exception):
    """An argument has the wrong kind or value; AWS reports ``Invalid arguments in <name>``."""


@dataclass(frozen=True)
class Param:
    """One kind of argument: ``convert`` returns the value to use or raises InvalidArguments."""

    kind: str
    convert: Callable[[Any], Any]


def _any(value: Any) -> Any:
    return value


def _string(value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidArguments
    return value


def _array(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise InvalidArguments
    return value


def _object(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidArguments
    return value


def _number(value: Any) -> int | float:
    if not java.is_number(value) or (isinstance(value, float) and not math.isfinite(value)):
        raise InvalidArguments
    return value  # type: ignore[no-any-return]


def _integer(value: Any) -> int:
    """Java's ``Number.intValue()``: a fraction is truncated toward zero (AWS: 2.6 -> 2)."""
    number = int(_number(value))
    if not java.in_int_range(number):
        raise InvalidArguments
    return number


ANY = Param("any value", _any)
STRING = Param("string", _string)
ARRAY = Param("array", _array)
OBJECT = Param("object", _object)
NUMBER = Param("number", _number)
INTEGER = Param("integer", _integer)

# (converted arguments, the execution's random generator, what ``prepare`` computed) -> result
Impl = Callable[[list[Any], random.Random, Any], Any]


@dataclass(frozen=True)
class FunctionSpec:
    """One intrinsic function: its name, parameters and implementation."""

    name: str
    impl: Impl
    params: tuple[Param, ...] = ()
    optional: int = 0  # how many trailing ``params`` may be left out
    rest: Param | None = None  # the kind of any further arguments (a variadic function)
    ignores_arguments: bool = False  # AWS accepts and ignores arguments (States.UUID)
    # Called once when a call is compiled, with its argument nodes; the result is passed to
    # ``impl`` on every evaluation (States.Format reads its template literal here).
    prepare: Callable[[Sequence[Any]], Any] | None = None
    uses_random: bool = False

    def arity_problem(self, count: int) -> str | None:
        """Why ``count`` arguments are wrong for this function, or None when they are fine."""
        if self.ignores_arguments:
            return None
        least = len(self.params) - self.optional
        if count >= least and (self.rest is not None or count <= len(self.params)):
            return None
        if self.rest is not None:
            wanted = f"at least {least} argument{'s' if least != 1 else ''}"
        elif self.optional:
            wanted = f"{least} to {len(self.params)} arguments"
        else:
            wanted = f"{least} argument{'s' if least != 1 else ''}"
        return f"{self.name} takes {wanted}, got {count}"

    def bind(self, values: Sequence[Any]) -> list[Any]:
        """The argument values checked and converted; raises :class:`InvalidArguments`."""
        bound = []
        for index, value in enumerate(values):
            param = self.params[index] if index < len(self.params) else self.rest
            assert param is not None  # the parser checked the argument count
            bound.append(param.convert(value))
        return bound


REGISTRY: dict[str, FunctionSpec] = {}


def function(
    name: str,
    *params: Param,
    optional: int = 0,
    rest: Param | None = None,
    ignores_arguments: bool = False,
    prepare: Callable[[Sequence[Any]], Any] | None = None,
    uses_random: bool = False,
) -> Callable[[Impl], Impl]:
    """Register the decorated implementation as the intrinsic function ``name``."""

    def register(impl: Impl) -> Impl:
        if name in REGISTRY:
            raise RuntimeError(f"intrinsic function {name} is registered twice")
        REGISTRY[name] = FunctionSpec(
            name, impl, params, optional, rest, ignores_arguments, prepare, uses_random
        )
        return impl

    return register
