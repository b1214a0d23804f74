"""The relay's loop, written once: claim, publish in order, acknowledge what was confirmed.

:class:`~reservation_core.relay.Relay` and
:class:`~reservation_core.relay.AsyncRelay` drive it with a sync or an asyncio service.

Order: a batch is published in *rounds*, each holding at most one event per reservation
(the first round each reservation's first event of the batch, the next its second, ...).
A round is sent at once and awaited whole before the next is sent, and a round with a
failure ends the batch: so no event of a reservation is sent before the broker confirmed
every earlier one, and a reservation's events reach the broker in their order, whatever
the broker does with a batch that failed halfway.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import threading
import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Protocol

from reservation_core import BusinessException, ErrorCode, ReservationEvent
from reservation_core.relay._brokers import Publisher, RelayError, describe_error, secrets_of
from reservation_core.relay._message import outgoing

logger = logging.getLogger("reservation_core.relay")

#: The lease of the relay's claims. A claim returns every event of the consumer not yet
#: acknowledged, whoever claimed it before and when: so a relay started after one that
#: died holding a batch begins with that batch, not after it, and order holds.
TAKE_OVER = timedelta(microseconds=1)
#: Failures worth trying again: the database is away or busy.
_TRANSIENT = frozenset({ErrorCode.STORAGE_UNAVAILABLE, ErrorCode.CONCURRENCY_CONFLICT})
#: Pauses: between polls while events flow and once idle; between tries after a failure.
_POLL_FIRST, _POLL_LONGEST = 0.1, 1.0
_RETRY_FIRST, _RETRY_LONGEST = 0.2, 5.0


class Outbox(Protocol):
    """The service's event outbox, awaited: a sync service's calls run in a thread."""

    async def claim(self, consumer: str, limit: int) -> list[ReservationEvent]:
        """``claim_events`` with the relay's take-over lease."""

    async def ack(self, consumer: str, event_ids: list[int]) -> int:
        """``ack_events``."""


class Stop(Protocol):
    """Asked to stop: a :class:`threading.Event` or an :class:`asyncio.Event`, awaited."""

    def is_set(self) -> bool:
        """Whether the relay was asked to stop."""

    async def wait(self, seconds: float) -> None:
        """Return after ``seconds``, or at once when asked to stop."""


