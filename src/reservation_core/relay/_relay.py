"""The public relays: :class:`Relay` (a sync service) and :class:`AsyncRelay` (asyncio).

Both run one loop (``_engine``) on asyncio, as the broker clients do; the sync relay runs
it on an event loop of its own, in a thread of its own, and calls the service in a
worker thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Coroutine
from datetime import timedelta
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

from reservation_core import AsyncReservationService, ReservationEvent, ReservationService
from reservation_core.relay._brokers import Settings, publisher_for
from reservation_core.relay._engine import TAKE_OVER, Engine, TaskStop, ThreadStop
from reservation_core.relay._message import DEFAULT_SOURCE, check_template, invalid

S = TypeVar("S", ReservationService, AsyncReservationService)
T = TypeVar("T")

#: The topic of each broker unless told otherwise: a subject or routing key per
#: schedule and event type; one Redis stream, so that one reader sees every event.
DEFAULT_TOPIC = "reservation_core.{schedule_id}.{type}"
DEFAULT_REDIS_TOPIC = "reservation_core"


#: How often a sync relay's caller wakes up while its loop works (to run signal handlers).
_WAKE_EVERY = 0.2


class _AwaitedOutbox:
    """An asyncio service's outbox."""

    def __init__(self, service: AsyncReservationService) -> None:
        self._service = service

    async def claim(self, consumer: str, limit: int) -> list[ReservationEvent]:
        return await self._service.claim_events(consumer, limit=limit, lease=TAKE_OVER)

    async def ack(self, consumer: str, event_ids: list[int]) -> int:
        return await self._service.ack_events(consumer, event_ids)


class _ThreadedOutbox:
    """A sync service's outbox, called in a worker thread so the event loop keeps going."""

    def __init__(self, service: ReservationService) -> None:
        self._service = service

    async def claim(self, consumer: str, limit: int) -> list[ReservationEvent]:
        claim = self._service.claim_events
        return await asyncio.to_thread(claim, consumer, limit=limit, lease=TAKE_OVER)

    async def ack(self, consumer: str, event_ids: list[int]) -> int:
        return await asyncio.to_thread(self._service.ack_events, consumer, event_ids)


