"""The ``rabbitmq`` target: SQS, SNS and EventBridge Task calls carried out on RabbitMQ alone.

So that a workflow written for AWS runs with no AWS at all, three optimized integrations
publish to the broker (persistent messages, each waiting for the broker's confirm) and answer
as AWS does: the result shapes, failure names and causes of the recorded executions.

``sqs:sendMessage``
    MessageBody goes to the durable quorum queue named by the QueueUrl's last path segment:
    ``https://sqs.us-east-1.amazonaws.com/123456789012/orders`` -> queue ``orders`` (host and
    account are not looked at). The queue is declared on first use with
    :meth:`broker.Topology.work_queue`, so it has ``orders.dead-letter``. A name that is not a
    valid SQS queue name fails as a queue that does not exist; ``intake`` (the orchestrator's
    own queue) is refused. The AMQP ``message_id`` is the answered MessageId. A ``.fifo``
    queue needs MessageGroupId, as on AWS; deduplication is not carried out. DelaySeconds
    other than 0 and MessageSystemAttributes are refused (States.Runtime): RabbitMQ has no
    delayed delivery without a plugin. The result is AWS's: MD5OfMessageBody (the MD5 of the
    body's UTF-8 text), MD5OfMessageAttributes (AWS's digest of the attributes) when there
    are any, MessageId, SequenceNumber for a FIFO queue, and SdkHttpMetadata /
    SdkResponseMetadata with the headers AWS's JSON answer carries.
``sns:publish``
    Message goes to the durable fanout exchange ``sns.<topic name>``:
    ``arn:aws:sns:us-east-1:123456789012:alerts`` -> exchange ``sns.alerts``. A topic with no
    queue bound is no error (a topic without subscribers). TargetArn, PhoneNumber and
    MessageStructure are refused (States.Runtime). A ``.fifo`` topic needs MessageGroupId and
    answers a SequenceNumber, as on AWS.
``events:putEvents``
    Each entry goes to the durable topic exchange ``events.<EventBusName>`` (``events.default``
    without one; a bus ARN counts by its name) with routing key ``<Source>.<DetailType>``, the
    DetailType as written, spaces kept (``com.example.orders.Order Placed``: bind
    ``com.example.orders.#`` for one source). The body is the event as EventBridge delivers it
    to its targets (version, id, detail-type, source, account, time, region, resources with
    the state machine's and the execution's ARNs appended, detail). An entry that EventBridge
    would refuse (no Source, DetailType or Detail; a Detail that is not a JSON object) is a
    failed entry, and the task then fails with ``EventBridge.FailedEntry``, the response as
    cause; the other entries are published, as on AWS. No HTTP metadata, as recorded.

Message attributes become AMQP headers, by name: String and Number values as text, Binary
values as bytes. The target's own headers are ``x-aws-message-group-id``,
``x-aws-message-deduplication-id`` and, for SNS, ``x-aws-topic-arn`` and ``x-aws-subject``.
Attributes named ``CC`` or ``BCC`` (RabbitMQ routes by those), or ``x-aws-...``, are refused.
The body's ``content_type`` is ``application/json`` when the value was given as JSON (sent as
its compact JSON text, as AWS does) and ``text/plain; charset=utf-8`` for a string. The
Task's Credentials are not used: the broker has no IAM.

Parameters are read as the ``aws`` target reads them (:mod:`.aws.requests`, on botocore's
model): names without regard to case, ``null`` as absent, an unknown member or a value of
the wrong type fails as ``<Service>.SdkClientException``. A service error reads as the AWS
SDK for Java v1 words it (``SQS.AmazonSQSException``, ``The request must contain the
parameter MessageBody. (Service: AmazonSQS; Status Code: 400; Error Code: MissingParameter;
Request ID: ...; Proxy: null)``). A broker that refuses a message (a nack) is the service's
internal error. A closed channel or connection is raised: the caller's delivery is then
redelivered and the call made again. A declaration the broker refuses (a queue or exchange of
that name with other arguments) and any fault of ours fail the task with States.Runtime.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import struct
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import formatdate
from typing import Any

import aio_pika
import aiormq
import botocore.session
from botocore.model import Shape
from botocore.utils import parse_timestamp

import messages
from broker.publishing import PERSISTENT
from broker.topology import INTAKE_QUEUE, Topology
from orchestrator.asl import errors
from orchestrator.integrations.answers import answered, failed, internal_failure
from orchestrator.integrations.aws import requests, responses
from orchestrator.integrations.aws.failures import TaskCallFailed, client_failure, failed_entries

# The longest exchange name or routing key AMQP carries (a short string).
_AMQP_NAME_BYTES = 255
# The longest header name pamqp writes (it cuts longer ones).
_HEADER_NAME_BYTES = 128
_PATTERNS = ("", ".waitForTaskToken")
# SQS and SNS names: letters, digits, hyphens and underscores, then ``.fifo`` for FIFO ones.
_QUEUE_NAME = re.compile(r"[A-Za-z0-9_-]{1,80}|[A-Za-z0-9_-]{1,75}\.fifo")
_TOPIC_NAME = re.compile(r"[A-Za-z0-9_-]{1,256}|[A-Za-z0-9_-]{1,251}\.fifo")
# What SQS takes in a message body (XML 1.0's characters).
_NOT_SQS_TEXT = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# Headers RabbitMQ reads on publish to route a message to further queues.
_BROKER_HEADERS = frozenset({"CC", "BCC"})
_OWN_HEADER_PREFIX = "x-aws-"
# The channel or connection went away: raised to the caller, whose delivery comes again.
_BROKER_GONE = (
    aiormq.exceptions.ChannelClosed,
    aiormq.exceptions.ChannelInvalidStateError,
    aiormq.exceptions.AMQPConnectionError,
    ConnectionError,
)
_JSON_TEXT = "application/json"
_PLAIN_TEXT = "text/plain; charset=utf-8"


@dataclass(frozen=True)
class _Service:
    """An optimized integration as its errors name it: the ``prefix`` of the Task's error,
    the SDK v1 client (``service``) and its exception for unmodeled errors (``generic``)."""

    prefix: str
    service: str
    generic: str

    def error(
        self, code: str, message: str, modeled: str | None = None, status: int = 400
    ) -> TaskCallFailed:
        """The service's answer ``code`` as SDK v1 reports it (``failures.optimized_failure``'s
        wording); ``modeled`` is the exception the model names for the code, if any."""
        cause = (
            f"{message} (Service: {self.service}; Status Code: {status}; Error Code: {code};"
            f" Request ID: {uuid.uuid4()}; Proxy: null)"
        )
        return TaskCallFailed(f"{self.prefix}.{modeled or self.generic}", cause)


_SQS = _Service("SQS", "AmazonSQS", "AmazonSQSException")
_SNS = _Service("SNS", "AmazonSNS", "AmazonSNSException")
_EVENTS = _Service("EventBridge", "AmazonEventBridge", "AmazonEventBridgeException")
# The botocore service and operation of each integration, by its error prefix.
_OPERATIONS = {
    "SQS": ("sqs", "SendMessage"),
    "SNS": ("sns", "Publish"),
    "EventBridge": ("events", "PutEvents"),
}


class _Nacked(Exception):
    """The broker did not take a message (it answered a nack)."""


class RabbitMqTarget:
    """Carries out ``sqs:sendMessage``, ``sns:publish`` and ``events:putEvents`` (and their
    ``.waitForTaskToken`` forms) on RabbitMQ; see the module's docstring.

    ``channel`` publishes the messages and must have publisher confirms; ``topology``
    declares the SQS queues (with their dead-letter queues) and the exchanges.
    """

    def __init__(self, channel: aiormq.abc.AbstractChannel, topology: Topology) -> None:
        if getattr(channel, "publisher_confirms", True) is False:
            raise ValueError("the rabbitmq target needs a channel with publisher confirms")
        self.channel = channel
        self.topology = topology
        self._sequence = 0
        self._actions: dict[tuple[str, str], Callable[[Any], Awaitable[Any]]] = {
            ("sqs", "sendMessage"): self._send_message,
            ("sns", "publish"): self._publish_to_topic,
            ("events", "putEvents"): self._put_events,
        }
        # botocore's models are read from disk once, here rather than in the first call.
        for botocore_name, operation in _OPERATIONS.values():
            _input_shape(botocore_name, operation)

    async def call(
        self, request: messages.IntegrationRequest
    ) -> list[messages.AnyTaskResult] | None:
        """The results of ``request``, or None when it is not an action this target carries.

        A ``.waitForTaskToken`` call answers TaskSubmitted (the task then waits for its
        token); a request-response call TaskSucceeded; a failed one TaskCallFailed.
        """
        action = self._actions.get((request.service, request.action))
        if request.integration != "service" or request.pattern not in _PATTERNS or not action:
            return None
        try:
            output = await action(request)
        except TaskCallFailed as failure:
            return [failed(request, failure.error, failure.cause)]
        except _BROKER_GONE:
            raise  # the caller's delivery comes again, and the call is made again
        except Exception as exc:  # a fault of ours: the task fails, the service goes on
            return [internal_failure(request, exc)]
        return [answered(request, output)]

    # -- sqs:sendMessage ------------------------------------------------------------------------

    async def _send_message(self, request: messages.IntegrationRequest) -> dict[str, Any]:
        parameters = _parameters(request, _SQS)
        if parameters.get("DelaySeconds"):
            raise _unsupported(request, "DelaySeconds (RabbitMQ has no delayed delivery)")
        if parameters.get("MessageSystemAttributes"):
            raise _unsupported(request, "MessageSystemAttributes")
        for member in ("QueueUrl", "MessageBody"):
            if not parameters.get(member):
                raise _SQS.error(
                    "MissingParameter", f"The request must contain the parameter {member}."
                )
        queue = sqs_queue_name(parameters["QueueUrl"])
        if queue == INTAKE_QUEUE:
            raise TaskCallFailed(
                errors.RUNTIME,
                f"The queue {queue} is the orchestrator's own: the rabbitmq target does not"
                " send SQS messages to it",
            )
        group = parameters.get("MessageGroupId")
        fifo = queue.endswith(".fifo")
        if fifo and not group:
            raise _SQS.error(
                "MissingParameter", "The request must contain the parameter MessageGroupId."
            )
        body: str = parameters["MessageBody"]
        bad = _NOT_SQS_TEXT.search(body)
        if bad:
            raise _SQS.error(
                "InvalidMessageContents",
                f"Invalid binary character '#x{ord(bad.group()):X}' was found in the message"
                " body, the set of allowed characters is #x9 | #xA | #xD | [#x20-#xD7FF] |"
                " [#xE000-#xFFFD] | [#x10000-#x10FFFF].",
                modeled="InvalidMessageContentsException",
            )
        attributes = _attributes(
            parameters.get("MessageAttributes"), _SQS.error, "InvalidParameterValue", None
        )
        headers = _headers(attributes, group, parameters.get("MessageDeduplicationId"))
        message_id = str(uuid.uuid4())
        properties = _properties(
            message_id, headers, _given_as_json(request.parameters, "MessageBody")
        )
        try:
            await self._to_queue(queue, body.encode(), properties)
        except _Nacked:
            raise _SQS.error(
                "InternalError", "RabbitMQ did not take the message (nack)", status=500
            ) from None
        fields = {
            "MD5OfMessageBody": hashlib.md5(body.encode()).hexdigest(),
            "MessageId": message_id,
        }
        if attributes:
            fields["MD5OfMessageAttributes"] = attributes_md5(attributes)
        if fifo:
            fields["SequenceNumber"] = self._next_sequence()
        # SQS answers in JSON: its Content-Length is that document's.
        length = len(json.dumps(fields, separators=(",", ":")))
        return _with_http_metadata(fields, length, "application/x-amz-json-1.0")

    async def _to_queue(
        self, name: str, body: bytes, properties: aiormq.spec.Basic.Properties
    ) -> None:
        """Publish to queue ``name``, declared first; a queue deleted since it was declared
        (the broker returns the message) is declared again, once."""
        queue = await _declaring(f"queue {name}", self.topology.work_queue(name))
        for _ in range(2):
            if await self._publish(body, "", name, properties, mandatory=True):
                return
            await _declaring(f"queue {name}", queue.declare())
        raise _SQS.error(
            "AWS.SimpleQueueService.NonExistentQueue",
            "The specified queue does not exist.",
            modeled="QueueDoesNotExistException",
        )

    # -- sns:publish ----------------------------------------------------------------------------

    async def _publish_to_topic(self, request: messages.IntegrationRequest) -> dict[str, Any]:
        parameters = _parameters(request, _SNS)
        for member in ("TargetArn", "PhoneNumber", "MessageStructure"):
            if parameters.get(member):
                raise _unsupported(request, f"{member} (only topics are published to)")
        topic_arn = parameters.get("TopicArn")
        if not topic_arn:
            raise _invalid_sns(
                "Invalid parameter: TopicArn or TargetArn Reason: no value for required parameter"
            )
        exchange = sns_exchange_name(topic_arn)
        message = parameters.get("Message")
        if message is None:
            raise _SNS.error(
                "ValidationError",
                "1 validation error detected: Value null at 'message' failed to satisfy"
                " constraint: Member must not be null",
            )
        if message == "":
            raise _invalid_sns("Invalid parameter: Empty message")
        group = parameters.get("MessageGroupId")
        fifo = exchange.endswith(".fifo")
        if fifo and not group:
            raise _invalid_sns(
                "Invalid parameter: The MessageGroupId parameter is required for FIFO topics"
            )
        attributes = _attributes(
            parameters.get("MessageAttributes"),
            _SNS.error,
            "ParameterValueInvalid",
            "InvalidParameterValueException",
        )
        headers = _headers(attributes, group, parameters.get("MessageDeduplicationId"))
        headers[_OWN_HEADER_PREFIX + "topic-arn"] = topic_arn
        if parameters.get("Subject"):
            headers[_OWN_HEADER_PREFIX + "subject"] = parameters["Subject"]
        message_id = str(uuid.uuid4())
        properties = _properties(message_id, headers, _given_as_json(request.parameters, "Message"))
        await self._declare_exchange(exchange, aio_pika.ExchangeType.FANOUT)
        try:
            await self._publish(_utf8(message), exchange, "", properties, mandatory=False)
        except _Nacked:
            raise _SNS.error(
                "InternalError",
                "RabbitMQ did not take the message (nack)",
                modeled="InternalErrorException",
                status=500,
            ) from None
        fields = {"MessageId": message_id}
        if fifo:
            fields["SequenceNumber"] = self._next_sequence()
        return _with_http_metadata(fields, len(_sns_answer(fields)), "text/xml")

    # -- events:putEvents -----------------------------------------------------------------------

    async def _put_events(self, request: messages.IntegrationRequest) -> dict[str, Any]:
        parameters = _parameters(request, _EVENTS)
        if parameters.get("EndpointId"):
            raise _unsupported(request, "EndpointId (global endpoints)")
        entries = parameters.get("Entries")
        if entries is None:
            raise _events_validation(
                "Value null at 'entries' failed to satisfy constraint: Member must not be null"
            )
        if not entries or len(entries) > 10:
            bound = "greater than or equal to 1" if not entries else "less than or equal to 10"
            raise _events_validation(
                f"Value at 'entries' failed to satisfy constraint: Member must have length {bound}"
            )
        arns = [_state_machine_arn(request.execution_arn), request.execution_arn]
        declared: set[str] = set()  # each bus's exchange once per call
        results = [await self._put_event(entry, request, arns, declared) for entry in entries]
        response = {
            "Entries": results,
            "FailedEntryCount": sum(1 for result in results if "ErrorCode" in result),
        }
        if response["FailedEntryCount"]:
            raise failed_entries(response)
        return response

    async def _put_event(
        self,
        entry: dict[str, Any],
        request: messages.IntegrationRequest,
        arns: list[str],
        declared: set[str],
    ) -> dict[str, str]:
        """Publish one entry: ``{"EventId": ...}``, or the entry's ErrorCode/ErrorMessage."""
        for member in ("Source", "DetailType", "Detail"):
            if not entry.get(member):
                return _failed_entry(
                    "InvalidArgument",
                    f"Parameter {member} is not valid. Reason: {member} is a required argument.",
                )
        source: str = entry["Source"]
        detail_type: str = entry["DetailType"]
        detail: str = entry["Detail"]
        if not _is_json_object(detail):
            return _failed_entry("MalformedDetail", "Detail is malformed.")
        exchange = "events." + event_bus_name(entry.get("EventBusName"))
        routing_key = f"{source}.{detail_type}"
        for what, name in (("EventBusName", exchange), ("Source and DetailType", routing_key)):
            if len(name.encode()) > _AMQP_NAME_BYTES:
                return _failed_entry(
                    "InvalidArgument",
                    f"Parameter {what} is not valid. Reason: {name!r} is longer than the"
                    f" {_AMQP_NAME_BYTES} bytes of an AMQP name.",
                )
        event_id = str(uuid.uuid4())
        resources = entry.get("Resources") or []
        envelope = {
            "version": "0",
            "id": event_id,
            "detail-type": detail_type,
            "source": source,
            "account": _account(request.execution_arn),
            "time": _event_time(entry.get("Time")),
            "region": request.region,
            "resources": [*resources, *arns],
        }
        # The Detail text as given (a checked JSON object) is the envelope's last member.
        text = json.dumps(envelope, ensure_ascii=False, separators=(",", ":"))
        body = _utf8(f'{text[:-1]},"detail":{detail}}}')
        if exchange not in declared:
            await self._declare_exchange(exchange, aio_pika.ExchangeType.TOPIC)
            declared.add(exchange)
        try:
            await self._publish(
                body, exchange, routing_key, _properties(event_id, {}, True), mandatory=False
            )
        except _Nacked:
            return _failed_entry("InternalFailure", "Internal Failure")
        return {"EventId": event_id}

    # -- the broker -----------------------------------------------------------------------------

    async def _declare_exchange(self, name: str, kind: aio_pika.ExchangeType) -> None:
        """Declare the durable exchange ``name`` (again on every call: idempotent, and an
        exchange deleted by hand is back before the publish, which would close the channel)."""
        await _declaring(
            f"exchange {name}", self.topology.channel.declare_exchange(name, kind, durable=True)
        )

    async def _publish(
        self,
        body: bytes,
        exchange: str,
        routing_key: str,
        properties: aiormq.spec.Basic.Properties,
        *,
        mandatory: bool,
    ) -> bool:
        """Publish and wait for the confirm: False when a ``mandatory`` message came back
        (no queue bound); raises _Nacked when the broker refused it."""
        try:
            confirmation = await self.channel.basic_publish(
                body,
                exchange=exchange,
                routing_key=routing_key,
                properties=properties,
                mandatory=mandatory,
            )
        except aiormq.exceptions.PublishError:  # returned, on a channel that raises for it
            return False
        except aiormq.exceptions.DeliveryError as error:
            raise _Nacked(str(error)) from None
        # aiormq answers a returned message with the message itself instead of the Ack.
        return not isinstance(confirmation, aiormq.abc.DeliveredMessage)

    def _next_sequence(self) -> str:
        """A FIFO SequenceNumber: 20 digits, growing, as AWS's."""
        self._sequence = max(self._sequence + 1, time.time_ns())
        return f"{self._sequence:020d}"


