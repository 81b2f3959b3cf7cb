"""The Task resources AWS Step Functions accepts: which services, actions and patterns exist.

A Task's ``arn:aws:states:::SERVICE:ACTION[PATTERN]`` names either an optimized integration
(``sqs:sendMessage``, ``states:startExecution.sync:2``; the table below, from AWS's "Optimized
integrations for Step Functions" pages, one per service) or an AWS SDK integration
(``aws-sdk:dynamodb:putItem``): any operation of any service botocore models. AWS names SDK
services and their errors after the AWS SDK for Java v2 client (``DynamoDb``, ``Sfn``,
``CloudWatchLogs``); the service in the ARN is that name in lower case, the action the
operation's name with its first letter lowered.

botocore's models are read lazily: the first SDK lookup reads only the ``serviceId`` at the
head of each model file (about 0.1 s for 400+ services, where loading them all takes seconds),
and each lookup then loads the one model it needs (cached).
"""

from __future__ import annotations

import difflib
import functools
import gzip
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from orchestrator.asl.errors import abbreviate

REQUEST_RESPONSE: Final = ""
RUN_JOB: Final = ".sync"
RUN_JOB_V2: Final = ".sync:2"
WAIT_FOR_TASK_TOKEN: Final = ".waitForTaskToken"
PATTERNS: Final = (REQUEST_RESPONSE, RUN_JOB, RUN_JOB_V2, WAIT_FOR_TASK_TOKEN)

_RR: Final = frozenset({REQUEST_RESPONSE})
_RR_SYNC: Final = frozenset({REQUEST_RESPONSE, RUN_JOB})
_RR_WAIT: Final = frozenset({REQUEST_RESPONSE, WAIT_FOR_TASK_TOKEN})
_RR_SYNC_WAIT: Final = frozenset({REQUEST_RESPONSE, RUN_JOB, WAIT_FOR_TASK_TOKEN})

# service -> action -> the patterns AWS allows ("" is request-response). From the per-service
# pages of AWS's developer guide ("Optimized integrations for Step Functions" and the pages it
# links), which say per API which patterns exist where the service table does not.
OPTIMIZED_INTEGRATIONS: Final[Mapping[str, Mapping[str, frozenset[str]]]] = {
    "apigateway": {"invoke": _RR_WAIT},
    "athena": {
        "startQueryExecution": _RR_SYNC,
        "stopQueryExecution": _RR,
        "getQueryExecution": _RR,
        "getQueryResults": _RR,
    },
    "batch": {"submitJob": _RR_SYNC},
    # The service table marks Bedrock and EKS "Standard" for .waitForTaskToken too; their own
    # pages name no API that has it, so none has it here.
    "bedrock": {"invokeModel": _RR, "createModelCustomizationJob": _RR_SYNC},
    "codebuild": {
        "startBuild": _RR_SYNC,
        "stopBuild": _RR,
        "batchDeleteBuilds": _RR,
        "batchGetReports": _RR,
        "startBuildBatch": _RR_SYNC,
        "stopBuildBatch": _RR,
        "retryBuildBatch": _RR_SYNC,
        "deleteBuildBatch": _RR,
    },
    "databrew": {"startJobRun": _RR_SYNC},
    "dynamodb": {"getItem": _RR, "putItem": _RR, "updateItem": _RR, "deleteItem": _RR},
    "ecs": {"runTask": _RR_SYNC_WAIT},
    "eks": {
        "createCluster": _RR_SYNC,
        "deleteCluster": _RR_SYNC,
        "createFargateProfile": _RR_SYNC,
        "deleteFargateProfile": _RR_SYNC,
        "createNodegroup": _RR_SYNC,
        "deleteNodegroup": _RR_SYNC,
        "runJob": _RR_SYNC,
        "call": _RR,
    },
    # Amazon EMR's optimized integration goes by its IAM prefix.
    "elasticmapreduce": {
        "createCluster": _RR_SYNC,
        "terminateCluster": _RR_SYNC,
        "addStep": _RR_SYNC,
        "cancelStep": _RR,
        "setClusterTerminationProtection": _RR,
        "modifyInstanceFleetByName": _RR,
        "modifyInstanceGroupByName": _RR,
    },
    "emr-containers": {
        "createVirtualCluster": _RR,
        "deleteVirtualCluster": _RR_SYNC,
        "startJobRun": _RR_SYNC,
    },
    "emr-serverless": {
        "createApplication": _RR_SYNC,
        "startApplication": _RR_SYNC,
        "stopApplication": _RR_SYNC,
        "deleteApplication": _RR_SYNC,
        "startJobRun": _RR_SYNC,
        "cancelJobRun": _RR_SYNC,
    },
    "events": {"putEvents": _RR_WAIT},
    "glue": {"startJobRun": _RR_SYNC},
    "http": {"invoke": _RR},  # the HTTP Task ("Call HTTPS APIs"), outside the service table
    "lambda": {"invoke": _RR_WAIT},
    "mediaconvert": {"createJob": _RR_SYNC},
    "sagemaker": {
        "createEndpoint": _RR,
        "createEndpointConfig": _RR,
        "createHyperParameterTuningJob": _RR_SYNC,
        "createLabelingJob": _RR_SYNC,
        "createModel": _RR,
        "createProcessingJob": _RR_SYNC,
        "createTrainingJob": _RR_SYNC,
        "createTransformJob": _RR_SYNC,
        "updateEndpoint": _RR,
    },
    "sns": {"publish": _RR_WAIT},
    "sqs": {"sendMessage": _RR_WAIT},
    "states": {"startExecution": frozenset(PATTERNS)},
}

