"""What the interpreter reads and writes: execution state, events in, commands and history out.

An execution is a set of *threads*: the top level is thread 0; each Parallel branch and Map
iteration runs in a thread of its own whose parent is the thread of the Parallel/Map state.
A thread waits on one thing at a time: a task (by token), a timer, or its children.

The state's maps of threads, tokens and timers (and a Parallel/Map thread's results) are
persistent maps (:mod:`.pmap`): a step changes a few entries without copying the
rest, and :meth:`~.pmap.PMap.changes_from` tells a store which entries a step changed. In JSON
they are the objects and arrays they always were.

One step does a bounded amount of work. Work still to do is kept in the state as data
(:class:`Work`, in order) and a ``continue`` timer, due at once, asks the shell to go on.
"""

from __future__ import annotations

import dataclasses
import operator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from orchestrator.asl.pmap import PMap, PSet

Status = Literal["RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"]
# ``continue``: the step stopped after its budget of work; firing it does the rest.
TimerKind = Literal["wait", "retry", "timeout", "heartbeat", "execution", "continue"]


@dataclass(slots=True)
class Thread:
    """One line of execution: the top level, a Parallel branch or a Map iteration.

    A plain dataclass, not a pydantic model: a Map creates one per item, so construction
    must be cheap. pydantic still validates and serialises it inside :class:`ExecutionState`.
    """

    id: int
    scope: int
    parent: int | None = None
    index: int = 0  # branch or item index within the parent
    state: str | None = None  # the state it is in
    input: JsonValue = None  # that state's raw input
    entered_event: int = 0  # id of its *StateEntered event ("entered at the event id #N")
    entered_time: datetime | None = None
    retry_counts: list[int] = field(default_factory=list)  # attempts used, per retrier
    retry_total: int = 0  # $$.State.RetryCount
    # A Task in flight:
    token: str | None = None
    attempt: int = 0
    effective: JsonValue = None  # the state's effective input (after InputPath/Parameters)
    heartbeat_seconds: int | None = None
    started: bool = False  # an activity's worker took it (ActivityStarted recorded)
    job: str | None = None  # the child execution a .sync task waits on (from TaskSubmitted)
    # Workflow variables assigned in this thread (None: none); replaced, never changed in place.
    variables: dict[str, JsonValue] | None = None
    timers: list[str] = field(default_factory=list)  # wait/retry/timeout/heartbeat timers
    # A Parallel or Map waiting on its children. Child ``i`` (branch or item index) is thread
    # ``first_child + i``: the ids are set aside when the fan-out starts, so a parent needs
    # no set of its children. (``children`` is that set in states stored before, kept while
    # their fan-outs finish.)
    first_child: int = 0
    # None, not empty, for the many threads that are no fan-out: written as null they cost
    # nothing to store and load.
    children: PSet[int] | None = None
    results: PMap[int, JsonValue] | None = None  # by branch or item index
    results_bytes: int = 0  # their JSON size so far; past the payload limit none are kept
    items: list[JsonValue] = field(default_factory=list)
    next_item: int = 0
    done: int = 0
    failed: int = 0
    max_concurrency: int = 0
    tolerated_failures: float | None = None  # a count, or None for none tolerated
    # The id of the last history event this thread recorded: the next one's previousEventId,
    # as AWS chains each branch's and iteration's events (0: none yet, chain on the last).
    last_event: int = 0
    # The size of ``variables`` as AWS's 10 MiB limit counts it (kept, not measured again).
    variables_bytes: int = 0
    # A Distributed Map's: the ARN of its running Map Run.
    map_run: str | None = None
    # A Distributed Map's item run as a child execution (``job``) that this thread waits on.
    child: bool = False
    # A redriven Parallel's or Map's: ``results`` holds children that need not run again.
    redriven: bool = False

    def copy(self) -> Thread:
        """A copy to change: the small lists are copied, the persistent maps shared."""
        copy = Thread(*_thread_fields(self))
        copy.retry_counts = list(self.retry_counts)
        copy.timers = list(self.timers)
        return copy


_thread_fields = operator.attrgetter(*(f.name for f in dataclasses.fields(Thread)))


class TimerRef(BaseModel):
    """A timer the shell holds for the interpreter: who waits on it and why."""

    thread: int
    kind: TimerKind
    due: datetime


WorkKind = Literal["run", "items", "done", "retry", "event"]


@dataclass(frozen=True, slots=True)
class Work:
    """Work a step left to do, in order: what the next step (or the continuation) takes first.

    ``run``: thread ``thread`` enters ``state`` with ``input``; ``items``: the Map state of
    ``thread`` starts its next items; ``done``: the Parallel/Map of ``thread`` has all its
    children's results; ``retry``: it starts its branches or items again; ``event``: an
    event that arrived while work was pending (:func:`event_data`), applied after that work
    as it would have been had the work been done at once.
    """

    kind: WorkKind
    thread: int = 0
    state: str | None = None
    input: JsonValue = None
    event: dict[str, JsonValue] | None = None