# -- names --------------------------------------------------------------------------------------


def sqs_queue_name(queue_url: str) -> str:
    """The queue of a QueueUrl: its last path segment (``.../123456789012/orders`` ->
    ``orders``); a name SQS would not have fails as a queue that does not exist."""
    name = queue_url.rsplit("/", 1)[-1]
    if not _QUEUE_NAME.fullmatch(name):
        raise _SQS.error(
            "AWS.SimpleQueueService.NonExistentQueue",
            "The specified queue does not exist.",
            modeled="QueueDoesNotExistException",
        )
    return name


def sns_exchange_name(topic_arn: str) -> str:
    """The fanout exchange of a TopicArn: ``sns.`` and its last part
    (``arn:aws:sns:us-east-1:123456789012:alerts`` -> ``sns.alerts``)."""
    parts = topic_arn.split(":")
    if parts[0] != "arn":
        raise _invalid_sns(
            f"Invalid parameter: TopicArn Reason: {topic_arn} does not start with arn"
        )
    if len(parts) != 6 or parts[2] != "sns" or not _TOPIC_NAME.fullmatch(parts[5]):
        raise _invalid_sns("Invalid parameter: TopicArn")
    exchange = "sns." + parts[5]
    if len(exchange) > _AMQP_NAME_BYTES:
        raise TaskCallFailed(
            errors.RUNTIME,
            f"The topic name {parts[5]} is too long for a RabbitMQ exchange name"
            f" ({_AMQP_NAME_BYTES} bytes with its sns. prefix)",
        )
    return exchange