AWS_SDK: Final = "aws-sdk"
# "Over two hundred services | Standard & Express | Not supported | Standard".
SDK_PATTERNS: Final = _RR_WAIT
# AWS's list of unsupported actions of supported SDK services (by the ARN's service name), and
# its deprecated SDK services. Operations that stream events are refused by rule (below).
_UNSUPPORTED_SDK_ACTIONS: Final[Mapping[str, frozenset[str]]] = {
    "comprehendmedical": frozenset({"DetectEntities"}),
    "efs": frozenset({"CreateTags"}),
    "elastictranscoder": frozenset({"TestRole"}),
    "emr": frozenset({"DescribeJobFlows"}),
    "iotdeviceadvisor": frozenset({"ListTestCases"}),
    "lambda": frozenset({"InvokeAsync"}),
    "mediapackage": frozenset({"RotateChannelCredentials"}),
    "rdsdata": frozenset({"ExecuteSql"}),
    "shield": frozenset({"DeleteSubscription"}),
}
_DEPRECATED_SDK_SERVICES: Final = frozenset({"mobile", "macie"})
# Where an optimized service's SDK service is named differently (for "use aws-sdk:..." hints).
_SDK_NAME_OF_OPTIMIZED: Final = {
    "states": "sfn",
    "events": "eventbridge",
    "elasticmapreduce": "emr",
}

_SERVICE_ID = re.compile(rb'"serviceId"\s*:\s*("(?:[^"\\]|\\.)*")')


@dataclass(frozen=True)
class SdkService:
    """An AWS SDK integration service: ``name`` as in the ARN (``dynamodb``, ``sfn``),
    ``botocore_name`` (``dynamodb``, ``stepfunctions``) and ``client_prefix``, the Java SDK v2
    client name AWS puts before its error names (``DynamoDb``, ``Sfn``)."""

    name: str
    botocore_name: str
    client_prefix: str


def resource_problem(service: str, action: str, pattern: str) -> str | None:
    """None when AWS accepts ``arn:aws:states:::SERVICE:ACTION[PATTERN]``, else why not.

    ``service`` is ``sqs`` or ``aws-sdk:dynamodb``, ``action`` ``sendMessage``, ``pattern``
    ``""`` (request-response), ``.sync``, ``.sync:2`` or ``.waitForTaskToken``.
    """
    if pattern not in PATTERNS:
        return f"{abbreviate(pattern)} is not an integration pattern; use .sync, .sync:2 or .waitForTaskToken"
    if service == AWS_SDK or service.startswith(AWS_SDK + ":"):
        return _sdk_problem(service.removeprefix(AWS_SDK).removeprefix(":"), action, pattern)
    actions = OPTIMIZED_INTEGRATIONS.get(service)
    if actions is None:
        return _unknown_service(service, action)
    allowed = actions.get(action)
    if allowed is None:
        return _unknown_optimized_action(service, action, actions)
    return _pattern_problem(f"{service}:{action}", pattern, allowed)


def sdk_service(name: str) -> SdkService | None:
    """The AWS SDK integration service named ``name`` in ARNs, or None when there is none."""
    return _sdk_index().get(name)


def sdk_operation(service: str, action: str) -> str | None:
    """The botocore operation (``PutItem``) of ``aws-sdk:SERVICE:ACTION``; None when unknown.

    The operation is returned even where Step Functions refuses it (see :func:`resource_problem`).
    """
    found = sdk_service(service)
    if found is None:
        return None
    return _operations(found.botocore_name).get(action)


