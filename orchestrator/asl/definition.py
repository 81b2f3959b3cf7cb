"""A loaded state machine: frozen, fully compiled state objects, one class per state ``Type``.

Objects here are built only by :mod:`orchestrator.asl.loader`, after validation, so the
interpreter can trust them: every ``Next`` names a state, every path is compiled.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from orchestrator.asl.choice import ChoiceBranch
from orchestrator.asl.paths import Path, ReferencePath
from orchestrator.asl.templates import Template

# A path field that is absent means "$"; JSON null means "discard" (InputPath/OutputPath give
# {}, ResultPath keeps the input). ``None`` below is that JSON null.
ROOT = "$"


@dataclass(frozen=True)
class Catcher:
    """One ``Catch`` element: the errors it matches, where its error output goes, what follows."""

    error_equals: tuple[str, ...]
    next: str
    result_path: ReferencePath | None


@dataclass(frozen=True, kw_only=True)
class State:
    """Fields every state type has."""

    name: str
    type: str
    comment: str | None = None
    input_path: Path | None
    output_path: Path | None


@dataclass(frozen=True, kw_only=True)
class Transition:
    """Mixin data of states that move on: exactly one of ``next`` and ``end``."""

    next: str | None = None
    end: bool = False


@dataclass(frozen=True, kw_only=True)
class PassState(State, Transition):
    """``Pass``: copies its input (or ``Result``) to its output, through the data flow."""

    result: Any = None
    has_result: bool = False
    parameters: Template | None = None
    result_path: ReferencePath | None


@dataclass(frozen=True, kw_only=True)
class TaskState(State, Transition):
    """``Task``: invokes a Lambda function by name and waits for its result."""

    resource: str
    function_name: str
    parameters: Template | None = None
    result_selector: Template | None = None
    result_path: ReferencePath | None
    catchers: tuple[Catcher, ...] = field(default_factory=tuple)


@dataclass(frozen=True, kw_only=True)
class ChoiceState(State):
    """``Choice``: the first matching branch's ``Next``, else ``Default``."""

    branches: tuple[ChoiceBranch, ...]
    default: str | None = None


@dataclass(frozen=True, kw_only=True)
class SucceedState(State):
    """``Succeed``: ends the execution successfully."""


@dataclass(frozen=True, kw_only=True)
class FailState(State):
    """``Fail``: ends the execution with an error and a cause (static or from paths)."""

    error: str | None = None
    cause: str | None = None
    error_path: Path | None = None
    cause_path: Path | None = None


AnyState = PassState | TaskState | ChoiceState | SucceedState | FailState


@dataclass(frozen=True)
class StateMachine:
    """A validated definition: where to start and every state by name."""

    name: str
    start_at: str
    states: dict[str, AnyState]
    comment: str | None = None
    timeout_seconds: int | None = None
    source: str = field(default="", compare=False)
