"""The ``aws`` target against a real moto server: results and failures shaped as AWS's.

Shapes and wordings are those of the executions recorded on AWS (``integrations.jsonl`` of
the conformance corpus); moto stands in for the services, so request ids, header sets and
some messages are moto's own.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from orchestrator.integrations.aws.call import DEFAULT_CONFIG, AwsCall, AwsCaller
from orchestrator.integrations.aws.failures import TaskCallFailed, sdk_failure
from tests.integrations.moto_server import MotoServer, moto_server  # noqa: F401

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's account
ROLE = f"arn:aws:iam::{ACCOUNT}:role/sfn-task-role"
CORPUS = (
    Path(__file__).resolve().parents[2].parent / "shared" / "conformance" / "integrations.jsonl"
)
ISO_INSTANT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3}|\.\d{6})?Z$")
V1_CAUSE = r" \(Service: {service}; Status Code: {status}; Error Code: {code}; Request ID: \S+; Proxy: null\)$"
V2_CAUSE = r" \(Service: {service}, Status Code: {status}, Request ID: \S+\)$"

Client = Callable[[str], Any]


@pytest.fixture(scope="module")
def caller(moto_server: MotoServer, session: botocore.session.Session) -> AwsCaller:  # noqa: F811
    return AwsCaller(session, moto_server.url)


@pytest.fixture(scope="module")
def client(moto_server: MotoServer, session: botocore.session.Session) -> Client:  # noqa: F811
    """Plain botocore clients on the moto server, to set things up and look at them."""
    return lambda name: session.create_client(
        name, region_name=REGION, endpoint_url=moto_server.url
    )


def run(caller: AwsCaller, service: str, action: str, parameters: Any, **extra: Any) -> Any:
    return caller.call(AwsCall(service, action, "", parameters, REGION, **extra))


def failure(
    caller: AwsCaller, service: str, action: str, parameters: Any, **extra: Any
) -> TaskCallFailed:
    with pytest.raises(TaskCallFailed) as raised:
        run(caller, service, action, parameters, **extra)
    return raised.value


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def assert_http_metadata(result: dict[str, Any]) -> None:
    """SdkHttpMetadata/SdkResponseMetadata as AWS adds them, from the real HTTP response."""
    metadata = result["SdkHttpMetadata"]
    assert set(metadata) == {"AllHttpHeaders", "HttpHeaders", "HttpStatusCode"}
    assert metadata["HttpStatusCode"] == 200
    headers = metadata["HttpHeaders"]
    assert metadata["AllHttpHeaders"] == {name: [value] for name, value in headers.items()}
    assert "Content-Type" in headers  # the server's spelling, not botocore's lower case
    assert list(headers) == sorted(headers, key=str.lower)
    request_id = {name.lower(): value for name, value in headers.items()}["x-amzn-requestid"]
    assert result["SdkResponseMetadata"] == {"RequestId": request_id}


def test_moto_server_starts_within_seconds(moto_server: MotoServer) -> None:  # noqa: F811
    print(f"moto server answered after {moto_server.startup_seconds:.2f}s")
    assert moto_server.startup_seconds < 10


def test_calls_are_bounded(caller: AwsCaller) -> None:
    caller.call(AwsCall("aws-sdk:sqs", "listQueues", "", {}, "us-east-1"))  # makes a client
    assert DEFAULT_CONFIG.connect_timeout == 5
    assert DEFAULT_CONFIG.read_timeout == 60
    assert DEFAULT_CONFIG.retries == {"mode": "standard", "total_max_attempts": 3}


# -- SQS ----------------------------------------------------------------------------------------


def test_sqs_send_message(caller: AwsCaller, client: Client) -> None:
    sqs = client("sqs")
    queue = sqs.create_queue(QueueName=unique("q"))["QueueUrl"]
    result = run(caller, "sqs", "sendMessage", {"QueueUrl": queue, "MessageBody": "hello"})
    assert list(result) == [
        "MD5OfMessageBody",
        "MessageId",
        "SdkHttpMetadata",
        "SdkResponseMetadata",
    ]
    assert result["MD5OfMessageBody"] == hashlib.md5(b"hello").hexdigest()
    assert_http_metadata(result)
    received = sqs.receive_message(QueueUrl=queue)["Messages"][0]
    assert received["MessageId"] == result["MessageId"]
    assert received["Body"] == "hello"


def test_sqs_object_message_body_is_sent_as_compact_json_text(
    caller: AwsCaller, client: Client
) -> None:
    sqs = client("sqs")
    queue = sqs.create_queue(QueueName=unique("q"))["QueueUrl"]
    body = {"b": 1, "a": [1.5, "é", None, {"TaskToken": "t"}]}
    run(caller, "sqs", "sendMessage", {"QueueUrl": queue, "MessageBody": body})
    received = sqs.receive_message(QueueUrl=queue)["Messages"][0]["Body"]
    assert received == '{"b":1,"a":[1.5,"é",null,{"TaskToken":"t"}]}'


def test_sqs_errors_are_named_after_sdk_v1_exceptions(caller: AwsCaller, client: Client) -> None:
    queue = client("sqs").create_queue(QueueName=unique("q"))["QueueUrl"]
    missing = failure(
        caller, "sqs", "sendMessage", {"QueueUrl": queue + "-gone", "MessageBody": "x"}
    )
    assert missing.error == "SQS.QueueDoesNotExistException"
    pattern = V1_CAUSE.format(
        service="AmazonSQS", status=400, code=re.escape("AWS.SimpleQueueService.NonExistentQueue")
    )
    assert re.match("The specified queue does not exist." + pattern, missing.cause)
    # An error the SQS model does not name is SDK v1's generic AmazonSQSException.
    invalid = failure(
        caller,
        "sqs",
        "sendMessage",
        {"QueueUrl": queue, "MessageBody": "x", "DelaySeconds": 10_000},
    )
    assert invalid.error == "SQS.AmazonSQSException"
    assert re.search(
        V1_CAUSE.format(service="AmazonSQS", status=400, code="InvalidParameterValue"),
        invalid.cause,
    )


# -- SNS ----------------------------------------------------------------------------------------


def test_sns_publish(caller: AwsCaller, client: Client) -> None:
    sns, sqs = client("sns"), client("sqs")
    topic = sns.create_topic(Name=unique("t"))["TopicArn"]
    queue = sqs.create_queue(QueueName=unique("q"))["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=queue_arn,
        Attributes={"RawMessageDelivery": "true"},
    )
    result = run(
        caller, "sns", "publish", {"TopicArn": topic, "Message": {"arg1": "Hello", "arg2": 2}}
    )
    assert list(result) == ["MessageId", "SdkHttpMetadata", "SdkResponseMetadata"]
    assert_http_metadata(result)
    assert sqs.receive_message(QueueUrl=queue)["Messages"][0]["Body"] == '{"arg1":"Hello","arg2":2}'


def test_sns_missing_topic(caller: AwsCaller) -> None:
    topic = f"arn:aws:sns:{REGION}:{ACCOUNT}:{unique('gone')}"
    failed = failure(caller, "sns", "publish", {"TopicArn": topic, "Message": "x"})
    assert failed.error == "SNS.NotFoundException"
    assert re.search(
        V1_CAUSE.format(service="AmazonSNS", status=404, code="NotFound"), failed.cause
    )


# -- DynamoDB -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def table(client: Client) -> str:
    name = unique("table")
    client("dynamodb").create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return name


def test_dynamodb_optimized_item_calls(caller: AwsCaller, table: str) -> None:
    key = {"id": {"S": "opt-1"}}
    item = {**key, "data": {"S": "HelloWorld"}, "blob": {"B": "aGk="}}
    put = run(caller, "dynamodb", "putItem", {"TableName": table, "Item": item})
    assert list(put) == ["SdkHttpMetadata", "SdkResponseMetadata"]
    assert_http_metadata(put)

    got = run(caller, "dynamodb", "getItem", {"TableName": table, "Key": key})
    assert got["Item"] == {"blob": {"B": "aGk="}, "data": {"S": "HelloWorld"}, "id": {"S": "opt-1"}}
    assert list(got["Item"]) == ["blob", "data", "id"]  # Jackson writes map keys in order
    assert_http_metadata(got)

    update = {
        "TableName": table,
        "Key": key,
        "UpdateExpression": "set S=:r",
        "ExpressionAttributeValues": {":r": {"S": "HelloWorldUpdated"}},
        "ReturnValues": "UPDATED_NEW",
    }
    updated = run(caller, "dynamodb", "updateItem", update)
    assert updated["Attributes"] == {"S": {"S": "HelloWorldUpdated"}}
    assert_http_metadata(updated)

    deleted = run(caller, "dynamodb", "deleteItem", {"TableName": table, "Key": key})
    assert {"SdkHttpMetadata", "SdkResponseMetadata"} <= set(deleted)
    assert "Item" not in run(caller, "dynamodb", "getItem", {"TableName": table, "Key": key})


def test_dynamodb_optimized_errors(caller: AwsCaller, table: str) -> None:
    missing = failure(
        caller, "dynamodb", "putItem", {"TableName": unique("gone"), "Item": {"id": {"S": "1"}}}
    )
    assert missing.error == "DynamoDB.ResourceNotFoundException"
    pattern = V1_CAUSE.format(
        service="AmazonDynamoDBv2", status=400, code="ResourceNotFoundException"
    )
    assert re.match("Requested resource not found" + pattern, missing.cause)

    condition = {
        "TableName": table,
        "Item": {"id": {"S": "c"}},
        "ConditionExpression": "attribute_exists(id)",
    }
    conditional = failure(caller, "dynamodb", "putItem", condition)
    assert conditional.error == "DynamoDB.ConditionalCheckFailedException"

    invalid = failure(
        caller, "dynamodb", "putItem", {"TableName": table, "Item": {"data": {"S": "no key"}}}
    )
    assert invalid.error == "DynamoDB.AmazonDynamoDBException"
    assert re.search(
        V1_CAUSE.format(service="AmazonDynamoDBv2", status=400, code="ValidationException"),
        invalid.cause,
    )


def test_sdk_dynamodb_put_get_query(caller: AwsCaller, table: str) -> None:
    item = {"id": {"S": "sdk-1"}, "data": {"S": "HelloWorld"}}
    assert run(caller, "aws-sdk:dynamodb", "putItem", {"TableName": table, "Item": item}) == {}
    got = run(
        caller, "aws-sdk:dynamodb", "getItem", {"TableName": table, "Key": {"id": {"S": "sdk-1"}}}
    )
    assert got == {"Item": item}
    query = {
        "TableName": table,
        "KeyConditionExpression": "id = :id",
        "ExpressionAttributeValues": {":id": {"S": "sdk-1"}},
    }
    assert run(caller, "aws-sdk:dynamodb", "query", query) == {
        "Count": 1,
        "Items": [item],
        "ScannedCount": 1,
    }


def test_sdk_dynamodb_errors(caller: AwsCaller, table: str) -> None:
    invalid = failure(
        caller, "aws-sdk:dynamodb", "putItem", {"TableName": table, "Item": {"x": {"S": "1"}}}
    )
    assert invalid.error == "DynamoDb.DynamoDbException"
    assert re.search(V2_CAUSE.format(service="DynamoDb", status=400), invalid.cause)
    missing = failure(
        caller,
        "aws-sdk:dynamodb",
        "getItem",
        {"TableName": unique("gone"), "Key": {"id": {"S": "1"}}},
    )
    assert missing.error == "DynamoDb.ResourceNotFoundException"
    assert re.match(
        "Requested resource not found" + V2_CAUSE.format(service="DynamoDb", status=400),
        missing.cause,
    )


# -- EventBridge --------------------------------------------------------------------------------


def test_events_put_events_appends_the_execution_to_resources(
    caller: AwsCaller, client: Client
) -> None:
    sqs, events = client("sqs"), client("events")
    queue = sqs.create_queue(QueueName=unique("q"))["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    source = unique("my.source")
    rule = unique("rule")
    events.put_rule(Name=rule, EventPattern=json.dumps({"source": [source]}))
    events.put_targets(Rule=rule, Targets=[{"Id": "queue", "Arn": queue_arn}])
    machine = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:sm"
    execution = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:sm:run-1"
    entries = [
        {"Detail": {"Message": "Hi"}, "DetailType": "t", "Source": source, "Resources": ["r"]}
    ]

    result = run(
        caller,
        "events",
        "putEvents",
        {"Entries": entries},
        state_machine_arn=machine,
        execution_arn=execution,
    )
    assert result == {
        "Entries": [{"EventId": result["Entries"][0]["EventId"]}],
        "FailedEntryCount": 0,
    }
    event = json.loads(sqs.receive_message(QueueUrl=queue)["Messages"][0]["Body"])
    assert event["resources"] == ["r", machine, execution]
    assert event["detail"] == {"Message": "Hi"}


def test_events_failed_entry(caller: AwsCaller) -> None:
    entries = [{"Detail": "not json", "DetailType": "t", "Source": "some.source"}]
    failed = failure(caller, "events", "putEvents", {"Entries": entries})
    assert failed.error == "EventBridge.FailedEntry"
    assert failed.cause == (
        '{"Entries":[{"ErrorCode":"MalformedDetail","ErrorMessage":"Detail is malformed."}],'
        '"FailedEntryCount":1}'
    )


# -- S3, Secrets Manager, Step Functions ---------------------------------------------------------


def test_sdk_s3_put_get_list(caller: AwsCaller, client: Client) -> None:
    bucket = unique("bucket")
    client("s3").create_bucket(Bucket=bucket)
    # An AWS SDK integration sends every Body as JSON text (the recorded ETags are those).
    for body, text in [
        ("text data", '"text data"'),
        ({"Dict": "Value"}, '{"Dict":"Value"}'),
        (False, "false"),
    ]:
        put = run(
            caller, "aws-sdk:s3", "putObject", {"Bucket": bucket, "Key": "file-key", "Body": body}
        )
        assert put["ETag"] == f'"{hashlib.md5(text.encode()).hexdigest()}"'
        assert "ResponseMetadata" not in put
    got = run(caller, "aws-sdk:s3", "getObject", {"Bucket": bucket, "Key": "file-key"})
    assert got["Body"] == "false"
    assert got["ContentLength"] == 5
    assert ISO_INSTANT.match(got["LastModified"])
    assert {"AcceptRanges", "ContentType", "ETag", "Metadata"} <= set(got)
    listed = run(caller, "aws-sdk:s3", "listObjectsV2", {"Bucket": bucket})
    assert [content["Key"] for content in listed["Contents"]] == ["file-key"]
    assert listed["KeyCount"] == 1
    assert ISO_INSTANT.match(listed["Contents"][0]["LastModified"])


def test_sdk_s3_missing_key_and_bucket(caller: AwsCaller, client: Client) -> None:
    bucket = unique("bucket")
    client("s3").create_bucket(Bucket=bucket)
    no_key = failure(
        caller, "aws-sdk:s3", "getObject", {"Bucket": bucket, "Key": "no_such_key.json"}
    )
    assert no_key.error == "S3.NoSuchKeyException"
    assert re.match(
        "The specified key does not exist." + V2_CAUSE.format(service="S3", status=404),
        no_key.cause,
    )
    no_bucket = failure(caller, "aws-sdk:s3", "listObjects", {"Bucket": unique("gone")})
    assert no_bucket.error == "S3.NoSuchBucketException"
    assert re.match(
        "The specified bucket does not exist" + V2_CAUSE.format(service="S3", status=404),
        no_bucket.cause,
    )


def test_sdk_s3_cause_matches_the_recorded_form_with_an_extended_request_id() -> None:
    """moto sends no x-amz-id-2; S3 does, and v2 prints it after the request id."""
    error = ClientError(
        {
            "Error": {"Code": "NoSuchKey", "Message": "The specified key does not exist."},
            "ResponseMetadata": {"HTTPStatusCode": 404, "RequestId": "R3Q", "HostId": "a+b/c="},
        },
        "GetObject",
    )
    cause = sdk_failure(error, "S3.NoSuchKeyException", "S3", attempt_count=False).cause
    assert cause == (
        "The specified key does not exist. (Service: S3, Status Code: 404, Request ID: R3Q,"
        " Extended Request ID: a+b/c=)"
    )
    recorded = [call for call in recorded_calls() if call.get("error") == "S3.NoSuchKeyException"]
    # The corpus README's masks (the extended id's first: the other would take its head).
    normalised = re.sub(
        r"Extended Request ID: [a-zA-Z0-9-/=+]+",
        "Extended Request ID: <extended_request_id>",
        cause,
    )
    normalised = re.sub(
        r"(?<!Extended )Request ID: [a-zA-Z0-9-]+", "Request ID: <request_id>", normalised
    )
    assert recorded and recorded[0]["cause"] == normalised


def test_sdk_secretsmanager(caller: AwsCaller) -> None:
    name = unique("secret")
    created = run(
        caller, "aws-sdk:secretsmanager", "createSecret", {"Name": name, "SecretString": {"a": 1}}
    )
    assert created["Name"] == name
    got = run(caller, "aws-sdk:secretsmanager", "getSecretValue", {"SecretId": name})
    assert got["SecretString"] == '{"a":1}'
    assert ISO_INSTANT.match(got["CreatedDate"])
    assert name in [
        s["Name"] for s in run(caller, "aws-sdk:secretsmanager", "listSecrets", {})["SecretList"]
    ]
    missing = failure(
        caller, "aws-sdk:secretsmanager", "getSecretValue", {"SecretId": unique("gone")}
    )
    assert missing.error == "SecretsManager.ResourceNotFoundException"
    assert re.search(V2_CAUSE.format(service="SecretsManager", status=404), missing.cause)


def test_start_execution_optimized_and_sdk(caller: AwsCaller, client: Client) -> None:
    sfn = client("stepfunctions")
    definition = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    machine = sfn.create_state_machine(name=unique("sm"), definition=definition, roleArn=ROLE)[
        "stateMachineArn"
    ]

    optimized = run(
        caller, "states", "startExecution", {"StateMachineArn": machine, "Input": {"a": 1}}
    )
    assert isinstance(optimized["StartDate"], int)  # SDK v1's Date, written by Jackson
    assert_http_metadata(optimized)
    assert sfn.describe_execution(executionArn=optimized["ExecutionArn"])["input"] == '{"a":1}'

    sdk = run(caller, "aws-sdk:sfn", "startExecution", {"StateMachineArn": machine, "Input": None})
    assert set(sdk) == {"ExecutionArn", "StartDate"}
    assert ISO_INSTANT.match(sdk["StartDate"])

    gone = machine + "-gone"
    v1 = failure(caller, "states", "startExecution", {"StateMachineArn": gone})
    assert v1.error == "StepFunctions.StateMachineDoesNotExistException"
    assert re.search(
        V1_CAUSE.format(service="AWSStepFunctions", status=400, code="StateMachineDoesNotExist"),
        v1.cause,
    )
    v2 = failure(caller, "aws-sdk:sfn", "startExecution", {"StateMachineArn": gone})
    assert v2.error == "Sfn.StateMachineDoesNotExistException"
    assert v2.cause.endswith(") (SDK Attempt Count: 1)")


def test_lambda_invoke_of_a_missing_function(caller: AwsCaller) -> None:
    failed = failure(
        caller, "lambda", "invoke", {"FunctionName": unique("gone"), "Payload": {"a": 1}}
    )
    assert failed.error == "Lambda.ResourceNotFoundException"
    assert re.search(
        V1_CAUSE.format(service="AWSLambda", status=404, code="ResourceNotFoundException"),
        failed.cause,
    )


# -- credentials, refusals, unreachable endpoints -----------------------------------------------


def test_credentials_assume_the_role_through_sts(caller: AwsCaller) -> None:
    own = run(caller, "aws-sdk:sts", "getCallerIdentity", {})
    assumed = run(caller, "aws-sdk:sts", "getCallerIdentity", {}, credentials={"RoleArn": ROLE})
    assert "assumed-role" not in own["Arn"]
    assert assumed["Arn"].startswith(f"arn:aws:sts::{ACCOUNT}:assumed-role/sfn-task-role/")
    again = run(caller, "aws-sdk:sts", "getCallerIdentity", {}, credentials={"roleArn": ROLE})
    assert again["Arn"] == assumed["Arn"]  # the same temporary credentials, reused


def test_unsupported_calls_and_parameters_are_refused(caller: AwsCaller) -> None:
    with pytest.raises(TaskCallFailed) as sync:
        caller.call(AwsCall("ecs", "runTask", ".sync", {}, REGION))
    assert sync.value.error == "States.Runtime"
    assert ".sync integration pattern is not supported" in sync.value.cause
    unknown = failure(
        caller, "aws-sdk:dynamodb", "putItem", {"TableName": "t", "Item": {}, "Colour": "red"}
    )
    assert unknown.error == "DynamoDb.SdkClientException"
    assert 'Unknown parameter in input: "Colour"' in unknown.cause
    assert failure(caller, "aws-sdk:nosuchservice", "doIt", {}).error == "States.Runtime"


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_unreachable_endpoint_and_sts(session: botocore.session.Session, closed_port: int) -> None:
    caller = AwsCaller(
        session, f"http://127.0.0.1:{closed_port}", Config(retries={"max_attempts": 1})
    )
    call = {"QueueUrl": f"http://127.0.0.1:{closed_port}/{ACCOUNT}/q", "MessageBody": "x"}
    unreachable = failure(caller, "sqs", "sendMessage", call)
    assert unreachable.error == "SQS.SdkClientException"
    assert unreachable.cause.startswith("Unable to execute HTTP request: ")
    no_sts = failure(caller, "sqs", "sendMessage", call, credentials={"RoleArn": ROLE})
    assert no_sts.error == "States.TaskFailed"
    assert no_sts.cause.startswith(f"Unable to assume the role {ROLE}: ")


@pytest.fixture
def silent_endpoint() -> Iterator[str]:
    """A server that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    accepted: list[socket.socket] = []
    thread = threading.Thread(target=lambda: accepted.append(server.accept()[0]), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
    finally:
        for connection in accepted:
            connection.close()
        server.close()


def test_read_timeout_bounds_a_call(
    session: botocore.session.Session, silent_endpoint: str
) -> None:
    caller = AwsCaller(
        session, silent_endpoint, Config(read_timeout=0.3, retries={"max_attempts": 1})
    )
    failed = failure(caller, "aws-sdk:sqs", "listQueues", {})
    assert failed.error == "Sqs.SdkClientException"
    assert "Read timeout" in failed.cause


# -- the recorded shapes ------------------------------------------------------------------------


def recorded_calls() -> list[dict[str, Any]]:
    """Every task call of the corpus; skips (fails under CI) when the corpus is absent."""
    if not CORPUS.is_file():
        message = f"conformance corpus not found at {CORPUS} (it sits beside the checkout in CI)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    calls: list[dict[str, Any]] = []
    with CORPUS.open(encoding="utf-8") as lines:
        for line in lines:
            calls.extend(
                c for c in json.loads(line).get("service_calls", []) if c["kind"] == "task"
            )
    return calls


def test_optimized_results_have_the_recorded_members(
    caller: AwsCaller, client: Client, table: str
) -> None:
    recorded = {
        (call["resource_type"], call["resource"]): call["output"]
        for call in recorded_calls()
        if call.get("outcome") == "succeeded"
        and call["resource_type"] in {"sqs", "sns", "dynamodb", "events"}
    }
    queue = client("sqs").create_queue(QueueName=unique("q"))["QueueUrl"]
    topic = client("sns").create_topic(Name=unique("t"))["TopicArn"]
    key = {"id": {"S": "shape"}}
    ours = {
        ("sqs", "sendMessage"): run(
            caller, "sqs", "sendMessage", {"QueueUrl": queue, "MessageBody": "m"}
        ),
        ("sns", "publish"): run(caller, "sns", "publish", {"TopicArn": topic, "Message": {"m": 1}}),
        ("dynamodb", "putItem"): run(
            caller, "dynamodb", "putItem", {"TableName": table, "Item": key}
        ),
        ("dynamodb", "getItem"): run(
            caller, "dynamodb", "getItem", {"TableName": table, "Key": key}
        ),
        ("dynamodb", "deleteItem"): run(
            caller, "dynamodb", "deleteItem", {"TableName": table, "Key": key}
        ),
        ("events", "putEvents"): run(
            caller,
            "events",
            "putEvents",
            {"Entries": [{"Detail": {}, "DetailType": "t", "Source": "s"}]},
        ),
    }
    for resource, result in ours.items():
        assert set(result) == set(recorded[resource]), resource
        if "SdkHttpMetadata" in result:
            assert set(result["SdkHttpMetadata"]) == set(recorded[resource]["SdkHttpMetadata"])
