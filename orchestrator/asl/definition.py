"""A loaded state machine: frozen, fully compiled state objects, one class per state ``Type``.

Objects here are built only by :mod:`orchestrator.asl.loader`, after validation, so the
interpreter can trust them: every ``Next`` names a state of its scope, every path is compiled.
Parallel branches and Map iterators are *scopes* of their own (state names are unique within a
scope only); the machine numbers every scope so that an execution's state can name one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from orchestrator.asl.choice import ChoiceBranch
from orchestrator.asl.paths import Path, ReferencePath
from orchestrator.asl.templates import Template


@dataclass(frozen=True)
class Catcher:
    """One ``Catch`` element: the errors it matches, where its error output goes, what follows."""

    error_equals: tuple[str, ...]
    next: str
    result_path: ReferencePath | None
    assign: Any = None  # variables assigned from the error output (a template per language)
    output: Any = None  # a JSONata catcher's ``Output`` (default: ``$states.errorOutput``)


@dataclass(frozen=True)
class Retrier:
    """One ``Retry`` element (ASL defaults: 1 s, 3 attempts, backoff 2.0, no jitter)."""

    error_equals: tuple[str, ...]
    interval_seconds: int = 1
    max_attempts: int = 3
    backoff_rate: float = 2.0
    max_delay_seconds: int | None = None
    jitter: Literal["FULL", "NONE"] = "NONE"


@dataclass(frozen=True)
class Seconds:
    """A number of seconds given as a constant or read from a path (``...Seconds[Path]``)."""

    value: int | None = None
    path: Path | None = None
    expression: Any = None  # a JSONata state's ``{% %}`` expression


@dataclass(frozen=True, kw_only=True)
class State:
    """Fields every state type has. A path that is None was JSON null in the definition."""

    name: str
    type: str
    comment: str | None = None
    input_path: Path | None
    output_path: Path | None
    assign: Any = None  # ``Assign``: a JSONPath Template, or a JSONata one in a JSONata state
    query_language: str = "JSONPath"  # or "JSONata": its fields are {% %} expressions
    output: Any = None  # a JSONata state's ``Output`` (a jsonata Template)


@dataclass(frozen=True, kw_only=True)
class Transition:
    """Mixin data of states that move on: exactly one of ``next`` and ``end``."""

    next: str | None = None
    end: bool = False


@dataclass(frozen=True, kw_only=True)
class Recoverable:
    """Mixin data of states that may fail and be retried or caught (Task, Parallel, Map)."""

    parameters: Template | None = None
    result_selector: Template | None = None
    result_path: ReferencePath | None
    arguments: Any = None  # a JSONata Task's or Parallel's ``Arguments`` (a jsonata Template)
    retriers: tuple[Retrier, ...] = ()
    catchers: tuple[Catcher, ...] = ()


@dataclass(frozen=True, kw_only=True)
class PassState(State, Transition):
    """``Pass``: copies its input (or ``Result``) to its output, through the data flow."""

    result: Any = None
    has_result: bool = False
    parameters: Template | None = None
    result_path: ReferencePath | None


@dataclass(frozen=True, kw_only=True)
class TaskState(State, Transition, Recoverable):
    """``Task``: calls a Lambda function, a service integration or an activity, and waits for
    its result (or its task token).

    ``integration`` is ``function`` for a function ARN resource, ``invoke`` for
    ``arn:aws:states:::lambda:invoke`` (FunctionName/Payload in Parameters, AWS's wrapper
    around the result), ``service`` for any other integration (``service``, ``action`` and
    ``pattern`` name it) and ``activity`` for an activity ARN. ``credentials`` is the
    ``Credentials`` template, rendered like ``Parameters``.
    """

    resource: str
    function_name: str
    integration: Literal["function", "invoke", "service", "activity"] = "function"
    service: str = ""
    action: str = ""
    pattern: str = ""
    region: str = ""
    wait_for_token: bool = False
    timeout: Seconds | None = None
    heartbeat: Seconds | None = None
    credentials: Any = None  # a Template of the state's query language

    @property
    def takes_callbacks(self) -> bool:
        """Whether SendTaskSuccess/Failure/Heartbeat complete it (token tasks, activities)."""
        return self.wait_for_token or self.integration == "activity"

    @property
    def resource_fields(self) -> dict[str, str]:
        """``resourceType`` and ``resource`` of its Task* history events."""
        return {"resource": self.action + self.pattern, "resourceType": self.service}


@dataclass(frozen=True, kw_only=True)
class ChoiceState(State):
    """``Choice``: the first matching branch's ``Next``, else ``Default``."""

    branches: tuple[ChoiceBranch, ...]
    default: str | None = None


