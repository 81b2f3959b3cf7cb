"""Between the interpreter's task commands and events and the wire's task messages."""

from __future__ import annotations

from datetime import datetime

import messages
from orchestrator.asl import interpreter
from orchestrator.asl.lambda_errors import lambda_failure


def task_request(
    command: interpreter.DispatchTask, state: interpreter.ExecutionState
) -> messages.TaskRequest:
    """The wire request for a dispatch command of execution ``state``."""
    return messages.TaskRequest(
        execution_arn=state.execution_arn,
        execution_name=state.execution_name,
        state_machine_name=state.state_machine_name,
        state_name=command.state_name,
        function_name=command.function_name,
        task_token=command.token,
        attempt=command.attempt,
        payload=command.payload,
    )


def task_event(
    result: messages.AnyTaskResult, time: datetime
) -> interpreter.TaskSucceeded | interpreter.TaskFailed | interpreter.TaskHeartbeat:
    """The interpreter event for a function's result (Lambda's error mapping applied) or a
    task-token callback."""
    if isinstance(result, messages.TaskCallbackSuccess):
        return interpreter.TaskSucceeded(result.task_token, 0, result.output, time, callback=True)
    if isinstance(result, messages.TaskCallbackFailure):
        return interpreter.TaskFailed(
            result.task_token, 0, result.error or "", result.cause, time, callback=True
        )
    if isinstance(result, messages.TaskCallbackHeartbeat):
        return interpreter.TaskHeartbeat(result.task_token, time)
    if isinstance(result, messages.TaskSucceeded):
        return interpreter.TaskSucceeded(
            result.task_token, result.attempt, result.output, time, request_id=result.request_id
        )
    error, cause = lambda_failure(
        result.error_type, result.error_message, result.stack_trace, result.request_id
    )
    return interpreter.TaskFailed(result.task_token, result.attempt, error, cause, time)
