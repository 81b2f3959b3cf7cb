"""Execution status-change events, in EventBridge's "Step Functions Execution Status Change"
shape, published on the ``executions`` exchange for every status change.

Routing key ``status-change.<StateMachine>.<STATUS>`` (RUNNING when an execution starts, then
its final status), so an application can bind ``status-change.Orders.*`` and wait on them as
it would with an EventBridge rule on ``aws.states``. The body is the event EventBridge
delivers to a rule's target.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

DETAIL_TYPE = "Step Functions Execution Status Change"
ROUTING_PREFIX = "status-change"


class Details(BaseModel):
    """``inputDetails`` / ``outputDetails``: whether the text is included (always, here)."""

    included: bool = True


class StatusChangeDetail(BaseModel):
    """The event's ``detail``: DescribeExecution's fields, dates in epoch milliseconds."""

    model_config = ConfigDict(frozen=True)

    executionArn: str
    stateMachineArn: str
    name: str
    status: Literal["RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"]
    startDate: int
    stopDate: int | None = None
    input: str
    inputDetails: Details = Field(default_factory=Details)
    output: str | None = None
    outputDetails: Details | None = None
    error: str | None = None
    cause: str | None = None


class StatusChangeEvent(BaseModel):
    """One status change, as EventBridge delivers it."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    version: str = "0"
    id: str = Field(default_factory=lambda: str(uuid.uuid4()))
    detail_type: str = Field(default=DETAIL_TYPE, alias="detail-type")
    source: str = "aws.states"
    account: str
    time: str
    region: str
    resources: list[str]
    detail: StatusChangeDetail

    def to_wire(self) -> bytes:
        """Serialise with EventBridge's field names."""
        return self.model_dump_json(by_alias=True).encode()

    @classmethod
    def from_wire(cls, body: bytes | str) -> StatusChangeEvent:
        """Parse an event (raises ``pydantic.ValidationError`` when it is not one)."""
        return cls.model_validate_json(body)


def routing_key(state_machine: str, status: str) -> str:
    """The ``executions`` exchange's routing key of a status change."""
    return f"{ROUTING_PREFIX}.{state_machine}.{status}"


def event_time(moment: datetime) -> str:
    """EventBridge's ``time``: UTC, to the second."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
