"""JSONata templates: the JSON value of ``Arguments``, ``Output`` or ``Assign``, in which any
string (at any depth) may be a ``{% ... %}`` expression.

Other strings stay literal (``"$states.input"`` and ``" {% x %} "`` are kept as written, as
AWS keeps them). Every expression must have a value: one that is undefined fails the field,
whatever its depth, with its location in the cause (``Output/result``; recorded on AWS).
A template is compiled once; a part without expressions is kept as the literal value itself,
shared by every render (callers treat rendered values as read-only, as elsewhere in the core).
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from orchestrator.asl.jsonata.engine import DEFAULT_LIMITS, Expression, Limits, is_expression
from orchestrator.asl.jsonata.errors import JsonataSyntaxError


@dataclass(frozen=True)
class _Literal:
    value: Any


@dataclass(frozen=True)
class _Field:
    expression: Expression


@dataclass(frozen=True)
class _Object:
    fields: tuple[tuple[str, _Node], ...]


@dataclass(frozen=True)
class _Array:
    items: tuple[_Node, ...]


_Node = _Literal | _Field | _Object | _Array


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def _compile(value: Any, pointer: str, limits: Limits) -> _Node:
    if isinstance(value, str) and is_expression(value):
        try:
            return _Field(Expression(value, limits))
        except JsonataSyntaxError as error:
            raise error.at(pointer) from None
    if isinstance(value, dict):
        fields = tuple(
            (key, _compile(item, f"{pointer}/{_escape(key)}", limits))
            for key, item in value.items()
        )
        if all(isinstance(node, _Literal) for _, node in fields):
            return _Literal(value)
        return _Object(fields)
    if isinstance(value, list):
        items = tuple(
            _compile(item, f"{pointer}/{index}", limits) for index, item in enumerate(value)
        )
        if all(isinstance(node, _Literal) for node in items):
            return _Literal(value)
        return _Array(items)
    return _Literal(value)


def _expressions(node: _Node) -> list[Expression]:
    if isinstance(node, _Field):
        return [node.expression]
    if isinstance(node, _Object):
        return [found for _, child in node.fields for found in _expressions(child)]
    if isinstance(node, _Array):
        return [found for child in node.items for found in _expressions(child)]
    return []


class Template:
    """A compiled JSONata template. ``variables`` are the workflow variables its expressions
    read (best effort: a name a lambda could compute is not seen)."""

    def __init__(self, value: Any, limits: Limits = DEFAULT_LIMITS) -> None:
        self._root = _compile(value, "", limits)
        self.expressions: tuple[Expression, ...] = tuple(_expressions(self._root))
        self.variables: frozenset[str] = frozenset().union(
            *(expression.variables for expression in self.expressions)
        )
        self.names_read: frozenset[str] = frozenset().union(
            *(expression.names_read for expression in self.expressions)
        )
        self.uses_random = any(expression.uses_random for expression in self.expressions)
        reads = [expression.states_read for expression in self.expressions]
        # The members of $states its expressions read (None: all).
        self.states_read: frozenset[str] | None = (
            None if any(r is None for r in reads) else frozenset().union(*reads)  # type: ignore[arg-type]
        )
        # The whole field is one expression ("Items": "{% ... %}"): causes quote its text.
        self.expression: Expression | None = (
            self._root.expression if isinstance(self._root, _Field) else None
        )

    def render(
        self,
        bindings: Mapping[str, Any],
        *,
        rng: random.Random | None = None,
        now: datetime | None = None,
        field: str = "",
    ) -> Any:
        """The template's value for ``bindings``. ``field`` is the template's field name
        (``Output``); a failing expression's location extends it with the keys and indexes
        down to the expression (``Output/result``, ``Output/list/0``). See
        :meth:`Expression.evaluate` for ``rng`` and ``now``; raises ``JsonataError``."""
        return self._render(self._root, bindings, rng, now, field)

    def _render(
        self,
        node: _Node,
        bindings: Mapping[str, Any],
        rng: random.Random | None,
        now: datetime | None,
        location: str,
    ) -> Any:
        if isinstance(node, _Literal):
            return node.value
        if isinstance(node, _Field):
            return node.expression.evaluate(bindings, rng=rng, now=now, location=location)
        if isinstance(node, _Object):
            return {
                key: self._render(child, bindings, rng, now, _extend(location, key))
                for key, child in node.fields
            }
        return [
            self._render(child, bindings, rng, now, _extend(location, str(index)))
            for index, child in enumerate(node.items)
        ]


def _extend(location: str, step: str) -> str:
    return f"{location}/{step}" if location else step


def compile_template(value: Any, limits: Limits = DEFAULT_LIMITS) -> Template:
    """Compile a JSON value whose strings may be ``{% ... %}`` expressions (at load time).

    Raises :class:`JsonataSyntaxError` for the first expression that does not parse, with
    ``pointer`` the JSON Pointer of its string inside ``value``.
    """
    return Template(value, limits)
