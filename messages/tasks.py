"""Task messages: the orchestrator's request to a function or an integration, and the result.

A result mirrors what AWS Lambda returns to Step Functions: the handler's output on success,
or ``errorType``/``errorMessage``/``stackTrace`` on failure. ``taskToken`` and ``attempt``
make the result idempotent: the orchestrator applies a (token, attempt) pair at most once.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag, TypeAdapter

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
    # True when ``output`` is the integration's whole response (a mocked lambda:invoke):
    # it is not wrapped in the Invoke API's response as a function's own return is.
    response: bool = False


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


class TaskCallFailed(WireModel):
    """A service integration's call failed: the task fails with AWS's error name and cause
    for that service (``SQS.AmazonSQSException``, ``DynamoDb.ResourceNotFoundException``...)."""

    version: Literal[1] = 1
    status: Literal["CALL_FAILED"] = "CALL_FAILED"
    task_token: str
    attempt: int = Field(ge=0)
    error: str
    cause: str | None = None


class TaskSubmitted(WireModel):
    """A ``.sync`` or ``.waitForTaskToken`` call's first answer (the service's response); the
    task goes on waiting for the job's end or for its token."""

    version: Literal[1] = 1
    status: Literal["SUBMITTED"] = "SUBMITTED"
    task_token: str
    attempt: int = Field(ge=0)
    output: JsonValue


class TaskStarted(WireModel):
    """An activity worker took the task (GetActivityTask), with its ``workerName`` if given."""

    version: Literal[1] = 1
    status: Literal["STARTED"] = "STARTED"
    task_token: str
    worker_name: str | None = None


class IntegrationRequest(WireModel):
    """Call service integration ``service``:``action`` (with ``pattern``) for one Task state.

    A function task (``integration`` ``function``, ``resource`` its ARN) or an activity comes
    as one too when a target other than its default carries it (a mock configuration).

    ``parameters`` are the rendered Parameters, exactly as TaskScheduled shows them;
    ``credentials`` the rendered ``Credentials`` field; ``invocation`` counts the state's calls
    in the execution before this one (mock configurations number them so); ``test_case`` is
    the mock test case the execution was started with (``stateMachineArn#TestCase``).
    """

    version: Literal[1] = 1
    execution_arn: str
    execution_name: str
    state_machine_name: str
    state_name: str
    integration: Literal["function", "invoke", "service", "activity", "map-run"] = "service"
    resource: str
    service: str
    action: str
    pattern: Literal["", ".sync", ".sync:2", ".waitForTaskToken"] = ""
    region: str
    task_token: str
    attempt: int = Field(ge=0)
    invocation: int = Field(ge=0, default=0)
    parameters: JsonValue
    credentials: JsonValue = None
    test_case: str | None = None


class JobPoll(WireModel):
    """The next poll of a ``.sync`` job the orchestrator runs itself (the ``aws`` target).

    It waits in a delay queue, then comes back to the calls queue, where one describe call is
    made: the job's end answers ``request``'s task, else the next JobPoll is published, to
    wait ``next_delay_seconds``. ``submitted`` is the job's start answer (the task's
    TaskSubmitted output, which names the job); ``polls`` counts the polls made before this
    one; ``misses`` the polls in a row that got no usable answer (throttled, a server error).
    ``kind`` tells it apart from an IntegrationRequest on the same queue.
    """

    version: Literal[1] = 1
    kind: Literal["jobPoll"] = "jobPoll"
    request: IntegrationRequest
    submitted: JsonValue
    polls: int = Field(ge=0, default=0)
    misses: int = Field(ge=0, default=0)
    next_delay_seconds: float = Field(gt=0, le=3600)


def _call_kind(value: Any) -> str:
    """A calls-queue message's kind: ``jobPoll`` when it says so, else an IntegrationRequest."""
    kind = value.get("kind") if isinstance(value, dict) else getattr(value, "kind", None)
    return "jobPoll" if kind == "jobPoll" else "request"


AnyCall = IntegrationRequest | JobPoll
_call_adapter: TypeAdapter[AnyCall] = TypeAdapter(
    Annotated[
        Annotated[IntegrationRequest, Tag("request")] | Annotated[JobPoll, Tag("jobPoll")],
        Discriminator(_call_kind),
    ]
)


def parse_call(body: bytes | str) -> AnyCall:
    """Parse a message of the calls queue (an IntegrationRequest or a JobPoll); raises
    ``pydantic.ValidationError`` when invalid."""
    return _call_adapter.validate_json(body)


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
    TaskSucceeded
    | TaskFailed
    | TaskCallFailed
    | TaskSubmitted
    | TaskStarted
    | TaskCallbackSuccess
    | TaskCallbackFailure
    | TaskCallbackHeartbeat
)
TaskResult = Annotated[AnyTaskResult, Field(discriminator="status")]
_task_result_adapter: TypeAdapter[AnyTaskResult] = TypeAdapter(TaskResult)


def parse_task_result(body: bytes | str) -> AnyTaskResult:
    """Parse a task result or callback; raises ``pydantic.ValidationError`` when invalid."""
    return _task_result_adapter.validate_json(body)
