"""What a relay needs of a broker, and which broker a URL names.

Each broker's module (``_nats``, ``_amqp``, ``_redis``) imports its client only when a
publisher is made for it, so the core install needs none of them.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import dataclasses
import importlib
from collections.abc import Awaitable, Sequence
from datetime import timedelta
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from reservation_core.relay._message import Outgoing, invalid


class RelayError(Exception):
    """The broker could not be reached, or did not confirm a message.

    Raised by :meth:`Relay.relay_pending` and when connecting; ``run()`` logs it and
    tries again. Its text never shows a password.
    """


@dataclasses.dataclass(frozen=True, slots=True)
class Settings:
    """Where and how a relay publishes (checked by the relay's constructor)."""

    topic: str
    stream: str
    exchange: str
    queue: str | None
    duplicate_window: timedelta
    publish_timeout: float


#: The outcome of one message: ``None`` once the broker confirmed it, else why not.
Outcome = BaseException | None


class Publisher(abc.ABC):
    """A connection to one broker that publishes messages and says which it confirmed."""

    def __init__(self, url: str, settings: Settings) -> None:
        self.url = url
        self.shown_url = shown_url(url)
        self.settings = settings

    @abc.abstractmethod
    async def connect(self) -> None:
        """Connect, and declare what the messages go to (stream, exchange and queue)."""

    @abc.abstractmethod
    async def publish(self, messages: Sequence[Outgoing]) -> list[Outcome]:
        """Send ``messages`` at once; one outcome each, in their order.

        The messages are of different reservations, so the broker may store them in any
        order among themselves.
        """

    @abc.abstractmethod
    async def close(self) -> None:
        """Close the connection, if any; never raises."""

    def describe(self) -> str:
        """Where messages go, for the log."""
        return self.shown_url

    async def unreachable(self, error: Exception) -> RelayError:
        """Close what a failed :meth:`connect` opened; the error to raise for it."""
        await self.close()
        return RelayError(f"cannot connect to {self.describe()}: {describe_error(error)}")


#: URL scheme -> (the publisher's module, its client's module, the extra that installs it).
SCHEMES = {
    "nats": ("_nats", "nats", "nats"),
    "tls": ("_nats", "nats", "nats"),
    "amqp": ("_amqp", "aio_pika", "rabbitmq"),
    "amqps": ("_amqp", "aio_pika", "rabbitmq"),
    "redis": ("_redis", "redis.asyncio", "redis"),
    "rediss": ("_redis", "redis.asyncio", "redis"),
}


def publisher_for(url: object, settings: Settings) -> Publisher:
    """The publisher for a broker URL, chosen by its scheme.

    Raises:
        BusinessException: ``VALIDATION_ERROR`` (field ``broker_url``) for a URL of no
            known scheme.
        ImportError: the broker's client is not installed; the message names the extra.
    """
    if not isinstance(url, str):
        raise invalid("broker_url", "must be a string", type(url).__name__)
    scheme = urlsplit(url).scheme.lower()
    if scheme not in SCHEMES:
        known = ", ".join(f"{name}://" for name in SCHEMES)
        raise invalid("broker_url", f"must start with one of {known}", shown_url(url))
    module_name, client_name, extra = SCHEMES[scheme]
    client(client_name, extra)  # missing: said now, not at the first connection
    module = importlib.import_module(f"{__package__}.{module_name}")
    publisher: Publisher = module.BrokerPublisher(url, settings)
    return publisher


def client(module: str, extra: str) -> ModuleType:
    """Import a broker's client, or fail naming the extra that installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise ImportError(
            f"the {extra} broker needs {module!r}, which is not installed: "
            f"pip install 'reservation-core[{extra}]'"
        ) from error


def shown_url(url: str) -> str:
    """``url`` fit to print: its password replaced by ``***``."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return "<a broker URL that does not parse>"
    if not password:
        return url
    user = parts.username or ""
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def secrets_of(url: str) -> list[str]:
    """The secrets ``url`` holds (its password), to mask in any text."""
    try:
        password = urlsplit(url).password
    except ValueError:
        return []
    return [password] if password else []


def describe_error(error: BaseException) -> str:
    """An exception on one line: its type and, if it says anything, its message."""
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


async def close_quietly(connection: Any, method: str = "close") -> None:
    """Close a client's connection, if any, ignoring how a broken one fails to close."""
    if connection is not None:
        with contextlib.suppress(Exception):
            await getattr(connection, method)()


async def outcomes(sent: Sequence[Awaitable[Any]], timeout: float) -> list[Outcome]:
    """Wait up to ``timeout`` seconds for each confirmation; one outcome each, in order.

    A confirmation still pending then is a :class:`TimeoutError` (and is cancelled).
    """
    tasks = [asyncio.ensure_future(item) for item in sent]
    if not tasks:
        return []
    _, pending = await asyncio.wait(tasks, timeout=timeout)
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.wait(pending)
    late = TimeoutError(f"the broker did not confirm within {timeout} s")
    return [
        late if task in pending else task.exception()
        for task in tasks  # exception() is None for a confirmed message
    ]
