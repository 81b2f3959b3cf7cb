"""The ``rabbitmq`` target on a real broker: what each action publishes, and what it answers.

Shapes and wordings are those of the executions recorded on AWS (``integrations.jsonl`` of the
conformance corpus); the last test replays every recorded SQS, SNS and EventBridge call that
a broker can stand in for and compares the answers.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aio_pika
import aiormq
import pytest
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustChannel, AbstractRobustConnection
from moto.sqs.models import Message as MotoSqsMessage

import messages
from broker import DEAD_LETTER_SUFFIX, Topology
from orchestrator.integrations.rabbitmq_target import RabbitMqTarget
from tests.conformance.corpus import load_cases, normalise, parse_cause

pytestmark = pytest.mark.integration

REGION = "us-east-1"
ACCOUNT = "111111111111"
MACHINE_ARN = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:Orders"
EXECUTION_ARN = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:Orders:run-1"
V1_CAUSE = r" \(Service: {service}; Status Code: {status}; Error Code: {code}; Request ID: [0-9a-f-]{{36}}; Proxy: null\)$"
HEADER_ORDER = ["x-amzn-RequestId", "connection", "Content-Length", "Date", "Content-Type"]


class Broker:
    """The target under test on one confirm channel, and the test's own queues and exchanges
    (deleted afterwards)."""

    def __init__(self, channel: AbstractRobustChannel, target: RabbitMqTarget) -> None:
        self.channel = channel
        self.target = target
        self.queues: list[str] = []
        self.exchanges: list[str] = []

    def queue_url(self, suffix: str = "") -> tuple[str, str]:
        """A new SQS QueueUrl and the queue it names."""
        name = f"orders-{uuid.uuid4().hex[:10]}{suffix}"
        self.queues += [name, name + DEAD_LETTER_SUFFIX]
        return f"https://sqs.{REGION}.amazonaws.com/123456789012/{name}", name

    def topic_arn(self, suffix: str = "") -> tuple[str, str]:
        """A new SNS TopicArn and its exchange."""
        name = f"alerts-{uuid.uuid4().hex[:10]}{suffix}"
        self.exchanges.append("sns." + name)
        return f"arn:aws:sns:{REGION}:123456789012:{name}", "sns." + name

    def event_bus(self) -> tuple[str, str]:
        """A new event bus name and its exchange."""
        name = f"bus-{uuid.uuid4().hex[:10]}"
        self.exchanges.append("events." + name)
        return name, "events." + name

    async def subscribe(
        self, exchange: str, kind: aio_pika.ExchangeType, routing_key: str = ""
    ) -> str:
        """A queue of the test's own bound to ``exchange`` (declared as the target does)."""
        declared = await self.channel.declare_exchange(exchange, kind, durable=True)
        queue = await self.channel.declare_queue(f"sub-{uuid.uuid4().hex[:10]}", durable=True)
        self.queues.append(queue.name)
        await queue.bind(declared, routing_key)
        return queue.name

    async def take(self, queue: str) -> list[AbstractIncomingMessage]:
        """Every message ready in ``queue`` now."""
        declared = await self.channel.get_queue(queue, ensure=False)
        taken = []
        while (message := await declared.get(no_ack=True, fail=False)) is not None:
            # Quorum queues count deliveries in a header of their own.
            message.headers.pop("x-delivery-count", None)
            taken.append(message)
        return taken

    async def call(
        self, service: str, action: str, parameters: Any, pattern: str = ""
    ) -> messages.AnyTaskResult:
        results = await self.target.call(request(service, action, parameters, pattern))
        assert results is not None and len(results) == 1
        return results[0]

    async def output(self, service: str, action: str, parameters: Any) -> Any:
        result = await self.call(service, action, parameters)
        assert isinstance(result, messages.TaskSucceeded), result
        return result.output

    async def failure(self, service: str, action: str, parameters: Any) -> tuple[str, str]:
        result = await self.call(service, action, parameters)
        assert isinstance(result, messages.TaskCallFailed), result
        return result.error, result.cause or ""


