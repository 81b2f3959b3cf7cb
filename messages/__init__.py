"""The wire contract: every message that crosses a process boundary, as pydantic v2 models.

This package is the single definition of the wire format. Producers build these models and
serialise them with ``to_wire()``; consumers parse bytes with the matching ``from_wire()`` and
treat a ``pydantic.ValidationError`` (or ``ValueError``) as a poison message.
"""

from messages.base import JsonValue, WireModel
from messages.callcenter import CaseMessage, CaseStatus, OpenCaseInput
from messages.control import StopExecutionRequest
from messages.executions import (
    ExecutionResult,
    ExecutionStatus,
    IntakeRequest,
    ParentLink,
    StartRefused,
)
from messages.status_events import StatusChangeEvent
from messages.tasks import (
    AnyCall,
    AnyTaskResult,
    CallbackOutcome,
    IntegrationRequest,
    JobPoll,
    TaskCallbackFailure,
    TaskCallbackHeartbeat,
    TaskCallbackSuccess,
    TaskCallFailed,
    TaskFailed,
    TaskRequest,
    TaskResult,
    TaskStarted,
    TaskSubmitted,
    TaskSucceeded,
    parse_call,
    parse_task_result,
)

__all__ = [
    "AnyCall",
    "AnyTaskResult",
    "CallbackOutcome",
    "CaseMessage",
    "CaseStatus",
    "ExecutionResult",
    "ExecutionStatus",
    "IntakeRequest",
    "IntegrationRequest",
    "JobPoll",
    "JsonValue",
    "OpenCaseInput",
    "ParentLink",
    "StartRefused",
    "StatusChangeEvent",
    "StopExecutionRequest",
    "TaskCallFailed",
    "TaskCallbackFailure",
    "TaskCallbackHeartbeat",
    "TaskCallbackSuccess",
    "TaskFailed",
    "TaskRequest",
    "TaskResult",
    "TaskStarted",
    "TaskSubmitted",
    "TaskSucceeded",
    "WireModel",
    "parse_call",
    "parse_task_result",
]
