"""Publishing a persistent JSON message on the AMQP channel under aio-pika's, with a confirm.

aio-pika's ``Exchange.publish`` builds a ``Message`` and its properties per call; the services'
hot paths send through the channel under it instead, which waits for the same confirm.
"""

from __future__ import annotations

import aiormq
from aio_pika import DeliveryMode

PERSISTENT = int(DeliveryMode.PERSISTENT)


async def publish_json(
    channel: aiormq.abc.AbstractChannel,
    body: bytes,
    *,
    routing_key: str,
    exchange: str = "",
    correlation_id: str | None = None,
    reply_to: str | None = None,
    mandatory: bool = True,
) -> None:
    """Publish ``body`` (JSON) persistently and wait for the broker's confirm.

    On a channel with ``on_return_raises``, an unroutable mandatory message raises
    ``PublishError``; a nack raises ``DeliveryError``.
    """
    properties = aiormq.spec.Basic.Properties(
        content_type="application/json",
        correlation_id=correlation_id,
        reply_to=reply_to,
        delivery_mode=PERSISTENT,
    )
    await channel.basic_publish(
        body,
        exchange=exchange,
        routing_key=routing_key,
        properties=properties,
        mandatory=mandatory,
    )
