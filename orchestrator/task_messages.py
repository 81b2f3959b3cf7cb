"""Between the interpreter's task commands and events and the wire's task messages."""

from __future__ import annotations

from datetime import datetime

import messages
from orchestrator.asl import interpreter
from orchestrator.asl.lambda_errors import lambda_failure


def task_request(
    command: interpreter.DispatchTask, state: interpreter.ExecutionState
) -> messages.TaskRequest:
    """The wire request for a function's dispatch command of execution ``state``."""
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


def integration_request(
    command: interpreter.DispatchTask, state: interpreter.ExecutionState
) -> messages.IntegrationRequest:
    """The wire request for a service integration's dispatch command of execution ``state``."""
    return messages.IntegrationRequest(
        execution_arn=state.execution_arn,
        execution_name=state.execution_name,
        state_machine_name=state.state_machine_name,
        state_name=command.state_name,
        integration=command.integration,  # type: ignore[arg-type]
        resource=command.resource,
        service=command.service,
        action=command.action,
        pattern=command.pattern,  # type: ignore[arg-type]
        region=command.region,
        task_token=command.token,
        attempt=command.attempt,
        invocation=command.invocation,
        parameters=command.parameters,
        credentials=command.credentials,
        test_case=state.test_case,
    )


def task_event(result: messages.AnyTaskResult, time: datetime) -> interpreter.PendingEvent:
    """The interpreter event for a task's result (Lambda's error mapping applied to a
    function's failure), a service call's answer, or a task-token callback."""
    if isinstance(result, messages.TaskCallbackSuccess):
        return interpreter.TaskSucceeded(result.task_token, 0, result.output, time, callback=True)
    if isinstance(result, messages.TaskCallbackFailure):
        return interpreter.TaskFailed(
            result.task_token, 0, result.error, result.cause, time, callback=True
        )
    if isinstance(result, messages.TaskCallbackHeartbeat):
        return interpreter.TaskHeartbeat(result.task_token, time)
    if isinstance(result, messages.TaskStarted):
        return interpreter.TaskStarted(result.task_token, time, result.worker_name)
    if isinstance(result, messages.TaskSubmitted):
        return interpreter.TaskSubmitted(result.task_token, result.attempt, result.output, time)
    if isinstance(result, messages.TaskCallFailed):
        return interpreter.TaskFailed(
            result.task_token, result.attempt, result.error, result.cause, time
        )
    if isinstance(result, messages.TaskSucceeded):
        return interpreter.TaskSucceeded(
            result.task_token,
            result.attempt,
            result.output,
            time,
            request_id=result.request_id,
            response=result.response,
        )
    error, cause = lambda_failure(
        result.error_type, result.error_message, result.stack_trace, result.request_id
    )
    return interpreter.TaskFailed(result.task_token, result.attempt, error, cause, time)