def request(
    service: str, action: str, parameters: Any, pattern: str = ""
) -> messages.IntegrationRequest:
    return messages.IntegrationRequest(
        execution_arn=EXECUTION_ARN,
        execution_name="run-1",
        state_machine_name="Orders",
        state_name="Send",
        resource=f"arn:aws:states:::{service}:{action}{pattern}",
        service=service,
        action=action,
        pattern=pattern,  # type: ignore[arg-type]
        region=REGION,
        task_token="token-1",
        attempt=0,
        parameters=parameters,
    )


@pytest.fixture
async def broker(confirm_channel: AbstractRobustChannel) -> AsyncIterator[Broker]:
    underlay = await confirm_channel.get_underlay_channel()
    tested = Broker(confirm_channel, RabbitMqTarget(underlay, Topology(confirm_channel)))
    try:
        yield tested
    finally:
        for queue in tested.queues:
            await confirm_channel.queue_delete(queue)
        for exchange in tested.exchanges:
            await confirm_channel.exchange_delete(exchange)


def assert_http_metadata(output: dict[str, Any], content_length: int, content_type: str) -> None:
    """SdkHttpMetadata/SdkResponseMetadata as SDK v1 builds them from AWS's answer."""
    metadata = output["SdkHttpMetadata"]
    assert metadata["HttpStatusCode"] == 200
    assert list(metadata["AllHttpHeaders"]) == HEADER_ORDER
    headers = metadata["HttpHeaders"]
    assert list(headers) == sorted(HEADER_ORDER, key=str.lower)
    assert metadata["AllHttpHeaders"] == {name: [value] for name, value in headers.items()}
    assert headers["Content-Length"] == str(content_length)
    assert headers["Content-Type"] == content_type
    assert headers["connection"] == "keep-alive"
    assert re.fullmatch(r"\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT", headers["Date"])
    assert output["SdkResponseMetadata"] == {"RequestId": headers["x-amzn-RequestId"]}
    uuid.UUID(headers["x-amzn-RequestId"])


def compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


# -- sqs:sendMessage ----------------------------------------------------------------------------


async def test_sqs_send_message_goes_to_the_queue_of_the_url_and_answers_as_aws(
    broker: Broker,
) -> None:
    url, queue = broker.queue_url()
    attributes = {
        "kind": {"DataType": "String", "StringValue": "order"},
        "count": {"DataType": "Number", "StringValue": "3"},
        "blob": {"DataType": "Binary", "BinaryValue": base64.b64encode(b"\x00\x01").decode()},
    }
    output = await broker.output(
        "sqs",
        "sendMessage",
        {
            "QueueUrl": url,
            "MessageBody": "hello é",
            "MessageAttributes": attributes,
            "MessageGroupId": "g-1",
            "MessageDeduplicationId": "d-1",
        },
    )
    assert list(output) == [
        "MD5OfMessageAttributes",
        "MD5OfMessageBody",
        "MessageId",
        "SdkHttpMetadata",
        "SdkResponseMetadata",
    ]
    assert output["MD5OfMessageBody"] == hashlib.md5("hello é".encode()).hexdigest()
    oracle = MotoSqsMessage("id", "hello é")  # moto's digest of the same attributes
    oracle.message_attributes = {
        "kind": {"DataType": "String", "StringValue": "order"},
        "count": {"DataType": "Number", "StringValue": "3"},
        "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
    }
    assert output["MD5OfMessageAttributes"] == oracle.attribute_md5
    answer = {
        key: output[key] for key in ("MD5OfMessageAttributes", "MD5OfMessageBody", "MessageId")
    }
    assert_http_metadata(output, len(compact(answer)), "application/x-amz-json-1.0")

    [message] = await broker.take(queue)
    assert message.body == "hello é".encode()
    assert message.message_id == output["MessageId"]
    assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
    assert message.content_type == "text/plain; charset=utf-8"
    assert message.headers == {
        "kind": "order",
        "count": "3",
        "blob": b"\x00\x01",
        "x-aws-message-group-id": "g-1",
        "x-aws-message-deduplication-id": "d-1",
    }
    # A work queue: quorum, with its dead-letter queue.
    assert await broker.take(queue + DEAD_LETTER_SUFFIX) == []


