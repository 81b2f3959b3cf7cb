"""One Task call to an AWS (or AWS-compatible) endpoint, as Step Functions makes it.

``arn:aws:states:::SERVICE:ACTION[PATTERN]`` arrives split (:class:`AwsCall`). An optimized
integration (``sqs:sendMessage``) or an AWS SDK integration (``aws-sdk:s3:getObject``) is one
botocore call; :mod:`requests` shapes the parameters, :mod:`responses` the result and
:mod:`failures` the error. A ``.waitForTaskToken`` call returns what the service answered
(the caller then waits for the token); ``.sync`` polling is not carried out here.

Synchronous on purpose: the async shell runs :meth:`AwsCaller.call` in a thread. botocore's
standard configuration applies (``AWS_ENDPOINT_URL``, ``AWS_ENDPOINT_URL_<SERVICE>``,
profiles, the credential chain); every call is bounded by connect/read timeouts and
botocore's standard retry mode with few attempts (these bounds take precedence over
``AWS_MAX_ATTEMPTS`` and ``AWS_RETRY_MODE``).
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import botocore.session
from botocore import xform_name
from botocore.client import BaseClient
from botocore.config import Config
from botocore.credentials import AssumeRoleCredentialFetcher
from botocore.exceptions import BotoCoreError, ClientError

from orchestrator.asl import errors
from orchestrator.asl.services import sdk_error_name, sdk_operation, sdk_service
from orchestrator.integrations.aws import failures, requests, responses
from orchestrator.integrations.aws.failures import TaskCallFailed, UnsupportedCall

# Bounds of every call: a few seconds to connect, a minute to answer, three attempts in all.
DEFAULT_CONFIG = Config(
    connect_timeout=5,
    read_timeout=60,
    # Three attempts in all (botocore would turn "max_attempts" into one more than given).
    retries={"mode": "standard", "total_max_attempts": 3},
    # The service judges the request, as with the Java SDKs: requests.py checks what
    # botocore could not send at all, and leaves a missing required member to the service.
    parameter_validation=False,
)
# A synchronous Lambda invocation may run for 15 minutes.
_READ_TIMEOUTS = {"lambda": 15 * 60 + 5}
_PATTERNS = ("", ".waitForTaskToken")
# AWS SDK integrations whose SDK build appends "(SDK Attempt Count: N)" to error causes.
_ATTEMPT_COUNTED = frozenset({"sfn"})


@dataclass(frozen=True)
class AwsCall:
    """One Task's call: ``service`` (``sqs``, ``aws-sdk:dynamodb``), ``action``
    (``sendMessage``), ``pattern`` (``""`` or ``.waitForTaskToken``), the rendered
    ``parameters`` (as TaskScheduled shows them), the ``region``, and the Task's
    ``credentials`` (``{"RoleArn": ...}``) if any.

    ``state_machine_arn`` and ``execution_arn``, when given, are appended to each
    ``events:putEvents`` entry's Resources, as AWS does.
    """

    service: str
    action: str
    pattern: str
    parameters: Any
    region: str
    credentials: dict[str, Any] | None = None
    state_machine_arn: str | None = None
    execution_arn: str | None = None


@dataclass(frozen=True)
class _Optimized:
    """An optimized integration: its botocore service, the error ``prefix`` and the SDK v1
    client (``service``) and base exception (``generic``) its errors are named after."""

    botocore_name: str
    prefix: str
    service: str
    generic: str
    actions: frozenset[str]
    http_metadata: bool = True


_OPTIMIZED = {
    "sqs": _Optimized("sqs", "SQS", "AmazonSQS", "AmazonSQSException", frozenset({"sendMessage"})),
    "sns": _Optimized("sns", "SNS", "AmazonSNS", "AmazonSNSException", frozenset({"publish"})),
    "dynamodb": _Optimized(
        "dynamodb",
        "DynamoDB",
        "AmazonDynamoDBv2",
        "AmazonDynamoDBException",
        frozenset({"getItem", "putItem", "updateItem", "deleteItem"}),
    ),
    # The recorded putEvents results carry no HTTP metadata.
    "events": _Optimized(
        "events",
        "EventBridge",
        "AmazonEventBridge",
        "AmazonEventBridgeException",
        frozenset({"putEvents"}),
        http_metadata=False,
    ),
    "states": _Optimized(
        "stepfunctions",
        "StepFunctions",
        "AWSStepFunctions",
        "AWSStepFunctionsException",
        frozenset({"startExecution"}),
    ),
    "ecs": _Optimized("ecs", "ECS", "AmazonECS", "AmazonECSException", frozenset({"runTask"})),
    "lambda": _Optimized(
        "lambda", "Lambda", "AWSLambda", "AWSLambdaException", frozenset({"invoke"})
    ),
}


class AwsCaller:
    """Carries out :class:`AwsCall` s with botocore; thread-safe.

    Clients are made once per (botocore service, region, role) and reused. ``endpoint_url``
    sends every service to one endpoint (a LocalStack or moto server); ``config`` is merged
    over :data:`DEFAULT_CONFIG`.
    """

    def __init__(
        self,
        session: botocore.session.Session | None = None,
        endpoint_url: str | None = None,
        config: Config | None = None,
    ) -> None:
        self._session = session or botocore.session.Session()
        self._endpoint_url = endpoint_url
        self._config = _bounded(config)
        # botocore sessions are not safe to make clients from in several threads at once.
        self._lock = threading.RLock()
        self._clients: dict[tuple[str, str, str | None], tuple[str | None, BaseClient]] = {}
        self._roles: dict[tuple[str, str], AssumeRoleCredentialFetcher] = {}

    def call(self, call: AwsCall) -> Any:
        """The task's result, shaped as AWS returns it; raises TaskCallFailed."""
        if call.pattern not in _PATTERNS:
            raise UnsupportedCall(
                f"The {call.pattern} integration pattern is not supported yet"
                f" (arn:aws:states:::{call.service}:{call.action}{call.pattern})"
            )
        if call.service.startswith("aws-sdk:"):
            return self._sdk_call(call)
        return self._optimized_call(call)

    # -- the two kinds of integration ----------------------------------------------------------

    def _sdk_call(self, call: AwsCall) -> Any:
        name = call.service.removeprefix("aws-sdk:")
        service = sdk_service(name)
        operation = sdk_operation(name, call.action)
        if service is None or operation is None:
            raise UnsupportedCall(f"There is no AWS SDK integration {call.service}:{call.action}")
        prefix = service.client_prefix
        client = self._client(service.botocore_name, call, prefix)
        model = client.meta.service_model.operation_model(operation)
        try:
            parameters = requests.request_parameters(
                call.parameters, model.input_shape, optimized=False
            )
            response = getattr(client, xform_name(operation))(**parameters)
            return responses.sdk_result(response, model.output_shape)
        except ClientError as error:
            code = failures.modeled_error_code(error)
            raise failures.sdk_failure(
                error, sdk_error_name(name, code), prefix, name in _ATTEMPT_COUNTED
            ) from None
        except (BotoCoreError, requests.InvalidParameters) as error:
            raise failures.client_failure(error, prefix) from None

    def _optimized_call(self, call: AwsCall) -> Any:
        spec = _OPTIMIZED.get(call.service)
        if spec is None or call.action not in spec.actions:
            raise UnsupportedCall(
                f"The optimized integration {call.service}:{call.action} is not supported yet"
            )
        client = self._client(spec.botocore_name, call, spec.prefix)
        model = client.meta.service_model.operation_model(call.action[:1].upper() + call.action[1:])
        try:
            parameters = requests.request_parameters(
                call.parameters, model.input_shape, optimized=True
            )
            if call.service == "events":
                arns = [arn for arn in (call.state_machine_arn, call.execution_arn) if arn]
                requests.add_event_resources(parameters, arns)
            response = getattr(client, xform_name(model.name))(**parameters)
            result = responses.optimized_result(response, model.output_shape, spec.http_metadata)
        except ClientError as error:
            raise failures.optimized_failure(
                error, spec.prefix, spec.service, spec.generic
            ) from None
        except (BotoCoreError, requests.InvalidParameters) as error:
            raise failures.client_failure(error, spec.prefix) from None
        if call.service == "events" and result.get("FailedEntryCount"):
            raise failures.failed_entries(result)
        if call.service == "lambda":
            return _invocation_result(result)
        return result

    # -- S3 objects as bytes (a Distributed Map's reads and writes) -----------------------------

    def read_object(self, bucket: str, key: str, region: str, limit: int) -> bytes:
        """The bytes of an S3 object, at most ``limit + 1`` of them (more means too large);
        raises TaskCallFailed as the SDK integration names S3's errors."""
        client = self._client("s3", AwsCall("aws-sdk:s3", "getObject", "", {}, region), "S3")
        try:
            response = client.get_object(Bucket=bucket, Key=key)
            body = response["Body"]
            try:
                data: bytes = body.read(limit + 1)
            finally:
                body.close()
            return data
        except ClientError as error:
            code = failures.modeled_error_code(error)
            raise failures.sdk_failure(error, sdk_error_name("s3", code), "S3", False) from None
        except BotoCoreError as error:
            raise failures.client_failure(error, "S3") from None

    def write_object(self, bucket: str, key: str, body: bytes, region: str) -> None:
        """Put an S3 object of exactly ``body``; raises TaskCallFailed as :meth:`read_object`."""
        client = self._client("s3", AwsCall("aws-sdk:s3", "putObject", "", {}, region), "S3")
        try:
            client.put_object(Bucket=bucket, Key=key, Body=body)
        except ClientError as error:
            code = failures.modeled_error_code(error)
            raise failures.sdk_failure(error, sdk_error_name("s3", code), "S3", False) from None
        except BotoCoreError as error:
            raise failures.client_failure(error, "S3") from None

    # -- clients and credentials ---------------------------------------------------------------

    def _client(self, botocore_name: str, call: AwsCall, prefix: str) -> BaseClient:
        """The client for ``botocore_name`` in the call's region, as the call's role if any."""
        role_arn = _role_arn(call.credentials)
        keys: dict[str, Any] = {}
        if role_arn is not None:
            assumed = self._assumed_credentials(role_arn, call.region)
            keys = {
                "aws_access_key_id": assumed["access_key"],
                "aws_secret_access_key": assumed["secret_key"],
                "aws_session_token": assumed["token"],
            }
        key = (botocore_name, call.region, role_arn)
        with self._lock:
            cached = self._clients.get(key)
            # A role's client is remade when its credentials were renewed.
            if cached is not None and cached[0] == keys.get("aws_access_key_id"):
                return cached[1]
            try:
                client = self._create_client(botocore_name, region_name=call.region, **keys)
            except BotoCoreError as error:
                raise failures.client_failure(error, prefix) from None
            client.meta.events.register("after-call", responses.keep_raw_headers)
            self._clients[key] = (keys.get("aws_access_key_id"), client)
            return client

    def _create_client(self, botocore_name: str, **kwargs: Any) -> BaseClient:
        read_timeout = _READ_TIMEOUTS.get(botocore_name)
        config = self._config
        if read_timeout is not None:
            config = config.merge(Config(read_timeout=read_timeout))
        with self._lock:
            client: BaseClient = self._session.create_client(
                botocore_name, endpoint_url=self._endpoint_url, config=config, **kwargs
            )
            return client

    def _assumed_credentials(self, role_arn: str, region: str) -> dict[str, Any]:
        """Temporary credentials of ``role_arn`` from STS (the same endpoint configuration),
        renewed by botocore's fetcher before they expire; TaskCallFailed when STS refuses or
        cannot be reached."""
        with self._lock:
            fetcher = self._roles.get((role_arn, region))
            if fetcher is None:
                source = self._session.get_credentials()
                if source is None:
                    raise failures.role_failure(
                        role_arn, "there are no credentials to assume it with"
                    )
                creator: Callable[..., BaseClient] = functools.partial(
                    self._create_client, region_name=region
                )
                fetcher = AssumeRoleCredentialFetcher(creator, source, role_arn)
                self._roles[(role_arn, region)] = fetcher
        try:
            credentials: dict[str, Any] = fetcher.fetch_credentials()
        except ClientError as error:
            details = error.response.get("Error", {})
            raise failures.role_failure(
                role_arn, f"{details.get('Code')}: {details.get('Message')}"
            ) from None
        except BotoCoreError as error:
            raise failures.role_failure(role_arn, str(error)) from None
        return credentials