@dataclass(frozen=True, kw_only=True)
class WaitState(State, Transition):
    """``Wait``: for a number of seconds or until a timestamp (constant or from a path)."""

    seconds: Seconds | None = None
    timestamp: str | None = None
    timestamp_path: Path | None = None
    # A JSONata state's Seconds/Timestamp given as an expression.
    seconds_expression: Any = None
    timestamp_expression: Any = None


@dataclass(frozen=True, kw_only=True)
class SucceedState(State):
    """``Succeed``: ends its scope successfully."""


@dataclass(frozen=True, kw_only=True)
class FailState(State):
    """``Fail``: ends the execution with an error and a cause (static or from paths)."""

    error: str | None = None
    cause: str | None = None
    error_path: Any = None  # a Path or a compiled intrinsic
    cause_path: Any = None
    error_expression: Any = None  # a JSONata state's Error/Cause as an expression
    cause_expression: Any = None


@dataclass(frozen=True, kw_only=True)
class ParallelState(State, Transition, Recoverable):
    """``Parallel``: runs every branch scope on the same input; the output is their outputs."""

    branches: tuple[int, ...]  # scope ids


@dataclass(frozen=True)
class ItemReader:
    """A Distributed Map's ``ItemReader``: the S3 call that reads its items (``action`` is
    ``getObject`` or ``listObjectsV2``), its arguments (a template of the state's language)
    and ``ReaderConfig`` (``max_items`` apart: a count, a path or an expression)."""

    action: str
    arguments: Any
    config: dict[str, Any]
    max_items: Seconds | None = None


@dataclass(frozen=True)
class ItemBatcher:
    """A Distributed Map's ``ItemBatcher``: items go to children in batches."""

    max_items: Seconds | None = None
    max_bytes: Seconds | None = None
    batch_input: Any = None  # a template of the state's language


@dataclass(frozen=True)
class ResultWriter:
    """A Distributed Map's ``ResultWriter``: its results go to S3 (``arguments``: Bucket and
    Prefix, a template of the state's language), written as ``config`` says
    (``OutputType``, ``Transformation``), not into the state's output."""

    arguments: Any
    config: dict[str, Any]


@dataclass(frozen=True)
class Distribution:
    """What makes a Map DISTRIBUTED: its children are executions of their own."""

    execution_type: Literal["STANDARD", "EXPRESS"] = "STANDARD"
    label: str | None = None
    reader: ItemReader | None = None
    batcher: ItemBatcher | None = None
    writer: ResultWriter | None = None


@dataclass(frozen=True, kw_only=True)
class MapState(State, Transition, Recoverable):
    """``Map``: runs the iterator scope once per item of ``ItemsPath``, in this execution
    (inline) or, with ``distribution``, as a child execution per item or batch."""

    iterator: int  # scope id
    items_path: Path
    items: Any = None  # a JSONata Map's ``Items`` (a jsonata Template; default: the input)
    item_selector: Any = None  # a Template of the state's query language
    max_concurrency: Seconds = field(default_factory=Seconds)  # a count, not seconds
    tolerated_failure_count: Seconds | None = None
    tolerated_failure_percentage: Seconds | None = None
    distribution: Distribution | None = None


AnyState = (
    PassState
    | TaskState
    | ChoiceState
    | WaitState
    | SucceedState
    | FailState
    | ParallelState
    | MapState
)


@dataclass(frozen=True)
class Scope:
    """A set of states with a start: the machine itself, a Parallel branch or a Map iterator."""

    start_at: str
    states: dict[str, AnyState]


@dataclass(frozen=True)
class StateMachine:
    """A validated definition. ``scopes[0]`` is the top level; the others are nested."""

    name: str
    scopes: tuple[Scope, ...]
    comment: str | None = None
    timeout_seconds: int | None = None
    source: str = field(default="", compare=False)
    # EXPRESS executions keep no 25,000-event history, so that cap does not apply to them.
    type: Literal["STANDARD", "EXPRESS"] = "STANDARD"

    @property
    def start_at(self) -> str:
        """The top-level StartAt."""
        return self.scopes[0].start_at

    @property
    def states(self) -> dict[str, AnyState]:
        """The top-level states by name."""
        return self.scopes[0].states
