"""One execution in-process: the interpreter plus Lambda-like handlers, with no broker.

This is the quick start (``python -m orchestrator run``) and the harness of fast tests. It
drives the same :func:`~orchestrator.asl.interpreter.step` as the RabbitMQ service. Task
results and timers are events ordered by time; with :class:`FakeClock` a Wait of an hour
or a 60 s handler takes no real time, with :class:`RealClock` they take what they say.

A step does a bounded amount of work and asks to be continued with a timer due at once (a
``continue`` timer): like every timer, it fires when it is due, as an event carrying the
clock's time then, so an execution that never stops (a loop of Pass states) still reaches
its time limit on a clock that moves.
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import secrets
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import messages
from orchestrator.arns import Account
from orchestrator.asl import interpreter, map_run
from orchestrator.asl.definition import StateMachine
from orchestrator.asl.execution import Event
from orchestrator.integrations import result_writer
from orchestrator.task_messages import integration_request, task_event, task_request
from workers.runtime import Function, invoke

RESOURCE_NOT_FOUND = "Lambda.ResourceNotFoundException"
# Carries a task in-process: the results to apply, in order, or None when it is not its to
# carry (a function task then runs the named handler). A ``.waitForTaskToken`` call returns
# its first answer only; its callback comes through send_task_success (or never).
Caller = Callable[[messages.IntegrationRequest], Sequence[messages.AnyTaskResult] | None]


class Clock(Protocol):
    """Where the runner reads the time and how it waits."""

    def now(self) -> datetime: ...
    def sleep(self, seconds: float) -> None: ...


class RealClock:
    """The wall clock; sleeping sleeps."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def sleep(self, seconds: float) -> None:
        time.sleep(max(seconds, 0.0))


@dataclass
class FakeClock:
    """A clock that only moves when slept on: waits and timeouts cost no real time."""

    moment: datetime = field(default_factory=lambda: datetime(2026, 1, 1, tzinfo=UTC))

    def now(self) -> datetime:
        return self.moment

    def sleep(self, seconds: float) -> None:
        self.moment += timedelta(seconds=max(seconds, 0.0))


@dataclass(frozen=True)
class LocalResult:
    """The finished execution's state and its whole history."""

    state: interpreter.ExecutionState
    history: list[interpreter.HistoryEvent]


class _Callbacks:
    """SendTaskSuccess/Failure/Heartbeat for ``.waitForTaskToken`` tasks run in-process."""

    def __init__(self, clock: Clock, push: Callable[[Event], None]) -> None:
        self.clock = clock
        self.push = push

    def success(self, token: str, output: Any) -> None:
        self.push(interpreter.TaskSucceeded(token, 0, output, self.clock.now(), callback=True))

    def failure(self, token: str, error: str, cause: str | None = None) -> None:
        self.push(interpreter.TaskFailed(token, 0, error, cause, self.clock.now(), callback=True))

    def heartbeat(self, token: str) -> None:
        self.push(interpreter.TaskHeartbeat(token, self.clock.now()))


_callbacks: ContextVar[_Callbacks] = ContextVar("local_runner_callbacks")


def send_task_success(token: str, output: Any) -> None:
    """Complete a ``.waitForTaskToken`` task of the in-process execution being run."""
    _callbacks.get().success(token, output)


def send_task_failure(token: str, error: str, cause: str | None = None) -> None:
    """Fail a ``.waitForTaskToken`` task of the in-process execution being run."""
    _callbacks.get().failure(token, error, cause)


def send_task_heartbeat(token: str) -> None:
    """Heartbeat a task of the in-process execution being run."""
    _callbacks.get().heartbeat(token)


def run_local(
    machine: StateMachine,
    execution_input: Any,
    functions: Mapping[str, Function],
    *,
    execution_name: str = "local",
    account: Account | None = None,
    role_arn: str | None = None,
    clock: Clock | None = None,
    caller: Caller | None = None,
    test_case: str | None = None,
    time_scale: float = 1.0,
    context: dict[str, Any] | None = None,
) -> LocalResult:
    """Run ``machine`` on ``execution_input`` to its end, calling ``functions`` by name.

    ``caller`` carries service integrations and activities (and any task it claims, such as
    a mocked one); ``test_case`` is the mock test case the execution runs (``arn#TestCase``);
    ``time_scale`` multiplies every wait, backoff and timeout (WAIT_TIME_SCALE); ``context``
    is the context object ``$$`` (TestState).
    """
    account = account or Account()
    clock = clock or RealClock()
    order = itertools.count()
    pending: list[tuple[datetime, int, Event]] = []
    cancelled: set[str] = set()

    def push(event: Event) -> None:
        heapq.heappush(pending, (event.time, next(order), event))

    start = interpreter.StartExecution(
        execution_arn=account.execution_arn(machine.name, execution_name),
        execution_name=execution_name,
        state_machine_arn=account.state_machine_arn(machine.name),
        input=execution_input,
        time=clock.now(),
        token_prefix=secrets.token_hex(16),
        role_arn=role_arn if role_arn is not None else account.role_arn(machine.name),
        test_case=test_case,
        time_scale=time_scale,
        context=context,
    )
    step = interpreter.step(machine, None, start)
    history = list(step.history)
    state = step.state
    with _callbacks_for(_Callbacks(clock, push)):
        while True:
            for command in step.commands:
                if (
                    isinstance(command, interpreter.DispatchTask)
                    and command.integration == map_run.INTEGRATION
                ):
                    push(_run_child(machine, command, state, functions, account, clock, caller))
                    continue
                _carry_out(command, state, functions, clock, push, cancelled, caller)
            if state.status != "RUNNING" or not pending:
                break
            due, _, event = heapq.heappop(pending)
            if isinstance(event, interpreter.TimerFired) and event.timer in cancelled:
                continue
            if due > clock.now():
                clock.sleep((due - clock.now()).total_seconds())
            if isinstance(event, interpreter.TimerFired):  # fired now, as the service does
                event = interpreter.TimerFired(event.timer, max(due, clock.now()))
            step = interpreter.step(machine, state, event)
            state = step.state
            history.extend(step.history)
    return LocalResult(state, history)


