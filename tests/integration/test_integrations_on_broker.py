"""Service integrations on the real service: the aws target against a moto server process,
and a mock configuration's test case, driven through boto3.

One orchestrator process serves the API; ``AWS_ENDPOINT_URL`` points its aws target at moto
(botocore's standard configuration, no routing file); ``SFN_MOCK_CONFIG`` holds a test case.
"""

from __future__ import annotations

import asyncio
import http.server
import json
import os
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import aio_pika
import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.api.test_boto3 import free_port, wait_done
from tests.integration.amqp import purge_topology
from tests.integrations.moto_server import MotoServer, moto_server  # noqa: F401
from tests.processes import Service, start, start_orchestrator

pytestmark = pytest.mark.integration
ROLE = "arn:aws:iam::123456789012:role/test"
DUMMY_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}
MOCKS = {
    "StateMachines": {
        "Mocked": {
            "TestCases": {
                "HappyPath": {"Charge": "ChargeOk", "Notify": "Notified"},
                "DeclinedPath": {"Charge": "ChargeDeclined"},
            }
        }
    },
    "MockedResponses": {
        "ChargeOk": {"0": {"Return": {"StatusCode": 200, "Payload": {"charged": 42}}}},
        "ChargeDeclined": {"0": {"Throw": {"Error": "Card.Declined", "Cause": "no funds"}}},
        "Notified": {"0": {"Return": {"MessageId": "mocked-message"}}},
    },
}

ROUTES = {
    "Routes": [
        {"Resource": "dynamodb:putItem", "Target": "worker"},
        {"Resource": "dynamodb:getItem", "Target": "worker"},
        {"Resource": "sqs:sendMessage*", "Target": "rabbitmq"},
        {"Resource": "events:putEvents", "Target": "rabbitmq"},
    ],
    "Connections": {
        "echo": {
            "AuthorizationType": "API_KEY",
            "AuthParameters": {
                "ApiKeyAuthParameters": {
                    "ApiKeyName": "x-api-key",
                    "ApiKeyValue": {"Env": "ECHO_API_KEY"},
                }
            },
        }
    },
}


@pytest.fixture(scope="module")
def aws(moto_server: MotoServer) -> dict[str, Any]:  # noqa: F811
    """boto3 clients of the moto server, as the test's own view of "AWS"."""
    kwargs = {"endpoint_url": moto_server.url, "region_name": "us-east-1"}
    credentials = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    return {
        name: boto3.client(name, **kwargs, **credentials)  # type: ignore[call-overload]
        for name in ("dynamodb", "s3", "sqs", "sns")
    }


class _Echo(http.server.BaseHTTPRequestHandler):
    """Answers with what it was sent: method, path, the API key header and the JSON body."""

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        answer = json.dumps(
            {"method": "POST", "path": self.path, "key": self.headers.get("x-api-key"), "got": body}
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def echo_url() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


@pytest.fixture(scope="module")
def sfn(
    amqp_url: str,
    moto_server: MotoServer,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Any]:
    tmp = tmp_path_factory.mktemp("integrations")
    mocks = tmp / "mocks.json"
    mocks.write_text(json.dumps(MOCKS))
    routes = tmp / "routes.json"
    routes.write_text(json.dumps(ROUTES))
    env = {
        **os.environ,
        **DUMMY_AWS,
        "AMQP_URL": amqp_url,
        "PYTHONUNBUFFERED": "1",
        "AWS_ENDPOINT_URL": moto_server.url,
        "SFN_MOCK_CONFIG": str(mocks),
        "SFN_INTEGRATIONS": str(routes),
        "ECHO_API_KEY": "k-123",
    }
    env.pop("SFN_ACCESS_KEY_ID", None)
    asyncio.run(_purge(amqp_url))
    port = free_port()
    service: Service = start_orchestrator(env, tmp, tmp / "sfn.db", api_port=port)
    table = start(
        "table-worker", ["workers.integrations_main", "workers.examples.dynamodb_table"], env, tmp
    )
    table.wait_for("serving 2 integration queues")
    try:
        yield boto3.client(
            "stepfunctions",
            endpoint_url=f"http://127.0.0.1:{port}",
            region_name="us-east-1",
            aws_access_key_id="anything",
            aws_secret_access_key="anything",
            config=Config(inject_host_prefix=False),
        )
    finally:
        table.stop()
        service.stop()


async def _purge(url: str) -> None:
    connection = await aio_pika.connect(url)
    await purge_topology(await connection.channel())
    await connection.close()


def run(sfn: Any, definition: dict[str, Any], data: Any, **start: Any) -> dict[str, Any]:
    name = f"M{uuid.uuid4().hex[:10]}"
    arn = sfn.create_state_machine(name=name, definition=json.dumps(definition), roleArn=ROLE)[
        "stateMachineArn"
    ]
    execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps(data), **start)
    return wait_done(sfn, execution["executionArn"])


