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


class TaskFailed(WireModel):
    """The function raised; the fields are Lambda's error payload."""

    version: Literal[1] = 1
    status: Literal["FAILED"] = "FAILED"
    task_token: str
    attempt: int = Field(ge=0)
    error_type: str
    error_message: str = ""
    stack_trace: list[str] = Field(default_factory=list)


TaskResult = Annotated[TaskSucceeded | TaskFailed, Field(discriminator="status")]
_task_result_adapter: TypeAdapter[TaskSucceeded | TaskFailed] = TypeAdapter(TaskResult)


def parse_task_result(body: bytes | str) -> TaskSucceeded | TaskFailed:
    """Parse a task result from wire bytes; raises ``pydantic.ValidationError`` when invalid."""
    return _task_result_adapter.validate_json(body)
