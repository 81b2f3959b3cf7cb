"""The ASL interpreter: one pure function from (definition, execution state, event) to a step.

``step`` reads no clock, does no I/O and draws no random number of its own: the event carries
the time, the start carries the execution's secret (task tokens and random draws derive from
it and the execution's own sequence). It returns the new execution state, the history events
that happened, and the commands for the shell (dispatch a task, start or cancel a timer,
finish the execution). The RabbitMQ service, the in-process runner and the tests all drive
this one function; see DESIGN.md.

The data flow of a state is AWS's: InputPath -> Parameters -> (task) -> ResultSelector ->
ResultPath -> OutputPath. Parallel branches and Map iterations run as child threads
(:mod:`orchestrator.asl.execution`); a queue of work items, not recursion, moves them along.

Every step is bounded (:mod:`orchestrator.asl.bounds`): after MAX_STEP_WORK events and work
items it stops, keeps the rest of its queue in the state and starts a ``continue`` timer due
at once; firing it goes on where the step stopped, so a run split into steps has the history
the whole run would have had. An event that arrives while work is pending joins the end of
the queue (it came after that work); StopExecution and the execution's timeout end it at once.
A STANDARD execution fails at AWS's 25,000th history event, checked where events are recorded.
"""

from __future__ import annotations

import copy
import functools
import json
import random
import uuid
from collections import deque
from datetime import UTC, datetime, timedelta
from typing import Any

from messages import limits
from orchestrator.asl import bounds, errors, flows, map_run, tokens
from orchestrator.asl.bounds import (
    MAX_HISTORY_EVENTS,
    MAX_STEP_WORK,
    OutOfBounds,
)
from orchestrator.asl.definition import (
    AnyState,
    FailState,
    MapState,
    ParallelState,
    StateMachine,
    TaskState,
    WaitState,
)
from orchestrator.asl.errors import StatesError
from orchestrator.asl.execution import (
    AbandonTask,
    CancelTimer,
    Command,
    CompleteExecution,
    DispatchTask,
    Event,
    ExecutionState,
    FailExecution,
    HistoryEvent,
    PendingEvent,
    RedriveExecution,
    StartExecution,
    StartTimer,
    Status,
    Step,
    StopExecution,
    TaskFailed,
    TaskHeartbeat,
    TaskStarted,
    TaskSubmitted,
    TaskSucceeded,
    Thread,
    TimerFired,
    TimerKind,
    TimerRef,
    UpdateMapRun,
    Work,
    event_data,
    event_from_data,
)
from orchestrator.asl.jsonata import QUERY_EVALUATION_ERROR
from orchestrator.asl.lambda_invoke import invoke_response
from orchestrator.asl.paths import Path, PathNotFound
from orchestrator.asl.pmap import Draft, PMap, PSet
from orchestrator.asl.resources import function_name_of
from orchestrator.asl.runtime_fields import StateRuntimeError
from orchestrator.asl.templates import Template
from orchestrator.asl.variables import Context, Variables

__all__ = [
    "MAX_HISTORY_EVENTS",
    "MAX_PAYLOAD_BYTES",
    "AbandonTask",
    "CancelTimer",
    "Command",
    "CompleteExecution",
    "DispatchTask",
    "Event",
    "ExecutionState",
    "FailExecution",
    "HistoryEvent",
    "PendingEvent",
    "RedriveExecution",
    "StartExecution",
    "StartTimer",
    "Step",
    "StopExecution",
    "TaskFailed",
    "TaskHeartbeat",
    "TaskStarted",
    "TaskSubmitted",
    "TaskSucceeded",
    "TimerFired",
    "UpdateMapRun",
    "failed_start",
    "iso_time",
    "redrivable",
    "step",
]

MAX_PAYLOAD_BYTES = limits.MAX_PAYLOAD_BYTES
# AWS's limits on an error name and a cause (SendTaskFailure, history events).
MAX_ERROR_CHARS = 256
MAX_CAUSE_CHARS = 32_768
ROOT = 0
# The cause AWS gives (observed; its error name is not documented, ours is States.Runtime).
HISTORY_FULL_CAUSE = (
    f"The execution reached the maximum number of history events ({MAX_HISTORY_EVENTS})."
)
_EXECUTION_ENDS = frozenset(
    {"ExecutionSucceeded", "ExecutionFailed", "ExecutionAborted", "ExecutionTimedOut"}
)
# Handed to renders whose templates draw nothing (so no generator needs seeding).
_NO_DRAWS = random.Random(0)
_NOTHING = object()


def step(machine: StateMachine, state: ExecutionState | None, event: Event) -> Step:
    """Apply ``event`` to an execution of ``machine``; ``state`` is None only for a start."""
    if isinstance(event, StartExecution):
        if state is not None:
            raise ValueError("StartExecution applies only to a new execution")
        return _start(machine, event)
    if state is None:
        raise ValueError("an event other than StartExecution needs the execution's state")
    if isinstance(event, RedriveExecution):
        return _redrive(machine, state, event)
    if state.status != "RUNNING":
        return Step(state, ignored=True)
    run = _Run(machine, state, event.time)
    if not run.applies(event):
        return Step(state, ignored=True)
    try:
        run.take(event)
        run.drain()
    except _HistoryFull:
        run.history_full()
    return run.finish()


def _start(machine: StateMachine, event: StartExecution) -> Step:
    try:
        text = bounds.json_text(event.input)
    except OutOfBounds as out:
        # The shell should have refused it: the execution keeps neither the input nor its
        # text, so it can be stored and read.
        failure = bounds.bounds_error(out.excess, "The execution input is a value")
        return _failed_at_start(machine, event, None, "", failure.error, failure.cause)
    initial = _initial_state(machine, event, event.input)
    run = _Run(machine, initial, event.time)
    run.record(
        "ExecutionStarted",
        {"input": text, "inputDetails": _UNTRUNCATED, "roleArn": event.role_arn},
    )
    run.start_timer(run.thread(ROOT), "execution", float(run.max_duration))
    run.enqueue(ROOT, machine.start_at, event.input)
    try:
        run.drain()
    except _HistoryFull:
        run.history_full()
    return run.finish()


def redrivable(state: ExecutionState) -> str | None:
    """None when ``state`` can be redriven; otherwise why not."""
    if state.status not in ("FAILED", "ABORTED", "TIMED_OUT"):
        return f"Execution is {state.status}: only a FAILED, ABORTED or TIMED_OUT one is redriven"
    point = state.redrive_from
    if point is None:
        return "Execution failed before any state ran, or was stored before redrive existed"
    return None


def _redrive(machine: StateMachine, state: ExecutionState, event: RedriveExecution) -> Step:
    """Run a FAILED, ABORTED or TIMED_OUT execution again from the state it ended in, on that
    state's input: same ARN and definition, ``ExecutionRedriven`` in its history."""
    if redrivable(state) is not None:
        return Step(state, ignored=True)
    point = state.redrive_from
    assert point is not None
    restarted = state.model_copy(
        update={
            "status": "RUNNING",
            "error": None,
            "cause": None,
            "output": None,
            "stop_time": None,
            "redrive_count": state.redrive_count + 1,
            "redrive_time": event.time,
            "redrive_from": None,
            "threads": PMap({ROOT: _redriven_root(point)}),
        }
    )
    run = _Run(machine, restarted, event.time)
    done = point.get("done") or []
    if point.get("type") in ("Map", "Parallel") and isinstance(done, list):
        # A Parallel's or Map's children that need not run again (and a Map Run to resume).
        kept = {int(p[0]): p[1] for p in done if isinstance(p, list) and isinstance(p[0], int)}
        resumed = point.get("map_run")
        run.redriven = (str(point["state"]), kept, resumed if isinstance(resumed, str) else None)
    run.record("ExecutionRedriven", {"redriveCount": restarted.redrive_count})
    run.start_timer(run.thread(ROOT), "execution", float(run.max_duration))
    run.enqueue(ROOT, str(point["state"]), point.get("input"))
    try:
        run.drain()
    except _HistoryFull:
        run.history_full()
    return run.finish()


