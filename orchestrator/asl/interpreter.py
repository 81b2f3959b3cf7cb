"""The ASL interpreter: one pure function from (definition, execution state, event) to a step.

``step`` reads no clock, does no I/O and draws no random number of its own: the event carries
the time, the start carries the prefix of task tokens, and random draws (retry jitter,
intrinsics, request ids) come from a generator seeded by the execution's own sequence. It
returns the new execution state, the history events that happened, and the commands for the
shell (dispatch a task, start or cancel a timer, finish the execution). The RabbitMQ service,
the in-process runner and the tests all drive this one function; see DESIGN.md.

The data flow of a state is AWS's: InputPath -> Parameters -> (task) -> ResultSelector ->
ResultPath -> OutputPath. Parallel branches and Map iterations run as child threads
(:mod:`orchestrator.asl.execution`); a work queue, not recursion, moves them along.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import random
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from orchestrator.asl import errors
from orchestrator.asl.definition import (
    AnyState,
    ChoiceState,
    FailState,
    MapState,
    ParallelState,
    PassState,
    Seconds,
    StateMachine,
    SucceedState,
    TaskState,
    WaitState,
)
from orchestrator.asl.errors import StatesError
from orchestrator.asl.execution import (
    CancelTimer,
    Command,
    CompleteExecution,
    DispatchTask,
    Event,
    ExecutionState,
    HistoryEvent,
    StartExecution,
    StartTimer,
    Status,
    Step,
    StopExecution,
    TaskFailed,
    TaskHeartbeat,
    TaskSucceeded,
    Thread,
    TimerFired,
    TimerKind,
    TimerRef,
)
from orchestrator.asl.lambda_invoke import invoke_response
from orchestrator.asl.loader import function_name_of, parse_timestamp
from orchestrator.asl.paths import Path, PathNotFound, PathWriteError, ReferencePath
from orchestrator.asl.templates import Template

__all__ = [
    "MAX_HISTORY_EVENTS",
    "MAX_PAYLOAD_BYTES",
    "CancelTimer",
    "Command",
    "CompleteExecution",
    "DispatchTask",
    "Event",
    "ExecutionState",
    "HistoryEvent",
    "StartExecution",
    "StartTimer",
    "Step",
    "StopExecution",
    "TaskFailed",
    "TaskHeartbeat",
    "TaskSucceeded",
    "TimerFired",
    "iso_time",
    "step",
]

# AWS fails an execution whose history would pass this many events.
MAX_HISTORY_EVENTS = 25_000
# AWS's limit on any input, output or result: 256 KiB of UTF-8 JSON text.
MAX_PAYLOAD_BYTES = 262_144
# The longest Wait AWS accepts: 2^31 - 1 seconds (about 24,855 days).
MAX_WAIT_SECONDS = 2**31 - 1
ROOT = 0


def step(machine: StateMachine, state: ExecutionState | None, event: Event) -> Step:
    """Apply ``event`` to an execution of ``machine``; ``state`` is None only for a start."""
    if isinstance(event, StartExecution):
        if state is not None:
            raise ValueError("StartExecution applies only to a new execution")
        return _start(machine, event)
    if state is None:
        raise ValueError("an event other than StartExecution needs the execution's state")
    if state.status != "RUNNING":
        return Step(state, ignored=True)
    run = _Run(machine, state, event.time)
    applied = run.apply(event)
    if not applied:
        return Step(state, ignored=True)
    run.drain()
    return run.finish()


def _start(machine: StateMachine, event: StartExecution) -> Step:
    initial = ExecutionState(
        execution_arn=event.execution_arn,
        execution_name=event.execution_name,
        state_machine_arn=event.state_machine_arn,
        state_machine_name=machine.name,
        role_arn=event.role_arn,
        input=event.input,
        start_time=event.time,
        token_prefix=event.token_prefix,
        threads={ROOT: Thread(id=ROOT, scope=0)},
    )
    run = _Run(machine, initial, event.time)
    run.record(
        "ExecutionStarted",
        {"input": _text(event.input), "inputDetails": _UNTRUNCATED, "roleArn": event.role_arn},
    )
    if machine.timeout_seconds is not None:
        run.start_timer(run.thread(ROOT), "execution", float(machine.timeout_seconds))
    run.enqueue(ROOT, machine.start_at, event.input)
    run.drain()
    return run.finish()


_UNTRUNCATED = {"truncated": False}


def _text(value: Any) -> str:
    """JSON text the way Step Functions writes it in history and results: compact."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # integers beyond 64 bits, or nesting past orjson's depth limit
        pass
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    except RecursionError:
        raise StatesError(errors.RUNTIME, "The JSON value is nested too deeply.") from None


