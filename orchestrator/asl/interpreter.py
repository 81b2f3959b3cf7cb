"""The ASL interpreter: one pure function from (definition, execution state, event) to a step.

``step`` reads no clock, does no I/O and draws no random number: the event carries the time,
the start carries the prefix of task tokens. It returns the new execution state, the history
events that happened, and the commands for the shell to carry out (dispatch a task, finish the
execution). The RabbitMQ service, the in-process runner and the tests all drive this one
function; see DESIGN.md, "The core idea".
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, JsonValue

from orchestrator.asl import errors
from orchestrator.asl.definition import (
    AnyState,
    ChoiceState,
    FailState,
    PassState,
    StateMachine,
    SucceedState,
    TaskState,
)
from orchestrator.asl.errors import StatesError
from orchestrator.asl.paths import Path, PathNotFound, PathWriteError, ReferencePath

# AWS fails an execution whose history would pass this many events.
MAX_HISTORY_EVENTS = 25_000
# AWS's limit on any input, output or result: 256 KiB of UTF-8 JSON text.
MAX_PAYLOAD_BYTES = 262_144

Status = Literal["RUNNING", "SUCCEEDED", "FAILED"]


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
    status: Status = "RUNNING"
    # The Task state waiting for its result, with its raw input (needed for ResultPath).
    current: str | None = None
    state_input: JsonValue = None
    entered_time: datetime | None = None
    task_token: str | None = None
    attempt: int = 0
    token_prefix: str
    token_seq: int = 0
    last_event_id: int = 0
    output: JsonValue = None
    error: str | None = None
    cause: str | None = None
    stop_time: datetime | None = None


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


@dataclass(frozen=True)
class TaskSucceeded:
    """The task with ``token`` (at ``attempt``) returned ``output``."""

    token: str
    attempt: int
    output: Any
    time: datetime


@dataclass(frozen=True)
class TaskFailed:
    """The task with ``token`` (at ``attempt``) failed with an ASL error and cause."""

    token: str
    attempt: int
    error: str
    cause: str
    time: datetime


Event = StartExecution | TaskSucceeded | TaskFailed

# -- commands and history out ------------------------------------------------------------------


@dataclass(frozen=True)
class DispatchTask:
    """Invoke ``function_name`` with ``payload``; its result comes back as a Task* event."""

    token: str
    attempt: int
    function_name: str
    resource: str
    state_name: str
    payload: Any


@dataclass(frozen=True)
class CompleteExecution:
    """The execution has finished; publish its result."""

    status: Status
    output: Any
    error: str | None
    cause: str | None
    time: datetime


Command = DispatchTask | CompleteExecution


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
            event[_details_key(self.type)] = self.details
        return event


def _details_key(event_type: str) -> str:
    for suffix, key in (("StateEntered", "stateEntered"), ("StateExited", "stateExited")):
        if event_type.endswith(suffix):
            return key + "EventDetails"
    return event_type[0].lower() + event_type[1:] + "EventDetails"


@dataclass(frozen=True)
class Step:
    """What one event did: the new state, its history events and the commands to carry out.

    ``ignored`` is true when the event did not apply (a duplicate or stale task result);
    the state is then unchanged and there is nothing to do.
    """

    state: ExecutionState
    history: list[HistoryEvent] = field(default_factory=list)
    commands: list[Command] = field(default_factory=list)
    ignored: bool = False


# -- the step function -------------------------------------------------------------------------


def step(machine: StateMachine, state: ExecutionState | None, event: Event) -> Step:
    """Apply ``event`` to an execution of ``machine``; ``state`` is None only for a start."""
    if isinstance(event, StartExecution):
        if state is not None:
            raise ValueError("StartExecution applies only to a new execution")
        return _start(machine, event)
    if state is None:
        raise ValueError("a task event needs the execution's state")
    if (
        state.status != "RUNNING"
        or state.task_token != event.token
        or state.attempt != event.attempt
    ):
        return Step(state, ignored=True)
    run = _Run(machine, state, event.time)
    task = machine.states[state.current or ""]
    assert isinstance(task, TaskState)
    if isinstance(event, TaskSucceeded):
        run.record("LambdaFunctionStarted")
        run.record("LambdaFunctionSucceeded", {"output": _text(event.output), **_NOT_TRUNCATED_OUT})
        run.task_succeeded(task, state.state_input, event.output)
    else:
        run.record("LambdaFunctionStarted")
        run.record("LambdaFunctionFailed", _error_details(event.error, event.cause))
        run.handle_error(task, state.state_input, StatesError(event.error, event.cause))
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
    )
    run = _Run(machine, initial, event.time)
    run.record(
        "ExecutionStarted",
        {
            "input": _text(event.input),
            "inputDetails": {"truncated": False},
            "roleArn": event.role_arn,
        },
    )
    run.advance(machine.start_at, event.input)
    return run.finish()


_NOT_TRUNCATED_OUT = {"outputDetails": {"truncated": False}}


def _text(value: Any) -> str:
    """JSON text the way Step Functions writes it in history and results: compact."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _error_details(error: str | None, cause: str | None) -> dict[str, Any]:
    details: dict[str, Any] = {}
    if error is not None:
        details["error"] = error
    if cause is not None:
        details["cause"] = cause
    return details