async def test_sqs_json_body_is_its_compact_text_and_wait_for_task_token_is_submitted(
    broker: Broker,
) -> None:
    url, queue = broker.queue_url()
    body = {"TaskToken": "token-1", "n": 1.5, "a": [None, "é", {"b": True}]}
    result = await broker.call(
        "sqs", "sendMessage", {"QueueUrl": url, "MessageBody": body}, ".waitForTaskToken"
    )
    assert isinstance(result, messages.TaskSubmitted)
    assert (result.task_token, result.attempt) == ("token-1", 0)
    text = '{"TaskToken":"token-1","n":1.5,"a":[null,"é",{"b":true}]}'
    assert isinstance(result.output, dict)
    assert result.output["MD5OfMessageBody"] == hashlib.md5(text.encode()).hexdigest()
    [message] = await broker.take(queue)
    assert message.body.decode() == text
    assert message.content_type == "application/json"
    assert not message.headers


async def test_sqs_fifo_queue_needs_a_group_and_answers_sequence_numbers(broker: Broker) -> None:
    url, queue = broker.queue_url(".fifo")
    error, cause = await broker.failure("sqs", "sendMessage", {"QueueUrl": url, "MessageBody": "x"})
    assert error == "SQS.AmazonSQSException"
    assert re.fullmatch(
        "The request must contain the parameter MessageGroupId."
        + V1_CAUSE.format(service="AmazonSQS", status=400, code="MissingParameter"),
        cause,
    )
    parameters = {"QueueUrl": url, "MessageBody": "x", "MessageGroupId": "g"}
    first = await broker.output("sqs", "sendMessage", parameters)
    second = await broker.output("sqs", "sendMessage", parameters)
    assert re.fullmatch(r"\d{20}", first["SequenceNumber"])
    assert int(second["SequenceNumber"]) > int(first["SequenceNumber"])
    assert len(await broker.take(queue)) == 2


async def test_sqs_failures_read_as_aws(broker: Broker) -> None:
    url, _ = broker.queue_url()

    def v1(code: str, status: int = 400) -> str:
        return V1_CAUSE.format(service="AmazonSQS", status=status, code=code)

    error, cause = await broker.failure(
        "sqs", "sendMessage", {"QueueUrl": url, "MessageBody": None}
    )
    assert error == "SQS.AmazonSQSException"
    assert re.fullmatch(
        "The request must contain the parameter MessageBody." + v1("MissingParameter"), cause
    )
    error, cause = await broker.failure("sqs", "sendMessage", {"MessageBody": "x"})
    assert error == "SQS.AmazonSQSException"
    assert re.fullmatch(
        "The request must contain the parameter QueueUrl." + v1("MissingParameter"), cause
    )
    error, cause = await broker.failure(
        "sqs", "sendMessage", {"QueueUrl": url + "/", "MessageBody": "x"}
    )
    assert error == "SQS.QueueDoesNotExistException"
    assert re.fullmatch(
        r"The specified queue does not exist\." + v1(r"AWS\.SimpleQueueService\.NonExistentQueue"),
        cause,
    )
    error, cause = await broker.failure(
        "sqs", "sendMessage", {"QueueUrl": url, "MessageBody": "a\u0000b"}
    )
    assert error == "SQS.InvalidMessageContentsException"
    assert cause.startswith("Invalid binary character '#x0' was found in the message body")
    error, cause = await broker.failure(
        "sqs",
        "sendMessage",
        {"QueueUrl": url, "MessageBody": "x", "MessageAttributes": {"a": {"DataType": "String"}}},
    )
    assert error == "SQS.AmazonSQSException"
    assert cause.startswith(
        "The message attribute 'a' must contain non-empty message attribute value for message"
        " attribute type 'String'."
    )
    error, cause = await broker.failure(
        "sqs", "sendMessage", {"QueueUrl": url, "MessageBody": "x", "Unknown": 1}
    )
    assert error == "SQS.SdkClientException"
    assert "Unknown" in cause
    # What RabbitMQ cannot do, or must not be given, is refused in so many words.
    error, cause = await broker.failure(
        "sqs", "sendMessage", {"QueueUrl": url, "MessageBody": "x", "DelaySeconds": 5}
    )
    assert (error, "DelaySeconds" in cause) == ("States.Runtime", True)
    error, cause = await broker.failure(
        "sqs",
        "sendMessage",
        {
            "QueueUrl": url,
            "MessageBody": "x",
            "MessageAttributes": {"CC": {"DataType": "String", "StringValue": "q"}},
        },
    )
    assert (error, "CC" in cause) == ("States.Runtime", True)
    error, cause = await broker.failure(
        "sqs", "sendMessage", {"QueueUrl": "https://sqs/1/intake", "MessageBody": "x"}
    )
    assert (error, "intake" in cause) == ("States.Runtime", True)