def event_bus_name(bus: str | None) -> str:
    """The bus of an entry's EventBusName, a name or an ARN (``...:event-bus/orders`` ->
    ``orders``); ``default`` without one."""
    if not bus:
        return "default"
    if bus.startswith("arn:"):
        return bus.split(":", 5)[-1].removeprefix("event-bus/")
    return bus


# -- parameters and attributes ------------------------------------------------------------------


@functools.cache
def _input_shape(botocore_name: str, operation: str) -> Shape | None:
    model = botocore.session.get_session().get_service_model(botocore_name)
    return model.operation_model(operation).input_shape


def _parameters(request: messages.IntegrationRequest, service: _Service) -> dict[str, Any]:
    """The request's Parameters as the API's members, read as the ``aws`` target reads them."""
    shape = _input_shape(*_OPERATIONS[service.prefix])
    try:
        return requests.request_parameters(request.parameters, shape, optimized=True)
    except requests.InvalidParameters as error:
        raise client_failure(error, service.prefix) from None


def _given_as_json(parameters: Any, member: str) -> bool:
    """Whether ``member`` of the Task's Parameters is a JSON value other than a string (it
    is then sent as its JSON text)."""
    if not isinstance(parameters, dict):
        return False
    for key, value in parameters.items():
        if key.lower() == member.lower() and value is not None:
            return not isinstance(value, str)
    return False


