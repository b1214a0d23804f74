"""RabbitMQ (AMQP 0-9-1): publisher confirms, persistent messages, ``message_id``.

The relay declares a durable topic exchange (``reservation_core`` by default) and, unless
told not to, a durable queue bound to it with ``#`` (also ``reservation_core``), so that
no message is confirmed that no queue keeps. Messages are published ``mandatory``: one
that no queue takes comes back, and counts as not confirmed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from reservation_core.relay._brokers import (
    Outcome,
    Publisher,
    client,
    close_quietly,
    outcomes,
)
from reservation_core.relay._message import Outgoing


class BrokerPublisher(Publisher):
    """Publishes to a RabbitMQ exchange through aio-pika."""

    _connection: Any = None
    _exchange: Any = None

    def describe(self) -> str:
        queue = f", queue {self.settings.queue}" if self.settings.queue else ""
        return f"{self.shown_url} (exchange {self.settings.exchange}{queue})"

    async def connect(self) -> None:
        aio_pika = client("aio_pika", "rabbitmq")
        settings = self.settings
        try:
            self._connection = await aio_pika.connect(
                self.url,
                timeout=settings.publish_timeout,
                client_properties={"connection_name": "reservation-core relay"},
            )
            channel = await self._connection.channel(publisher_confirms=True, on_return_raises=True)
            self._exchange = await channel.declare_exchange(
                settings.exchange, aio_pika.ExchangeType.TOPIC, durable=True
            )
            if settings.queue:
                queue = await channel.declare_queue(settings.queue, durable=True)
                await queue.bind(self._exchange, routing_key="#")
        except Exception as error:
            raise await self.unreachable(error) from error

    async def publish(self, messages: Sequence[Outgoing]) -> list[Outcome]:
        aio_pika = client("aio_pika", "rabbitmq")
        sent = [
            self._exchange.publish(
                aio_pika.Message(
                    outgoing.body,
                    message_id=outgoing.id,
                    content_type="application/json",
                    type=outgoing.event.type,
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                ),
                routing_key=outgoing.topic,
                mandatory=True,
            )
            for outgoing in messages
        ]
        return await outcomes(sent, self.settings.publish_timeout)

    async def close(self) -> None:
        connection, self._connection, self._exchange = self._connection, None, None
        await close_quietly(connection)