async def test_sqs_queue_deleted_since_it_was_declared_is_declared_again(broker: Broker) -> None:
    url, queue = broker.queue_url()
    await broker.output("sqs", "sendMessage", {"QueueUrl": url, "MessageBody": "one"})
    await broker.channel.queue_delete(queue)
    await broker.output("sqs", "sendMessage", {"QueueUrl": url, "MessageBody": "two"})
    assert [message.body for message in await broker.take(queue)] == [b"two"]


async def test_a_queue_the_broker_refuses_to_declare_fails_the_task(
    amqp_connection: AbstractRobustConnection,
) -> None:
    # Its own channel: the refusal closes the channel it was declared on.
    channel = await amqp_connection.channel(publisher_confirms=True)
    name = f"classic-{uuid.uuid4().hex[:10]}"
    await channel.declare_queue(name, durable=True)  # a classic queue, no dead-lettering
    try:
        target = RabbitMqTarget(await channel.get_underlay_channel(), Topology(channel))
        results = await target.call(
            request("sqs", "sendMessage", {"QueueUrl": f"https://q/1/{name}", "MessageBody": "x"})
        )
        assert results is not None
        [result] = results
        assert isinstance(result, messages.TaskCallFailed)
        assert result.error == "States.Runtime"
        assert f"RabbitMQ refused to declare the queue {name}" in (result.cause or "")
        assert "PRECONDITION_FAILED" in (result.cause or "")
    finally:
        await channel.close()
        cleanup = await amqp_connection.channel()
        await cleanup.queue_delete(name)
        await cleanup.queue_delete(name + DEAD_LETTER_SUFFIX)
        await cleanup.close()


async def test_a_closed_channel_is_raised_so_that_the_call_is_made_again(
    amqp_connection: AbstractRobustConnection,
) -> None:
    channel = await amqp_connection.channel(publisher_confirms=True)
    underlay = await channel.get_underlay_channel()
    target = RabbitMqTarget(underlay, Topology(channel))
    exchange = f"sns.gone-{uuid.uuid4().hex[:10]}"
    try:
        # The channel under the robust one closes (as on a reconnect): the robust one reopens
        # on a new one, and the target still holds the old.
        await underlay.close()
        with pytest.raises(aiormq.exceptions.ChannelInvalidStateError):
            await asyncio.wait_for(
                target.call(
                    request(
                        "sns",
                        "publish",
                        {"TopicArn": f"arn:aws:sns:{REGION}:1:{exchange[4:]}", "Message": "x"},
                    )
                ),
                5,
            )
    finally:
        await channel.exchange_delete(exchange)
        await channel.close()


async def test_a_channel_without_confirms_is_refused(
    amqp_connection: AbstractRobustConnection,
) -> None:
    channel = await amqp_connection.channel(publisher_confirms=False)
    try:
        with pytest.raises(ValueError, match="publisher confirms"):
            RabbitMqTarget(await channel.get_underlay_channel(), Topology(channel))
    finally:
        await channel.close()


# -- sns:publish --------------------------------------------------------------------------------


