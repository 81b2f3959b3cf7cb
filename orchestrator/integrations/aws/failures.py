"""How a failed AWS call becomes the Task's error and cause, in the words Step Functions uses.

Step Functions runs optimized integrations (``sqs:sendMessage``, ``dynamodb:putItem``, ...)
on the AWS SDK for Java v1 and AWS SDK integrations (``aws-sdk:s3:getObject``) on v2; each
failure reads as that SDK's exception: its class name after a service prefix as the error,
its message as the cause. The recorded executions show both forms:

- v1: ``SNS.InvalidParameterException`` / ``DynamoDB.AmazonDynamoDBException`` (a modeled
  error keeps its own name; any other is the service's generic exception), cause
  ``<message> (Service: AmazonSNS; Status Code: 400; Error Code: InvalidParameter; Request
  ID: <id>; Proxy: null)``;
- v2: ``S3.NoSuchKeyException``, cause ``<message> (Service: S3, Status Code: 404, Request ID:
  <id>, Extended Request ID: <id2>)``, with `` (SDK Attempt Count: N)`` after it for the
  services whose SDK build appends it (``sfn`` in the recordings);
- no HTTP answer at all: ``SQS.SdkClientException``, ``Unable to execute HTTP request: ...``.
"""

from __future__ import annotations

from typing import Any

import botocore.exceptions
from botocore.exceptions import BotoCoreError, ClientError

from orchestrator.asl import errors
from orchestrator.asl.intrinsics.java import to_json


class TaskCallFailed(Exception):
    """The Task fails with ``error`` and ``cause`` (what Retry and Catch see)."""

    def __init__(self, error: str, cause: str) -> None:
        super().__init__(f"{error}: {cause}")
        self.error = error
        self.cause = cause


class UnsupportedCall(TaskCallFailed):
    """A call this engine does not carry out (a ``.sync`` pattern, an unknown service or
    action): a States.Runtime failure, which no Retry or Catch hides."""

    def __init__(self, cause: str) -> None:
        super().__init__(errors.RUNTIME, cause)


def optimized_failure(
    error: ClientError, prefix: str, service: str, generic: str
) -> TaskCallFailed:
    """An optimized integration's failure from a service error, as SDK v1 words it.

    ``prefix`` names the integration (``SQS``), ``service`` the v1 client (``AmazonSQS``),
    ``generic`` its exception for unmodeled errors (``AmazonSQSException``).
    """
    details = error.response.get("Error", {})
    metadata = error.response.get("ResponseMetadata", {})
    cause = (
        f"{_java(details.get('Message'))} (Service: {service}; "
        f"Status Code: {_java(metadata.get('HTTPStatusCode'))}; "
        f"Error Code: {_java(details.get('Code'))}; "
        f"Request ID: {_java(metadata.get('RequestId'))}; Proxy: null)"
    )
    return TaskCallFailed(f"{prefix}.{_modeled_name(error) or generic}", cause)


def sdk_failure(error: ClientError, name: str, prefix: str, attempt_count: bool) -> TaskCallFailed:
    """An AWS SDK integration's failure named ``name``, with SDK v2's cause for ``prefix``.

    ``attempt_count`` adds v2's ``(SDK Attempt Count: N)``, N counting the retries made.
    """
    details = error.response.get("Error", {})
    metadata = error.response.get("ResponseMetadata", {})
    parts = [
        f"Service: {prefix}",
        f"Status Code: {_java(metadata.get('HTTPStatusCode'))}",
        f"Request ID: {_java(metadata.get('RequestId'))}",
    ]
    # S3 answers with x-amz-id-2 too (botocore's HostId); v2 shows it only when present.
    if metadata.get("HostId"):
        parts.append(f"Extended Request ID: {metadata['HostId']}")
    cause = f"{_java(details.get('Message'))} ({', '.join(parts)})"
    if attempt_count:
        cause += f" (SDK Attempt Count: {metadata.get('RetryAttempts', 0) + 1})"
    return TaskCallFailed(name, cause)


def modeled_error_code(error: ClientError) -> str:
    """The code the service's model knows the error by: the modeled shape's name when
    botocore matched one (SQS answers legacy codes such as
    ``AWS.SimpleQueueService.NonExistentQueue`` for ``QueueDoesNotExist``), else the code."""
    return _shape_name(error) or str(error.response.get("Error", {}).get("Code"))


def client_failure(error: BotoCoreError | ValueError, prefix: str) -> TaskCallFailed:
    """A call that got no service answer: no connection, a timeout, no credentials, or
    parameters the SDK refuses before sending (SDK v1 and v2 both raise SdkClientException)."""
    detail = str(error)
    # botocore's ConnectionError and HTTPClientError: the request never got an answer.
    if isinstance(error, botocore.exceptions.ConnectionError | botocore.exceptions.HTTPClientError):
        detail = f"Unable to execute HTTP request: {detail}"
    return TaskCallFailed(f"{prefix}.SdkClientException", detail)


def role_failure(role_arn: str, reason: str) -> TaskCallFailed:
    """The Task's ``Credentials`` role could not be assumed (STS refused or unreachable).

    The recordings hold no such failure; the error is States.TaskFailed, so that a Catch on
    it (or States.ALL) sees it, with the role and STS's answer as cause.
    """
    return TaskCallFailed(errors.TASK_FAILED, f"Unable to assume the role {role_arn}: {reason}")


def failed_entries(result: dict[str, Any]) -> TaskCallFailed:
    """``events:putEvents`` with a FailedEntryCount above 0: EventBridge.FailedEntry with the
    response (as the task would have returned it) as the cause's JSON text."""
    return TaskCallFailed("EventBridge.FailedEntry", to_json(result))


def function_failure(payload_text: str, payload: Any) -> TaskCallFailed:
    """``lambda:invoke`` of a function that failed: its ``errorType`` names the error and its
    error document is the cause, as Step Functions reports it."""
    error_type = payload.get("errorType") if isinstance(payload, dict) else None
    if not isinstance(error_type, str) or not error_type:
        error_type = "Lambda.Unknown"
    return TaskCallFailed(error_type, payload_text)


def _shape_name(error: ClientError) -> str | None:
    """The model's error shape botocore matched, None when the error is not modeled.

    botocore raises a subclass named after the shape when it knows the error, the plain
    ClientError otherwise.
    """
    return None if type(error) is ClientError else type(error).__name__


def _modeled_name(error: ClientError) -> str | None:
    """The modeled exception's name with SDK v1's ``Exception`` suffix, None when unmodeled."""
    name = _shape_name(error)
    if name is None:
        return None
    return name if name.endswith("Exception") else f"{name}Exception"


def _java(value: Any) -> str:
    # The SDKs print a missing message or request id as Java's "null".
    return "null" if value is None else str(value)