def _run_child(
    machine: StateMachine,
    command: interpreter.DispatchTask,
    state: interpreter.ExecutionState,
    functions: Mapping[str, Function],
    account: Account,
    clock: Clock,
    caller: Caller | None,
) -> Event:
    """Run a Distributed Map's child execution to its end, here and now: its end is the
    result of the parent's thread that waits on it."""
    parameters = command.parameters
    assert isinstance(parameters, dict)
    if command.action == "writeResults":  # in-process, the results are not written anywhere
        return interpreter.TaskSucceeded(
            command.token, 0, result_writer.details(parameters), clock.now()
        )
    if command.action == "readObject":
        # In-process, the object is read as the caller reads getObject (a mock, a replay).
        read = dataclasses.replace(
            command, integration="service", service="aws-sdk:s3", action="getObject"
        )
        answers = (caller(integration_request(read, state)) or []) if caller else []
        if answers:
            return task_event(answers[0], clock.now())
        return interpreter.TaskFailed(
            command.token,
            0,
            "States.ItemReaderFailed",
            "No S3 is reached in-process: give the runner a caller for aws-sdk:s3 getObject",
            clock.now(),
        )
    if command.action == "readManifest":
        return interpreter.TaskFailed(
            command.token,
            0,
            "States.ItemReaderFailed",
            "An S3 Inventory (InputType MANIFEST) is read by the service, not in-process",
            clock.now(),
        )
    child = run_local(
        map_run.child_machine(machine, parameters),
        parameters.get("Input"),
        functions,
        execution_name=str(parameters["Name"]),
        account=account,
        clock=clock,
        caller=caller,
    )
    if child.state.status == "SUCCEEDED":
        return interpreter.TaskSucceeded(command.token, 0, child.state.output, clock.now())
    return interpreter.TaskFailed(
        command.token, 0, child.state.error, child.state.cause, clock.now()
    )


def function_not_found(execution_arn: str, function_name: str) -> str:
    """Lambda's cause text for invoking a function that does not exist."""
    parts = execution_arn.split(":")
    partition, region, account = parts[1], parts[3], parts[4]
    arn = f"arn:{partition}:lambda:{region}:{account}:function:{function_name}:$LATEST"
    return (
        f"Function not found: {arn} (Service: AWSLambda; Status Code: 404; Error Code:"
        f" ResourceNotFoundException; Request ID: {uuid.uuid4()}; Proxy: null)"
    )


@contextmanager
def _callbacks_for(callbacks: _Callbacks) -> Iterator[None]:
    token = _callbacks.set(callbacks)
    try:
        yield
    finally:
        _callbacks.reset(token)


def _carry_out(
    command: interpreter.Command,
    state: interpreter.ExecutionState,
    functions: Mapping[str, Function],
    clock: Clock,
    push: Callable[[Event], None],
    cancelled: set[str],
    caller: Caller | None,
) -> None:
    if isinstance(command, interpreter.StartTimer):
        push(interpreter.TimerFired(command.timer, command.due))
    elif isinstance(command, interpreter.CancelTimer):
        cancelled.add(command.timer)
    elif isinstance(command, interpreter.DispatchTask):
        if caller is not None:
            results = caller(integration_request(command, state))
            if results is not None:
                for result in results:
                    push(task_event(result, clock.now()))
                return
        if command.integration not in ("function", "invoke"):
            push(
                interpreter.TaskFailed(
                    command.token,
                    command.attempt,
                    "States.Runtime",
                    f"{command.resource} does not run in-process (activities and nested"
                    " executions need the service); mock the state in a test case, or run"
                    " the execution on the service",
                    clock.now(),
                )
            )
            return
        function = functions.get(command.function_name)
        if function is None:
            cause = function_not_found(state.execution_arn, command.function_name)
            push(
                interpreter.TaskFailed(
                    command.token, command.attempt, RESOURCE_NOT_FOUND, cause, clock.now()
                )
            )
            return
        result = invoke(function, task_request(command, state))
        push(task_event(result, clock.now()))