def iso_time(moment: datetime) -> str:
    """A timestamp as the context object shows it: UTC, milliseconds, ``Z``."""
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    )


class _Run:
    """The mutable working copy of one step; ``finish`` freezes it into a :class:`Step`."""

    def __init__(self, machine: StateMachine, state: ExecutionState, now: datetime) -> None:
        self.machine = machine
        self.base = state
        self.now = now
        self.updates: dict[str, Any] = {}
        self.last_event_id = state.last_event_id
        self.token_seq = state.token_seq
        self.history: list[HistoryEvent] = []
        self.commands: list[Command] = []

    # -- recording -----------------------------------------------------------------------------

    def record(self, event_type: str, details: dict[str, Any] | None = None) -> None:
        self.last_event_id += 1
        self.history.append(
            HistoryEvent(self.last_event_id, self.last_event_id - 1, self.now, event_type, details)
        )

    def finish(self) -> Step:
        self.updates["last_event_id"] = self.last_event_id
        self.updates["token_seq"] = self.token_seq
        return Step(self.base.model_copy(update=self.updates), self.history, self.commands)

    def context(self, state_name: str) -> dict[str, Any]:
        """The context object (``$$``) as AWS fills it for a state."""
        base = self.base
        return {
            "Execution": {
                "Id": base.execution_arn,
                "Input": base.input,
                "Name": base.execution_name,
                "RoleArn": base.role_arn,
                "StartTime": iso_time(base.start_time),
                "RedriveCount": 0,
            },
            "State": self._state_context(state_name),
            "StateMachine": {"Id": base.state_machine_arn, "Name": base.state_machine_name},
        }

    def _state_context(self, state_name: str) -> dict[str, Any]:
        entered = self.base.entered_time if self.base.current == state_name else None
        fields: dict[str, Any] = {"EnteredTime": iso_time(entered or self.now), "Name": state_name}
        if isinstance(self.machine.states[state_name], TaskState):
            fields["RetryCount"] = 0  # AWS shows RetryCount only where a Retry may apply
        return fields

    # -- moving through states -----------------------------------------------------------------

    def advance(self, name: str | None, data: Any) -> None:
        """Enter states from ``name`` until a Task waits or the execution ends."""
        while name is not None:
            if self.last_event_id >= MAX_HISTORY_EVENTS - 3:
                self.fail_execution(
                    errors.RUNTIME,
                    f"The execution reached the limit of {MAX_HISTORY_EVENTS} history events.",
                )
                return
            state = self.machine.states[name]
            self.record(
                state.type + "StateEntered",
                {"name": name, "input": _text(data), "inputDetails": {"truncated": False}},
            )
            try:
                name, data = self.run_state(state, data)
            except StatesError as failure:
                if isinstance(state, TaskState):
                    self.handle_error(state, data, failure)
                else:
                    self.fail_execution(failure.error, failure.cause)
                return

    def run_state(self, state: AnyState, data: Any) -> tuple[str | None, Any]:
        """Run one state on its raw input; (next state or None, its output) unless it waits."""
        if isinstance(state, TaskState):
            self.dispatch(state, data)
            return None, None
        if isinstance(state, FailState):
            error, cause = _fail_fields(state, data, self.context(state.name))
            self.fail_execution(error, cause)
            return None, None
        effective = _read(state.input_path, data, "InputPath", self.context(state.name))
        following: str | None
        if isinstance(state, PassState):
            if state.parameters is not None:
                effective = state.parameters.render(effective, self.context(state.name))
            result = state.result if state.has_result else effective
            output = _apply_result_path(state.result_path, data, result)
            following = state.next
        elif isinstance(state, ChoiceState):
            output = effective
            following = self.choose(state, effective)
        else:
            assert isinstance(state, SucceedState)
            output, following = effective, None
        output = _read(state.output_path, output, "OutputPath", self.context(state.name))
        return self.exit_state(state, following, output)

    def exit_state(
        self, state: AnyState, following: str | None, output: Any
    ) -> tuple[str | None, Any]:
        text = _checked_size(_text(output), state.name)
        self.record(
            state.type + "StateExited",
            {"name": state.name, "output": text, **_NOT_TRUNCATED_OUT},
        )
        if following is None:
            self.succeed_execution(output)
        return following, output

    def choose(self, state: ChoiceState, data: Any) -> str:
        context = self.context(state.name)
        for branch in state.branches:
            if branch.rule.evaluate(data, context):
                return branch.next
        if state.default is not None:
            return state.default
        raise StatesError(errors.NO_CHOICE_MATCHED, "No Matches!")

    def dispatch(self, state: TaskState, data: Any) -> None:
        effective = _read(state.input_path, data, "InputPath", self.context(state.name))
        if state.parameters is not None:
            effective = state.parameters.render(effective, self.context(state.name))
        self.token_seq += 1
        token = f"{self.base.token_prefix}.{self.token_seq}"
        self.record(
            "LambdaFunctionScheduled",
            {
                "resource": state.resource,
                "input": _text(effective),
                "inputDetails": {"truncated": False},
            },
        )
        self.commands.append(
            DispatchTask(token, 0, state.function_name, state.resource, state.name, effective)
        )
        self.updates.update(
            current=state.name,
            state_input=data,
            entered_time=self.now,
            task_token=token,
            attempt=0,
        )

    def task_succeeded(self, state: TaskState, data: Any, result: Any) -> None:
        self.updates.update(current=None, state_input=None, task_token=None)
        try:
            _checked_size(_text(result), state.resource)
            if state.result_selector is not None:
                result = state.result_selector.render(result, self.context(state.name))
            output = _apply_result_path(state.result_path, data, result)
            output = _read(state.output_path, output, "OutputPath", self.context(state.name))
        except StatesError as failure:
            self.handle_error(state, data, failure)
            return
        following, output = self.exit_state(state, state.next, output)
        self.advance(following, output)

    def handle_error(self, state: TaskState, data: Any, failure: StatesError) -> None:
        """Send a Task's failure to its first matching catcher, else fail the execution.

        States.Runtime is never caught, not even when a catcher names it (as in AWS).
        """
        self.updates.update(current=None, state_input=None, task_token=None)
        for catcher in state.catchers if failure.error != errors.RUNTIME else ():
            if errors.error_matches(failure.error, catcher.error_equals):
                error_output = {"Error": failure.error, "Cause": failure.cause}
                try:
                    output = _apply_result_path(catcher.result_path, data, error_output)
                except StatesError as inner:
                    self.fail_execution(inner.error, inner.cause)
                    return
                self.exit_state(state, catcher.next, output)
                self.advance(catcher.next, output)
                return
        self.fail_execution(failure.error, failure.cause)

    # -- ending --------------------------------------------------------------------------------

    def succeed_execution(self, output: Any) -> None:
        self.record("ExecutionSucceeded", {"output": _text(output), **_NOT_TRUNCATED_OUT})
        self.updates.update(status="SUCCEEDED", output=output, stop_time=self.now, current=None)
        self.commands.append(CompleteExecution("SUCCEEDED", output, None, None, self.now))

    def fail_execution(self, error: str | None, cause: str | None) -> None:
        self.record("ExecutionFailed", _error_details(error, cause))
        self.updates.update(
            status="FAILED",
            error=error,
            cause=cause,
            stop_time=self.now,
            current=None,
            task_token=None,
        )
        self.commands.append(CompleteExecution("FAILED", None, error, cause, self.now))