def _redriven_root(point: dict[str, Any]) -> Thread:
    """The top-level thread a redrive starts with: the variables it had."""
    variables = point.get("variables")
    if not isinstance(variables, dict) or not variables:
        return Thread(id=ROOT, scope=0)
    size = sum(_variable_size(name, value) for name, value in variables.items())
    return Thread(id=ROOT, scope=0, variables=dict(variables), variables_bytes=size)


def _initial_state(machine: StateMachine, event: StartExecution, data: Any) -> ExecutionState:
    return ExecutionState(
        execution_arn=event.execution_arn,
        execution_name=event.execution_name,
        state_machine_arn=event.state_machine_arn,
        state_machine_name=machine.name,
        role_arn=event.role_arn,
        input=data,
        start_time=event.time,
        token_prefix=event.token_prefix,
        threads=PMap({ROOT: Thread(id=ROOT, scope=0)}),
        test_case=event.test_case,
        parent=event.parent,
        time_scale=event.time_scale,
        context_override=event.context,
    )


def failed_start(machine: StateMachine, event: StartExecution, error: str, cause: str) -> Step:
    """A start the shell could not step (the interpreter raised): the execution exists, and
    has failed with ``error`` and ``cause``, instead of being lost or retried forever."""
    try:
        text, data = bounds.json_text(event.input), event.input
    except OutOfBounds:
        text, data = "", None
    return _failed_at_start(
        machine, event, data, text, _bounded_error(error), _bounded_cause(cause)
    )


def _failed_at_start(
    machine: StateMachine,
    event: StartExecution,
    data: Any,
    text: str,
    error: str,
    cause: str | None,
) -> Step:
    """An execution that fails as it starts, on input ``data`` whose JSON text is ``text``
    ("" and None for an input out of bounds: shown as truncated)."""
    run = _Run(machine, _initial_state(machine, event, data), event.time)
    run.record(
        "ExecutionStarted",
        {"input": text, "inputDetails": {"truncated": not text}, "roleArn": event.role_arn},
    )
    run.end_execution("FAILED", "ExecutionFailed", None, error, cause)
    return run.finish()


def _bounded_error(error: str) -> str:
    """An error name cut to AWS's 256 characters (SendTaskFailure's bound, applied to a
    worker's or the shell's own text too)."""
    return error[:MAX_ERROR_CHARS]


def _bounded_cause(cause: str | None) -> str | None:
    """A cause cut to AWS's 32,768 characters."""
    if cause is None or len(cause) <= MAX_CAUSE_CHARS:
        return cause
    return cause[: MAX_CAUSE_CHARS - 15] + " ...(truncated)"


_UNTRUNCATED = {"truncated": False}
_text = bounds.text


@functools.lru_cache(maxsize=256)
def iso_time(moment: datetime) -> str:
    """A timestamp as the context object shows it: UTC, milliseconds, ``Z``."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


_RUNTIME_PREFIX = "An error occurred while executing the state"
# Errors whose cause AWS opens with where they happened (_RUNTIME_PREFIX and the state).
_PREFIXED = frozenset({errors.RUNTIME, QUERY_EVALUATION_ERROR})


class _HistoryFull(Exception):
    """The next history event would be a STANDARD execution's 25,000th and does not end it."""


def _result_of(owner: str) -> str:
    return f"The state/task '{owner}' returned a result"