class ExecutionState(BaseModel):
    """Everything the interpreter needs to continue an execution; stored as JSON by the shell."""

    model_config = ConfigDict(frozen=True)

    execution_arn: str
    execution_name: str
    state_machine_arn: str
    state_machine_name: str
    role_arn: str
    input: JsonValue
    start_time: datetime
    token_prefix: str
    status: Status = "RUNNING"
    threads: PMap[int, Thread] = Field(default_factory=PMap)
    tokens: PMap[str, int] = Field(default_factory=PMap)  # task token -> thread
    timers: PMap[str, TimerRef] = Field(default_factory=PMap)
    next_thread: int = 1
    seq: int = 0  # tokens, timers and random draws are numbered by it
    calls: dict[str, int] = Field(default_factory=dict)  # tasks dispatched, per state name
    last_event_id: int = 0
    pending: tuple[Work, ...] = ()  # work left by the last step, in order
    continuations: int = 0  # ``continue`` timers set so far (they number their ids)
    test_case: str | None = None  # the mock test case it was started with, if any
    parent: dict[str, JsonValue] | None = None  # the parent's task that started it, if any
    time_scale: float = 1.0  # its timers last this times their seconds (WAIT_TIME_SCALE)
    continue_timer: str | None = None  # the one set while work is pending
    output: JsonValue = None
    error: str | None = None
    cause: str | None = None
    stop_time: datetime | None = None
    # Where a redrive starts again: the top-level state the execution failed, was stopped or
    # timed out in, its type and its input ({"state", "type", "input"}).
    redrive_from: dict[str, JsonValue] | None = None
    redrive_count: int = 0
    redrive_time: datetime | None = None
    # The whole context object ``$$`` (TestState's ``context``); None for executions.
    context_override: dict[str, JsonValue] | None = None


# -- events in ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class StartExecution:
    """Start an execution. ``token_prefix`` should be unguessable (the shell draws it)."""

    execution_arn: str
    execution_name: str
    state_machine_arn: str
    input: Any
    time: datetime
    token_prefix: str
    role_arn: str = ""
    test_case: str | None = None  # a mock configuration's test case (``arn#TestCase``)
    parent: dict[str, Any] | None = None  # the parent's task that started it (ParentLink)
    time_scale: float = 1.0  # waits, backoffs and timeouts last this times as long (tests)
    # The context object ``$$`` as given (TestState's ``context``), instead of the built one.
    context: dict[str, Any] | None = None


@dataclass(frozen=True)
class TaskSucceeded:
    """The task with ``token`` (at ``attempt``) returned ``output``.

    ``callback`` marks a SendTaskSuccess for a ``.waitForTaskToken`` task (which the
    function's own return does not complete). ``response`` marks a lambda:invoke output that
    is already the Invoke API's whole response (mocked), not the function's return to wrap.
    """

    token: str
    attempt: int
    output: Any
    time: datetime
    callback: bool = False
    request_id: str | None = None
    response: bool = False


@dataclass(frozen=True)
class TaskFailed:
    """The task with ``token`` (at ``attempt``) failed with an ASL error and cause (None for
    SendTaskFailure naming none)."""

    token: str
    attempt: int
    error: str | None
    cause: str | None
    time: datetime
    callback: bool = False


@dataclass(frozen=True)
class TaskSubmitted:
    """A ``.sync`` or ``.waitForTaskToken`` call's first answer (the service's response):
    the task goes on waiting for the job's end or for its token."""

    token: str
    attempt: int
    output: Any
    time: datetime


@dataclass(frozen=True)
class TaskStarted:
    """An activity worker took the task (GetActivityTask), naming itself or not."""

    token: str
    time: datetime
    worker_name: str | None = None


@dataclass(frozen=True)
class TaskHeartbeat:
    """SendTaskHeartbeat for the task with ``token``: its heartbeat timer starts again."""

    token: str
    time: datetime


@dataclass(frozen=True)
class TimerFired:
    """A timer the interpreter asked for is due."""

    timer: str
    time: datetime


@dataclass(frozen=True)
class StopExecution:
    """StopExecution: abort the execution with an optional error and cause."""

    error: str | None
    cause: str | None
    time: datetime


@dataclass(frozen=True)
class FailExecution:
    """The shell could not apply an event to the execution (the engine raised, or the event
    killed the process): the execution fails with ``error`` (States.Runtime) and ``cause``."""

    error: str
    cause: str
    time: datetime


@dataclass(frozen=True)
class RedriveExecution:
    """RedriveExecution: a FAILED, ABORTED or TIMED_OUT execution runs again from the state it
    ended in (the shell checks it may)."""

    time: datetime