def _attributes(
    attributes: dict[str, Any] | None,
    error: Callable[..., TaskCallFailed],
    code: str,
    modeled: str | None,
) -> dict[str, dict[str, Any]]:
    """The message attributes, checked as SQS/SNS check them (a type, a value of that type)."""
    checked: dict[str, dict[str, Any]] = {}
    for name, value in (attributes or {}).items():
        data_type = value.get("DataType")
        if not data_type:
            raise error(
                code,
                f"The message attribute '{name}' must contain non-empty message attribute type.",
                modeled,
            )
        kind = data_type.split(".")[0]
        if kind not in ("String", "Number", "Binary"):
            raise error(
                code,
                f"The message attribute '{name}' has an invalid message attribute type, the set"
                " of supported type prefixes is Binary, Number, and String.",
                modeled,
            )
        member = "BinaryValue" if kind == "Binary" else "StringValue"
        if not value.get(member):
            raise error(
                code,
                f"The message attribute '{name}' must contain non-empty message attribute value"
                f" for message attribute type '{data_type}'.",
                modeled,
            )
        if name in _BROKER_HEADERS or name.startswith(_OWN_HEADER_PREFIX):
            raise TaskCallFailed(
                errors.RUNTIME,
                f"The message attribute {name} cannot be an AMQP header: RabbitMQ or the"
                " rabbitmq target gives that header a meaning of its own",
            )
        if len(name.encode()) > _HEADER_NAME_BYTES:
            raise TaskCallFailed(
                errors.RUNTIME,
                f"The message attribute {name[:40]}... is longer than the"
                f" {_HEADER_NAME_BYTES} bytes of an AMQP header name",
            )
        checked[name] = {"DataType": data_type, member: value[member]}
    return checked


