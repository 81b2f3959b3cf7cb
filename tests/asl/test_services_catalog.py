"""The catalog of Task resources: what AWS accepts, what it refuses and why, and AWS's names.

The resources AWS ran and the aws-sdk errors it recorded come from the conformance corpus
(``<checkout>/../shared/conformance``); botocore's own model files are read as they are.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.loaders
import pytest

from orchestrator.asl import services
from orchestrator.asl.services import (
    OPTIMIZED_INTEGRATIONS,
    PATTERNS,
    resource_problem,
    sdk_error_name,
    sdk_operation,
    sdk_service,
)

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "conformance"
# arn:aws:states:::SERVICE:ACTION[PATTERN], SERVICE possibly aws-sdk:NAME.
INTEGRATION = re.compile(
    r"^arn:aws:states:::(?P<service>(?:aws-sdk:)?[a-z0-9-]+):(?P<action>[A-Za-z]\w*)"
    r"(?P<pattern>\.sync(?::2)?|\.waitForTaskToken)?$"
)


def corpus_records() -> list[dict[str, Any]]:
    """Every record of cases.jsonl and integrations.jsonl; skips (fails under CI) without them."""
    files = [CORPUS / "cases.jsonl", CORPUS / "integrations.jsonl"]
    if not all(path.is_file() for path in files):
        message = f"conformance corpus not found at {CORPUS} (it sits beside the checkout in CI)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return [json.loads(line) for path in files for line in path.open() if line.strip()]


def task_resources(node: Any) -> Iterator[str]:
    """The ``Resource`` of every Task in a definition, nested branches and processors included."""
    if isinstance(node, dict):
        if node.get("Type") == "Task" and isinstance(node.get("Resource"), str):
            yield node["Resource"]
        for value in node.values():
            yield from task_resources(value)
    elif isinstance(node, list):
        for value in node:
            yield from task_resources(value)


def split(resource: str) -> tuple[str, str, str]:
    match = INTEGRATION.match(resource)
    assert match, resource
    return match.group("service"), match.group("action"), match.group("pattern") or ""


def test_every_integration_the_corpus_ran_on_aws_is_accepted() -> None:
    resources: set[str] = set()
    for record in corpus_records():
        definitions = [record["definition"], *(record.get("other_state_machines") or {}).values()]
        for definition in definitions:
            resources.update(task_resources(json.loads(definition)))
        for call in record.get("service_calls", []):
            if call["kind"] == "task":
                resources.add(call["resource_arn"])
    integrations = {r for r in resources if r.startswith("arn:aws:states:::")}
    refused = {r: resource_problem(*split(r)) for r in integrations}
    assert {r: problem for r, problem in refused.items() if problem} == {}
    # Not vacuous: the corpus holds optimized, .sync:2, callback and aws-sdk resources.
    assert {
        "arn:aws:states:::states:startExecution.sync:2",
        "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
        "arn:aws:states:::ecs:runTask.sync",
        "arn:aws:states:::aws-sdk:s3:listBuckets.waitForTaskToken",
        "arn:aws:states:::aws-sdk:secretsmanager:createSecret",
    } <= integrations
    assert len(integrations) >= 30


def test_every_aws_sdk_action_the_corpus_ran_names_a_botocore_operation() -> None:
    calls = [
        call
        for record in corpus_records()
        for call in record.get("service_calls", [])
        if call.get("resource_type", "").startswith("aws-sdk:")
    ]
    operations = {
        (call["resource_type"], call["resource"].split(".")[0]): sdk_operation(
            call["resource_type"].removeprefix("aws-sdk:"), call["resource"].split(".")[0]
        )
        for call in calls
    }
    assert operations[("aws-sdk:dynamodb", "putItem")] == "PutItem"
    assert operations[("aws-sdk:sfn", "sendTaskSuccess")] == "SendTaskSuccess"
    assert operations[("aws-sdk:s3", "listObjects")] == "ListObjects"
    assert None not in operations.values()


@pytest.mark.parametrize(
    ("service", "action", "allowed"),
    [
        (service, action, allowed)
        for service, actions in OPTIMIZED_INTEGRATIONS.items()
        for action, allowed in actions.items()
    ],
)
def test_each_optimized_action_takes_exactly_its_patterns(
    service: str, action: str, allowed: frozenset[str]
) -> None:
    assert "" in allowed  # every optimized API has request-response
    for pattern in PATTERNS:
        problem = resource_problem(service, action, pattern)
        if pattern in allowed:
            assert problem is None
        else:
            assert problem is not None
            assert problem.startswith(f"{service}:{action} does not support {pattern}; ")


@pytest.mark.parametrize(
    "resource",
    [
        # What AWS's per-service pages say exists, pattern by pattern.
        "arn:aws:states:::states:startExecution",
        "arn:aws:states:::states:startExecution.sync",
        "arn:aws:states:::states:startExecution.waitForTaskToken",
        "arn:aws:states:::lambda:invoke.waitForTaskToken",
        "arn:aws:states:::ecs:runTask.waitForTaskToken",
        "arn:aws:states:::batch:submitJob.sync",
        "arn:aws:states:::glue:startJobRun.sync",
        "arn:aws:states:::athena:startQueryExecution.sync",
        "arn:aws:states:::athena:getQueryResults",
        "arn:aws:states:::codebuild:startBuildBatch.sync",
        "arn:aws:states:::eks:runJob.sync",
        "arn:aws:states:::eks:call",
        "arn:aws:states:::elasticmapreduce:addStep.sync",
        "arn:aws:states:::emr-containers:startJobRun.sync",
        "arn:aws:states:::emr-serverless:cancelJobRun.sync",
        "arn:aws:states:::sagemaker:createTrainingJob.sync",
        "arn:aws:states:::bedrock:createModelCustomizationJob.sync",
        "arn:aws:states:::mediaconvert:createJob.sync",
        "arn:aws:states:::databrew:startJobRun.sync",
        "arn:aws:states:::events:putEvents.waitForTaskToken",
        "arn:aws:states:::apigateway:invoke.waitForTaskToken",
        "arn:aws:states:::http:invoke",
        "arn:aws:states:::aws-sdk:ec2:describeInstances",
        "arn:aws:states:::aws-sdk:sfn:startSyncExecution",
        "arn:aws:states:::aws-sdk:cloudwatchlogs:putLogEvents",
        "arn:aws:states:::aws-sdk:eventbridge:putEvents.waitForTaskToken",
    ],
)
def test_documented_resources_are_accepted(resource: str) -> None:
    assert resource_problem(*split(resource)) is None


@pytest.mark.parametrize(
    ("service", "action", "pattern", "message"),
    [
        (
            "sqs",
            "sendMessage",
            ".sync",
            "sqs:sendMessage does not support .sync; it supports request-response and .waitForTaskToken",
        ),
        (
            "dynamodb",
            "putItem",
            ".waitForTaskToken",
            "dynamodb:putItem does not support .waitForTaskToken; it supports request-response",
        ),
        (
            "batch",
            "submitJob",
            ".waitForTaskToken",
            "batch:submitJob does not support .waitForTaskToken; it supports request-response and .sync",
        ),
        (
            "ecs",
            "runTask",
            ".sync:2",
            "ecs:runTask does not support .sync:2; it supports request-response, .sync and .waitForTaskToken",
        ),
        (
            "sqs",
            "sendMessage",
            ".sync:3",
            "'.sync:3' is not an integration pattern; use .sync, .sync:2 or .waitForTaskToken",
        ),
        (
            "dynamodb",
            "query",
            "",
            "dynamodb:query is not an optimized integration; use aws-sdk:dynamodb:query",
        ),
        (
            "sqs",
            "sendMesage",
            "",
            "sqs has no optimized action 'sendMesage'; did you mean sendMessage?",
        ),
        ("athena", "zzz", "", "athena has no optimized action 'zzz'; it has startQueryExecution,"),
        ("sagemaker", "zzz", "", "sagemaker has no optimized action 'zzz'"),
        (
            "dynamdb",
            "putItem",
            "",
            "'dynamdb' is not a service Step Functions integrates with; did you mean dynamodb?",
        ),
        (
            "s3",
            "getObject",
            "",
            "s3 has no optimized integration; call it through the AWS SDK: aws-sdk:s3:getObject",
        ),
        (
            "emr",
            "createCluster",
            ".sync",
            "emr is named elasticmapreduce in optimized integrations: elasticmapreduce:createCluster",
        ),
        (
            "aws-sdk:s3",
            "getObject",
            ".sync",
            "aws-sdk integrations do not support .sync; they support request-response and .waitForTaskToken",
        ),
        (
            "aws-sdk:s3",
            "GetObject",
            "",
            "aws-sdk actions are camelCase: use aws-sdk:s3:getObject",
        ),
        (
            "aws-sdk:s3",
            "getObjekt",
            "",
            "aws-sdk:s3 has no action 'getObjekt'; did you mean getObject?",
        ),
        (
            "aws-sdk:stepfunctions",
            "startExecution",
            "",
            "aws-sdk has no service 'stepfunctions'; use aws-sdk:sfn",
        ),
        (
            "aws-sdk:logs",
            "putLogEvents",
            "",
            "aws-sdk has no service 'logs'; use aws-sdk:cloudwatchlogs",
        ),
        (
            "aws-sdk:dynamo",
            "putItem",
            "",
            "aws-sdk has no service 'dynamo'; did you mean dynamodb?",
        ),
        ("aws-sdk", "s3", "", "aws-sdk needs a service and an action: aws-sdk:SERVICE:ACTION"),
        (
            "aws-sdk:macie",
            "listMembers",
            "",
            "aws-sdk:macie is deprecated; Step Functions no longer supports it",
        ),
        (
            "aws-sdk:lambda",
            "invokeAsync",
            "",
            "aws-sdk:lambda:invokeAsync is not supported by Step Functions",
        ),
        (
            "aws-sdk:kinesis",
            "subscribeToShard",
            "",
            "aws-sdk:kinesis:subscribeToShard streams events, which Step Functions does not support",
        ),
        (
            "aws-sdk:s3",
            "selectObjectContent",
            "",
            "aws-sdk:s3:selectObjectContent streams events, which Step Functions does not support",
        ),
    ],
)
def test_refusals_say_what_is_wrong(service: str, action: str, pattern: str, message: str) -> None:
    problem = resource_problem(service, action, pattern)
    assert problem is not None and problem.startswith(message)


@pytest.mark.parametrize(
    ("name", "botocore_name", "prefix"),
    [
        ("dynamodb", "dynamodb", "DynamoDb"),
        ("s3", "s3", "S3"),
        ("secretsmanager", "secretsmanager", "SecretsManager"),
        ("sfn", "stepfunctions", "Sfn"),
        ("cloudwatchlogs", "logs", "CloudWatchLogs"),
        ("eventbridge", "events", "EventBridge"),
        ("apigateway", "apigateway", "ApiGateway"),
        ("ec2", "ec2", "Ec2"),
    ],
)
def test_sdk_services_are_named_like_the_java_sdk_v2_client(
    name: str, botocore_name: str, prefix: str
) -> None:
    assert sdk_service(name) == services.SdkService(name, botocore_name, prefix)


@pytest.mark.parametrize(
    ("name", "prefix"),
    [  # From the service table of AWS's "AWS SDK service integrations" page (2022).
        ("acmpca", "AcmPca"),
        ("applicationdiscovery", "ApplicationDiscovery"),
        ("databasemigration", "DatabaseMigration"),
        ("directory", "Directory"),
        ("config", "Config"),
        ("costandusagereport", "CostAndUsageReport"),
        ("lexmodelbuilding", "LexModelBuilding"),
        ("lexruntimev2", "LexRuntimeV2"),
        ("sagemakera2iruntime", "SageMakerA2IRuntime"),
        ("route53domains", "Route53Domains"),
        ("elasticloadbalancingv2", "ElasticLoadBalancingV2"),
        ("apigatewayv2", "ApiGatewayV2"),
        ("cloudhsmv2", "CloudHsmV2"),
        ("sesv2", "SesV2"),
        ("wafv2", "Wafv2"),
        ("ssooidc", "SsoOidc"),
        ("iot", "Iot"),
        ("iotsitewise", "IoTSiteWise"),
        ("iotjobsdataplane", "IotJobsDataPlane"),
        ("fsx", "FSx"),
        ("mturk", "MTurk"),
        ("xray", "XRay"),
        ("docdb", "DocDb"),
        ("elasticache", "ElastiCache"),
        ("emrcontainers", "EmrContainers"),
        ("ecrpublic", "EcrPublic"),
        ("codestarnotifications", "CodestarNotifications"),
        ("pinpointsmsvoice", "PinpointSmsVoice"),
        ("forecastquery", "Forecastquery"),
        ("rdsdata", "RdsData"),
        ("ec2instanceconnect", "Ec2InstanceConnect"),
    ],
)
def test_sdk_names_match_aws_table(name: str, prefix: str) -> None:
    found = sdk_service(name)
    assert found is not None and found.client_prefix == prefix


def test_every_botocore_service_has_one_sdk_name() -> None:
    available = set(botocore.loaders.create_loader().list_available_services("service-2"))
    index = services._sdk_index()
    assert all(service.name == service.client_prefix.lower() for service in index.values())
    # One Java client for two botocore models (pinpoint-sms-voice, sms-voice) is the only overlap.
    assert {service.botocore_name for service in index.values()} == available - {"sms-voice"}
    assert sdk_service("nope") is None


def test_sdk_operations_are_the_camel_case_botocore_operations() -> None:
    assert sdk_operation("dynamodb", "putItem") == "PutItem"
    assert sdk_operation("sfn", "startExecution") == "StartExecution"
    assert sdk_operation("rds", "describeDBInstances") == "DescribeDBInstances"
    assert sdk_operation("dynamodb", "PutItem") is None
    assert sdk_operation("dynamodb", "putItems") is None
    assert sdk_operation("nope", "putItem") is None


# The botocore error code behind each aws-sdk failure the corpus recorded, by the start of the
# cause AWS wrote (its message, then "(Service: ...").
RECORDED_CODES = {
    ("aws-sdk:dynamodb", "Requested resource not found"): "ResourceNotFoundException",
    ("aws-sdk:dynamodb", "1 validation error detected"): "ValidationException",
    ("aws-sdk:secretsmanager", "Invalid name."): "ValidationException",
    ("aws-sdk:s3", "The specified bucket does not exist"): "NoSuchBucket",
    ("aws-sdk:s3", "The specified key does not exist."): "NoSuchKey",
    ("aws-sdk:sfn", "Invalid Token"): "InvalidToken",
}


def test_error_names_match_the_recorded_aws_sdk_failures() -> None:
    failures = [
        call
        for record in corpus_records()
        for call in record.get("service_calls", [])
        if call.get("resource_type", "").startswith("aws-sdk:") and call["outcome"] == "failed"
    ]
    checked = 0
    for call in failures:
        service = call["resource_type"].removeprefix("aws-sdk:")
        (code,) = [
            code
            for (kind, start), code in RECORDED_CODES.items()
            if kind == call["resource_type"] and call["cause"].startswith(start)
        ]
        assert sdk_error_name(service, code) == call["error"]
        # AWS's cause names the client too: "(Service: DynamoDb, Status Code: 400, ...".
        found = sdk_service(service)
        assert found is not None and f"(Service: {found.client_prefix}," in call["cause"]
        checked += 1
    assert checked >= 7


@pytest.mark.parametrize(
    ("service", "code", "name"),
    [
        ("s3", "NoSuchKey", "S3.NoSuchKeyException"),
        ("sfn", "InvalidToken", "Sfn.InvalidTokenException"),
        ("sfn", "InvalidTokenException", "Sfn.InvalidTokenException"),
        ("dynamodb", "ResourceNotFoundException", "DynamoDb.ResourceNotFoundException"),
        ("dynamodb", "ResourceNotFound", "DynamoDb.ResourceNotFoundException"),
        ("dynamodb", "ValidationException", "DynamoDb.DynamoDbException"),
        ("secretsmanager", "ValidationException", "SecretsManager.SecretsManagerException"),
        # RDS answers DBInstanceNotFound for the shape DBInstanceNotFoundFault; the Java class
        # is DbInstanceNotFoundException.
        ("rds", "DBInstanceNotFound", "Rds.DbInstanceNotFoundException"),
        ("sqs", "QueueDoesNotExist", "Sqs.QueueDoesNotExistException"),
        ("lambda", "TooManyRequestsException", "Lambda.TooManyRequestsException"),
    ],
)
def test_error_names_follow_the_java_sdk_v2_exception_classes(
    service: str, code: str, name: str
) -> None:
    assert sdk_error_name(service, code) == name


def test_importing_the_catalog_loads_no_botocore() -> None:
    code = "import sys, orchestrator.asl.services; print('botocore' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert (result.returncode, result.stdout.strip()) == (0, "False"), result.stderr


def test_an_aws_sdk_lookup_loads_one_model_and_is_cached(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Start cold: no loader, no index, no model.
    for function in (services._loader, services._sdk_index, services._operations):
        function.cache_clear()
    services._event_stream_operations.cache_clear()
    loaded: list[str] = []
    load = botocore.loaders.Loader.load_service_model

    def counting(self: Any, service_name: str, *args: Any, **kwargs: Any) -> Any:
        loaded.append(service_name)
        return load(self, service_name, *args, **kwargs)

    monkeypatch.setattr(botocore.loaders.Loader, "load_service_model", counting)
    started = time.perf_counter()
    assert resource_problem("aws-sdk:dynamodb", "putItem", "") is None
    first = time.perf_counter() - started
    started = time.perf_counter()
    assert resource_problem("aws-sdk:dynamodb", "getItem", ".waitForTaskToken") is None
    cached = time.perf_counter() - started
    assert set(loaded) == {"dynamodb"}
    # Generous bounds: about 0.1 s and 10 microseconds here.
    assert first < 3.0 and cached < 0.01