class _Run:
    """The working copy of one step; ``finish`` freezes it into a :class:`Step`.

    The threads, tokens and timers are drafts over the state's persistent maps: reading costs
    nothing, and a thread is copied only when changed (see :meth:`thread`).
    """

    def __init__(self, machine: StateMachine, state: ExecutionState, now: datetime) -> None:
        self.machine = machine
        self.base = state
        self.now = now
        self.threads: Draft[int, Thread] = Draft(state.threads)
        self.copied: dict[int, Thread] = {}
        self.tokens: Draft[str, int] = Draft(state.tokens)
        self.timers: Draft[str, TimerRef] = Draft(state.timers)
        self.seq = state.seq
        self.assigned: dict[int, dict[str, Any]] = {}  # by thread, for its StateExited event
        self.calls = state.calls  # copied on first change (see dispatch)
        self.next_thread = state.next_thread
        self.last_event_id = state.last_event_id
        self.history: list[HistoryEvent] = []
        self.commands: list[Command] = []
        self.updates: dict[str, Any] = {}
        self.work: deque[Work] = deque(state.pending)
        self.work_done = 0
        self.continuations = state.continuations
        self.continue_timer = state.continue_timer
        self.finished = False
        self.history_cap = MAX_HISTORY_EVENTS if machine.type == "STANDARD" else None
        self.measured: Any = _NOTHING  # the value last measured, and its text (see checked)
        self.measured_text = b""
        # The top-level state the execution is failing in, and its input (for a redrive).
        self.failing: tuple[AnyState, Any] | None = None
        # A redrive of a Parallel or Map: its name, and the results of its children that
        # succeeded before (they are not run again).
        self.redriven: tuple[str, dict[int, Any], str | None] | None = None
        # The Map Run that failed this step (a redrive resumes it).
        self.failed_map_run: str | None = None
        self.max_duration = bounds.max_duration_seconds(machine.type, machine.timeout_seconds)

    # -- bookkeeping ---------------------------------------------------------------------------

    def thread(self, thread_id: int) -> Thread:
        """The thread, copied on first write so the input state is never mutated."""
        copy = self.copied.get(thread_id)
        if copy is None:
            copy = self.copied[thread_id] = self.threads[thread_id].copy()
            self.threads[thread_id] = copy
        return copy

    def record(
        self,
        event_type: str,
        details: dict[str, Any] | None = None,
        *,
        thread: Thread | None = None,
    ) -> int:
        """Add a history event; the one place the STANDARD history cap is enforced: event
        25,000 may only end the execution (AWS: anything else fails it instead).

        ``thread`` is the line of execution it happens in: its previousEventId is that
        thread's last event, as AWS chains the events of each Parallel branch and Map
        iteration (otherwise the event before it)."""
        if (
            self.history_cap is not None
            and self.last_event_id >= self.history_cap - 1
            and event_type not in _EXECUTION_ENDS
        ):
            raise _HistoryFull
        previous = self.last_event_id
        if thread is not None and thread.last_event:
            previous = thread.last_event
        self.last_event_id += 1
        self.work_done += 1
        self.history.append(
            HistoryEvent(self.last_event_id, previous, self.now, event_type, details)
        )
        if thread is not None:
            if thread.parent is None:
                # The top level runs alone but for its fan-outs: its events follow the one
                # before, except the first after its children (linked once to the last child).
                if thread.last_event and thread.id in self.threads:
                    self.thread(thread.id).last_event = 0
            elif self.copied.get(thread.id) is thread:  # the usual case: its own copy
                thread.last_event = self.last_event_id
            elif thread.id in self.threads:
                self.thread(thread.id).last_event = self.last_event_id
        return self.last_event_id

    def history_full(self) -> None:
        self.work.clear()
        self.end_execution("FAILED", "ExecutionFailed", None, errors.RUNTIME, HISTORY_FULL_CAUSE)

    def checked(self, value: Any, subject: str) -> bytes:
        """:func:`bounds.checked_bytes` of ``value``, written once for the value last measured.

        A state's output is the next state's input and often its task's payload and result,
        each shown in the history: the same object, as the core never changes a value in
        place, so its text is written (and measured) once, not three or four times.
        """
        if value is not self.measured:
            self.measured_text = bounds.checked_bytes(value, subject)
            self.measured = value
        return self.measured_text

    def text(self, value: Any) -> str:
        """The JSON text of a value the core holds (:func:`bounds.text`), or of the value last
        measured (:meth:`checked`) without writing it again."""
        if value is self.measured:
            return self.measured_text.decode()
        return _text(value)

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def draw(self) -> random.Random:
        """A generator for one use (a render, a jitter, a request id), seeded from the
        execution's secret and sequence: reproducible, and the same however the run is
        split into steps."""
        return random.Random(f"{self.base.token_prefix}:{self.next_seq()}")

    def request_id(self) -> str:
        return str(uuid.UUID(int=self.draw().getrandbits(128), version=4))

    def finish(self) -> Step:
        if not self.finished:
            self.keep_pending_work()
        self.updates.update(
            threads=self.threads.freeze(),
            tokens=self.tokens.freeze(),
            timers=self.timers.freeze(),
            seq=self.seq,
            calls=self.calls,
            next_thread=self.next_thread,
            last_event_id=self.last_event_id,
            pending=tuple(self.work),
            continuations=self.continuations,
            continue_timer=self.continue_timer,
        )
        return Step(self.base.model_copy(update=self.updates), self.history, self.commands)

    def keep_pending_work(self) -> None:
        """Work left over waits in the state, with one ``continue`` timer due at once."""
        if self.work and self.continue_timer is None:
            timer = f"{tokens.timer_key(self.base.token_prefix)}.c{self.continuations}"
            self.continuations += 1
            self.timers[timer] = TimerRef(thread=ROOT, kind="continue", due=self.now)
            self.commands.append(StartTimer(timer, self.now))
            self.continue_timer = timer
        elif not self.work and self.continue_timer is not None:
            self.timers.pop(self.continue_timer, None)
            self.commands.append(CancelTimer(self.continue_timer))
            self.continue_timer = None

    def enqueue(self, thread_id: int, state_name: str, data: Any) -> None:
        self.work.append(Work("run", thread_id, state_name, data))

    def drain(self) -> None:
        """Take work items in order until none are left or the step's budget is spent."""
        while self.work and not self.finished and self.work_done < MAX_STEP_WORK:
            item = self.work.popleft()
            self.work_done += 1
            self.run_work(item)

    def run_work(self, item: Work) -> None:
        if item.kind == "run":
            assert item.state is not None
            self.run_thread(item.thread, item.state, item.input)
        elif item.kind == "items":
            self.resume_items(item.thread)
        elif item.kind == "done":
            self.fan_out_done(item.thread)
        elif item.kind == "retry":
            self.retry_fan_out(item.thread)
        else:
            assert item.event is not None
            event = event_from_data(item.event)
            if self.applies(event):
                self.apply(event)

    def context(self, thread: Thread, state: AnyState) -> Context:
        """The context object (``$$``) as AWS fills it for ``state`` in ``thread``."""
        base = self.base
        state_fields: dict[str, Any] = {
            "EnteredTime": iso_time(thread.entered_time or self.now),
            "Name": state.name,
        }
        if isinstance(state, TaskState | ParallelState | MapState):
            state_fields["RetryCount"] = thread.retry_total
        context: dict[str, Any] = {
            "Execution": {
                "Id": base.execution_arn,
                "Input": base.input,
                "Name": base.execution_name,
                "RoleArn": base.role_arn,
                "StartTime": iso_time(base.start_time),
                "RedriveCount": base.redrive_count,
            },
            "State": state_fields,
            "StateMachine": {"Id": base.state_machine_arn, "Name": base.state_machine_name},
        }
        # AWS gives a service integration's Task its token whatever the pattern (a .sync
        # child can send it back); a function task only when it waits for it.
        if (
            isinstance(state, TaskState)
            and thread.token
            and (state.wait_for_token or state.integration == "service")
        ):
            context["Task"] = {"Token": thread.token}
        if base.context_override is not None:
            # TestState's given context is the whole context object, as AWS takes it
            # (an empty one reads as empty).
            context = copy.deepcopy(base.context_override)
        return Context(context, variables=self.variables(thread))

    def variables(self, thread: Thread) -> Variables:
        """The variables ``thread``'s states see."""
        return Variables(lambda: self.variable_scopes(thread))

    def variable_scopes(self, thread: Thread) -> list[dict[str, Any]]:
        """The variables of ``thread`` and of each thread it runs inside, innermost first."""
        scopes = []
        current: Thread | None = thread
        while current is not None:
            if current.variables:
                scopes.append(current.variables)
            current = self.threads.get(current.parent) if current.parent is not None else None
        return scopes

    def render(
        self,
        template: Template,
        field: str,
        data: Any,
        thread: Thread,
        state: AnyState,
        map_item: dict[str, Any] | None = None,
    ) -> Any:
        """Render a Parameters/ResultSelector/ItemSelector template, building ``$$`` (with
        ``$$.Map.Item`` for an ItemSelector) only if it is read."""
        context = None
        if template.uses_context:
            context = self.context(thread, state)
            if map_item is not None:
                context["Map"] = {"Item": map_item}
        rng = self.draw() if template.uses_random else _NO_DRAWS
        return template.render(
            data, context, rng, subject=f"The {field} of the state '{state.name}' produced a value"
        )

    def scope_state(self, thread: Thread, name: str | None = None) -> AnyState:
        return self.machine.scopes[thread.scope].states[name or thread.state or ""]

    # -- applying an event ---------------------------------------------------------------------

    def applies(self, event: Event) -> bool:
        """Whether ``event`` applies now: False for a stale, duplicate or unknown one, and for
        a callback (SendTask*) to a task that is not ``.waitForTaskToken``."""
        if isinstance(event, StopExecution | FailExecution):
            return True
        if isinstance(event, UpdateMapRun):
            return map_run.running(self, event.map_run) is not None
        if isinstance(event, StartExecution | RedriveExecution):
            return False  # (a redrive is stepped by _redrive, before any run)
        if isinstance(event, TimerFired):
            ref = self.timers.get(event.timer)
            return ref is not None and (ref.kind == "continue" or ref.thread in self.threads)
        thread_id = self.tokens.get(event.token)
        if thread_id is None or thread_id not in self.threads:
            return False
        thread = self.threads[thread_id]
        if thread.child or thread.map_run is not None:
            # A Distributed Map's child execution, or its Map Run's item reader, answering.
            return (
                isinstance(event, TaskSucceeded | TaskFailed)
                and not event.callback
                and event.attempt == thread.attempt
            )
        state = self.scope_state(thread)
        if not isinstance(state, TaskState):
            return False
        # AWS takes SendTaskSuccess/Failure/Heartbeat only for tasks that wait for a token
        # and activities: a plain Lambda task is completed by its function alone.
        if isinstance(event, TaskStarted):
            return state.integration == "activity"
        if isinstance(event, TaskHeartbeat) or (
            isinstance(event, TaskSucceeded | TaskFailed) and event.callback
        ):
            return state.takes_callbacks
        if event.attempt != thread.attempt:
            return False
        if isinstance(event, TaskSubmitted):
            return state.integration == "service" and state.pattern != ""
        # A .waitForTaskToken function's own return does not complete the task.
        return not (isinstance(event, TaskSucceeded) and state.wait_for_token)

    def take(self, event: Event) -> None:
        """Apply an event that :meth:`applies`: now, or after the work still pending."""
        if isinstance(event, StopExecution):
            self.end_execution("ABORTED", "ExecutionAborted", None, event.error, event.cause)
            return
        if isinstance(event, FailExecution):
            error, cause = _bounded_error(event.error), _bounded_cause(event.cause)
            self.end_execution("FAILED", "ExecutionFailed", None, error, cause)
            return
        if isinstance(event, UpdateMapRun):
            map_run.update(self, event)
            return
        if isinstance(event, TimerFired):
            kind = self.timers[event.timer].kind
            if kind == "continue":  # the pending work, already in the queue, goes on
                self.timers.pop(event.timer)
                self.continue_timer = None
                return
            if kind == "execution":  # the execution's time is up, whatever is pending
                self.apply(event)
                return
        assert not isinstance(event, StartExecution | RedriveExecution)
        if self.work:
            self.work.append(Work("event", event=event_data(event)))
        else:
            self.apply(event)

    def apply(self, event: PendingEvent) -> None:
        """Apply an event that :meth:`applies`."""
        if isinstance(event, TimerFired):
            ref = self.timers.pop(event.timer)
            timers = self.thread(ref.thread).timers
            if event.timer in timers:
                timers.remove(event.timer)
            self.timer_fired(ref.thread, ref.kind)
            return
        thread = self.thread(self.tokens[event.token])
        if thread.child or thread.map_run is not None:
            self.map_run_answered(thread, event)
            return
        state = self.scope_state(thread)
        assert isinstance(state, TaskState)
        if isinstance(event, TaskHeartbeat):
            self.restart_heartbeat(thread)
        elif isinstance(event, TaskStarted):
            self.activity_started(thread, event.worker_name)
        elif isinstance(event, TaskSubmitted):
            self.task_submitted(thread, state, event)
        elif isinstance(event, TaskSucceeded):
            self.task_succeeded(thread, state, event)
        else:
            self.task_failed(thread, state, event.error, event.cause)

    def map_run_answered(self, thread: Thread, event: PendingEvent) -> None:
        """A Distributed Map's child execution ended, or its item reader answered."""
        assert isinstance(event, TaskSucceeded | TaskFailed)
        if thread.child:
            self.tokens.pop(thread.token or "", None)
            thread.token, thread.job = None, None
            if isinstance(event, TaskSucceeded):
                try:
                    size = len(self.checked(event.output, "The child execution's output"))
                except StatesError as failure:
                    self.thread_failed(thread, failure.error, failure.cause)
                    return
                self.thread_succeeded(thread, event.output, size)
            else:
                self.thread_failed(thread, event.error, event.cause)
            return
        state = self.scope_state(thread)
        assert isinstance(state, MapState)
        try:
            map_run.answered(self, thread, state, event)
        except StatesError as failure:
            map_run.failed(self, thread, state, failure)

    # -- running a thread through states -------------------------------------------------------

    def run_thread(self, thread_id: int, name: str | None, data: Any) -> None:
        """Enter states from ``name`` until the thread waits, its scope ends, or the step's
        budget is spent (then the thread goes on first thing in the next step)."""
        first = True
        while name is not None and not self.finished and thread_id in self.threads:
            if not first and self.work_done >= MAX_STEP_WORK:
                self.work.appendleft(Work("run", thread_id, name, data))
                return
            first = False
            thread = self.thread(thread_id)
            state = self.scope_state(thread, name)
            thread.state, thread.input = name, data
            thread.entered_time = self.now
            thread.retry_counts = [0] * len(getattr(state, "retriers", ()))
            thread.retry_total = 0
            thread.entered_event = self.record(
                state.type + "StateEntered",
                {"name": name, "input": self.text(data), "inputDetails": _UNTRUNCATED},
                thread=thread,
            )
            try:
                moved = self.run_state(thread, state, data)
            except StatesError as failure:
                self.state_failed(thread, state, failure)
                return
            if moved is None:
                return  # waiting (task, timer, children) or the scope ended
            name, data = moved

    def run_state(self, thread: Thread, state: AnyState, data: Any) -> tuple[str, Any] | None:
        """Run one state on its raw input; the next state and its input, or None. Control
        is decided here, data by the state's query language (:func:`flows.flow_of`)."""
        if isinstance(state, TaskState):
            self.enter_task(thread, state, data)
            return None
        if isinstance(state, ParallelState | MapState):
            self.enter_fan_out(thread, state, data)
            return None
        flow = flows.flow_of(state)
        if isinstance(state, FailState):
            error, cause = flow.fail_fields(self, thread, state, data)
            self.note_failing(thread, state)
            thread.state = None
            self.thread_failed(thread, error, cause)
            return None
        if isinstance(state, WaitState):
            seconds = flow.wait_seconds(self, thread, state, data)
            if seconds > 0:
                thread.input = data
                self.start_timer(thread, "wait", seconds)
                return None
        following, output = flow.exit(self, thread, state, data)
        return self.exit_state(thread, state, following, output)

    def exit_state(
        self, thread: Thread, state: AnyState, following: str | None, output: Any
    ) -> tuple[str, Any] | None:
        text = self.checked(output, _result_of(state.name))
        details: dict[str, Any] = {
            "name": state.name,
            "output": text.decode(),
            "outputDetails": _UNTRUNCATED,
        }
        assigned = self.assigned.pop(thread.id, None)
        if assigned is not None:
            variables = self.checked_variables(thread, state, assigned)
            thread.variables = variables
            details["assignedVariables"] = {name: _text(v) for name, v in assigned.items()}
            details["assignedVariablesDetails"] = _UNTRUNCATED
        self.record(state.type + "StateExited", details, thread=thread)
        thread.state = None
        if following is None:
            self.thread_succeeded(thread, output, len(text))
            return None
        return following, output

    def checked_variables(
        self, thread: Thread, state: AnyState, assigned: dict[str, Any]
    ) -> dict[str, Any]:
        """``thread``'s variables with ``assigned`` set, within AWS's limits: 256 KiB for one
        Assign, 10 MiB for all the variables the thread sees (its own and its parents').

        Each thread keeps the size of its own variables, so an Assign measures only what it
        sets and what it replaces, never every variable again."""
        bounds.checked_bytes(assigned, f"The Assign of the state '{state.name}' produced a value")
        old = thread.variables or {}
        own = thread.variables_bytes
        for name, value in assigned.items():
            if name in old:
                own -= _variable_size(name, old[name])
            own += _variable_size(name, value)
        own = max(own, 0)  # (a thread stored before sizes were kept starts from 0)
        total, parent = own, thread.parent
        while parent is not None and parent in self.threads:
            outer = self.threads[parent]
            total += outer.variables_bytes
            parent = outer.parent
        if total > bounds.MAX_VARIABLES_BYTES:
            raise StatesError(
                errors.DATA_LIMIT_EXCEEDED,
                f"The Assign of the state '{state.name}' would make the execution's variables"
                f" {total} bytes, more than the limit of {bounds.MAX_VARIABLES_BYTES}.",
            )
        thread.variables_bytes = own
        return {**old, **assigned}

    def continue_after(
        self, thread: Thread, state: AnyState, following: str | None, output: Any
    ) -> None:
        """Exit ``state`` with ``output`` and go on, outside ``run_thread``'s loop."""
        try:
            moved = self.exit_state(thread, state, following, output)
        except StatesError as failure:
            self.state_failed(thread, state, failure)
            return
        if moved is not None:
            self.enqueue(thread.id, *moved)

    def read(self, path: Path | None, thread: Thread, state: AnyState, data: Any) -> Any:
        """Apply InputPath/OutputPath: null gives {}, a missing value is States.Runtime."""
        if path is None:
            return {}
        try:
            return self.select(path, thread, state, data)
        except PathNotFound as missing:
            raise StateRuntimeError(missing.describe(path.text)) from None

    def select(self, path: Path, thread: Thread, state: AnyState, data: Any) -> Any:
        """What ``path`` selects from ``data``, ``$$`` or a variable (``$$`` built only when
        the path reads it); raises :class:`PathNotFound`."""
        context = self.context(thread, state) if path.reads_context else None
        return path.read(path.root(data, context))

    # -- Task ----------------------------------------------------------------------------------

    def enter_task(self, thread: Thread, state: TaskState, data: Any) -> None:
        thread.token = tokens.task_token(self.base.token_prefix, self.next_seq())
        thread.attempt = 0
        self.tokens[thread.token] = thread.id
        self.dispatch(thread, state)

    def dispatch(self, thread: Thread, state: TaskState) -> None:
        """Schedule the task (again, on a retry) with its timeout and heartbeat timers; its
        arguments are evaluated for every attempt, as AWS does (a retry sees its own
        ``$$.State.RetryCount``)."""
        thread.started = False  # this attempt's worker has not taken it yet
        call = flows.flow_of(state).task_call(self, thread, state)
        effective, timeout, heartbeat = call.arguments, call.timeout, call.heartbeat
        credentials = call.credentials
        function_name, payload = state.function_name, effective
        if state.integration == "invoke":
            if not isinstance(effective, dict) or "FunctionName" not in effective:
                raise StateRuntimeError("The lambda:invoke integration needs a FunctionName")
            function_name = function_name_of(str(effective["FunctionName"]))
            payload = _invoke_payload(effective.get("Payload"))
        if state.integration in ("invoke", "service"):
            effective = _scheduled_parameters(state, effective)
            details: dict[str, Any] = {
                "parameters": self.text(effective),
                "region": state.region or self.region,
                **state.resource_fields,
            }
            if state.integration == "service":
                payload = effective
        else:
            details = {
                "resource": state.resource,
                "input": self.text(effective),
                "inputDetails": _UNTRUNCATED,
            }
        if timeout is not None:
            details["timeoutInSeconds"] = timeout
        if heartbeat is not None and state.integration != "function":
            details["heartbeatInSeconds"] = heartbeat
        if credentials is not None:
            details["taskCredentials"] = _task_credentials(credentials)
        scheduled = {
            "function": "LambdaFunctionScheduled",
            "activity": "ActivityScheduled",
        }.get(state.integration, "TaskScheduled")
        self.record(scheduled, details, thread=thread)
        if state.integration == "service":
            # AWS starts the call as it schedules it: TaskStarted follows at once.
            self.record("TaskStarted", state.resource_fields, thread=thread)
        calls = self.calls.get(state.name, 0)
        self.calls = {**self.calls, state.name: calls + 1}
        assert thread.token is not None
        self.commands.append(
            DispatchTask(
                thread.token,
                thread.attempt,
                function_name,
                state.resource,
                state.name,
                payload,
                state.wait_for_token,
                integration=state.integration,
                service=state.service,
                action=state.action,
                pattern=state.pattern,
                region=state.region or self.region,
                credentials=credentials,
                invocation=calls,
                parameters=effective,
            )
        )
        if timeout is not None:
            self.start_timer(thread, "timeout", float(timeout))
        thread.heartbeat_seconds = heartbeat
        if heartbeat is not None:
            self.start_timer(thread, "heartbeat", float(heartbeat))

    @property
    def region(self) -> str:
        parts = self.base.execution_arn.split(":")
        return parts[3] if len(parts) > 3 else ""

    def restart_heartbeat(self, thread: Thread) -> None:
        for timer in list(thread.timers):
            if self.timers[timer].kind == "heartbeat":
                self.cancel_timer(thread, timer)
        if thread.heartbeat_seconds is not None:
            self.start_timer(thread, "heartbeat", float(thread.heartbeat_seconds))

    def end_task(self, thread: Thread, *, abandoned: bool = False) -> None:
        """The task is over: forget its token and its timers; an ``abandoned`` task (timed
        out) has its child execution stopped."""
        if thread.token is not None:
            self.tokens.pop(thread.token, None)
        thread.token = None
        if thread.job is not None and abandoned:
            self.commands.append(AbandonTask(thread.job))
        thread.job = None
        for timer in list(thread.timers):
            if self.timers[timer].kind in ("timeout", "heartbeat"):
                self.cancel_timer(thread, timer)

    def task_succeeded(self, thread: Thread, state: TaskState, event: TaskSucceeded) -> None:
        self.end_task(thread)
        result = event.output
        try:
            if state.integration == "invoke":
                if not state.wait_for_token and not event.response:
                    self.checked(result, _result_of("lambda"))  # before wrapping it
                    result = invoke_response(
                        result, event.request_id or self.request_id(), self.now
                    )
                self.record("TaskStarted", state.resource_fields, thread=thread)
                text = self.checked(result, _result_of("lambda")).decode()
                self.record(
                    "TaskSucceeded",
                    {"output": text, "outputDetails": _UNTRUNCATED, **state.resource_fields},
                    thread=thread,
                )
            elif state.integration == "service":
                text = self.checked(result, _result_of(state.service)).decode()
                self.record(
                    "TaskSucceeded",
                    {"output": text, "outputDetails": _UNTRUNCATED, **state.resource_fields},
                    thread=thread,
                )
            elif state.integration == "activity":
                self.activity_started(thread, None)
                text = self.checked(result, _result_of(state.resource)).decode()
                self.record(
                    "ActivitySucceeded",
                    {"output": text, "outputDetails": _UNTRUNCATED},
                    thread=thread,
                )
            else:
                self.record("LambdaFunctionStarted", thread=thread)
                text = self.checked(result, _result_of(state.resource)).decode()
                self.record(
                    "LambdaFunctionSucceeded",
                    {"output": text, "outputDetails": _UNTRUNCATED},
                    thread=thread,
                )
            self.finish_recoverable(thread, state, result)
        except StatesError as failure:
            self.state_failed(thread, state, failure)

    def task_submitted(self, thread: Thread, state: TaskState, event: TaskSubmitted) -> None:
        """A ``.sync`` or ``.waitForTaskToken`` call's first answer: the task goes on
        waiting (for the job, or for its token)."""
        try:
            text = self.checked(event.output, _result_of(state.service)).decode()
        except StatesError as failure:
            self.end_task(thread)
            self.state_failed(thread, state, failure)
            return
        self.record(
            "TaskSubmitted",
            {"output": text, "outputDetails": _UNTRUNCATED, **state.resource_fields},
            thread=thread,
        )
        if state.service == "states" and state.pattern in (".sync", ".sync:2"):
            job = event.output.get("ExecutionArn") if isinstance(event.output, dict) else None
            thread.job = job if isinstance(job, str) else None

    def activity_started(self, thread: Thread, worker_name: str | None) -> None:
        """ActivityStarted, once per attempt (a result may come without GetActivityTask's
        notice, e.g. SendTaskSuccess with a token the worker got elsewhere)."""
        if thread.started:
            return
        thread.started = True
        self.record(
            "ActivityStarted", {"workerName": worker_name} if worker_name else None, thread=thread
        )

    def task_failed(
        self, thread: Thread, state: TaskState, error: str | None, cause: str | None
    ) -> None:
        self.end_task(thread)
        error_is_none = error is None  # SendTaskFailure may name no error (nor cause)
        error, cause = _bounded_error(error or ""), _bounded_cause(cause)
        if state.integration == "function":
            # A function-ARN Task shows Lambda's error payload as Python writes it (spaced).
            cause = _spaced_json(cause)
        details: dict[str, Any] = {}
        if not error_is_none:
            details["error"] = error
        if cause is not None:
            details["cause"] = cause
        if state.integration == "invoke":
            self.record("TaskStarted", state.resource_fields, thread=thread)
            self.record("TaskFailed", {**details, **state.resource_fields}, thread=thread)
        elif state.integration == "service":
            self.record("TaskFailed", {**details, **state.resource_fields}, thread=thread)
        elif state.integration == "activity":
            self.activity_started(thread, None)
            self.record("ActivityFailed", details, thread=thread)
        else:
            self.record("LambdaFunctionStarted", thread=thread)
            self.record("LambdaFunctionFailed", details, thread=thread)
        self.state_failed(
            thread,
            state,
            StatesError(error, cause or ""),
            cause_is_none=cause is None,
            error_is_none=error_is_none,
        )

    def finish_recoverable(
        self, thread: Thread, state: TaskState | ParallelState | MapState, result: Any
    ) -> None:
        """The state's output from its result (its query language's data flow), then move on."""
        output = flows.flow_of(state).result(self, thread, state, result)
        self.continue_after(thread, state, state.next, output)

    # -- timers --------------------------------------------------------------------------------

    def start_timer(self, thread: Thread, kind: TimerKind, seconds: float) -> None:
        """A timer ``seconds`` from now (made safe: never negative, never past the longest
        timer, never a date beyond datetime's range)."""
        timer = f"{tokens.timer_key(self.base.token_prefix)}.t{self.next_seq()}"
        try:
            # A wait-time scale (tests) shortens every wait; the history keeps the seconds
            # the definition asked for.
            scaled = bounds.timer_seconds(seconds) * self.base.time_scale
            due = self.now + timedelta(seconds=scaled)
        except OverflowError:
            due = datetime.max.replace(tzinfo=UTC)
        self.timers[timer] = TimerRef(thread=thread.id, kind=kind, due=due)
        thread.timers.append(timer)
        self.commands.append(StartTimer(timer, due))

    def cancel_timer(self, thread: Thread, timer: str) -> None:
        self.timers.pop(timer, None)
        if timer in thread.timers:
            thread.timers.remove(timer)
        self.commands.append(CancelTimer(timer))

    def timer_fired(self, thread_id: int, kind: TimerKind) -> None:
        thread = self.thread(thread_id)
        if kind == "execution":
            self.end_execution(
                "TIMED_OUT",
                "ExecutionTimedOut",
                None,
                errors.TIMEOUT,
                "The execution timed out.",
            )
            return
        state = self.scope_state(thread)
        if kind == "wait":
            assert isinstance(state, WaitState)
            try:
                following, output = flows.flow_of(state).exit(self, thread, state, thread.input)
            except StatesError as failure:
                self.state_failed(thread, state, failure)
                return
            self.continue_after(thread, state, following, output)
        elif kind == "retry":
            if isinstance(state, TaskState):
                thread.attempt += 1
                thread.token = thread.token or tokens.task_token(
                    self.base.token_prefix, self.next_seq()
                )
                self.tokens[thread.token] = thread.id
                try:
                    self.dispatch(thread, state)
                except StatesError as failure:
                    self.state_failed(thread, state, failure)
            else:
                self.work.append(Work("retry", thread.id))
        else:
            assert isinstance(state, TaskState)
            # AWS fails a service integration whose heartbeat stops with States.Timeout too.
            heartbeat = kind == "heartbeat" and state.integration != "service"
            error = errors.HEARTBEAT_TIMEOUT if heartbeat else errors.TIMEOUT
            self.end_task(thread, abandoned=True)
            if state.integration in ("invoke", "service"):
                self.record(
                    "TaskTimedOut", {"error": error, **state.resource_fields}, thread=thread
                )
            elif state.integration == "activity":
                self.record("ActivityTimedOut", {"error": error}, thread=thread)
            else:
                self.record("LambdaFunctionTimedOut", {"error": error}, thread=thread)
            self.state_failed(thread, state, StatesError(error, ""), cause_is_none=True)

    # -- Parallel and Map ----------------------------------------------------------------------

    def enter_fan_out(self, thread: Thread, state: ParallelState | MapState, data: Any) -> None:
        thread.effective = flows.flow_of(state).fan_out_input(self, thread, state, data)
        self.start_fan_out(thread, state)

    def retry_fan_out(self, thread_id: int) -> None:
        if thread_id not in self.threads:
            return
        thread = self.thread(thread_id)
        state = self.scope_state(thread)
        assert isinstance(state, ParallelState | MapState)
        try:
            self.start_fan_out(thread, state)
        except StatesError as failure:
            self.state_failed(thread, state, failure)

    def start_fan_out(self, thread: Thread, state: ParallelState | MapState) -> None:
        thread.children, thread.results, thread.results_bytes = None, None, 0
        thread.redriven = False
        thread.done = thread.failed = thread.next_item = 0
        thread.first_child = 0
        if isinstance(state, ParallelState):
            link = self.record("ParallelStateStarted", thread=thread)
            self.set_aside_children(thread, len(state.branches))
            thread.items = []
            thread.max_concurrency = 0
            self.take_redriven(thread, state)
            for index, scope in enumerate(state.branches):
                if thread.results is None or index not in thread.results:
                    self.spawn(thread, scope, index, thread.effective, link)
            if thread.done == len(state.branches):
                self.work.append(Work("done", thread.id))
            return
        if state.distribution is not None:
            map_run.start(self, thread, state)
            return
        flow = flows.flow_of(state)
        items = flow.map_items(self, thread, state)
        thread.items = items
        thread.max_concurrency, thread.tolerated_failures = flow.map_limits(
            self, thread, state, len(items)
        )
        self.record("MapStateStarted", {"length": len(items)}, thread=thread)
        self.begin_items(thread, state, items)

    def begin_items(self, thread: Thread, state: MapState, items: list[Any]) -> None:
        """Set aside a Map's children for ``items`` and start them (those a redrive has the
        results of count as done); an empty Map is done at once."""
        thread.items = items
        self.set_aside_children(thread, len(items))
        self.take_redriven(thread, state)
        if not items:
            self.work.append(Work("done", thread.id))
            return
        self.start_items(thread, state)

    def start_items(self, thread: Thread, state: MapState) -> None:
        """Start items up to the Map's concurrency. When the step's budget is spent, the
        rest wait at the head of the queue, before the items already started run (as they
        would have: every item starts before any runs)."""
        limit = min(thread.max_concurrency or len(thread.items), len(thread.items))
        first = True
        while thread.next_item < limit:
            if not first and self.work_done >= MAX_STEP_WORK:
                self.work.appendleft(Work("items", thread.id))
                return
            first = False
            if not self.start_item(thread, state):
                return

    def resume_items(self, thread_id: int) -> None:
        if thread_id not in self.threads:
            return
        thread = self.thread(thread_id)
        state = self.scope_state(thread)
        assert isinstance(state, MapState)
        self.start_items(thread, state)

    def redriving(self, thread: Thread, state: AnyState) -> str | None:
        """In a redrive of this fan-out: the Map Run it resumes ("" for none); else None."""
        if self.redriven is None or thread.id != ROOT or self.redriven[0] != state.name:
            return None
        return self.redriven[2] or ""

    def take_redriven(self, thread: Thread, state: ParallelState | MapState) -> None:
        """In a redrive of this fan-out: its children that succeeded before count as done."""
        if self.redriving(thread, state) is None:
            return
        assert self.redriven is not None
        _, done, _ = self.redriven
        self.redriven = None
        count = len(thread.items) if isinstance(state, MapState) else len(state.branches)
        for index, value in done.items():
            if 0 <= index < count:
                self.keep_result(thread, index, value, bounds.json_size(value))
                thread.done += 1
        thread.redriven = bool(done)

    def skip_done_items(self, thread: Thread) -> bool:
        """Pass over items a redrive already has the results of; False when none is left to
        start (the Map is then done if every item is)."""
        kept = thread.results
        while (
            kept is not None and thread.next_item < len(thread.items) and thread.next_item in kept
        ):
            thread.next_item += 1
        if thread.next_item < len(thread.items):
            return True
        if thread.done + thread.failed == len(thread.items):
            self.work.append(Work("done", thread.id))
        return False

    def start_item(self, thread: Thread, state: MapState) -> bool:
        """Start the next item; False when its ItemSelector failed the Map state."""
        if thread.redriven and not self.skip_done_items(thread):
            return True
        if state.distribution is not None:
            return map_run.start_child(self, thread, state)
        index = thread.next_item
        thread.next_item += 1
        link = self.record(
            "MapIterationStarted", {"index": index, "name": state.name}, thread=thread
        )
        try:
            item = flows.flow_of(state).map_item(self, thread, state, index, thread.items[index])
        except StatesError as failure:
            # The Map fails: the items it started go with it.
            self.abort_children(thread, state)
            self.state_failed(thread, state, failure)
            return False
        self.spawn(thread, state.iterator, index, item, link)
        return True

    def set_aside_children(self, thread: Thread, count: int) -> None:
        thread.first_child = self.next_thread
        self.next_thread += count

    def spawn(self, parent: Thread, scope: int, index: int, data: Any, link: int) -> None:
        """Start child ``index`` of ``parent`` in ``scope`` on ``data``; its events chain from
        event ``link`` (its MapIterationStarted, or the ParallelStateStarted)."""
        if parent.first_child:
            child_id = parent.first_child + index
        else:  # a fan-out stored before children had set-aside ids
            child_id, self.next_thread = self.next_thread, self.next_thread + 1
            parent.children = (parent.children or PSet.empty()).add(child_id)
        child = Thread(id=child_id, scope=scope, parent=parent.id, index=index, last_event=link)
        self.threads[child.id] = child
        self.copied[child.id] = child
        self.enqueue(child.id, self.machine.scopes[scope].start_at, data)

    def live_children(self, thread: Thread, state: AnyState) -> list[int]:
        """The ids of ``thread``'s children still running, in index order."""
        if thread.children:  # a fan-out stored before children had set-aside ids
            return sorted(thread.children)
        if not thread.first_child:
            return []
        if isinstance(state, MapState):
            started = thread.next_item
        elif isinstance(state, ParallelState):
            started = len(state.branches)
        else:
            return []
        ids = range(thread.first_child, thread.first_child + started)
        return [child for child in ids if child in self.threads]

    def keep_result(self, parent: Thread, index: int, value: Any, size: int) -> None:
        """Keep a branch's or item's result; once their sizes pass the payload limit none are
        kept (the state's result fails with DataLimitExceeded when all are in)."""
        parent.results_bytes += size + 1
        if parent.results_bytes > MAX_PAYLOAD_BYTES:
            parent.results = None
        else:
            parent.results = (parent.results or PMap.empty()).set(index, value)

    def thread_succeeded(self, thread: Thread, output: Any, size: int) -> None:
        if thread.parent is None:
            self.end_execution("SUCCEEDED", "ExecutionSucceeded", output, None, None)
            return
        parent = self.thread(thread.parent)
        state = self.scope_state(parent)
        self.remove_thread(thread)
        if not map_run.writes_results(state):  # (a ResultWriter reads them from the children)
            self.keep_result(parent, thread.index, output, size)
        parent.done += 1
        if isinstance(state, MapState) and state.distribution is not None:
            self.after_item(parent, state)  # a child execution: its history is its own
        elif isinstance(state, MapState):
            # The iteration's end follows its own last event; the Map goes on from there.
            parent.last_event = self.record(
                "MapIterationSucceeded", {"index": thread.index, "name": state.name}, thread=thread
            )
            self.after_item(parent, state)
        elif isinstance(state, ParallelState):
            parent.last_event = thread.last_event or parent.last_event
            if parent.done == len(state.branches):
                self.work.append(Work("done", parent.id))

    def after_item(self, parent: Thread, state: MapState) -> None:
        if parent.next_item < len(parent.items):
            self.start_item(parent, state)
        elif parent.done + parent.failed == len(parent.items):
            self.work.append(Work("done", parent.id))

    def fan_out_done(self, thread_id: int) -> None:
        if thread_id not in self.threads or self.finished:
            return
        thread = self.thread(thread_id)
        state = self.scope_state(thread)
        assert isinstance(state, ParallelState | MapState)
        if isinstance(state, MapState) and map_run.writes_results(state):
            map_run.write_results(self, thread, state)  # the state goes on when they are written
            return
        if isinstance(state, MapState) and state.distribution is not None:
            map_run.succeeded(self, thread)
        self.record(f"{state.type}StateSucceeded", thread=thread)
        count = len(thread.items) if isinstance(state, MapState) else len(state.branches)
        too_large = thread.results_bytes + 1 > MAX_PAYLOAD_BYTES
        kept = thread.results or PMap.empty()
        results = [] if too_large else [kept.get(i) for i in range(count)]
        thread.results, thread.items = None, []
        try:
            if too_large:
                raise bounds.bounds_error("size", _result_of(state.name))
            self.finish_recoverable(thread, state, results)
        except StatesError as failure:
            self.state_failed(thread, state, failure)

    def thread_failed(self, thread: Thread, error: str | None, cause: str | None) -> None:
        """A thread ends in failure: the execution fails, or the parent Parallel/Map does."""
        if thread.parent is None:
            self.end_execution("FAILED", "ExecutionFailed", None, error, cause)
            return
        parent = self.thread(thread.parent)
        state = self.scope_state(parent)
        self.remove_thread(thread)
        if isinstance(state, MapState) and state.distribution is not None:
            map_run.child_failed(self, parent, state, thread, error, cause)
            return
        if isinstance(state, MapState):
            parent.last_event = self.record(
                "MapIterationFailed", {"index": thread.index, "name": state.name}, thread=thread
            )
            parent.failed += 1
            tolerated = parent.tolerated_failures
            if tolerated is not None and parent.failed <= tolerated:
                result = {"Error": error, "Cause": cause}
                self.keep_result(parent, thread.index, result, bounds.json_size(result))
                self.after_item(parent, state)
                return
            if tolerated is not None:
                error, cause = (
                    "States.ExceedToleratedFailureThreshold",
                    "The specified tolerated failure threshold was exceeded",
                )
        if not isinstance(state, MapState):
            parent.last_event = thread.last_event or parent.last_event
        self.abort_children(parent, state)
        self.record(f"{state.type}StateFailed", thread=parent)
        failure = StatesError(error or "", cause or "")
        self.state_failed(
            parent, state, failure, cause_is_none=cause is None, error_is_none=error is None
        )

    def abort_children(self, thread: Thread, state: AnyState) -> None:
        for child_id in self.live_children(thread, state):
            if child_id not in self.threads:
                continue
            child = self.thread(child_id)
            if child.child:  # a Distributed Map's child execution: it is stopped
                if child.job is not None:
                    self.commands.append(AbandonTask(child.job))
                self.remove_thread(child)
                continue
            if child.state is not None:
                child_state = self.scope_state(child)
                self.abort_children(child, child_state)
                self.record(f"{child_state.type}StateAborted", thread=child)
            if isinstance(state, MapState):
                self.record(
                    "MapIterationAborted", {"index": child.index, "name": state.name}, thread=child
                )
            self.remove_thread(child)
        thread.children, thread.first_child = None, 0

    def remove_thread(self, thread: Thread) -> None:
        if thread.token is not None:
            self.tokens.pop(thread.token, None)
        for timer in list(thread.timers):
            self.cancel_timer(thread, timer)
        self.threads.pop(thread.id, None)
        self.copied.pop(thread.id, None)
        if thread.parent is not None and thread.parent in self.threads:
            parent = self.threads[thread.parent]
            if parent.children:  # a fan-out stored before children had set-aside ids
                self.thread(thread.parent).children = parent.children.discard(thread.id) or None

    # -- failures: retry, catch, or fail the scope ---------------------------------------------

    def state_failed(
        self,
        thread: Thread,
        state: AnyState,
        failure: StatesError,
        *,
        cause_is_none: bool = False,
        error_is_none: bool = False,
    ) -> None:
        """Retry or catch a failure of ``state``; otherwise its thread fails."""
        self.assigned.pop(thread.id, None)  # a failed state assigns nothing (a catcher may)
        error: str | None = None if error_is_none else failure.error
        cause: str | None = None if cause_is_none else failure.cause
        if failure.error in _PREFIXED and not failure.cause.startswith(_RUNTIME_PREFIX):
            cause = (
                f"An error occurred while executing the state '{state.name}' (entered at the"
                f" event id #{thread.entered_event}). {failure.cause}"
            )
        if isinstance(state, TaskState | ParallelState | MapState) and error != errors.RUNTIME:
            if self.retry(thread, state, error or ""):
                return
            for catcher in state.catchers:
                if errors.error_matches(error or "", catcher.error_equals):
                    # A failure with no cause (a timeout) shows an empty Cause to a catcher.
                    # (With no error either, as SendTaskFailure may send, both are null.)
                    error_output = {
                        "Error": error,
                        "Cause": cause if cause is not None or error is None else "",
                    }
                    try:
                        output = flows.flow_of(state).caught(
                            self, thread, state, catcher, error_output
                        )
                    except StatesError as inner:
                        self.thread_failed(thread, inner.error, inner.cause)
                        return
                    self.continue_after(thread, state, catcher.next, output)
                    return
        self.note_failing(thread, state)
        thread.state = None
        self.thread_failed(thread, error, cause)

    def note_failing(self, thread: Thread, state: AnyState) -> None:
        """Remember the top-level state failing now (a redrive starts there again)."""
        if thread.parent is None:
            self.failing = (state, thread.input)

    def retry(
        self, thread: Thread, state: TaskState | ParallelState | MapState, error: str
    ) -> bool:
        """Schedule a retry when the first retrier matching ``error`` has attempts left."""
        for index, retrier in enumerate(state.retriers):
            if not errors.error_matches(error, retrier.error_equals):
                continue
            used = thread.retry_counts[index]
            if used >= retrier.max_attempts:
                return False
            delay = bounds.retry_delay(
                retrier.interval_seconds,
                retrier.backoff_rate,
                used,
                retrier.max_delay_seconds,
                self.max_duration,
            )
            if retrier.jitter == "FULL":
                delay = self.draw().uniform(0, delay)
            thread.retry_counts[index] = used + 1
            thread.retry_total += 1
            self.start_timer(thread, "retry", delay)
            return True
        return False

    # -- ending the execution ------------------------------------------------------------------

    def redrive_point(self) -> dict[str, Any] | None:
        """Where a redrive of the ending execution starts: the top-level state it failed in,
        or the one it was in when stopped or timed out."""
        found = self.failing
        top = self.threads.get(ROOT)
        if found is None and top is not None and top.state is not None:
            found = (self.scope_state(top), top.input)
        if found is None:
            return None
        state, data = found
        point: dict[str, Any] = {"state": state.name, "input": data, "type": state.type}
        if top is not None and top.variables:
            point["variables"] = dict(top.variables)
        if isinstance(state, ParallelState | MapState) and top is not None:
            # What its children returned: a redrive runs the others only.
            results = top.results.items_list() if top.results else []
            point["done"] = [[index, value] for index, value in results]
            if isinstance(state, MapState) and state.distribution is not None:
                point["map_run"] = top.map_run or self.failed_map_run
        return point

    def end_execution(
        self,
        status: Status,
        event_type: str,
        output: Any,
        error: str | None,
        cause: str | None,
    ) -> None:
        # Before the threads go: where a redrive would start again.
        self.updates["redrive_from"] = self.redrive_point() if status != "SUCCEEDED" else None
        if status == "SUCCEEDED":
            try:
                text = self.checked(output, _result_of(self.base.execution_name))
            except StatesError as failure:
                status, event_type, error, cause = (
                    "FAILED",
                    "ExecutionFailed",
                    failure.error,
                    failure.cause,
                )
            else:
                self.record(event_type, {"output": text.decode(), "outputDetails": _UNTRUNCATED})
        if status != "SUCCEEDED":
            details: dict[str, Any] = {}
            if error is not None:
                details["error"] = error
            if cause is not None:
                details["cause"] = cause
            self.record(event_type, details)
        for timer in list(self.timers):
            self.commands.append(CancelTimer(timer))
        for thread_id in self.threads:  # .sync tasks still waiting: their children stop too
            job = self.threads[thread_id].job
            if job is not None:
                self.commands.append(AbandonTask(job))
        self.timers.clear()
        self.tokens.clear()
        self.threads.clear()
        self.copied.clear()
        self.continue_timer = None
        self.updates.update(
            status=status,
            output=output if status == "SUCCEEDED" else None,
            error=error,
            cause=cause,
            stop_time=self.now,
        )
        self.commands.append(
            CompleteExecution(
                status, output if status == "SUCCEEDED" else None, error, cause, self.now
            )
        )
        self.finished = True
        self.work.clear()


