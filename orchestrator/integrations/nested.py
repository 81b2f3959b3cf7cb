"""Nested executions: ``states:startExecution`` (and ``aws-sdk:sfn:startExecution``) run by
the engine itself, with AWS's request, answers and errors.

- request-response: the task ends with StartExecution's answer (``ExecutionArn``,
  ``StartDate``, and for the optimized integration the HTTP metadata);
- ``.sync`` / ``.sync:2``: that answer is the task's TaskSubmitted; the child's end completes
  the task with DescribeExecution's shape (``Input``/``Output`` as JSON text for ``.sync``,
  parsed for ``.sync:2``), or fails it with ``States.TaskFailed`` and that shape as cause;
- ``.waitForTaskToken``: the answer is TaskSubmitted; the child (or anyone) sends the token.

The child is linked to its parent's task (:class:`messages.ParentLink`), so its end reaches
the parent durably through the outbox, and stopping the parent stops its ``.sync`` children.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

import messages
from orchestrator.arns import Account, parse_states_arn
from orchestrator.asl.execution import ExecutionState
from orchestrator.integrations.aws.responses import sdk_metadata

# The resources the engine carries as nested executions.
NESTED = {("states", "startExecution"), ("aws-sdk:sfn", "startExecution")}
_SYNC = (".sync", ".sync:2")
# The error a child that ended without one gives the Distributed Map item that waits on it.
_ENDED = {"ABORTED": "States.Aborted", "TIMED_OUT": "States.Timeout"}


class StartFailed(Exception):
    """StartExecution refused the child: AWS's error name and cause for the integration."""

    def __init__(self, error: str, cause: str) -> None:
        super().__init__(error, cause)
        self.error = error
        self.cause = cause


def is_nested(request: messages.IntegrationRequest) -> bool:
    """Whether ``request`` starts a nested execution."""
    return (request.service, request.action) in NESTED


def child_request(request: messages.IntegrationRequest, account: Account) -> messages.IntakeRequest:
    """The start of the child execution ``request`` asks for; raises :class:`StartFailed`."""
    parameters = request.parameters if isinstance(request.parameters, dict) else {}
    arn = parameters.get("StateMachineArn")
    if not isinstance(arn, str):
        raise failure(request, "ValidationException", "StateMachineArn is required", 400)
    parsed = parse_states_arn(arn)
    if (
        parsed is None
        or parsed.resource != "stateMachine"
        or not account.owns(parsed)
        or len(parsed.names) != 1
    ):
        raise failure(
            request, "StateMachineDoesNotExist", f"State Machine Does Not Exist: '{arn}'", 400
        )
    child_input = parameters.get("Input")
    if child_input is None:
        child_input = {}
    elif isinstance(child_input, str):
        try:
            child_input = json.loads(child_input)
        except ValueError:
            raise failure(
                request, "InvalidExecutionInput", "Invalid State Machine Execution Input", 400
            ) from None
    if not isinstance(child_input, dict):
        raise failure(
            request, "InvalidExecutionInput", "Invalid State Machine Execution Input", 400
        )
    name = parameters.get("Name")
    return messages.IntakeRequest(
        state_machine=parsed.names[0],
        execution_name=name if isinstance(name, str) else str(uuid.uuid4()),
        input=child_input,
        parent=messages.ParentLink(
            execution_arn=request.execution_arn,
            task_token=request.task_token,
            attempt=request.attempt,
            pattern=request.pattern,
        ),
    )


def failure(
    request: messages.IntegrationRequest, code: str, message: str, status: int
) -> StartFailed:
    """StartExecution's refusal as the integration names it (SDK v1 for ``states``, v2 for
    ``aws-sdk:sfn``)."""
    request_id = str(uuid.uuid4())
    if request.service == "aws-sdk:sfn":
        name = code if code.endswith("Exception") else code + "Exception"
        return StartFailed(
            f"Sfn.{name}",
            f"{message} (Service: Sfn, Status Code: {status}, Request ID: {request_id})"
            " (SDK Attempt Count: 1)",
        )
    name = code if code.endswith("Exception") else code + "Exception"
    return StartFailed(
        f"StepFunctions.{name}",
        f"{message} (Service: AWSStepFunctions; Status Code: {status}; Error Code: {code};"
        f" Request ID: {request_id}; Proxy: null)",
    )