def history_types(sfn: Any, execution_arn: str) -> list[str]:
    events = sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]
    return [event["type"] for event in events]


def test_dynamodb_put_then_get_through_the_aws_target(sfn: Any, aws: dict[str, Any]) -> None:
    table = f"t{uuid.uuid4().hex[:8]}"
    aws["dynamodb"].create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    definition = {
        "StartAt": "Put",
        "States": {
            "Put": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:dynamodb:putItem",
                "Parameters": {"TableName": table, "Item": {"id": {"S.$": "$.id"}}},
                "ResultPath": "$.put",
                "Next": "Get",
            },
            "Get": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:dynamodb:getItem",
                "Parameters": {"TableName": table, "Key": {"id": {"S.$": "$.id"}}},
                "End": True,
            },
        },
    }
    described = run(sfn, definition, {"id": "case-1"})
    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"]) == {"Item": {"id": {"S": "case-1"}}}
    types = history_types(sfn, described["executionArn"])
    assert types.count("TaskScheduled") == types.count("TaskStarted") == 2
    assert types.count("TaskSucceeded") == 2
    item = aws["dynamodb"].get_item(TableName=table, Key={"id": {"S": "case-1"}})["Item"]
    assert item == {"id": {"S": "case-1"}}


def test_an_sdk_error_is_caught_by_its_aws_name(sfn: Any, aws: dict[str, Any]) -> None:
    bucket = f"b{uuid.uuid4().hex[:8]}"
    aws["s3"].create_bucket(Bucket=bucket)
    definition = {
        "StartAt": "Read",
        "States": {
            "Read": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
                "Parameters": {"Bucket": bucket, "Key": "missing.json"},
                "Catch": [{"ErrorEquals": ["S3.NoSuchKeyException"], "Next": "Missing"}],
                "End": True,
            },
            "Missing": {"Type": "Pass", "End": True},
        },
    }
    described = run(sfn, definition, {})
    assert described["status"] == "SUCCEEDED", described
    caught = json.loads(described["output"])
    assert caught["Error"] == "S3.NoSuchKeyException"
    assert "(Service: S3, Status Code: 404" in caught["Cause"]


def test_an_sdk_wait_for_task_token_completes_with_send_task_success(
    sfn: Any, aws: dict[str, Any]
) -> None:
    queue_url = aws["sqs"].create_queue(QueueName=f"q{uuid.uuid4().hex[:8]}")["QueueUrl"]
    definition = {
        "StartAt": "Ask",
        "States": {
            "Ask": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:sqs:sendMessage.waitForTaskToken",
                "Parameters": {
                    "QueueUrl": queue_url,
                    "MessageBody": {"case.$": "$.case", "token.$": "$$.Task.Token"},
                },
                "TimeoutSeconds": 60,
                "End": True,
            }
        },
    }
    name = f"M{uuid.uuid4().hex[:10]}"
    arn = sfn.create_state_machine(name=name, definition=json.dumps(definition), roleArn=ROLE)[
        "stateMachineArn"
    ]
    execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"case": "7"}))
    messages = []
    for _ in range(50):
        messages = (
            aws["sqs"].receive_message(QueueUrl=queue_url, WaitTimeSeconds=1).get("Messages", [])
        )
        if messages:
            break
    assert messages, "the task's message never reached the queue"
    body = json.loads(messages[0]["Body"])
    assert body["case"] == "7"
    # SQS's answer (TaskSubmitted) reaches the execution on its own way; wait for it, so the
    # history shows the order AWS's does.
    for _ in range(100):
        if "TaskSubmitted" in history_types(sfn, execution["executionArn"]):
            break
        time.sleep(0.05)
    sfn.send_task_success(taskToken=body["token"], output=json.dumps({"approved": True}))
    described = wait_done(sfn, execution["executionArn"])
    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"]) == {"approved": True}
    types = history_types(sfn, execution["executionArn"])
    assert types[types.index("TaskScheduled") :][:4] == [
        "TaskScheduled",
        "TaskStarted",
        "TaskSubmitted",
        "TaskSucceeded",
    ]


