"""Answers to a message's ``reply_to`` when it started or completed nothing.

A client waiting for a start's result, or for a callback's outcome, is told at once why
nothing happened (AWS's error name and a cause), instead of waiting until its timeout. The
message itself is dead-lettered or dropped as before; the answer only tells the asker.
"""

from __future__ import annotations

import json
from typing import Any

import messages
from broker import INTAKE_QUEUE, TASK_RESULTS_QUEUE
from orchestrator.engine import StartRejected

_CALLBACKS = (
    messages.TaskCallbackSuccess,
    messages.TaskCallbackFailure,
    messages.TaskCallbackHeartbeat,
)


def is_callback(parsed: Any) -> bool:
    """Whether a parsed task-results message is a SendTask* callback (not a worker's result)."""
    return isinstance(parsed, _CALLBACKS)


def start_refused(request: messages.IntakeRequest, refusal: StartRejected) -> bytes:
    """The answer to a start the engine refused."""
    return messages.StartRefused(
        error=refusal.error,
        cause=refusal.cause,
        state_machine=request.state_machine,
        name=request.execution_name,
        execution_arn=refusal.execution_arn,
    ).to_wire()


def callback_refused(callback: Any) -> bytes:
    """The answer to a callback whose task is not waiting for one (AWS: TaskDoesNotExist)."""
    return messages.CallbackOutcome(
        status="REFUSED",
        task_token=callback.task_token,
        error="TaskDoesNotExist",
        cause="Task Does Not Exist",
    ).to_wire()


def unusable(queue: str, body: bytes, reason: str) -> bytes | None:
    """The answer to a message that could not be parsed, by the queue it came to."""
    if queue == INTAKE_QUEUE:
        return messages.StartRefused(error="InvalidExecutionInput", cause=reason).to_wire()
    if queue == TASK_RESULTS_QUEUE:
        return messages.CallbackOutcome(
            status="REFUSED",
            task_token=_token_in(body),
            error="ValidationException",
            cause=reason,
        ).to_wire()
    return None


def _token_in(body: bytes) -> str:
    """The task token an unusable callback names, when it is readable at all."""
    try:
        document = json.loads(body[:65_536])
    except (ValueError, RecursionError):
        return ""
    token = document.get("taskToken") if isinstance(document, dict) else None
    return token if isinstance(token, str) else ""