def start_answer(request: messages.IntegrationRequest, child: ExecutionState) -> Any:
    """StartExecution's answer, as the integration shows it."""
    if request.service == "aws-sdk:sfn":
        return {"ExecutionArn": child.execution_arn, "StartDate": _instant(child.start_time)}
    body = json.dumps(
        {"executionArn": child.execution_arn, "startDate": child.start_time.timestamp()}
    )
    metadata = sdk_metadata(
        {
            "HTTPHeaders": {
                "x-amzn-RequestId": (request_id := str(uuid.uuid4())),
                "connection": "keep-alive",
                "Content-Length": str(len(body)),
                "Date": child.start_time.strftime("%a, %d %b %Y %H:%M:%S GMT"),
                "Content-Type": "application/x-amz-json-1.0",
            },
            "HTTPStatusCode": 200,
            "RequestId": request_id,
        }
    )
    answer = {
        "ExecutionArn": child.execution_arn,
        "StartDate": _millis(child.start_time),
        **metadata,
    }
    return dict(sorted(answer.items()))


def start_results(
    request: messages.IntegrationRequest, child: ExecutionState
) -> list[messages.AnyTaskResult]:
    """The results a started child gives its parent's task now."""
    answer = start_answer(request, child)
    token, attempt = request.task_token, request.attempt
    if request.pattern == "":
        return [messages.TaskSucceeded(task_token=token, attempt=attempt, output=answer)]
    results: list[messages.AnyTaskResult] = [
        messages.TaskSubmitted(task_token=token, attempt=attempt, output=answer)
    ]
    if request.pattern in _SYNC and child.status != "RUNNING":
        results.append(child_result(child))  # a start redelivered after the child ended
    return results


def child_result(child: ExecutionState) -> messages.TaskSucceeded | messages.TaskCallFailed:
    """What a finished child gives the ``.sync``/``.sync:2`` parent task (or the Distributed
    Map item) that waits on it."""
    assert child.parent is not None
    token, attempt = str(child.parent["task_token"]), int(str(child.parent["attempt"]))
    if child.parent.get("pattern") == "map":  # the item's result is the child's own end
        if child.status == "SUCCEEDED":
            return messages.TaskSucceeded(task_token=token, attempt=attempt, output=child.output)
        return messages.TaskCallFailed(
            task_token=token,
            attempt=attempt,
            error=child.error or _ENDED.get(child.status, "States.Runtime"),
            cause=child.cause,
        )
    parsed = child.parent.get("pattern") == ".sync:2"
    described: dict[str, Any] = {
        "ExecutionArn": child.execution_arn,
        "Input": child.input if parsed else _text(child.input),
        "InputDetails": {"Included": True},
        "Name": child.execution_name,
        "StartDate": _millis(child.start_time),
        "StateMachineArn": child.state_machine_arn,
        "Status": child.status,
        "StopDate": _millis(child.stop_time or child.start_time),
    }
    if child.status == "SUCCEEDED":
        described["Output"] = child.output if parsed else _text(child.output)
        described["OutputDetails"] = {"Included": True}
        return messages.TaskSucceeded(
            task_token=token, attempt=attempt, output=dict(sorted(described.items()))
        )
    if child.error is not None:
        described["Error"] = child.error
    if child.cause is not None:
        described["Cause"] = child.cause
    return messages.TaskCallFailed(
        task_token=token,
        attempt=attempt,
        error="States.TaskFailed",
        cause=json.dumps(dict(sorted(described.items())), separators=(",", ":")),
    )


def waits_on_child(child: ExecutionState) -> bool:
    """Whether a parent task waits for ``child``'s end (``.sync``, ``.sync:2``, or a
    Distributed Map's item)."""
    return child.parent is not None and child.parent.get("pattern") in (*_SYNC, "map")


def _text(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _instant(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