def test_an_optimized_error_fails_the_execution_with_its_name(sfn: Any) -> None:
    definition = {
        "StartAt": "Notify",
        "States": {
            "Notify": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sns:publish",
                "Parameters": {
                    "TopicArn": "arn:aws:sns:us-east-1:123456789012:no-such-topic",
                    "Message": {"hello": "world"},
                },
                "End": True,
            }
        },
    }
    described = run(sfn, definition, {})
    assert described["status"] == "FAILED"
    assert described["error"].startswith("SNS.")
    assert "(Service: AmazonSNS; Status Code: 404" in described["cause"]


MOCKED = {
    "StartAt": "Charge",
    "States": {
        "Charge": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "NoSuchFunctionAnywhere", "Payload.$": "$"},
            "ResultSelector": {"charged.$": "$.Payload.charged"},
            "Catch": [{"ErrorEquals": ["Card.Declined"], "Next": "Declined"}],
            "Next": "Notify",
        },
        "Notify": {
            "Type": "Task",
            "Resource": "arn:aws:states:::sns:publish",
            "Parameters": {"TopicArn": "arn:aws:sns:us-east-1:123456789012:t", "Message": "hi"},
            "ResultPath": "$.notified",
            "End": True,
        },
        "Declined": {"Type": "Fail", "Error": "Declined"},
    },
}


@pytest.fixture(scope="module")
def mocked_machine(sfn: Any) -> str:
    arn: str = sfn.create_state_machine(name="Mocked", definition=json.dumps(MOCKED), roleArn=ROLE)[
        "stateMachineArn"
    ]
    return arn


def test_a_mock_test_case_answers_its_states(sfn: Any, mocked_machine: str) -> None:
    started = sfn.start_execution(stateMachineArn=f"{mocked_machine}#HappyPath", input="{}")
    described = wait_done(sfn, started["executionArn"])
    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"]) == {
        "charged": 42,
        "notified": {"MessageId": "mocked-message"},
    }


def test_a_mocked_throw_is_caught(sfn: Any, mocked_machine: str) -> None:
    started = sfn.start_execution(stateMachineArn=f"{mocked_machine}#DeclinedPath", input="{}")
    described = wait_done(sfn, started["executionArn"])
    assert (described["status"], described["error"]) == ("FAILED", "Declined")


def test_an_unknown_test_case_is_refused(sfn: Any, mocked_machine: str) -> None:
    with pytest.raises(ClientError) as caught:
        sfn.start_execution(stateMachineArn=f"{mocked_machine}#NoSuchCase", input="{}")
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert "NoSuchCase" in caught.value.response["Error"]["Message"]


def _machine(sfn: Any, definition: dict[str, Any]) -> str:
    name = f"M{uuid.uuid4().hex[:10]}"
    arn: str = sfn.create_state_machine(name=name, definition=json.dumps(definition), roleArn=ROLE)[
        "stateMachineArn"
    ]
    return arn


def _parent(resource: str, **task: Any) -> dict[str, Any]:
    return {
        "StartAt": "Child",
        "States": {
            "Child": {
                "Type": "Task",
                "Resource": resource,
                "Parameters": {
                    "StateMachineArn.$": "$.child",
                    "Input": {
                        "n.$": "$.n",
                        "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID.$": "$$.Execution.Id",
                    },
                },
                **task,
                "End": True,
            }
        },
    }


