"""The RabbitMQ side shared by the orchestrator and the workers: connection, topology and
consuming."""

from broker.connection import amqp_url, connect, connect_and_set_up
from broker.deliveries import Consumer, Delivery, consume
from broker.publishing import publish_json
from broker.topology import (
    CALLS_QUEUE,
    CONTROL_QUEUE,
    DEAD_LETTER_EXCHANGE,
    DEAD_LETTER_SUFFIX,
    EXECUTIONS_EXCHANGE,
    INTAKE_QUEUE,
    ORIGINAL_QUEUE_HEADER,
    REASON_HEADER,
    TASK_RESULTS_QUEUE,
    Topology,
    function_queue,
    oversized,
)

__all__ = [
    "CALLS_QUEUE",
    "CONTROL_QUEUE",
    "DEAD_LETTER_EXCHANGE",
    "DEAD_LETTER_SUFFIX",
    "EXECUTIONS_EXCHANGE",
    "INTAKE_QUEUE",
    "ORIGINAL_QUEUE_HEADER",
    "REASON_HEADER",
    "TASK_RESULTS_QUEUE",
    "Consumer",
    "Delivery",
    "Topology",
    "amqp_url",
    "connect",
    "connect_and_set_up",
    "consume",
    "function_queue",
    "oversized",
    "publish_json",
]