def sdk_error_name(service: str, error_code: str) -> str:
    """AWS's error name for ``aws-sdk:SERVICE`` failing with botocore error code ``error_code``.

    A modeled exception (matched by shape name, with or without a trailing ``Exception``, or
    by its wire code) is named like the Java SDK v2 exception class: ``S3.NoSuchKeyException``,
    ``Sfn.InvalidTokenException``. Anything else is the client's base exception:
    ``DynamoDb.DynamoDbException``. For services that still answer with their former query
    protocol's codes (SQS: ``AWS.SimpleQueueService.NonExistentQueue``), pass the error type
    botocore keeps in ``Error.QueryErrorCode`` (``QueueDoesNotExist``).
    """
    found = sdk_service(service)
    if found is None:  # not an SDK service: the nearest guess at its client name
        prefix = _pascal_case(service)
        return f"{prefix}.{prefix}Exception"
    exceptions = _exceptions(found.botocore_name, found.client_prefix)
    name = exceptions.get(error_code) or exceptions.get(error_code.removesuffix("Exception"))
    return f"{found.client_prefix}.{name or found.client_prefix + 'Exception'}"


# -- optimized integrations ----------------------------------------------------------------------


def _unknown_service(service: str, action: str) -> str:
    for optimized, sdk_name in _SDK_NAME_OF_OPTIMIZED.items():  # emr:createCluster
        if service == sdk_name and action in OPTIMIZED_INTEGRATIONS[optimized]:
            return f"{service} is named {optimized} in optimized integrations: {optimized}:{action}"
    if (found := sdk_service(service)) is not None:
        known = sdk_operation(found.name, action) is not None
        hint = f"aws-sdk:{found.name}:{action if known else 'ACTION'}"
        return f"{service} has no optimized integration; call it through the AWS SDK: {hint}"
    guess = _did_you_mean(service, OPTIMIZED_INTEGRATIONS)
    return f"{abbreviate(service)} is not a service Step Functions integrates with{guess}"


def _unknown_optimized_action(service: str, action: str, actions: Mapping[str, Any]) -> str:
    sdk_name = _SDK_NAME_OF_OPTIMIZED.get(service, service.replace("-", ""))
    if sdk_operation(sdk_name, action) is not None:
        return (
            f"{service}:{action} is not an optimized integration; use aws-sdk:{sdk_name}:{action}"
        )
    message = f"{service} has no optimized action {abbreviate(action)}"
    if guess := _did_you_mean(action, actions):
        return message + guess
    # Short lists help; SageMaker's nine would swamp the message.
    return f"{message}; it has {_listing(actions)}" if len(actions) <= 4 else message


def _pattern_problem(what: str, pattern: str, allowed: frozenset[str]) -> str | None:
    if pattern in allowed:
        return None
    supported = _listing(_label(p) for p in PATTERNS if p in allowed)
    return f"{what} does not support {_label(pattern)}; it supports {supported}"


def _label(pattern: str) -> str:
    return pattern or "request-response"


def _listing(names: Any) -> str:
    items = list(names)
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _did_you_mean(name: str, candidates: Any) -> str:
    close = difflib.get_close_matches(name, candidates, n=1)
    return f"; did you mean {close[0]}?" if close else ""


# -- AWS SDK integrations ------------------------------------------------------------------------


def _sdk_problem(name: str, action: str, pattern: str) -> str | None:
    if not name:
        return "aws-sdk needs a service and an action: aws-sdk:SERVICE:ACTION"
    if name in _DEPRECATED_SDK_SERVICES:
        return f"aws-sdk:{name} is deprecated; Step Functions no longer supports it"
    found = sdk_service(name)
    if found is None:
        return _unknown_sdk_service(name)
    operations = _operations(found.botocore_name)
    operation = operations.get(action)
    what = f"aws-sdk:{name}:{action}"
    if operation is None:
        camel = action[:1].lower() + action[1:]
        if camel != action and camel in operations:
            return f"aws-sdk actions are camelCase: use aws-sdk:{name}:{camel}"
        guess = _did_you_mean(action, operations)
        return f"aws-sdk:{name} has no action {abbreviate(action)}{guess}"
    if operation in _UNSUPPORTED_SDK_ACTIONS.get(name, ()):
        return f"{what} is not supported by Step Functions"
    if operation in _event_stream_operations(found.botocore_name):
        return f"{what} streams events, which Step Functions does not support"
    if pattern in (RUN_JOB, RUN_JOB_V2):
        return f"aws-sdk integrations do not support {pattern}; they support request-response and .waitForTaskToken"
    return None


def _unknown_sdk_service(name: str) -> str:
    index = _sdk_index()
    # botocore's own name (stepfunctions, logs) is a common slip.
    named = [service for service in index.values() if service.botocore_name == name]
    guess = f"; use aws-sdk:{named[0].name}" if named else _did_you_mean(name, index)
    return f"aws-sdk has no service {abbreviate(name)}{guess}"


@functools.cache
def _loader() -> Any:
    # Imported on first use: botocore costs ~0.1 s to import, and definitions that use only
    # optimized integrations never need it.
    import botocore.loaders

    return botocore.loaders.create_loader()