async def test_sns_publish_fans_out_to_every_bound_queue(broker: Broker) -> None:
    arn, exchange = broker.topic_arn()
    first = await broker.subscribe(exchange, aio_pika.ExchangeType.FANOUT)
    second = await broker.subscribe(exchange, aio_pika.ExchangeType.FANOUT)
    output = await broker.output(
        "sns",
        "publish",
        {
            "TopicArn": arn,
            "Message": {"alert": "disk full", "level": 3},
            "Subject": "Disk",
            "MessageAttributes": {"team": {"DataType": "String", "StringValue": "ops"}},
        },
    )
    assert list(output) == ["MessageId", "SdkHttpMetadata", "SdkResponseMetadata"]
    assert_http_metadata(output, 294, "text/xml")  # AWS's XML answer, as recorded
    for queue in (first, second):
        [message] = await broker.take(queue)
        assert message.body == b'{"alert":"disk full","level":3}'
        assert message.message_id == output["MessageId"]
        assert message.content_type == "application/json"
        assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
        assert message.headers == {
            "team": "ops",
            "x-aws-topic-arn": arn,
            "x-aws-subject": "Disk",
        }


async def test_sns_topic_without_subscribers_takes_the_message(broker: Broker) -> None:
    arn, exchange = broker.topic_arn()
    result = await broker.call(
        "sns", "publish", {"TopicArn": arn, "Message": "hi"}, ".waitForTaskToken"
    )
    assert isinstance(result, messages.TaskSubmitted)
    assert isinstance(result.output, dict) and "MessageId" in result.output
    # The fanout exchange is there (declaring it again as fanout, durable, is accepted).
    await broker.channel.declare_exchange(exchange, aio_pika.ExchangeType.FANOUT, durable=True)


async def test_sns_failures_and_refusals(broker: Broker) -> None:
    arn, _ = broker.topic_arn()
    error, cause = await broker.failure("sns", "publish", {"Message": "x"})
    assert error == "SNS.InvalidParameterException"
    assert re.fullmatch(
        "Invalid parameter: TopicArn or TargetArn Reason: no value for required parameter"
        + V1_CAUSE.format(service="AmazonSNS", status=400, code="InvalidParameter"),
        cause,
    )
    error, cause = await broker.failure("sns", "publish", {"TopicArn": "alerts", "Message": "x"})
    assert error == "SNS.InvalidParameterException"
    assert cause.startswith("Invalid parameter: TopicArn Reason: alerts does not start with arn")
    error, cause = await broker.failure("sns", "publish", {"TopicArn": arn})
    assert error == "SNS.AmazonSNSException"
    assert cause.startswith("1 validation error detected: Value null at 'message'")
    assert "Error Code: ValidationError;" in cause
    error, cause = await broker.failure("sns", "publish", {"TopicArn": arn, "Message": ""})
    assert (error, cause.split(" (")[0]) == (
        "SNS.InvalidParameterException",
        "Invalid parameter: Empty message",
    )
    for member, value in (
        ("TargetArn", "arn:aws:sns:us-east-1:1:endpoint/APNS/app/1"),
        ("PhoneNumber", "+15555550100"),
        ("MessageStructure", "json"),
    ):
        error, cause = await broker.failure(
            "sns", "publish", {"TopicArn": arn, "Message": "x", member: value}
        )
        assert error == "States.Runtime"
        assert cause.startswith(f"The rabbitmq target does not carry {member}")


async def test_sns_fifo_topic_needs_a_group(broker: Broker) -> None:
    arn, exchange = broker.topic_arn(".fifo")
    queue = await broker.subscribe(exchange, aio_pika.ExchangeType.FANOUT)
    error, cause = await broker.failure("sns", "publish", {"TopicArn": arn, "Message": "x"})
    assert error == "SNS.InvalidParameterException"
    assert cause.startswith("Invalid parameter: The MessageGroupId parameter is required for FIFO")
    output = await broker.output(
        "sns",
        "publish",
        {"TopicArn": arn, "Message": "x", "MessageGroupId": "g", "MessageDeduplicationId": "d"},
    )
    assert re.fullmatch(r"\d{20}", output["SequenceNumber"])
    assert_http_metadata(output, 352, "text/xml")
    [message] = await broker.take(queue)
    assert message.headers == {
        "x-aws-topic-arn": arn,
        "x-aws-message-group-id": "g",
        "x-aws-message-deduplication-id": "d",
    }


# -- events:putEvents ---------------------------------------------------------------------------


