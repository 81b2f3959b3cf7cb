"""The task results a target answers a call with: its output, its failure, our own fault.

Every target (aws, http, rabbitmq, the calls consumer) answers the same way: a
``.waitForTaskToken`` call's answer is TaskSubmitted (the task then waits for its token),
any other call's is TaskSucceeded; a failure carries the error name and cause the target
found; a fault of ours fails the task with ``States.Runtime``, and the service goes on.
"""

from __future__ import annotations

import logging
from typing import Any

import messages
from orchestrator.asl import errors

log = logging.getLogger(__name__)


def answered(request: messages.IntegrationRequest, output: Any) -> messages.AnyTaskResult:
    """The result of a call that answered ``output``."""
    token, attempt = request.task_token, request.attempt
    if request.pattern == ".waitForTaskToken":
        return messages.TaskSubmitted(task_token=token, attempt=attempt, output=output)
    return messages.TaskSucceeded(task_token=token, attempt=attempt, output=output)


def failed(
    request: messages.IntegrationRequest, error: str, cause: str | None
) -> messages.TaskCallFailed:
    """The result of a call that failed with ``error`` and ``cause``."""
    return messages.TaskCallFailed(
        task_token=request.task_token, attempt=request.attempt, error=error, cause=cause
    )


def internal_failure(
    request: messages.IntegrationRequest, exc: BaseException, *, detail: bool = True
) -> messages.TaskCallFailed:
    """A fault of ours while calling: logged with its traceback; the task fails with
    ``States.Runtime``. ``detail=False`` leaves the exception's message out of the cause (it
    may hold a secret, as an HTTP client's may)."""
    log.error("calling %s failed", request.resource, exc_info=exc)
    text = f"{type(exc).__name__}: {exc}" if detail else type(exc).__name__
    return failed(
        request,
        errors.RUNTIME,
        f"An internal error occurred while calling {request.resource}: {text}",
    )
