"""One execution in-process: the interpreter plus Lambda-like handlers, with no broker.

This is the quick start (``python -m orchestrator run``) and the harness of fast tests. It
drives the same :func:`~orchestrator.asl.interpreter.step` as the RabbitMQ service.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from orchestrator.arns import Account
from orchestrator.asl import interpreter
from orchestrator.asl.definition import StateMachine
from orchestrator.task_messages import task_event, task_request
from workers.runtime import Function, invoke

RESOURCE_NOT_FOUND = "Lambda.ResourceNotFoundException"


@dataclass(frozen=True)
class LocalResult:
    """The finished execution's state and its whole history."""

    state: interpreter.ExecutionState
    history: list[interpreter.HistoryEvent]

    def summary(self) -> dict[str, Any]:
        """``status`` and ``output``, or ``error``/``cause``, as the CLI prints them."""
        result: dict[str, Any] = {
            "executionArn": self.state.execution_arn,
            "status": self.state.status,
        }
        if self.state.status == "SUCCEEDED":
            result["output"] = self.state.output
        else:
            result["error"] = self.state.error
            result["cause"] = self.state.cause
        return result


def run_local(
    machine: StateMachine,
    execution_input: Any,
    functions: Mapping[str, Function],
    *,
    execution_name: str = "local",
    account: Account | None = None,
    role_arn: str | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> LocalResult:
    """Run ``machine`` on ``execution_input`` to its end, calling ``functions`` by name."""
    account = account or Account()
    start = interpreter.StartExecution(
        execution_arn=account.execution_arn(machine.name, execution_name),
        execution_name=execution_name,
        state_machine_arn=account.state_machine_arn(machine.name),
        input=execution_input,
        time=clock(),
        token_prefix=secrets.token_hex(16),
        role_arn=role_arn if role_arn is not None else account.role_arn(machine.name),
    )
    step = interpreter.step(machine, None, start)
    history = list(step.history)
    pending = list(step.commands)
    state = step.state
    while pending:
        command = pending.pop(0)
        if isinstance(command, interpreter.CompleteExecution):
            continue
        function = functions.get(command.function_name)
        event: interpreter.Event
        if function is None:
            event = interpreter.TaskFailed(
                command.token,
                command.attempt,
                RESOURCE_NOT_FOUND,
                f"Function not found: {command.resource}",
                clock(),
            )
        else:
            event = task_event(invoke(function, task_request(command, state)), clock())
        step = interpreter.step(machine, state, event)
        state = step.state
        history.extend(step.history)
        pending.extend(step.commands)
    return LocalResult(state, history)