async def test_events_are_published_as_eventbridge_delivers_them(broker: Broker) -> None:
    bus, exchange = broker.event_bus()
    orders = await broker.subscribe(exchange, aio_pika.ExchangeType.TOPIC, "com.example.orders.#")
    placed = await broker.subscribe(exchange, aio_pika.ExchangeType.TOPIC, "#.Order Placed")
    output = await broker.output(
        "events",
        "putEvents",
        {
            "Entries": [
                {
                    "EventBusName": bus,
                    "Source": "com.example.orders",
                    "DetailType": "Order Placed",
                    "Detail": {"id": 7, "total": 12.5},
                    "Resources": ["arn:aws:dynamodb:us-east-1:111111111111:table/orders"],
                    "Time": "2024-05-01T10:00:00Z",
                },
                {
                    "EventBusName": f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{bus}",
                    "Source": "billing",
                    "DetailType": "Order Placed",
                    "Detail": '{"id": 8}',
                },
            ]
        },
    )
    assert list(output) == ["Entries", "FailedEntryCount"]  # no HTTP metadata, as recorded
    assert output["FailedEntryCount"] == 0
    first_id, second_id = (entry["EventId"] for entry in output["Entries"])

    [first] = await broker.take(orders)
    assert first.routing_key == "com.example.orders.Order Placed"
    assert first.message_id == first_id
    assert first.content_type == "application/json"
    assert first.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
    event = json.loads(first.body)
    assert list(event) == [
        "version",
        "id",
        "detail-type",
        "source",
        "account",
        "time",
        "region",
        "resources",
        "detail",
    ]
    assert event == {
        "version": "0",
        "id": first_id,
        "detail-type": "Order Placed",
        "source": "com.example.orders",
        "account": ACCOUNT,
        "time": "2024-05-01T10:00:00Z",
        "region": REGION,
        "resources": [
            "arn:aws:dynamodb:us-east-1:111111111111:table/orders",
            MACHINE_ARN,
            EXECUTION_ARN,
        ],
        "detail": {"id": 7, "total": 12.5},
    }
    both = await broker.take(placed)
    assert [message.message_id for message in both] == [first_id, second_id]
    second = json.loads(both[1].body)
    assert (second["source"], second["detail"]) == ("billing", {"id": 8})
    assert second["resources"] == [MACHINE_ARN, EXECUTION_ARN]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", second["time"])


async def test_events_without_a_bus_go_to_the_default_bus(broker: Broker) -> None:
    broker.exchanges.append("events.default")
    queue = await broker.subscribe("events.default", aio_pika.ExchangeType.TOPIC, "test.#")
    result = await broker.call(
        "events",
        "putEvents",
        {"Entries": [{"Source": "test.source", "DetailType": "Ping", "Detail": {}}]},
        ".waitForTaskToken",
    )
    assert isinstance(result, messages.TaskSubmitted)
    [message] = await broker.take(queue)
    assert message.routing_key == "test.source.Ping"
    assert json.loads(message.body)["detail"] == {}


async def test_malformed_entries_fail_the_task_as_aws_does(broker: Broker) -> None:
    bus, exchange = broker.event_bus()
    queue = await broker.subscribe(exchange, aio_pika.ExchangeType.TOPIC, "#")
    entry = {"EventBusName": bus, "Source": "s", "DetailType": "t"}
    error, cause = await broker.failure(
        "events",
        "putEvents",
        {
            "Entries": [
                {**entry, "Detail": {"ok": True}},
                {**entry, "Detail": '"jsonstring"'},
                {**entry, "Detail": "[1]"},
                {**entry, "Detail": '{"n": NaN}'},
                {"EventBusName": bus, "DetailType": "t", "Detail": "{}"},
            ]
        },
    )
    assert error == "EventBridge.FailedEntry"
    response = json.loads(cause)
    malformed = {"ErrorCode": "MalformedDetail", "ErrorMessage": "Detail is malformed."}
    assert response["FailedEntryCount"] == 4
    assert response["Entries"][1:] == [
        malformed,
        malformed,
        malformed,
        {
            "ErrorCode": "InvalidArgument",
            "ErrorMessage": "Parameter Source is not valid. Reason: Source is a required argument.",
        },
    ]
    # The entry EventBridge takes is published, as on AWS.
    [message] = await broker.take(queue)
    assert message.message_id == response["Entries"][0]["EventId"]
    error, cause = await broker.failure(
        "events", "putEvents", {"Entries": [{**entry, "Detail": "{}"}] * 11}
    )
    assert error == "EventBridge.AmazonEventBridgeException"
    assert "Member must have length less than or equal to 10" in cause
    error, cause = await broker.failure(
        "events", "putEvents", {"Entries": [{**entry, "Detail": "{}"}], "EndpointId": "e"}
    )
    assert (error, "EndpointId" in cause) == ("States.Runtime", True)