def _bounded(config: Config | None) -> Config:
    """``config`` over DEFAULT_CONFIG; retries given without a mode stay in standard mode."""
    if config is None:
        return DEFAULT_CONFIG
    retries = config.retries
    if retries is not None and "mode" not in retries:
        config = config.merge(Config(retries={"mode": "standard", **retries}))
    merged: Config = DEFAULT_CONFIG.merge(config)
    return merged


def _role_arn(credentials: dict[str, Any] | None) -> str | None:
    """The role of a Task's ``Credentials`` (``RoleArn``; the recordings spell it ``roleArn``)."""
    if not credentials:
        return None
    for key, value in credentials.items():
        if key.lower() == "rolearn" and isinstance(value, str) and value:
            return value
    raise TaskCallFailed(
        errors.RUNTIME, "The Task's Credentials must name the role to assume in RoleArn"
    )


def _invocation_result(result: dict[str, Any]) -> dict[str, Any]:
    """``lambda:invoke``'s result with ``Payload`` as JSON; a function error fails the task."""
    text = result.get("Payload")
    payload: Any = text
    if isinstance(text, str) and text:
        try:
            payload = json.loads(text)
        except ValueError:
            payload = text
    if result.get("FunctionError"):
        raise failures.function_failure(text if isinstance(text, str) else "", payload)
    return {**result, "Payload": payload}
