"""Relay the event outbox to a message broker: NATS JetStream, RabbitMQ or Redis Streams.

A :class:`Relay` (or, on asyncio, :class:`AsyncRelay`) claims a service's events as a
consumer of its own, publishes them, and acknowledges each only once the broker has
confirmed it: at least once, with a stable message id, in order per reservation. The
broker clients are extras: ``pip install 'reservation-core[nats]'`` (nats-py),
``[rabbitmq]`` (aio-pika), ``[redis]`` (redis-py). The command ``reservation-core relay``
runs one. See the documentation's Relay page for the message format and the guarantees.
"""

from reservation_core.relay._brokers import RelayError
from reservation_core.relay._message import MESSAGE_VERSION, message, message_id, message_schema
from reservation_core.relay._relay import AsyncRelay, Relay

__all__ = [
    "MESSAGE_VERSION",
    "AsyncRelay",
    "Relay",
    "RelayError",
    "message",
    "message_id",
    "message_schema",
]
