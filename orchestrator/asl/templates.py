"""Payload templates: ``Parameters`` and ``ResultSelector``.

A key ending in ``.$`` takes its value from a path into the state's data (``$...``) or into
the context object (``$$...``), or from an intrinsic function call (``States.Format(...)``);
every other value is copied as it is. Templates are compiled once when the definition is
loaded (intrinsics included), so rendering one only walks paths and evaluates compiled calls.

A rendered payload is held to the bounds of any value (:mod:`orchestrator.asl.bounds`): it
fails with ``States.DataLimitExceeded`` past the payload limit (AWS: "after Parameters
processing, the input of a state is larger than the payload size quota") and with
``States.Runtime`` past the nesting limit. A template with many ``.$`` fields (each of which
may select the whole input) counts their sizes as it renders and stops at the limit.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass, field
from typing import Any

from orchestrator.asl import bounds, errors
from orchestrator.asl.bounds import MAX_WHOLE_PARTS, Budget, OutOfBounds
from orchestrator.asl.errors import abbreviate
from orchestrator.asl.intrinsics import Intrinsic, compile_intrinsic
from orchestrator.asl.paths import Path, PathNotFound, UnsupportedPath, compile_path

# Randomness for renders whose caller passes no generator (the interpreter always passes one).
_OWN_RNG = random.Random()


@dataclass(frozen=True)
class _Static:
    value: Any


@dataclass(frozen=True)
class _FromPath:
    field: str  # the key as written, with its ".$"
    path: Path
    context: bool  # read the context object instead of the data


@dataclass(frozen=True)
class _FromIntrinsic:
    field: str  # the key as written, with its ".$"
    intrinsic: Intrinsic


@dataclass(frozen=True)
class _Object:
    fields: tuple[tuple[str, Any], ...]  # (output key, compiled value)


@dataclass(frozen=True)
class _Array:
    items: tuple[Any, ...]


@dataclass(frozen=True)
class Template:
    """A compiled payload template; :meth:`render` builds the payload."""

    root: Any
    uses_random: bool = field(default=False, compare=False)  # an intrinsic draws randomness
    # Whether rendering may read the context object: when not, callers may pass None for it
    # instead of building it (the context is rebuilt per state, so this is the hot path).
    uses_context: bool = field(default=True, compare=False)
    dynamic: int = field(default=0, compare=False)  # how many ``.$`` fields it has

    def render(
        self,
        data: Any,
        context: Any,
        rng: random.Random | None = None,
        *,
        subject: str = "A payload template produced a value",
    ) -> Any:
        """The payload for ``data`` and ``context``.

        Intrinsic functions draw randomness (States.MathRandom, States.UUID) from ``rng``; the
        interpreter passes the execution's generator, and without one a module-level
        generator is used. Raises ``StatesError(States.Runtime)`` when a ``.$`` path selects
        nothing, with the field and path named in the cause, or when an intrinsic fails; and
        the bounds' errors (``subject`` begins their cause) for a payload too large or deep.
        """
        budget = Budget() if self.dynamic > MAX_WHOLE_PARTS else None
        try:
            value = _render(self.root, data, context, rng if rng is not None else _OWN_RNG, budget)
            bounds.json_bytes(value)
        except OutOfBounds as out:
            raise bounds.bounds_error(out.excess, subject) from None
        return value


def _render(node: Any, data: Any, context: Any, rng: random.Random, budget: Budget | None) -> Any:
    if isinstance(node, _Static):
        return node.value
    if isinstance(node, _FromIntrinsic):
        value = node.intrinsic.evaluate(data, context, rng, field=node.field)
    elif isinstance(node, _FromPath):
        try:
            source = node.path.root(data, context)
            value = node.path.read(source)
        except PathNotFound:
            path = node.path
            source = context if path.context else data if path.variable is None else None
            raise errors.StatesError(
                errors.RUNTIME,
                f"The JSONPath '{node.path.text}' "
                f"specified for the field '{node.field}' could not be found in the input "
                f"'{_compact(source)}'",
            ) from None
    elif isinstance(node, _Object):
        return {key: _render(value, data, context, rng, budget) for key, value in node.fields}
    else:
        return [_render(item, data, context, rng, budget) for item in node.items]
    if budget is not None:
        budget.add(value)
    return value


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def compile_template(raw: Any, pointer: str) -> tuple[Template | None, list[tuple[str, str, str]]]:
    """Compile a template; returns it and the problems as (code, message, pointer) triples."""
    problems: list[tuple[str, str, str]] = []
    root = _compile(raw, pointer, problems)
    if problems:
        return None, problems
    template = Template(
        root,
        uses_random=_uses_random(root),
        uses_context=_uses_context(root),
        dynamic=_dynamic(root),
    )
    return template, problems


def _dynamic(node: Any) -> int:
    if isinstance(node, _FromPath | _FromIntrinsic):
        return 1
    if isinstance(node, _Object):
        return sum(_dynamic(value) for _, value in node.fields)
    if isinstance(node, _Array):
        return sum(_dynamic(item) for item in node.items)
    return 0


def _uses_context(node: Any) -> bool:
    if isinstance(node, _FromPath):
        return node.path.reads_context
    if isinstance(node, _FromIntrinsic):
        return True  # an argument may read $$; not worth finding out
    if isinstance(node, _Object):
        return any(_uses_context(value) for _, value in node.fields)
    if isinstance(node, _Array):
        return any(_uses_context(item) for item in node.items)
    return False


def _uses_random(node: Any) -> bool:
    if isinstance(node, _FromIntrinsic):
        return node.intrinsic.uses_random
    if isinstance(node, _Object):
        return any(_uses_random(value) for _, value in node.fields)
    if isinstance(node, _Array):
        return any(_uses_random(item) for item in node.items)
    return False


def _compile(raw: Any, pointer: str, problems: list[tuple[str, str, str]]) -> Any:
    if isinstance(raw, dict):
        if not any(key.endswith(".$") for key in raw) and not any(
            isinstance(v, dict | list) for v in raw.values()
        ):
            return _Static(raw)
        fields: list[tuple[str, Any]] = []
        for key, value in raw.items():
            where = f"{pointer}/{escape_pointer(key)}"
            if key.endswith(".$"):
                fields.append((key[:-2], _compile_dynamic(key, value, where, problems)))
            else:
                fields.append((key, _compile(value, where, problems)))
        return _Object(tuple(fields))
    if isinstance(raw, list):
        return _Array(
            tuple(_compile(item, f"{pointer}/{i}", problems) for i, item in enumerate(raw))
        )
    return _Static(raw)


def _compile_dynamic(
    key: str, value: Any, pointer: str, problems: list[tuple[str, str, str]]
) -> Any:
    if not isinstance(value, str):
        problems.append(
            ("INVALID_TYPE", f"the value of '{key}' must be a JSONPath string", pointer)
        )
        return _Static(None)
    if value.startswith("States."):
        try:
            return _FromIntrinsic(key, compile_intrinsic(value))
        except UnsupportedPath as exc:
            problems.append(("UNSUPPORTED", f"'{key}': {exc}", pointer))
        except ValueError as exc:
            problems.append(("INVALID_INTRINSIC", f"'{key}': {exc}", pointer))
        return _Static(None)
    context = value.startswith("$$")
    try:
        path = compile_path(value)
    except UnsupportedPath as exc:
        problems.append(("UNSUPPORTED", f"'{key}': {exc}", pointer))
        return _Static(None)
    except ValueError as exc:
        problems.append(("INVALID_JSONPATH", f"'{key}': {exc}", pointer))
        return _Static(None)
    return _FromPath(key, path, context)


def escape_pointer(token: str) -> str:
    """Escape one JSON Pointer token (RFC 6901)."""
    return token.replace("~", "~0").replace("/", "~1")


# AWS's variable names: a letter or underscore, then letters, digits or underscores.
_VARIABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def compile_assign(raw: Any, pointer: str) -> tuple[Template | None, list[tuple[str, str, str]]]:
    """Compile an ``Assign`` object: a template whose keys (without ``.$``) name variables."""
    if not isinstance(raw, dict):
        return None, [("INVALID_TYPE", "'Assign' must be a JSON object", pointer)]
    problems = [
        (
            "INVALID_VALUE",
            f"{abbreviate(key)} is not a variable name (a letter or underscore, then letters,"
            " digits or underscores)",
            f"{pointer}/{escape_pointer(key)}",
        )
        for key in raw
        if not _VARIABLE_NAME.match(key.removesuffix(".$"))
    ]
    if problems:
        return None, problems
    return compile_template(raw, pointer)