def attributes_md5(attributes: dict[str, dict[str, Any]]) -> str:
    """SQS's MD5OfMessageAttributes: over the attributes sorted by name, each as its name,
    data type (both length-prefixed UTF-8), a transport byte (1 text, 2 binary) and its
    length-prefixed value."""
    digest = hashlib.md5()
    for name in sorted(attributes):
        value = attributes[name]
        binary = "BinaryValue" in value
        data = value["BinaryValue"] if binary else value["StringValue"].encode()
        for part in (name.encode(), value["DataType"].encode()):
            digest.update(struct.pack(">I", len(part)) + part)
        digest.update(bytes([2 if binary else 1]) + struct.pack(">I", len(data)) + data)
    return digest.hexdigest()


def _headers(
    attributes: dict[str, dict[str, Any]], group: str | None, deduplication: str | None
) -> dict[str, Any]:
    # A binary value is an AMQP byte array, which pamqp writes from a bytearray.
    headers: dict[str, Any] = {
        name: value["StringValue"] if "StringValue" in value else bytearray(value["BinaryValue"])
        for name, value in attributes.items()
    }
    if group:
        headers[_OWN_HEADER_PREFIX + "message-group-id"] = group
    if deduplication:
        headers[_OWN_HEADER_PREFIX + "message-deduplication-id"] = deduplication
    return headers


