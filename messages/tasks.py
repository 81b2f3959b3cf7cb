"""Task messages: the orchestrator's request to a function, and the function's result.

A result mirrors what AWS Lambda returns to Step Functions: the handler's output on success,
or ``errorType``/``errorMessage``/``stackTrace`` on failure. ``taskToken`` and ``attempt``
make the result idempotent: the orchestrator applies a (token, attempt) pair at most once.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, TypeAdapter

from messages.base import JsonValue, WireModel


class TaskRequest(WireModel):
    """Invoke function ``function_name`` with ``payload`` for one Task state of one execution."""

    version: Literal[1] = 1
    execution_arn: str
    execution_name: str
    state_machine_name: str
    state_name: str
    function_name: str
    task_token: str
    attempt: int = Field(ge=0)
    payload: JsonValue


class TaskSucceeded(WireModel):
    """The function returned ``output``."""

    version: Literal[1] = 1
    status: Literal["SUCCEEDED"] = "SUCCEEDED"
    task_token: str
    attempt: int = Field(ge=0)
    output: JsonValue
    request_id: str | None = None


class TaskFailed(WireModel):
    """The function raised; the fields are Lambda's error payload."""

    version: Literal[1] = 1
    status: Literal["FAILED"] = "FAILED"
    task_token: str
    attempt: int = Field(ge=0)
    error_type: str
    error_message: str = ""
    stack_trace: list[str] = Field(default_factory=list)
    request_id: str | None = None


class TaskCallbackSuccess(WireModel):
    """SendTaskSuccess: completes a ``.waitForTaskToken`` task with ``output``."""

    version: Literal[1] = 1
    status: Literal["CALLBACK_SUCCESS"] = "CALLBACK_SUCCESS"
    task_token: str
    output: JsonValue


class TaskCallbackFailure(WireModel):
    """SendTaskFailure: fails a ``.waitForTaskToken`` task with an error and a cause."""

    version: Literal[1] = 1
    status: Literal["CALLBACK_FAILURE"] = "CALLBACK_FAILURE"
    task_token: str
    error: str | None = None
    cause: str | None = None


class TaskCallbackHeartbeat(WireModel):
    """SendTaskHeartbeat: the task is alive; its HeartbeatSeconds start again."""

    version: Literal[1] = 1
    status: Literal["CALLBACK_HEARTBEAT"] = "CALLBACK_HEARTBEAT"
    task_token: str


class CallbackOutcome(WireModel):
    """The answer to a callback (SendTask*) that carried a ``reply_to``: applied or refused.

    ``error`` is what AWS's SendTaskSuccess/Failure/Heartbeat raise for the same call:
    ``TaskDoesNotExist`` (an unknown token, a task that already finished, or one that is not
    waiting for a callback), ``InvalidToken``, ``InvalidOutput``.
    """

    version: Literal[1] = 1
    status: Literal["ACCEPTED", "REFUSED"]
    task_token: str
    error: str | None = None
    cause: str | None = None

    def to_wire(self) -> bytes:
        """Serialise, leaving out the fields that are not set."""
        return self.model_dump_json(exclude_none=True).encode()


AnyTaskResult = (
    TaskSucceeded | TaskFailed | TaskCallbackSuccess | TaskCallbackFailure | TaskCallbackHeartbeat
)
TaskResult = Annotated[AnyTaskResult, Field(discriminator="status")]
_task_result_adapter: TypeAdapter[AnyTaskResult] = TypeAdapter(TaskResult)


def parse_task_result(body: bytes | str) -> AnyTaskResult:
    """Parse a task result or callback; raises ``pydantic.ValidationError`` when invalid."""
    return _task_result_adapter.validate_json(body)