class Never:
    """A stop that is never asked for."""

    def is_set(self) -> bool:
        return False

    async def wait(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


@dataclasses.dataclass(frozen=True, slots=True)
class ThreadStop:
    """A :class:`threading.Event` as a :class:`Stop` (set from a signal handler, say)."""

    event: threading.Event

    def is_set(self) -> bool:
        return self.event.is_set()

    async def wait(self, seconds: float) -> None:
        await asyncio.to_thread(self.event.wait, seconds)


@dataclasses.dataclass(frozen=True, slots=True)
class TaskStop:
    """An :class:`asyncio.Event` as a :class:`Stop`."""

    event: asyncio.Event

    def is_set(self) -> bool:
        return self.event.is_set()

    async def wait(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.event.wait(), seconds)


def rounds(events: Sequence[ReservationEvent]) -> list[list[ReservationEvent]]:
    """``events`` in rounds of at most one event per reservation, claim order kept."""
    seen: Counter[str] = Counter()
    found: list[list[ReservationEvent]] = []
    for event in events:
        turn = seen[event.reservation_id]
        seen[event.reservation_id] += 1
        if turn == len(found):
            found.append([])
        found[turn].append(event)
    return found


@dataclasses.dataclass
class Progress:
    """What was relayed, logged at most every ``every`` seconds and when caught up."""

    every: float
    total: int = 0
    since: int = 0
    started: float = dataclasses.field(default_factory=time.monotonic)
    newest: ReservationEvent | None = None
    #: Whether events were relayed since the relay last caught up.
    busy: bool = False

    def relayed(self, events: Sequence[ReservationEvent]) -> None:
        self.busy = True
        self.total += len(events)
        self.since += len(events)
        self.newest = max(events, key=lambda event: event.id)
        if time.monotonic() - self.started >= self.every:
            self.log("relayed")

    def caught_up(self) -> None:
        if self.busy:
            self.busy = False
            self.log("caught up:")

    def log(self, what: str) -> None:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        lag = ""
        if self.newest is not None:
            behind = (datetime.now(UTC) - self.newest.occurred_at).total_seconds()
            lag = f"; lag {max(behind, 0.0):.2f} s (event {self.newest.id})"
        logger.info(
            "%s %d events in %.1f s (%.0f/s), %d in all%s",
            what, self.since, elapsed, self.since / elapsed, self.total, lag,
        )  # fmt: skip
        self.since, self.started = 0, time.monotonic()


class Engine:
    """Claims, publishes in rounds, acknowledges; the loop both relays run."""

    def __init__(
        self,
        outbox: Outbox,
        publisher: Publisher,
        *,
        consumer: str,
        source: str,
        batch_size: int,
        progress_every: float,
    ) -> None:
        self.outbox = outbox
        self.publisher = publisher
        self.consumer = consumer
        self.source = source
        self.batch_size = batch_size
        self.progress = Progress(progress_every)
        self.connected = False
        self._secrets = secrets_of(publisher.url)

    async def connect(self) -> None:
        if not self.connected:
            await self.publisher.connect()
            self.connected = True
            logger.info(
                "relaying the events of consumer %r to %s", self.consumer, self.publisher.describe()
            )

    async def close(self) -> None:
        self.connected = False
        await self.publisher.close()

    async def batch(self, stop: Stop) -> int:
        """Relay one batch; returns how many events were claimed.

        Raises:
            RelayError: the broker did not confirm an event (those confirmed before it,
                and those of other reservations in its round, are acknowledged).
        """
        await self.connect()
        events = await self.outbox.claim(self.consumer, self.batch_size)
        confirmed: list[ReservationEvent] = []
        failure: tuple[ReservationEvent, BaseException] | None = None
        for turn in rounds(events):
            if stop.is_set():
                break  # the rest stays unacknowledged: the next claim starts with it
            topic = self.publisher.settings.topic
            messages = [outgoing(event, topic, self.source) for event in turn]
            answers = zip(messages, await self.publisher.publish(messages), strict=True)
            failed: list[tuple[ReservationEvent, BaseException]] = []
            for sent, answer in answers:
                if answer is None:
                    confirmed.append(sent.event)
                else:
                    failed.append((sent.event, answer))
            if failed:
                failure = failed[0]
                break
        if confirmed:
            await self.outbox.ack(self.consumer, [event.id for event in confirmed])
            self.progress.relayed(confirmed)
        if failure is not None:
            event, reason = failure
            raise RelayError(
                self.hide(
                    f"{self.publisher.shown_url} did not confirm event {event.id} "
                    f"({len(events) - len(confirmed)} of the batch of {len(events)} left "
                    f"for the next claim): {describe_error(reason)}"
                )
            ) from reason
        return len(events)

    async def relay_pending(self) -> int:
        """Relay batches until a claim comes back short; returns the events relayed."""
        before = self.progress.total
        while await self.batch(Never()) >= self.batch_size:
            pass
        return self.progress.total - before

    async def run(self, stop: Stop) -> None:
        """Relay until asked to stop, trying again after each failure."""
        pause, backoff = _POLL_FIRST, _RETRY_FIRST
        while not stop.is_set():
            try:
                claimed = await self.batch(stop)
            except (RelayError, BusinessException) as error:
                if isinstance(error, BusinessException) and error.code not in _TRANSIENT:
                    raise
                logger.warning("%s; trying again in %.1f s", self.hide(str(error)), backoff)
                await self.close()
                await stop.wait(backoff)
                backoff = min(backoff * 2, _RETRY_LONGEST)
                continue
            backoff = _RETRY_FIRST
            if claimed >= self.batch_size:
                pause = _POLL_FIRST
                continue
            if claimed == 0:
                self.progress.caught_up()
            await stop.wait(pause)
            pause = _POLL_FIRST if claimed else min(pause * 2, _POLL_LONGEST)

    def hide(self, text: str) -> str:
        """``text`` without the broker's password."""
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text