def _properties(
    message_id: str, headers: dict[str, Any], json_body: bool
) -> aiormq.spec.Basic.Properties:
    return aiormq.spec.Basic.Properties(
        content_type=_JSON_TEXT if json_body else _PLAIN_TEXT,
        delivery_mode=PERSISTENT,
        message_id=message_id,
        timestamp=datetime.now(UTC),
        headers=headers or None,
    )


# -- answers ------------------------------------------------------------------------------------


def _with_http_metadata(fields: dict[str, Any], length: int, content_type: str) -> dict[str, Any]:
    """``fields`` with SdkHttpMetadata/SdkResponseMetadata as SDK v1 builds them from AWS's
    answer (its headers in the order AWS sends them), members in alphabetical order."""
    request_id = str(uuid.uuid4())
    headers = {
        "x-amzn-RequestId": request_id,
        "connection": "keep-alive",
        "Content-Length": str(length),
        "Date": formatdate(usegmt=True),
        "Content-Type": content_type,
    }
    metadata = {"HTTPHeaders": headers, "HTTPStatusCode": 200, "RequestId": request_id}
    return dict(sorted({**fields, **responses.sdk_metadata(metadata)}.items()))


def _sns_answer(fields: dict[str, Any]) -> str:
    """The XML document SNS answers Publish with (for its Content-Length)."""
    members = "".join(f"    <{name}>{value}</{name}>\n" for name, value in fields.items())
    return (
        '<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">\n'
        f"  <PublishResult>\n{members}  </PublishResult>\n"
        f"  <ResponseMetadata>\n    <RequestId>{uuid.uuid4()}</RequestId>\n"
        "  </ResponseMetadata>\n</PublishResponse>\n"
    )