def _positive(field: str, value: object, maximum: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= maximum:
        raise invalid(field, f"must be a number above 0 and at most {maximum}", value)


class _Relay(Generic[S]):
    """What both relays share: their settings, checked, and the loop they drive."""

    _service_type: type[ReservationService] | type[AsyncReservationService]

    def __init__(
        self,
        service: S,
        broker_url: str,
        *,
        consumer: str = "relay",
        topic: str | None = None,
        source: str = DEFAULT_SOURCE,
        batch_size: int = 500,
        publish_timeout: float = 10.0,
        stream: str = "RESERVATION_CORE",
        exchange: str = "reservation_core",
        queue: str | None = "reservation_core",
        duplicate_window: timedelta = timedelta(minutes=2),
        progress_every: float = 10.0,
    ) -> None:
        if not isinstance(service, self._service_type):
            raise invalid("service", f"must be a {self._service_type.__name__}", service)
        if type(batch_size) is not int or not 1 <= batch_size <= 10_000:
            raise invalid("batch_size", "must be an integer between 1 and 10000", batch_size)
        _positive("publish_timeout", publish_timeout, 3600)
        _positive("progress_every", progress_every, 86_400)
        if not isinstance(duplicate_window, timedelta) or duplicate_window <= timedelta(0):
            raise invalid("duplicate_window", "must be a positive timedelta", duplicate_window)
        for field, name in (("source", source), ("stream", stream), ("exchange", exchange)):
            if not isinstance(name, str) or not name.strip():
                raise invalid(field, "must be a non-empty string", name)
        if queue is not None and not isinstance(queue, str):
            raise invalid("queue", "must be a string or None", queue)
        redis = isinstance(broker_url, str) and broker_url.lower().startswith("redis")
        settings = Settings(
            topic=check_template(
                "topic", topic or (DEFAULT_REDIS_TOPIC if redis else DEFAULT_TOPIC)
            ),
            stream=stream,
            exchange=exchange,
            queue=queue or None,
            duplicate_window=duplicate_window,
            publish_timeout=float(publish_timeout),
        )
        self._engine = Engine(
            self._outbox(service),
            publisher_for(broker_url, settings),
            consumer=consumer,
            source=source,
            batch_size=batch_size,
            progress_every=float(progress_every),
        )

    def _outbox(self, service: S) -> _AwaitedOutbox | _ThreadedOutbox:
        raise NotImplementedError

    @property
    def relayed(self) -> int:
        """How many events this relay has published and acknowledged so far."""
        return self._engine.progress.total


class Relay(_Relay[ReservationService]):
    """Publishes a :class:`~reservation_core.ReservationService`'s events to a broker.

    Claims the events as the consumer ``consumer``, publishes each batch to the broker
    that ``broker_url`` names (``nats://``: NATS JetStream; ``amqp://``: RabbitMQ;
    ``redis://``: Redis Streams), and acknowledges an event only once the broker has
    confirmed it. At least once: an event is published again after a failure or a crash
    before its acknowledgement, always with the same message id
    (``"{source}:{event.id}"``; JetStream and the Redis guard drop such a re-send
    within ``duplicate_window``). A reservation's events are published in their order.
    Run one relay per consumer (see the docs' Relay page).

    Args:
        service: the service whose events to relay.
        broker_url: ``nats://host:4222``, ``amqp://user:password@host:5672/vhost`` or
            ``redis://host:6379/0`` (``tls://``, ``amqps://``, ``rediss://`` with TLS).
        consumer: the consumer name the relay claims as; it gets every event.
        topic: the subject (NATS), routing key (RabbitMQ) or stream key (Redis), made
            from ``{type}``, ``{schedule_id}`` and ``{status}``. Default
            ``reservation_core.{schedule_id}.{type}``, for Redis ``reservation_core``.
        source: the first part of every message id; give each database relayed into
            one stream a source of its own.
        batch_size: the most events claimed at a time (1 to 10,000).
        publish_timeout: seconds to wait for the broker's confirmations (and to connect).
        stream: the JetStream stream, created if missing (NATS).
        exchange: the durable topic exchange, declared (RabbitMQ).
        queue: a durable queue bound to the exchange with ``#``, declared; ``None``
            to declare none (RabbitMQ).
        duplicate_window: how long a re-send is recognised and dropped: the window of a
            stream the relay creates (NATS), the guard's (Redis).
        progress_every: seconds between two progress lines in the log.

    Raises:
        BusinessException: ``VALIDATION_ERROR`` naming the field of a bad argument.
        ImportError: the broker's client is missing; the message names the extra
            (``pip install 'reservation-core[nats]'``, ``[rabbitmq]``, ``[redis]``).

    Examples:
        >>> from reservation_core.relay import Relay
        >>> with Relay(service, "nats://127.0.0.1:4222") as relay:  # doctest: +SKIP
        ...     relay.relay_pending()
        3
    """

    _service_type = ReservationService
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None

    def _outbox(self, service: ReservationService) -> _ThreadedOutbox:
        return _ThreadedOutbox(service)

    def _run(self, work: Coroutine[Any, Any, T]) -> T:
        """Run ``work`` on the relay's own event loop, in a thread of its own.

        Its own thread, not the caller's: a sync call must work whatever the caller's
        thread runs (an event loop of a host's, Jupyter's, a sync Playwright session's).
        The loop and thread are made at the first call and ended by :meth:`close`.
        """
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.new_event_loop()
            self._thread = threading.Thread(
                target=loop.run_forever, name="reservation-core-relay", daemon=True
            )
            self._thread.start()
        future = asyncio.run_coroutine_threadsafe(work, loop)
        try:
            while True:
                # Never an unbounded wait: a signal (SIGTERM) that the kernel hands to
                # another thread only sets a flag, and its Python handler (which may set
                # ``stop``) runs once this thread wakes up.
                with contextlib.suppress(TimeoutError):
                    return future.result(timeout=_WAKE_EVERY)
        except BaseException:
            future.cancel()  # KeyboardInterrupt in the caller: the loop's work ends too
            raise

    def connect(self) -> None:
        """Connect to the broker and declare what is needed; done by the first relay too.

        Raises:
            RelayError: the broker cannot be reached or refused a declaration.
        """
        self._run(self._engine.connect())

    def relay_pending(self) -> int:
        """Relay every event claimable now; returns how many were published.

        Raises:
            RelayError: the broker did not confirm an event; what was confirmed before it
                is acknowledged, the rest is relayed by a later call.
            BusinessException: from ``claim_events`` / ``ack_events``.
        """
        return self._run(self._engine.relay_pending())

    def run(self, stop: threading.Event | None = None) -> None:
        """Relay until ``stop`` is set, polling for new events, retrying after failures.

        A failure (the broker or the database away) is logged and tried again, backing
        off up to 5 s. Once ``stop`` is set the batch in hand ends after its current
        round: what the broker confirmed is acknowledged, the rest is claimed again by
        the next run.
        """
        self._run(self._engine.run(ThreadStop(stop or threading.Event())))

    def close(self) -> None:
        """Close the broker connection and the relay's event loop."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(self._engine.close(), loop).result()
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join()
            loop.close()
            self._loop = self._thread = None

    def __enter__(self) -> Self:
        self.connect()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AsyncRelay(_Relay[AsyncReservationService]):
    """:class:`Relay` for an :class:`~reservation_core.AsyncReservationService`, awaited.

    The same arguments, guarantees and errors; use it inside the host's event loop.

    Examples:
        >>> from reservation_core.relay import AsyncRelay
        >>> async def main():  # doctest: +SKIP
        ...     async with AsyncRelay(service, "redis://127.0.0.1:6379/0") as relay:
        ...         await relay.run(stop)
    """

    _service_type = AsyncReservationService

    def _outbox(self, service: AsyncReservationService) -> _AwaitedOutbox:
        return _AwaitedOutbox(service)

    async def connect(self) -> None:
        """:meth:`Relay.connect`, awaited."""
        await self._engine.connect()

    async def relay_pending(self) -> int:
        """:meth:`Relay.relay_pending`, awaited."""
        return await self._engine.relay_pending()

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """:meth:`Relay.run`, awaited: until ``stop`` is set (or the task is cancelled)."""
        await self._engine.run(TaskStop(stop or asyncio.Event()))

    async def close(self) -> None:
        """Close the broker connection."""
        await self._engine.close()

    async def __aenter__(self) -> Self:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
