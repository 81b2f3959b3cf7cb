"""Execution messages: a case request arriving on ``intake`` and the finished execution's result.

The intake body is the execution input itself (a JSON object, e.g. ``{"inputCaseID": "001"}``);
the state machine and execution name travel in AMQP headers, as DESIGN.md fixes.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import Field

from messages import limits
from messages.base import JsonValue, WireModel

DEFAULT_STATE_MACHINE = "CallCenterStateMachine"
STATE_MACHINE_HEADER = "state-machine"
EXECUTION_NAME_HEADER = "execution-name"
# Step Functions refuses a larger execution input (InvalidExecutionInput).
MAX_INPUT_BYTES = limits.MAX_PAYLOAD_BYTES


class ExecutionStatus(StrEnum):
    """Execution statuses as AWS names them."""

    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    TIMED_OUT = "TIMED_OUT"
    ABORTED = "ABORTED"


class ParentLink(WireModel):
    """The Task of a parent execution that started this one (``states:startExecution``, or
    a Distributed Map's item): a ``.sync``/``.sync:2``/``map`` parent gets the child's end as
    its task's result."""

    execution_arn: str
    task_token: str
    attempt: int = Field(ge=0)
    # ``map``: a Distributed Map's child execution (its end is the item's result).
    pattern: Literal["", ".sync", ".sync:2", ".waitForTaskToken", "map"] = ""
    # A Distributed Map's child: its Map Run, and the scope of the definition it runs.
    map_run: str | None = None
    scope: int | None = Field(default=None, ge=0)
    execution_type: Literal["STANDARD", "EXPRESS"] | None = None


class IntakeRequest(WireModel):
    """A request to start one execution, assembled from an intake message's body and headers."""

    state_machine: str = Field(min_length=1, max_length=80)
    execution_name: str | None = Field(default=None, min_length=1, max_length=80)
    input: dict[str, JsonValue]
    reply_to: str | None = None
    correlation_id: str | None = None
    # A mock configuration's test case to run (StartExecution on "<arn>#<TestCase>").
    test_case: str | None = Field(default=None, min_length=1, max_length=80)
    parent: ParentLink | None = None

    @classmethod
    def from_amqp(
        cls,
        body: bytes,
        headers: Mapping[str, Any] | None,
        *,
        message_id: str | None = None,
        reply_to: str | None = None,
        correlation_id: str | None = None,
    ) -> IntakeRequest:
        """Build a request from the raw parts of an intake message.

        Raises ``ValueError`` (``pydantic.ValidationError`` is one) saying what is wrong: a body
        that is not JSON or not an object, or a header of the wrong type.
        """
        if len(body) > MAX_INPUT_BYTES:
            raise ValueError(
                f"InvalidExecutionInput: the input is {len(body)} bytes, over the"
                f" {MAX_INPUT_BYTES}-byte limit"
            )
        try:
            document = limits.loads(body)
        except limits.JsonTooDeep as exc:
            raise ValueError(f"InvalidExecutionInput: {exc}") from None
        except (UnicodeDecodeError, ValueError) as exc:
            raise ValueError(f"intake body is not JSON: {exc}") from exc
        if not isinstance(document, dict):
            raise ValueError(
                f"intake body must be a JSON object (the execution input), got {type(document).__name__}"
            )
        headers = headers or {}
        state_machine = _header_text(headers, STATE_MACHINE_HEADER) or DEFAULT_STATE_MACHINE
        execution_name = _header_text(headers, EXECUTION_NAME_HEADER) or message_id
        return cls(
            state_machine=state_machine,
            execution_name=execution_name,
            input=document,
            reply_to=reply_to,
            correlation_id=correlation_id,
        )


def _header_text(headers: Mapping[str, Any], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode()
    if not isinstance(value, str):
        raise ValueError(f"header {name!r} must be a string, got {type(value).__name__}")
    return value


class ExecutionResult(WireModel):
    """One finished execution, published to the ``executions`` exchange and to ``reply_to``."""

    execution_arn: str
    state_machine_arn: str
    name: str
    status: ExecutionStatus
    output: JsonValue = None
    error: str | None = None
    cause: str | None = None
    start_date: datetime
    stop_date: datetime

    def to_wire(self) -> bytes:
        """Serialise as DESIGN.md fixes: ``output`` only on success, ``error``/``cause`` if set."""
        exclude: set[str] = set()
        if self.status is not ExecutionStatus.SUCCEEDED:
            exclude.add("output")
        if self.error is None:
            exclude.add("error")
        if self.cause is None:
            exclude.add("cause")
        return self.model_dump_json(exclude=exclude).encode()


class StartRefused(WireModel):
    """The answer to an intake message that started nothing, sent to its ``reply_to``.

    ``error`` is the error StartExecution gives in AWS for the same request
    (``StateMachineDoesNotExist``, ``ExecutionAlreadyExists``, ``InvalidName``,
    ``InvalidExecutionInput``); ``cause`` says what was wrong. The message itself is also
    dead-lettered with the same reason, so nothing is lost.
    """

    version: Literal[1] = 1
    status: Literal["REFUSED"] = "REFUSED"
    error: str
    cause: str
    state_machine: str | None = None
    name: str | None = None
    execution_arn: str | None = None

    def to_wire(self) -> bytes:
        """Serialise, leaving out the fields that are not set."""
        return self.model_dump_json(exclude_none=True).encode()