def _checked_size(text: str, owner: str) -> str:
    """``text`` if within AWS's payload limit, else States.DataLimitExceeded for ``owner``."""
    if len(text) * 4 > MAX_PAYLOAD_BYTES and len(text.encode()) > MAX_PAYLOAD_BYTES:
        raise StatesError(
            errors.DATA_LIMIT_EXCEEDED,
            f"The state/task '{owner}' returned a result with a size exceeding the maximum"
            " number of bytes service limit.",
        )
    return text


@functools.lru_cache(maxsize=256)
def iso_time(moment: datetime) -> str:
    """A timestamp as the context object shows it: UTC, milliseconds, ``Z``."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


_RUNTIME_PREFIX = "An error occurred while executing the state"


class _StateRuntimeError(StatesError):
    """A States.Runtime error raised inside a state: AWS prefixes where it happened."""

    def __init__(self, detail: str) -> None:
        super().__init__(errors.RUNTIME, detail)


class _Run:
    """The working copy of one step; ``finish`` freezes it into a :class:`Step`."""

    def __init__(self, machine: StateMachine, state: ExecutionState, now: datetime) -> None:
        self.machine = machine
        self.base = state
        self.now = now
        self.threads = dict(state.threads)
        self.copied: set[int] = set()
        self.tokens = dict(state.tokens)
        self.timers = dict(state.timers)
        self.seq = state.seq
        self.next_thread = state.next_thread
        self.last_event_id = state.last_event_id
        self.history: list[HistoryEvent] = []
        self.commands: list[Command] = []
        self.updates: dict[str, Any] = {}
        self.work: deque[Callable[[], None]] = deque()
        self._rng: random.Random | None = None
        self.finished = False

    # -- bookkeeping ---------------------------------------------------------------------------

    def thread(self, thread_id: int) -> Thread:
        """The thread, copied on first write so the input state is never mutated."""
        if thread_id not in self.copied:
            original = self.threads[thread_id]
            self.threads[thread_id] = dataclasses.replace(
                original,
                retry_counts=list(original.retry_counts),
                timers=list(original.timers),
                children=set(original.children),
                results=list(original.results),
            )
            self.copied.add(thread_id)
        return self.threads[thread_id]

    def record(self, event_type: str, details: dict[str, Any] | None = None) -> int:
        self.last_event_id += 1
        self.history.append(
            HistoryEvent(self.last_event_id, self.last_event_id - 1, self.now, event_type, details)
        )
        return self.last_event_id

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    @property
    def rng(self) -> random.Random:
        """Random draws for this step, reproducible from the execution's own state."""
        if self._rng is None:
            self._rng = random.Random(f"{self.base.token_prefix}:{self.seq}")
        return self._rng

    def request_id(self) -> str:
        return str(_uuid4(self.rng))

    def finish(self) -> Step:
        self.updates.update(
            threads=self.threads,
            tokens=self.tokens,
            timers=self.timers,
            seq=self.seq,
            next_thread=self.next_thread,
            last_event_id=self.last_event_id,
        )
        return Step(self.base.model_copy(update=self.updates), self.history, self.commands)

    def enqueue(self, thread_id: int, state_name: str, data: Any) -> None:
        self.work.append(lambda: self.run_thread(thread_id, state_name, data))

    def drain(self) -> None:
        while self.work and not self.finished:
            self.work.popleft()()

    def context(self, thread: Thread, state: AnyState) -> dict[str, Any]:
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
                "RedriveCount": 0,
            },
            "State": state_fields,
            "StateMachine": {"Id": base.state_machine_arn, "Name": base.state_machine_name},
        }
        if isinstance(state, TaskState) and state.wait_for_token and thread.token:
            context["Task"] = {"Token": thread.token}
        return context

    def render(self, template: Template, data: Any, thread: Thread, state: AnyState) -> Any:
        """Render a Parameters/ResultSelector template, building ``$$`` only if it is read."""
        context = self.context(thread, state) if template.uses_context else None
        return template.render(data, context, self.rng)

    def scope_state(self, thread: Thread, name: str | None = None) -> AnyState:
        return self.machine.scopes[thread.scope].states[name or thread.state or ""]

    # -- applying an event ---------------------------------------------------------------------

    def apply(self, event: Event) -> bool:
        """Apply one event; False when it does not apply (stale, duplicate, unknown)."""
        assert not isinstance(event, StartExecution)
        if isinstance(event, StopExecution):
            self.end_execution("ABORTED", "ExecutionAborted", None, event.error, event.cause)
            return True
        if isinstance(event, TimerFired):
            ref = self.timers.pop(event.timer, None)
            if ref is None or ref.thread not in self.threads:
                return False
            self.thread(ref.thread).timers.remove(event.timer)
            self.timer_fired(ref.thread, ref.kind)
            return True
        thread_id = self.tokens.get(event.token)
        if thread_id is None or thread_id not in self.threads:
            return False
        thread = self.threads[thread_id]
        state = self.scope_state(thread)
        assert isinstance(state, TaskState)
        if isinstance(event, TaskHeartbeat):
            self.restart_heartbeat(self.thread(thread_id))
            return True
        if event.attempt != thread.attempt and not event.callback:
            return False
        if isinstance(event, TaskSucceeded):
            if state.wait_for_token and not event.callback:
                # The function returned; a .waitForTaskToken task waits for SendTaskSuccess.
                return False
            self.task_succeeded(self.thread(thread_id), state, event)
        else:
            self.task_failed(self.thread(thread_id), state, event.error, event.cause)
        return True

    # -- running a thread through states -------------------------------------------------------

    def run_thread(self, thread_id: int, name: str | None, data: Any) -> None:
        """Enter states from ``name`` until the thread waits or its scope ends."""
        while name is not None and not self.finished and thread_id in self.threads:
            if self.last_event_id >= MAX_HISTORY_EVENTS - 3 and self.machine.type == "STANDARD":
                self.end_execution(
                    "FAILED",
                    "ExecutionFailed",
                    None,
                    errors.RUNTIME,
                    f"The execution reached the limit of {MAX_HISTORY_EVENTS} history events.",
                )
                return
            thread = self.thread(thread_id)
            state = self.scope_state(thread, name)
            thread.state, thread.input = name, data
            thread.entered_time = self.now
            thread.retry_counts = [0] * len(getattr(state, "retriers", ()))
            thread.retry_total = 0
            thread.entered_event = self.record(
                state.type + "StateEntered",
                {"name": name, "input": _text(data), "inputDetails": _UNTRUNCATED},
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
        """Run one state on its raw input; the next state and its input, or None."""
        if isinstance(state, TaskState):
            self.enter_task(thread, state, data)
            return None
        if isinstance(state, ParallelState | MapState):
            self.enter_fan_out(thread, state, data)
            return None
        if isinstance(state, FailState):
            error, cause = self.fail_fields(thread, state, data)
            thread.state = None
            self.thread_failed(thread, error, cause)
            return None
        effective = self.read(state.input_path, thread, state, data)
        if isinstance(state, PassState):
            if state.parameters is not None:
                effective = self.render(state.parameters, effective, thread, state)
            result = state.result if state.has_result else effective
            output = _apply_result_path(state.result_path, data, result)
            following: str | None = state.next
        elif isinstance(state, ChoiceState):
            output, following = effective, self.choose(thread, state, effective)
        elif isinstance(state, WaitState):
            seconds = self.wait_seconds(state, effective)
            if seconds > 0:
                thread.input = data
                self.start_timer(thread, "wait", seconds)
                return None
            output, following = effective, state.next
        else:
            assert isinstance(state, SucceedState)
            output, following = effective, None
        output = self.read(state.output_path, thread, state, output)
        return self.exit_state(thread, state, following, output)

    def exit_state(
        self, thread: Thread, state: AnyState, following: str | None, output: Any
    ) -> tuple[str, Any] | None:
        text = _checked_size(_text(output), state.name)
        self.record(
            state.type + "StateExited",
            {"name": state.name, "output": text, "outputDetails": _UNTRUNCATED},
        )
        thread.state = None
        if following is None:
            self.thread_succeeded(thread, output)
            return None
        return following, output

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
            return path.read(self.context(thread, state) if path.context else data)
        except PathNotFound as missing:
            raise _StateRuntimeError(missing.describe(path.text)) from None

    def choose(self, thread: Thread, state: ChoiceState, data: Any) -> str:
        context = self.context(thread, state)
        for branch in state.branches:
            if branch.rule.evaluate(data, context):
                return branch.next
        if state.default is not None:
            return state.default
        raise StatesError(errors.NO_CHOICE_MATCHED, "No Matches!")

    def wait_seconds(self, state: WaitState, data: Any) -> float:
        """How long a Wait state waits, from now."""
        if state.seconds is not None:
            if state.seconds.value is not None:
                return float(state.seconds.value)
            path = state.seconds.path
            assert path is not None
            try:
                value = path.read(data)
            except PathNotFound:
                raise _StateRuntimeError(
                    f"The SecondsPath parameter does not reference an input value: {path.text}"
                ) from None
            if isinstance(value, bool) or not isinstance(value, int):
                raise _StateRuntimeError(
                    f"The SecondsPath parameter cannot be parsed as a long value: {path.text} == {_text(value)}"
                )
            if value < 0:
                raise _StateRuntimeError(
                    f"The SecondsPath parameter references a negative value: {path.text} == {value}"
                )
            seconds = float(value)
        else:
            text = state.timestamp
            if state.timestamp_path is not None:
                path = state.timestamp_path
                try:
                    text = path.read(data)
                except PathNotFound:
                    raise _StateRuntimeError(
                        f"The TimestampPath parameter does not reference an input value: {path.text}"
                    ) from None
                moment = parse_timestamp(text) if isinstance(text, str) else None
                if moment is None:
                    shown = text if isinstance(text, str) else _text(text)
                    raise _StateRuntimeError(
                        "The TimestampPath parameter does not reference a valid ISO-8601 extended"
                        f" offset date-time format string: {path.text} == {shown}"
                    )
            else:
                moment = parse_timestamp(text or "")
            assert moment is not None
            seconds = (moment - self.now).total_seconds()
        if seconds > MAX_WAIT_SECONDS:
            raise _StateRuntimeError("Wait state delay is too long.")
        return max(seconds, 0.0)

    # -- Task ----------------------------------------------------------------------------------

    def enter_task(self, thread: Thread, state: TaskState, data: Any) -> None:
        thread.token = f"{self.base.token_prefix}.{self.next_seq()}"
        thread.attempt = 0
        self.tokens[thread.token] = thread.id
        self.dispatch(thread, state)

    def dispatch(self, thread: Thread, state: TaskState) -> None:
        """Schedule the task (again, on a retry) with its timeout and heartbeat timers.

        InputPath and Parameters are evaluated for every attempt, as AWS does: a retry sees
        its own ``$$.State.RetryCount``.
        """
        effective = self.read(state.input_path, thread, state, thread.input)
        if state.parameters is not None:
            effective = self.render(state.parameters, effective, thread, state)
        timeout = self.task_seconds(state.timeout, "TimeoutSecondsPath", thread, state)
        heartbeat = self.task_seconds(state.heartbeat, "HeartbeatSecondsPath", thread, state)
        if state.integration == "invoke":
            if not isinstance(effective, dict) or "FunctionName" not in effective:
                raise _StateRuntimeError("The lambda:invoke integration needs a FunctionName")
            function_name = function_name_of(str(effective["FunctionName"]))
            payload = _invoke_payload(effective.get("Payload"))
            details: dict[str, Any] = {
                "parameters": _text(effective),
                "region": self.region,
                "resource": state.resource.split(":::lambda:")[1],
                "resourceType": "lambda",
            }
            if timeout is not None:
                details["timeoutInSeconds"] = timeout
            if heartbeat is not None:
                details["heartbeatInSeconds"] = heartbeat
            self.record("TaskScheduled", details)
        else:
            function_name, payload = state.function_name, effective
            details = {
                "resource": state.resource,
                "input": _text(effective),
                "inputDetails": _UNTRUNCATED,
            }
            if timeout is not None:
                details["timeoutInSeconds"] = timeout
            self.record("LambdaFunctionScheduled", details)
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

    def task_seconds(
        self, seconds: Seconds | None, field: str, thread: Thread, state: TaskState
    ) -> int | None:
        if seconds is None:
            return None
        if seconds.value is not None:
            return seconds.value
        assert seconds.path is not None
        try:
            value = seconds.path.read(thread.input)
        except PathNotFound as missing:
            raise _StateRuntimeError(missing.describe(seconds.path.text)) from None
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise _StateRuntimeError(
                f"The {field} field refers to value {_text(value)!r} which is not a valid positive integer: {seconds.path.text}"
            )
        return value

    def restart_heartbeat(self, thread: Thread) -> None:
        for timer in list(thread.timers):
            if self.timers[timer].kind == "heartbeat":
                self.cancel_timer(thread, timer)
        if thread.heartbeat_seconds is not None:
            self.start_timer(thread, "heartbeat", float(thread.heartbeat_seconds))

    def end_task(self, thread: Thread) -> None:
        """The task is over: forget its token and its timers."""
        if thread.token is not None:
            self.tokens.pop(thread.token, None)
        thread.token = None
        for timer in list(thread.timers):
            if self.timers[timer].kind in ("timeout", "heartbeat"):
                self.cancel_timer(thread, timer)

    def task_succeeded(self, thread: Thread, state: TaskState, event: TaskSucceeded) -> None:
        self.end_task(thread)
        result = event.output
        try:
            if state.integration == "invoke":
                if not state.wait_for_token:
                    result = invoke_response(
                        result, event.request_id or self.request_id(), self.now
                    )
                resource = {
                    "resource": state.resource.split(":::lambda:")[1],
                    "resourceType": "lambda",
                }
                self.record("TaskStarted", dict(resource))
                text = _checked_size(_text(result), "lambda")
                self.record(
                    "TaskSucceeded", {"output": text, "outputDetails": _UNTRUNCATED, **resource}
                )
            else:
                self.record("LambdaFunctionStarted")
                text = _checked_size(_text(result), state.resource)
                self.record(
                    "LambdaFunctionSucceeded", {"output": text, "outputDetails": _UNTRUNCATED}
                )
            self.finish_recoverable(thread, state, result)
        except StatesError as failure:
            self.state_failed(thread, state, failure)

    def task_failed(self, thread: Thread, state: TaskState, error: str, cause: str | None) -> None:
        self.end_task(thread)
        if state.integration == "function":
            # A function-ARN Task shows Lambda's error payload as Python writes it (spaced).
            cause = _spaced_json(cause)
        details: dict[str, Any] = {}
        if error is not None:
            details["error"] = error
        if cause is not None:
            details["cause"] = cause
        if state.integration == "invoke":
            resource = {"resource": state.resource.split(":::lambda:")[1], "resourceType": "lambda"}
            self.record("TaskStarted", dict(resource))
            self.record("TaskFailed", {**details, **resource})
        else:
            self.record("LambdaFunctionStarted")
            self.record("LambdaFunctionFailed", details)
        self.state_failed(
            thread, state, StatesError(error, cause or ""), cause_is_none=cause is None
        )

    def finish_recoverable(
        self, thread: Thread, state: TaskState | ParallelState | MapState, result: Any
    ) -> None:
        """ResultSelector -> ResultPath -> OutputPath on a result, then move on."""
        if state.result_selector is not None:
            result = self.render(state.result_selector, result, thread, state)
        output = _apply_result_path(state.result_path, thread.input, result)
        output = self.read(state.output_path, thread, state, output)
        self.continue_after(thread, state, state.next, output)

    # -- timers --------------------------------------------------------------------------------

    def start_timer(self, thread: Thread, kind: TimerKind, seconds: float) -> None:
        timer = f"{self.base.token_prefix}.t{self.next_seq()}"
        due = self.now + timedelta(seconds=seconds)
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
                effective = self.read(state.input_path, thread, state, thread.input)
                output = self.read(state.output_path, thread, state, effective)
            except StatesError as failure:
                self.state_failed(thread, state, failure)
                return
            self.continue_after(thread, state, state.next, output)
        elif kind == "retry":
            if isinstance(state, TaskState):
                thread.attempt += 1
                thread.token = thread.token or f"{self.base.token_prefix}.{self.next_seq()}"
                self.tokens[thread.token] = thread.id
                try:
                    self.dispatch(thread, state)
                except StatesError as failure:
                    self.state_failed(thread, state, failure)
            else:
                assert isinstance(state, ParallelState | MapState)
                self.work.append(lambda: self.retry_fan_out(thread.id, state))
        else:
            assert isinstance(state, TaskState)
            error = errors.TIMEOUT if kind == "timeout" else errors.HEARTBEAT_TIMEOUT
            self.end_task(thread)
            if state.integration == "invoke":
                resource = {
                    "resource": state.resource.split(":::lambda:")[1],
                    "resourceType": "lambda",
                }
                self.record("TaskTimedOut", {"error": error, **resource})
            else:
                self.record("LambdaFunctionTimedOut", {"error": error})
            self.state_failed(thread, state, StatesError(error, ""), cause_is_none=True)

    # -- Parallel and Map ----------------------------------------------------------------------

    def enter_fan_out(self, thread: Thread, state: ParallelState | MapState, data: Any) -> None:
        effective = self.read(state.input_path, thread, state, data)
        if isinstance(state, ParallelState) and state.parameters is not None:
            effective = self.render(state.parameters, effective, thread, state)
        thread.effective = effective
        self.start_fan_out(thread, state)

    def retry_fan_out(self, thread_id: int, state: ParallelState | MapState) -> None:
        thread = self.thread(thread_id)
        try:
            self.start_fan_out(thread, state)
        except StatesError as failure:
            self.state_failed(thread, state, failure)

    def start_fan_out(self, thread: Thread, state: ParallelState | MapState) -> None:
        thread.children, thread.results = set(), []
        thread.done = thread.failed = thread.next_item = 0
        if isinstance(state, ParallelState):
            self.record("ParallelStateStarted")
            thread.items = []
            thread.results = [None] * len(state.branches)
            thread.max_concurrency = 0
            for index, scope in enumerate(state.branches):
                self.spawn(thread, scope, index, thread.effective)
            if not state.branches:
                self.work.append(lambda: self.fan_out_done(thread.id))
            return
        items = self.map_items(thread, state)
        thread.items = items
        thread.results = [None] * len(items)
        thread.max_concurrency = self.map_concurrency(thread, state)
        thread.tolerated_failures = self.map_tolerance(thread, state, len(items))
        self.record("MapStateStarted", {"length": len(items)})
        if not items:
            self.work.append(lambda: self.fan_out_done(thread.id))
            return
        limit = thread.max_concurrency or len(items)
        while thread.next_item < min(limit, len(items)):
            self.start_item(thread, state)

    def map_items(self, thread: Thread, state: MapState) -> list[Any]:
        try:
            items = state.items_path.read(thread.effective)
        except PathNotFound as missing:
            raise _StateRuntimeError(missing.describe(state.items_path.text)) from None
        if not isinstance(items, list):
            raise _StateRuntimeError(
                f"Item paths must point to a JSON array: {state.items_path.text} == {_text(items)}"
            )
        return items

    def map_concurrency(self, thread: Thread, state: MapState) -> int:
        spec = state.max_concurrency
        if spec.path is None:
            return spec.value or 0
        try:
            value = spec.path.read(thread.effective)
        except PathNotFound:
            value = None
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise _StateRuntimeError(
                f'The MaxConcurrencyPath field refers to value "{value if isinstance(value, str) else _text(value)}"'
                f" which is not a valid integer: {spec.path.text}"
            )
        return value

    def map_tolerance(self, thread: Thread, state: MapState, count: int) -> float | None:
        tolerated: float | None = None
        for spec, percent in (
            (state.tolerated_failure_count, False),
            (state.tolerated_failure_percentage, True),
        ):
            if spec is None:
                continue
            value: Any = spec.value
            if spec.path is not None:
                try:
                    value = spec.path.read(thread.effective)
                except PathNotFound:
                    value = None
                if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                    raise _StateRuntimeError(
                        f"The tolerated failure path {spec.path.text} does not reference a non-negative number"
                    )
            limit = count * float(value) / 100 if percent else float(value)
            tolerated = limit if tolerated is None else min(tolerated, limit)
        return tolerated

    def start_item(self, thread: Thread, state: MapState) -> None:
        index = thread.next_item
        thread.next_item += 1
        self.record("MapIterationStarted", {"index": index, "name": state.name})
        item = thread.items[index]
        if state.item_selector is not None:
            context = self.context(thread, state)
            context["Map"] = {"Item": {"Index": index, "Value": item}}
            try:
                item = state.item_selector.render(thread.effective, context, self.rng)
            except StatesError as failure:
                self.state_failed(thread, state, failure)
                return
        self.spawn(thread, state.iterator, index, item)

    def spawn(self, parent: Thread, scope: int, index: int, data: Any) -> None:
        child = Thread(id=self.next_thread, scope=scope, parent=parent.id, index=index)
        self.next_thread += 1
        self.threads[child.id] = child
        self.copied.add(child.id)
        parent.children.add(child.id)
        self.enqueue(child.id, self.machine.scopes[scope].start_at, data)

    def thread_succeeded(self, thread: Thread, output: Any) -> None:
        if thread.parent is None:
            self.end_execution("SUCCEEDED", "ExecutionSucceeded", output, None, None)
            return
        parent = self.thread(thread.parent)
        state = self.scope_state(parent)
        self.remove_thread(thread)
        parent.results[thread.index] = output
        parent.done += 1
        if isinstance(state, MapState):
            self.record("MapIterationSucceeded", {"index": thread.index, "name": state.name})
            self.after_item(parent, state)
        elif parent.done == len(parent.results):
            self.work.append(lambda: self.fan_out_done(parent.id))

    def after_item(self, parent: Thread, state: MapState) -> None:
        if parent.next_item < len(parent.items):
            self.start_item(parent, state)
        elif parent.done + parent.failed == len(parent.items):
            self.work.append(lambda: self.fan_out_done(parent.id))

    def fan_out_done(self, thread_id: int) -> None:
        if thread_id not in self.threads or self.finished:
            return
        thread = self.thread(thread_id)
        state = self.scope_state(thread)
        assert isinstance(state, ParallelState | MapState)
        self.record(f"{state.type}StateSucceeded")
        results, thread.results, thread.items = thread.results, [], []
        try:
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
        if isinstance(state, MapState):
            self.record("MapIterationFailed", {"index": thread.index, "name": state.name})
            parent.failed += 1
            tolerated = parent.tolerated_failures
            if tolerated is not None and parent.failed <= tolerated:
                parent.results[thread.index] = {"Error": error, "Cause": cause}
                self.after_item(parent, state)
                return
            if tolerated is not None:
                error, cause = (
                    "States.ExceedToleratedFailureThreshold",
                    "The specified tolerated failure threshold was exceeded",
                )
        self.abort_children(parent, state)
        self.record(f"{state.type}StateFailed")
        failure = StatesError(error or "", cause or "")
        self.state_failed(
            parent, state, failure, cause_is_none=cause is None, error_is_none=error is None
        )

    def abort_children(self, thread: Thread, state: AnyState) -> None:
        for child_id in sorted(thread.children):
            if child_id not in self.threads:
                continue
            child = self.thread(child_id)
            if child.children:
                self.abort_children(child, self.scope_state(child))
            if child.state is not None:
                self.record(f"{self.scope_state(child).type}StateAborted")
            if isinstance(state, MapState):
                self.record("MapIterationAborted", {"index": child.index, "name": state.name})
            self.remove_thread(child)
        thread.children = set()

    def remove_thread(self, thread: Thread) -> None:
        if thread.token is not None:
            self.tokens.pop(thread.token, None)
        for timer in list(thread.timers):
            self.cancel_timer(thread, timer)
        self.threads.pop(thread.id, None)
        if thread.parent is not None and thread.parent in self.threads:
            parent = self.thread(thread.parent)
            parent.children.discard(thread.id)

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
        error: str | None = None if error_is_none else failure.error
        cause: str | None = None if cause_is_none else failure.cause
        if failure.error == errors.RUNTIME and not failure.cause.startswith(_RUNTIME_PREFIX):
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
                    error_output = {"Error": error, "Cause": cause if cause is not None else ""}
                    try:
                        output = _apply_result_path(catcher.result_path, thread.input, error_output)
                    except StatesError as inner:
                        self.thread_failed(thread, inner.error, inner.cause)
                        return
                    self.continue_after(thread, state, catcher.next, output)
                    return
        thread.state = None
        self.thread_failed(thread, error, cause)

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
            delay = retrier.interval_seconds * retrier.backoff_rate**used
            if retrier.max_delay_seconds is not None:
                delay = min(delay, float(retrier.max_delay_seconds))
            if retrier.jitter == "FULL":
                delay = self.rng.uniform(0, delay)
            thread.retry_counts[index] = used + 1
            thread.retry_total += 1
            self.start_timer(thread, "retry", delay)
            return True
        return False

    def fail_fields(
        self, thread: Thread, state: FailState, data: Any
    ) -> tuple[str | None, str | None]:
        error, cause = state.error, state.cause
        for field, source in (("ErrorPath", state.error_path), ("CausePath", state.cause_path)):
            if source is None:
                continue
            context = self.context(thread, state)
            if isinstance(source, Path):
                try:
                    value = source.read(context if source.context else data)
                except PathNotFound:
                    raise _StateRuntimeError(
                        f"The JSONPath '{source.text}' specified for the field '{field}' could not"
                        f" be found in the input '{_text(data)}'"
                    ) from None
            else:
                value = source.evaluate(data, context, self.rng, field=field)
            if not isinstance(value, str):
                raise _StateRuntimeError(
                    f"The {field} field must select a string, got {_text(value)}"
                )
            if field == "ErrorPath":
                error = value
            else:
                cause = value
        return error, cause

    # -- ending the execution ------------------------------------------------------------------

    def end_execution(
        self,
        status: Status,
        event_type: str,
        output: Any,
        error: str | None,
        cause: str | None,
    ) -> None:
        if status == "SUCCEEDED":
            try:
                text = _checked_size(_text(output), self.base.execution_name)
            except StatesError as failure:
                status, event_type, error, cause = (
                    "FAILED",
                    "ExecutionFailed",
                    failure.error,
                    failure.cause,
                )
            else:
                self.record(event_type, {"output": text, "outputDetails": _UNTRUNCATED})
        if status != "SUCCEEDED":
            details: dict[str, Any] = {}
            if error is not None:
                details["error"] = error
            if cause is not None:
                details["cause"] = cause
            self.record(event_type, details)
        for timer in list(self.timers):
            self.commands.append(CancelTimer(timer))
        self.timers.clear()
        self.tokens.clear()
        self.threads.clear()
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


def _invoke_payload(payload: Any) -> Any:
    """What the function receives from lambda:invoke's ``Payload``.

    AWS sends a string Payload as the request body itself (JSON text), and no payload for
    null, which Lambda's runtime presents as ``{}``.
    """
    if payload is None:
        return {}
    if isinstance(payload, str):
        try:
            return json.loads(payload)
        except ValueError:
            return payload
    return payload


def _spaced_json(cause: str | None) -> str | None:
    if cause is None or not cause.startswith("{"):
        return cause
    try:
        return json.dumps(json.loads(cause), ensure_ascii=False)
    except ValueError:
        return cause


def _apply_result_path(path: ReferencePath | None, data: Any, result: Any) -> Any:
    """Apply ResultPath: null keeps the input, otherwise the result is placed into it."""
    if path is None:
        return data
    try:
        return path.write(data, result)
    except PathWriteError:
        raise StatesError(
            errors.RESULT_PATH_MATCH_FAILURE,
            f"Unable to apply ResultPath '{path.text}' to input '{_text(data)}'",
        ) from None


def _uuid4(rng: random.Random) -> Any:
    import uuid

    return uuid.UUID(int=rng.getrandbits(128), version=4)