DOUBLE = {
    "StartAt": "D",
    "States": {
        "D": {"Type": "Pass", "Parameters": {"doubled.$": "States.MathAdd($.n, $.n)"}, "End": True}
    },
}


@pytest.mark.parametrize("pattern", [".sync", ".sync:2"])
def test_a_nested_execution_returns_its_output(sfn: Any, pattern: str) -> None:
    child = _machine(sfn, DOUBLE)
    described = run(
        sfn, _parent(f"arn:aws:states:::states:startExecution{pattern}"), {"child": child, "n": 21}
    )
    assert described["status"] == "SUCCEEDED", described
    output = json.loads(described["output"])
    assert output["Status"] == "SUCCEEDED"
    assert output["StateMachineArn"] == child
    result = output["Output"] if pattern == ".sync:2" else json.loads(output["Output"])
    assert result == {"doubled": 42}
    types = history_types(sfn, described["executionArn"])
    assert [t for t in types if t.startswith("Task") and not t.startswith("TaskState")] == [
        "TaskScheduled",
        "TaskStarted",
        "TaskSubmitted",
        "TaskSucceeded",
    ]
    children = sfn.list_executions(stateMachineArn=child)["executions"]
    assert [c["status"] for c in children] == ["SUCCEEDED"]


def test_a_failed_child_fails_the_task_with_its_description(sfn: Any) -> None:
    child = _machine(
        sfn, {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Boom", "Cause": "bad"}}}
    )
    definition = _parent(
        "arn:aws:states:::states:startExecution.sync",
        Catch=[{"ErrorEquals": ["States.TaskFailed"], "Next": "Caught"}],
    )
    definition["States"]["Child"].pop("End")
    definition["States"]["Child"]["Next"] = "Caught"
    definition["States"]["Caught"] = {"Type": "Pass", "End": True}
    described = run(sfn, definition, {"child": child, "n": 1})
    assert described["status"] == "SUCCEEDED", described
    caught = json.loads(described["output"])
    assert caught["Error"] == "States.TaskFailed"
    cause = json.loads(caught["Cause"])
    assert (cause["Status"], cause["Error"], cause["Cause"]) == ("FAILED", "Boom", "bad")


def test_request_response_and_a_missing_machine(sfn: Any) -> None:
    child = _machine(sfn, DOUBLE)
    described = run(
        sfn, _parent("arn:aws:states:::states:startExecution"), {"child": child, "n": 2}
    )
    assert described["status"] == "SUCCEEDED", described
    output = json.loads(described["output"])
    assert output["ExecutionArn"].startswith(child.replace(":stateMachine:", ":execution:"))
    assert isinstance(output["StartDate"], int) and "SdkHttpMetadata" in output
    missing = child + "Gone"
    failed = run(sfn, _parent("arn:aws:states:::states:startExecution"), {"child": missing, "n": 2})
    assert failed["status"] == "FAILED"
    assert failed["error"] == "StepFunctions.StateMachineDoesNotExistException"
    assert f"State Machine Does Not Exist: '{missing}'" in failed["cause"]


def test_stopping_a_parent_stops_its_sync_child(sfn: Any) -> None:
    child = _machine(
        sfn, {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 300, "End": True}}}
    )
    parent = _machine(sfn, _parent("arn:aws:states:::states:startExecution.sync:2"))
    started = sfn.start_execution(
        stateMachineArn=parent, input=json.dumps({"child": child, "n": 0})
    )
    for _ in range(100):
        if sfn.list_executions(stateMachineArn=child)["executions"]:
            break
        time.sleep(0.05)
    for _ in range(100):
        if "TaskSubmitted" in history_types(sfn, started["executionArn"]):
            break
        time.sleep(0.05)
    sfn.stop_execution(executionArn=started["executionArn"])
    (running,) = sfn.list_executions(stateMachineArn=child)["executions"]
    assert wait_done(sfn, running["executionArn"])["status"] == "ABORTED"