@functools.cache
def _sdk_index() -> dict[str, SdkService]:
    """Every SDK service by its ARN name, from the serviceId at the head of each model file."""
    loader = _loader()
    index: dict[str, SdkService] = {}
    for botocore_name in sorted(loader.list_available_services("service-2")):
        prefix = _client_prefix(_service_id(loader, botocore_name))
        name = prefix.lower()
        # Two botocore models with one Java client (pinpoint-sms-voice, sms-voice): the Java SDK
        # ships the one whose botocore name reads like the client.
        if name in index and index[name].botocore_name.replace("-", "") == name:
            continue
        index[name] = SdkService(name, botocore_name, prefix)
    return index


def _service_id(loader: Any, botocore_name: str) -> str:
    version = loader.determine_latest_version(botocore_name, "service-2")
    for root in loader.search_paths:
        base = os.path.join(root, botocore_name, version, "service-2")
        for path in (base + ".json", base + ".json.gz"):
            if os.path.isfile(path):
                with gzip.open(path) if path.endswith(".gz") else open(path, "rb") as model:
                    head = model.read(4096)
                if match := _SERVICE_ID.search(head):
                    return str(json.loads(match.group(1)))
                return str(_model(botocore_name)["metadata"]["serviceId"])
    # Not where botocore keeps its files: let botocore find and load the model.
    return str(_model(botocore_name)["metadata"]["serviceId"])


def _model(botocore_name: str) -> dict[str, Any]:
    model: dict[str, Any] = _loader().load_service_model(botocore_name, "service-2")
    return model


@functools.cache
def _operations(botocore_name: str) -> dict[str, str]:
    """ARN action (``putItem``) -> botocore operation (``PutItem``)."""
    return {name[:1].lower() + name[1:]: name for name in _model(botocore_name)["operations"]}


@functools.cache
def _event_stream_operations(botocore_name: str) -> frozenset[str]:
    """Operations whose request or response is an event stream (SubscribeToShard)."""
    model = _model(botocore_name)
    shapes = model["shapes"]

    def streams(reference: dict[str, Any] | None) -> bool:
        members = shapes[reference["shape"]].get("members", {}) if reference else {}
        return any(shapes[member["shape"]].get("eventstream") for member in members.values())

    return frozenset(
        name
        for name, operation in model["operations"].items()
        if streams(operation.get("input")) or streams(operation.get("output"))
    )


@functools.cache
def _exceptions(botocore_name: str, prefix: str) -> dict[str, str]:
    """botocore error code (shape name, without ``Exception``, wire code) -> exception class."""
    found: dict[str, str] = {}
    for shape_name, shape in _model(botocore_name)["shapes"].items():
        if not shape.get("exception"):
            continue
        name = _exception_class(shape_name, prefix)
        found[shape_name] = found[shape_name.removesuffix("Exception")] = name
        if code := shape.get("error", {}).get("code"):
            found.setdefault(code, name)
    return found


# -- the AWS SDK for Java v2's names (DefaultNamingStrategy, CodegenNamingUtils) ------------------


def _client_prefix(service_id: str) -> str:
    """The Java SDK v2 client name of a botocore ``serviceId``: ``DynamoDB`` -> ``DynamoDb``.

    The serviceId's words in PascalCase, an acronym run as a capital then lower case, without
    a leading ``Amazon``/``Aws`` and a trailing ``Service`` (``Config Service`` -> ``Config``).
    """
    name = _pascal_case(service_id)
    name = name.removeprefix("Amazon").removeprefix("Aws")
    return name.removesuffix("Service")


def _pascal_case(text: str) -> str:
    return "".join(word.lower().capitalize() for word in _words(text))


def _words(text: str) -> list[str]:
    text = re.sub(r"[^A-Za-z0-9]+", " ", text)
    # A version after a word stands alone: "TESTv4" -> "TEST v4", "TestV4" -> "Test V4".
    text = re.sub(r"([^a-z]{2,})v([0-9]+)", r"\1 v\2 ", text)
    text = re.sub(r"([^A-Z]{2,})V([0-9]+)", r"\1 V\2 ", text)
    text = re.sub(r"(?<=[a-z])(?=[A-Z][a-zA-Z0-9])", " ", text)  # camelCase
    text = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", text)  # "ACMSuccess" -> "ACM Success"
    text = re.sub(r"([0-9])([a-zA-Z])", r"\1 \2", text)  # "s3ec2" -> "s3 ec2"
    return text.split()


def _exception_class(shape_name: str, prefix: str) -> str:
    if shape_name.endswith("Fault"):
        name = _pascal_case(shape_name.removesuffix("Fault")) + "Exception"
    elif shape_name.endswith("Exception"):
        name = _pascal_case(shape_name)
    else:
        name = _pascal_case(shape_name) + "Exception"
    # A modeled exception named like the client's base exception is renamed by the SDK.
    return "Default" + name if name == prefix + "Exception" else name
