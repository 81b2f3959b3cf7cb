"""The one place that names and declares every queue and exchange.

Work queues (``intake``, the reply queue, one per function) are durable quorum queues with a
delivery limit: a message whose consumer keeps dying is dead-lettered by the broker instead
of looping forever. Each has a dead-letter queue ``<name>.dead-letter`` behind the
``dead-letter`` exchange. A consumer that rejects a message itself (unparseable, invalid)
republishes it there with the reason in the ``x-dead-letter-reason`` header, then acks it.
The calls queue's delay queues (``orchestrator.calls.delay.<ms>``) hold the next polls of the
jobs the orchestrator runs, and send them back when they expire.
"""

from __future__ import annotations

from typing import Any

import aio_pika
from aio_pika.abc import (
    AbstractChannel,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractQueue,
)

from broker.deliveries import Delivery

INTAKE_QUEUE = "intake"
EXECUTIONS_EXCHANGE = "executions"
TASK_RESULTS_QUEUE = "orchestrator.task-results"
CONTROL_QUEUE = "orchestrator.control"
DEAD_LETTER_EXCHANGE = "dead-letter"
DEAD_LETTER_SUFFIX = ".dead-letter"
REASON_HEADER = "x-dead-letter-reason"
ORIGINAL_QUEUE_HEADER = "x-original-queue"
FUNCTION_QUEUE_PREFIX = "lambda."
INTEGRATION_QUEUE_PREFIX = "integration."
ACTIVITY_QUEUE_PREFIX = "activity."
# Service calls the orchestrator carries itself (the aws and mock targets): durable, so a call
# outlives a crash of the process that was making it.
CALLS_QUEUE = "orchestrator.calls"
# A ``.sync`` job's next poll waits in ``orchestrator.calls.delay.<ms>`` until its TTL (the
# queue's, all its messages alike) sends it back to the calls queue; see calls_delay_queue.
CALLS_DELAY_PREFIX = CALLS_QUEUE + ".delay."
# A consumer dead-letters a body larger than this unread: far beyond any valid message (the
# largest, a task result, is bounded by Step Functions' 256 KiB payload limit plus envelope).
MAX_MESSAGE_BYTES = 4 * 1024 * 1024
# Redeliveries after which the broker gives up on a message. RabbitMQ 3.x also counts the
# requeues of a graceful worker stop, so the limit leaves room for many restarts.
DELIVERY_LIMIT = 20


def oversized(body: bytes) -> str | None:
    """Why ``body`` is too large to read, or None when it is not."""
    if len(body) > MAX_MESSAGE_BYTES:
        return f"message of {len(body)} bytes exceeds the limit of {MAX_MESSAGE_BYTES} bytes"
    return None


def function_queue(function_name: str) -> str:
    """The durable queue that function ``function_name``'s workers consume."""
    return FUNCTION_QUEUE_PREFIX + function_name


def integration_queue(service: str, action: str) -> str:
    """The durable queue a ``worker`` target's workers consume for ``service``:``action``
    (all patterns alike): ``integration.dynamodb.putItem``,
    ``integration.aws-sdk.s3.getObject``."""
    return f"{INTEGRATION_QUEUE_PREFIX}{service.replace(':', '.')}.{action}"


def calls_delay_queue(seconds: float) -> str:
    """The delay queue whose messages go back to :data:`CALLS_QUEUE` ``seconds`` after they
    were published: ``orchestrator.calls.delay.5000`` (milliseconds)."""
    return f"{CALLS_DELAY_PREFIX}{_milliseconds(seconds)}"


def _milliseconds(seconds: float) -> int:
    return max(1, round(seconds * 1000))


def activity_queue(name: str) -> str:
    """The durable queue that holds activity ``name``'s scheduled tasks (GetActivityTask
    takes them from it)."""
    return ACTIVITY_QUEUE_PREFIX + name