def test_status_changes_are_published_as_eventbridge_events(sfn: Any, amqp_url: str) -> None:
    machine = _machine(sfn, DOUBLE)
    name = machine.rsplit(":", 1)[-1]

    async def watch() -> list[dict[str, Any]]:
        connection = await aio_pika.connect(amqp_url)
        channel = await connection.channel()
        exchange = await channel.get_exchange("executions")
        queue = await channel.declare_queue(exclusive=True)
        await queue.bind(exchange, routing_key=f"status-change.{name}.*")
        await asyncio.to_thread(
            sfn.start_execution, stateMachineArn=machine, input=json.dumps({"n": 4})
        )
        events = []
        async with queue.iterator(timeout=20) as messages:
            async for message in messages:
                await message.ack()
                events.append({"key": message.routing_key, **json.loads(message.body)})
                if len(events) == 2:
                    break
        await connection.close()
        return events

    running, succeeded = asyncio.run(watch())
    assert (running["key"], succeeded["key"]) == (
        f"status-change.{name}.RUNNING",
        f"status-change.{name}.SUCCEEDED",
    )
    for event in (running, succeeded):
        assert event["detail-type"] == "Step Functions Execution Status Change"
        assert event["source"] == "aws.states"
        assert event["resources"] == [event["detail"]["executionArn"]]
        assert event["detail"]["stateMachineArn"] == machine
        assert json.loads(event["detail"]["input"]) == {"n": 4}
    assert running["detail"]["stopDate"] is None and running["detail"]["output"] is None
    assert json.loads(succeeded["detail"]["output"]) == {"doubled": 8}
    assert succeeded["detail"]["stopDate"] >= succeeded["detail"]["startDate"]


def test_an_http_task_calls_the_endpoint_with_its_connection(sfn: Any, echo_url: str) -> None:
    definition = {
        "StartAt": "Call",
        "States": {
            "Call": {
                "Type": "Task",
                "Resource": "arn:aws:states:::http:invoke",
                "Parameters": {
                    "ApiEndpoint": f"{echo_url}/orders",
                    "Method": "POST",
                    "Authentication": {
                        "ConnectionArn": "arn:aws:events:us-east-1:123456789012:connection/echo/0d1b"
                    },
                    "RequestBody": {"id.$": "$.id"},
                },
                "ResultSelector": {"status.$": "$.StatusCode", "body.$": "$.ResponseBody"},
                "End": True,
            }
        },
    }
    described = run(sfn, definition, {"id": 9})
    assert described["status"] == "SUCCEEDED", described
    output = json.loads(described["output"])
    assert output["status"] == 200
    assert output["body"] == {"method": "POST", "path": "/orders", "key": "k-123", "got": {"id": 9}}


def test_routed_calls_reach_an_integration_worker(sfn: Any) -> None:
    definition = {
        "StartAt": "Put",
        "States": {
            "Put": {
                "Type": "Task",
                "Resource": "arn:aws:states:::dynamodb:putItem",
                "Parameters": {
                    "TableName": "cases",
                    "Item": {"id": {"S.$": "$.id"}, "status": {"S": "open"}},
                    "ConditionExpression": "attribute_not_exists(id)",
                },
                "ResultPath": None,
                "Next": "PutAgain",
            },
            "PutAgain": {
                "Type": "Task",
                "Resource": "arn:aws:states:::dynamodb:putItem",
                "Parameters": {
                    "TableName": "cases",
                    "Item": {"id": {"S.$": "$.id"}},
                    "ConditionExpression": "attribute_not_exists(id)",
                },
                "Catch": [
                    {
                        "ErrorEquals": ["DynamoDB.ConditionalCheckFailedException"],
                        "ResultPath": None,
                        "Next": "Get",
                    }
                ],
                "Next": "Get",
            },
            "Get": {
                "Type": "Task",
                "Resource": "arn:aws:states:::dynamodb:getItem",
                "Parameters": {"TableName": "cases", "Key": {"id": {"S.$": "$.id"}}},
                "End": True,
            },
        },
    }
    case = uuid.uuid4().hex
    described = run(sfn, definition, {"id": case})
    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"]) == {"Item": {"id": {"S": case}, "status": {"S": "open"}}}