def _failed_entry(code: str, message: str) -> dict[str, str]:
    return {"ErrorCode": code, "ErrorMessage": message}


def _events_validation(message: str) -> TaskCallFailed:
    return _EVENTS.error("ValidationException", f"1 validation error detected: {message}")


def _invalid_sns(message: str) -> TaskCallFailed:
    return _SNS.error("InvalidParameter", message, modeled="InvalidParameterException")


def _unsupported(request: messages.IntegrationRequest, what: str) -> TaskCallFailed:
    return TaskCallFailed(
        errors.RUNTIME,
        f"The rabbitmq target does not carry {what} for {request.service}:{request.action};"
        " leave it out, or route this call to the aws target",
    )


# -- small helpers ------------------------------------------------------------------------------


async def _declaring(what: str, declaration: Awaitable[Any]) -> Any:
    """Await a declaration; a refusal (an entity of that name with other arguments, or a
    name the broker keeps for itself) fails the task, with the broker's words."""
    try:
        return await declaration
    except (
        aiormq.exceptions.ChannelPreconditionFailed,
        aiormq.exceptions.ChannelAccessRefused,
    ) as error:
        raise TaskCallFailed(
            errors.RUNTIME, f"RabbitMQ refused to declare the {what}: {error}"
        ) from None


def _is_json_object(text: str) -> bool:
    """Whether ``text`` is a JSON object (strict JSON: no NaN or Infinity)."""

    def refuse(constant: str) -> Any:
        raise ValueError(constant)

    try:
        return isinstance(json.loads(text, parse_constant=refuse), dict)
    except ValueError:
        return False


def _event_time(given: Any) -> str:
    """The event's time, ISO-8601 UTC to the second as EventBridge writes it: the entry's
    Time when given, else now."""
    moment = datetime.now(UTC) if given is None else parse_timestamp(given)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _account(execution_arn: str) -> str:
    parts = execution_arn.split(":")
    return parts[4] if len(parts) > 4 else ""


def _state_machine_arn(execution_arn: str) -> str:
    """The state machine of an execution ARN (``...:execution:M:name`` -> ``...:stateMachine:M``)."""
    for kind in (":execution:", ":express:"):
        head, found, rest = execution_arn.partition(kind)
        if found:
            return f"{head}:stateMachine:{rest.split(':')[0]}"
    return execution_arn


def _utf8(text: str) -> bytes:
    # A lone surrogate (from a JSON escape) has no UTF-8 form: it becomes U+FFFD.
    return text.encode("utf-8", errors="replace")