class Topology:
    """Declares the topology on one channel and keeps strong references to what it declared.

    aio-pika's robust channel restores, after a reconnect, only the queues and exchanges that
    are still referenced, so this object holds them for the life of the process.
    """

    def __init__(self, channel: AbstractChannel) -> None:
        self.channel = channel
        self._exchanges: dict[str, AbstractExchange] = {}
        self._queues: dict[str, AbstractQueue] = {}

    async def dead_letter_exchange(self) -> AbstractExchange:
        """The direct exchange that routes dead letters by their original queue's name."""
        return await self._exchange(DEAD_LETTER_EXCHANGE, aio_pika.ExchangeType.DIRECT)

    async def executions_exchange(self) -> AbstractExchange:
        """The topic exchange of finished executions, keyed ``<StateMachine>.<STATUS>``."""
        return await self._exchange(EXECUTIONS_EXCHANGE, aio_pika.ExchangeType.TOPIC)

    async def work_queue(self, name: str) -> AbstractQueue:
        """Declare (once) the durable quorum queue ``name`` and its dead-letter queue."""
        if name in self._queues:
            return self._queues[name]
        dlx = await self.dead_letter_exchange()
        dead = await self.channel.declare_queue(
            name + DEAD_LETTER_SUFFIX, durable=True, arguments={"x-queue-type": "quorum"}
        )
        await dead.bind(dlx, routing_key=name)
        arguments: dict[str, Any] = {
            "x-queue-type": "quorum",
            "x-delivery-limit": DELIVERY_LIMIT,
            "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE,
            "x-dead-letter-routing-key": name,
        }
        queue = await self.channel.declare_queue(name, durable=True, arguments=arguments)
        self._queues[name + DEAD_LETTER_SUFFIX] = dead
        self._queues[name] = queue
        return queue

    async def replica_queue(self, name: str, expires_seconds: float) -> AbstractQueue:
        """Declare (once) one orchestrator process's own reply queue ``name``.

        The tasks of the EXPRESS executions a process holds in memory are answered there, so
        that with several orchestrators a result comes back to the one that can apply it. A
        durable quorum queue like the shared reply queue, but deleted by the broker
        ``expires_seconds`` after its process stopped consuming it (``x-expires``): each
        process draws a new name, and an old one's results have nobody left to apply them.
        Its dead letters join the shared reply queue's.
        """
        if name not in self._queues:
            await self.work_queue(TASK_RESULTS_QUEUE)  # whose dead-letter queue it shares
            arguments: dict[str, Any] = {
                "x-queue-type": "quorum",
                "x-delivery-limit": DELIVERY_LIMIT,
                "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE,
                "x-dead-letter-routing-key": TASK_RESULTS_QUEUE,
                "x-expires": _milliseconds(expires_seconds),
            }
            self._queues[name] = await self.channel.declare_queue(
                name, durable=True, arguments=arguments
            )
        return self._queues[name]

    async def calls_delay_queue(self, seconds: float) -> AbstractQueue:
        """Declare (once) the delay queue of ``seconds`` (:func:`calls_delay_queue`).

        RabbitMQ's delayed-retry idiom: nothing consumes it; a message expires after the
        queue's ``x-message-ttl`` and is dead-lettered through the default exchange to the
        calls queue. One queue per delay, because a queue expires messages only from its
        head: with per-message TTLs in one queue, a poll due in 5 s would wait behind one
        due in 60 s. Quorum queues (RabbitMQ 3.10+) take a TTL, and dead-letter
        ``at-least-once`` (which needs ``reject-publish`` overflow): an expired message leaves
        only once the calls queue has confirmed it, so a poll is never lost on the way.
        """
        name = calls_delay_queue(seconds)
        if name not in self._queues:
            arguments: dict[str, Any] = {
                "x-queue-type": "quorum",
                "x-message-ttl": _milliseconds(seconds),
                "x-dead-letter-exchange": "",
                "x-dead-letter-routing-key": CALLS_QUEUE,
                "x-dead-letter-strategy": "at-least-once",
                "x-overflow": "reject-publish",
            }
            self._queues[name] = await self.channel.declare_queue(
                name, durable=True, arguments=arguments
            )
        return self._queues[name]

    def work_queues(self) -> list[str]:
        """The work queues (and calls delay queues) declared on this channel so far, not the
        dead-letter queues: the queues whose depth /metrics shows."""
        return [name for name in self._queues if not name.endswith(DEAD_LETTER_SUFFIX)]

    async def dead_letter(
        self, message: AbstractIncomingMessage | Delivery, queue_name: str, reason: str
    ) -> None:
        """Republish ``message`` to ``queue_name``'s dead-letter queue with ``reason``.

        Waits for the broker's confirm (the channel must have publisher confirms on); the
        caller acks the original afterwards, so the message is never lost in between (at
        worst it is dead-lettered twice).
        """
        await self.work_queue(queue_name)
        headers: dict[str, Any] = dict(message.headers or {})
        headers[REASON_HEADER] = reason[:4000]
        headers[ORIGINAL_QUEUE_HEADER] = queue_name
        copy = aio_pika.Message(
            body=message.body,
            headers=headers,
            content_type=message.content_type,
            correlation_id=message.correlation_id,
            reply_to=message.reply_to,
            message_id=message.message_id,
            timestamp=message.timestamp,
            type=message.type,
            app_id=message.app_id,
            priority=message.priority,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        )
        exchange = await self.dead_letter_exchange()
        await exchange.publish(copy, routing_key=queue_name)

    async def _exchange(self, name: str, kind: aio_pika.ExchangeType) -> AbstractExchange:
        if name not in self._exchanges:
            self._exchanges[name] = await self.channel.declare_exchange(name, kind, durable=True)
        return self._exchanges[name]