async def _next_message(amqp_url: str, declare: Any, start: Any) -> Any:
    """Declare a queue with ``declare(channel)``, run ``start()`` in a thread, and return the
    first message that reaches the queue."""
    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel()
        queue = await declare(channel)
        await asyncio.to_thread(start)
        async with queue.iterator(timeout=20) as messages:
            async for message in messages:
                await message.ack()
                return message
    finally:
        await connection.close()
    raise AssertionError("no message came")


def test_human_approval_on_rabbitmq_alone(sfn: Any, amqp_url: str) -> None:
    """sqs:sendMessage.waitForTaskToken routed to the rabbitmq target: the message lands on a
    RabbitMQ queue named from the QueueUrl, and SendTaskSuccess with its token goes on."""
    queue_name = f"approvals-{uuid.uuid4().hex[:8]}"
    definition = {
        "StartAt": "Ask",
        "States": {
            "Ask": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                "Parameters": {
                    "QueueUrl": f"https://sqs.us-east-1.amazonaws.com/123456789012/{queue_name}",
                    "MessageBody": {"case.$": "$.case", "token.$": "$$.Task.Token"},
                },
                "TimeoutSeconds": 60,
                "End": True,
            }
        },
    }
    arn = _machine(sfn, definition)
    started: dict[str, Any] = {}

    async def declare(channel: Any) -> Any:
        from broker import Topology

        return await Topology(channel).work_queue(queue_name)

    def start() -> None:
        started.update(sfn.start_execution(stateMachineArn=arn, input=json.dumps({"case": "7"})))

    message = asyncio.run(_next_message(amqp_url, declare, start))
    body = json.loads(message.body)
    assert body["case"] == "7"
    sfn.send_task_success(taskToken=body["token"], output=json.dumps({"approved": True}))
    described = wait_done(sfn, started["executionArn"])
    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"]) == {"approved": True}


def test_put_events_on_rabbitmq(sfn: Any, amqp_url: str) -> None:
    source = f"orders{uuid.uuid4().hex[:6]}"
    definition = {
        "StartAt": "Tell",
        "States": {
            "Tell": {
                "Type": "Task",
                "Resource": "arn:aws:states:::events:putEvents",
                "Parameters": {
                    "Entries": [
                        {"Source": source, "DetailType": "Placed", "Detail": {"id.$": "$.id"}}
                    ]
                },
                "End": True,
            }
        },
    }
    arn = _machine(sfn, definition)
    started: dict[str, Any] = {}

    async def declare(channel: Any) -> Any:
        exchange = await channel.declare_exchange(
            "events.default", aio_pika.ExchangeType.TOPIC, durable=True
        )
        queue = await channel.declare_queue(exclusive=True)
        await queue.bind(exchange, routing_key=f"{source}.#")
        return queue

    def start() -> None:
        started.update(sfn.start_execution(stateMachineArn=arn, input=json.dumps({"id": 3})))

    message = asyncio.run(_next_message(amqp_url, declare, start))
    event = json.loads(message.body)
    assert (event["source"], event["detail-type"], event["detail"]) == (source, "Placed", {"id": 3})
    assert started["executionArn"] in event["resources"]
    described = wait_done(sfn, started["executionArn"])
    assert described["status"] == "SUCCEEDED", described
    output = json.loads(described["output"])
    assert output["FailedEntryCount"] == 0 and len(output["Entries"]) == 1


def test_an_activity_that_does_not_exist_fails_the_execution(sfn: Any) -> None:
    activity = "arn:aws:states:us-east-1:123456789012:activity:NeverCreated"
    definition = {
        "StartAt": "A",
        "States": {"A": {"Type": "Task", "Resource": activity, "End": True}},
    }
    described = run(sfn, definition, {})
    assert (described["status"], described["error"]) == ("FAILED", "States.Runtime")
    assert described["cause"] == (
        "An error occurred while executing the state 'A' (entered at the event id #2)."
        f" The activity {activity} does not exist."
    )