@dataclass(frozen=True)
class UpdateMapRun:
    """UpdateMapRun: a running Distributed Map's concurrency or tolerated failures change
    (None: unchanged)."""

    map_run: str
    max_concurrency: int | None
    tolerated_count: int | None
    tolerated_percentage: float | None
    time: datetime


# Events that apply to a running execution's task or timer (and may wait behind pending work).
PendingEvent = TaskSucceeded | TaskFailed | TaskSubmitted | TaskStarted | TaskHeartbeat | TimerFired
Event = (
    StartExecution | PendingEvent | StopExecution | FailExecution | RedriveExecution | UpdateMapRun
)

_PENDING_EVENTS: dict[str, type[PendingEvent]] = {
    kind.__name__: kind
    for kind in (TaskSucceeded, TaskFailed, TaskSubmitted, TaskStarted, TaskHeartbeat, TimerFired)
}


def event_data(event: PendingEvent) -> dict[str, Any]:
    """An event as JSON-ready data, to wait in :attr:`ExecutionState.pending`."""
    data: dict[str, Any] = {f.name: getattr(event, f.name) for f in dataclasses.fields(event)}
    data["time"] = event.time.isoformat()
    data["type"] = type(event).__name__
    return data


def event_from_data(data: dict[str, Any]) -> PendingEvent:
    """The event :func:`event_data` wrote."""
    fields = {key: value for key, value in data.items() if key != "type"}
    fields["time"] = datetime.fromisoformat(fields["time"])
    return _PENDING_EVENTS[str(data["type"])](**fields)


# -- commands and history out ------------------------------------------------------------------


@dataclass(frozen=True)
class DispatchTask:
    """Call the task's resource with ``payload``; its result comes back as a Task* event.

    ``integration`` says what is called (see :class:`~orchestrator.asl.definition.TaskState`):
    a function (``function_name``), a service integration (``service``, ``action``,
    ``pattern``, ``region``, whose parameters are ``payload``) or an activity. ``credentials``
    is the rendered ``Credentials`` field; ``invocation`` counts the calls of this state in
    the execution before this one (from 0), as mock configurations number them;
    ``parameters`` is the call's whole request (``payload`` is what a function receives).
    """

    token: str
    attempt: int
    function_name: str
    resource: str
    state_name: str
    payload: Any
    wait_for_token: bool = False
    integration: str = "function"
    service: str = ""
    action: str = ""
    pattern: str = ""
    region: str = ""
    credentials: Any = None
    invocation: int = 0
    parameters: Any = None  # what TaskScheduled shows (lambda:invoke's payload is in it)


@dataclass(frozen=True)
class StartTimer:
    """Fire :class:`TimerFired` for ``timer`` at ``due`` (a stored deadline in the service)."""

    timer: str
    due: datetime


@dataclass(frozen=True)
class CancelTimer:
    """The timer is no longer wanted; firing it anyway is harmless (it is ignored)."""

    timer: str


@dataclass(frozen=True)
class CompleteExecution:
    """The execution has finished; publish its result."""

    status: Status
    output: Any
    error: str | None
    cause: str | None
    time: datetime


@dataclass(frozen=True)
class AbandonTask:
    """A ``.sync`` task that waits on child execution ``job`` ended without it (the task
    timed out, or the execution stopped): stop the child, as AWS does."""

    job: str


Command = DispatchTask | StartTimer | CancelTimer | CompleteExecution | AbandonTask


@dataclass(frozen=True)
class HistoryEvent:
    """One execution history event, shaped like AWS's GetExecutionHistory entries."""

    id: int
    previous_event_id: int
    timestamp: datetime
    type: str
    details: dict[str, Any] | None = None

    def to_aws(self) -> dict[str, Any]:
        """The event as AWS's JSON shape (``<type>EventDetails`` key, camelCase fields)."""
        event: dict[str, Any] = {
            "id": self.id,
            "previousEventId": self.previous_event_id,
            "timestamp": self.timestamp,
            "type": self.type,
        }
        if self.details is not None:
            event[details_key(self.type)] = self.details
        return event


def details_key(event_type: str) -> str:
    """The name AWS gives an event type's details field."""
    for suffix, key in (("StateEntered", "stateEntered"), ("StateExited", "stateExited")):
        if event_type.endswith(suffix):
            return key + "EventDetails"
    if event_type.startswith("MapIteration"):
        return "mapIteration" + event_type.removeprefix("MapIteration") + "EventDetails"
    return event_type[0].lower() + event_type[1:] + "EventDetails"


@dataclass(frozen=True)
class Step:
    """What one event did: the new state, its history events and the commands to carry out.

    ``ignored`` is true when the event did not apply (a duplicate, stale or unknown task
    result or timer); the state is then unchanged and there is nothing to do.
    """

    state: ExecutionState
    history: list[HistoryEvent] = field(default_factory=list)
    commands: list[Command] = field(default_factory=list)
    ignored: bool = False