def _variable_size(name: str, value: Any) -> int:
    """The bytes a variable counts for: its name and its value's JSON text."""
    return len(name) + 4 + bounds.json_size(value)


def _invoke_payload(payload: Any) -> Any:
    """What the function receives from lambda:invoke's ``Payload``.

    AWS sends a string Payload as the request body itself (JSON text), and no payload for
    null, which Lambda's runtime presents as ``{}``. Text that is not JSON (or nests too deep
    to read) is sent as the string it is.
    """
    if payload is None:
        return {}
    if isinstance(payload, str):
        try:
            return limits.loads(payload)
        except ValueError:
            return payload
    return payload


def _scheduled_parameters(state: TaskState, parameters: Any) -> Any:
    """The parameters AWS sends (and shows in TaskScheduled): ECS tasks it waits on are
    marked as started by Step Functions."""
    if (
        state.service == "ecs"
        and state.action == "runTask"
        and state.pattern == ".sync"
        and isinstance(parameters, dict)
        and "StartedBy" not in parameters
    ):
        return {**parameters, "StartedBy": "AWS Step Functions"}
    return parameters


def _task_credentials(credentials: Any) -> Any:
    """``Credentials`` as history events show them (``taskCredentials``: ``roleArn``)."""
    if isinstance(credentials, dict) and "RoleArn" in credentials:
        return {"roleArn": credentials["RoleArn"]}
    return credentials


def _spaced_json(cause: str | None) -> str | None:
    if cause is None or not cause.startswith("{"):
        return cause
    try:
        return json.dumps(limits.loads(cause), ensure_ascii=False)
    except ValueError:  # not JSON, or nested too deep to read
        return cause