# -- what the target does not carry ------------------------------------------------------------


async def test_other_calls_are_left_to_other_targets(broker: Broker) -> None:
    assert await broker.target.call(request("dynamodb", "putItem", {})) is None
    assert await broker.target.call(request("sqs", "sendMessage", {}, ".sync")) is None
    assert await broker.target.call(request("aws-sdk:sqs", "sendMessage", {})) is None
    function = request("sqs", "sendMessage", {}).model_copy(update={"integration": "function"})
    assert await broker.target.call(function) is None


# -- the recorded calls -------------------------------------------------------------------------

# Recorded calls a broker cannot answer as AWS did, and why.
NOT_REPLAYED = {
    "test_send_message_no_such_queue": "the queue's host did not resolve (no broker call fails so)",
    "test_publish_base_error_topic_arn": "the topic was deleted (exchanges are declared on use)",
    "test_wait_for_callback": "recorded when SQS answered in XML",
}
# Values that differ from call to call (or that the recording masked its own way).
ANY_VALUE = {
    "MD5OfMessageBody",
    "MD5OfMessageAttributes",
    "MessageId",
    "SequenceNumber",
    "EventId",
    "RequestId",
    "x-amzn-RequestId",
    "Date",
}


def skeleton(value: Any, key: str | None = None) -> Any:
    if key in ANY_VALUE:
        return "*"
    if isinstance(value, dict):
        return {name: skeleton(item, name) for name, item in value.items()}
    if isinstance(value, list):
        return [skeleton(item) for item in value]
    return value


def recorded_calls() -> list[tuple[dict[str, Any], dict[str, Any]]]:
    calls = []
    for case in load_cases("integrations.jsonl"):
        if any(name in case["source"] for name in NOT_REPLAYED):
            continue
        for call in case.get("service_calls") or []:
            if call.get("resource_type") in ("sqs", "sns", "events"):
                calls.append((case, call))
    return calls


async def test_recorded_calls_are_answered_as_aws_answered_them(broker: Broker) -> None:
    calls = recorded_calls()
    assert len(calls) >= 40
    for case, call in calls:
        action, _, pattern = call["resource"].partition(".")
        parameters = dict(call["parameters"])
        if "QueueUrl" in parameters:
            parameters["QueueUrl"] = broker.queue_url()[0]
        if "TopicArn" in parameters:
            fifo = "fifo" in case["source"]
            parameters["TopicArn"] = broker.topic_arn(".fifo" if fifo else "")[0]
        if "Entries" in parameters:
            bus = broker.event_bus()[0]
            parameters["Entries"] = [
                {**entry, "EventBusName": bus} for entry in parameters["Entries"]
            ]
        result = await broker.call(
            call["resource_type"], action, parameters, "." + pattern if pattern else ""
        )
        where = f"{case['source']} {call['resource']}"
        if "submitted" in call:
            assert isinstance(result, messages.TaskSubmitted), where
            expected = call["submitted"]["output"]
        elif call["outcome"] == "succeeded":
            assert isinstance(result, messages.TaskSucceeded), where
            expected = call["output"]
        else:
            assert isinstance(result, messages.TaskCallFailed), where
            assert result.error == call["error"], where
            assert normalise(parse_cause(result.cause), case) == call["cause"], where
            continue
        output = normalise(result.output, case)
        assert skeleton(output) == skeleton(expected), where
        if "SdkHttpMetadata" in expected:
            order = list(expected["SdkHttpMetadata"]["AllHttpHeaders"])
            assert list(output["SdkHttpMetadata"]["AllHttpHeaders"]) == order, where
