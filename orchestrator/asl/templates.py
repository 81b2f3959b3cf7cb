"""Payload templates: ``Parameters`` and ``ResultSelector``.

A key ending in ``.$`` takes its value from a path into the state's data (``$...``) or into
the context object (``$$...``); every other value is copied as it is. Templates are compiled
once when the definition is loaded, so running one only walks paths.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from orchestrator.asl import errors
from orchestrator.asl.paths import Path, PathNotFound, UnsupportedPath, compile_path


@dataclass(frozen=True)
class _Static:
    value: Any


@dataclass(frozen=True)
class _FromPath:
    field: str  # the key as written, with its ".$"
    path: Path
    context: bool  # read the context object instead of the data


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

    def render(self, data: Any, context: Any) -> Any:
        """The payload for ``data`` and ``context``.

        Raises ``StatesError(States.Runtime)`` when a ``.$`` path selects nothing, with the
        field and path named in the cause.
        """
        return _render(self.root, data, context)


def _render(node: Any, data: Any, context: Any) -> Any:
    if isinstance(node, _Static):
        return node.value
    if isinstance(node, _FromPath):
        source = context if node.context else data
        try:
            return node.path.read(source)
        except PathNotFound:
            raise errors.StatesError(
                errors.RUNTIME,
                f"The JSONPath '{node.path.text}' "
                f"specified for the field '{node.field}' could not be found in the input "
                f"'{_compact(source)}'",
            ) from None
    if isinstance(node, _Object):
        return {key: _render(value, data, context) for key, value in node.fields}
    return [_render(item, data, context) for item in node.items]


def _compact(value: Any) -> str:
    import json

    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def compile_template(raw: Any, pointer: str) -> tuple[Template | None, list[tuple[str, str, str]]]:
    """Compile a template; returns it and the problems as (code, message, pointer) triples."""
    problems: list[tuple[str, str, str]] = []
    root = _compile(raw, pointer, problems)
    return (None if problems else Template(root)), problems


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
        problems.append(
            (
                "UNSUPPORTED",
                f"intrinsic function {value.split('(', 1)[0]!r} in '{key}' is not supported yet",
                pointer,
            )
        )
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