def _checked_size(text: str, owner: str) -> str:
    """``text`` if within AWS's payload limit, else States.DataLimitExceeded for ``owner``."""
    if len(text) * 4 > MAX_PAYLOAD_BYTES and len(text.encode()) > MAX_PAYLOAD_BYTES:
        raise StatesError(
            errors.DATA_LIMIT_EXCEEDED,
            f"The state/task '{owner}' returned a result with a size exceeding the maximum"
            " number of bytes service limit.",
        )
    return text


def _read(path: Path | None, data: Any, field_name: str, context: Any) -> Any:
    """Apply InputPath/OutputPath: null gives {}, a missing value is States.Runtime."""
    if path is None:
        return {}
    try:
        return path.read(context if path.context else data)
    except PathNotFound:
        raise StatesError(
            errors.RUNTIME,
            f"Invalid path '{path.text}' : No results for path: {path.text}"
            f" (the {field_name} did not match the data)",
        ) from None


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


def _fail_fields(state: FailState, data: Any, context: Any) -> tuple[str | None, str | None]:
    error, cause = state.error, state.cause
    for attribute, path in (("error", state.error_path), ("cause", state.cause_path)):
        if path is None:
            continue
        try:
            value = path.read(context if path.context else data)
        except PathNotFound:
            raise StatesError(
                errors.RUNTIME, f"Invalid path '{path.text}' in Fail state {state.name!r}"
            ) from None
        if not isinstance(value, str):
            raise StatesError(
                errors.RUNTIME,
                f"The {attribute} path '{path.text}' of Fail state {state.name!r} must select a string",
            )
        if attribute == "error":
            error = value
        else:
            cause = value
    return error, cause
