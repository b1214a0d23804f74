"""NATS JetStream: publish acknowledgements, ``Nats-Msg-Id`` for the stream's duplicate window.

The stream (``RESERVATION_CORE`` by default) is created if missing, on file storage, with
the subjects of the topic template (its literal head and ``>``) and the relay's duplicate
window. A re-send within the window is acknowledged by JetStream as a duplicate and not
stored again: subscribers never see it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from reservation_core.relay._brokers import (
    Outcome,
    Publisher,
    RelayError,
    client,
    close_quietly,
    outcomes,
)
from reservation_core.relay._message import Outgoing

#: The most messages published before their acknowledgements are awaited (a batch's).
_MOST_PENDING = 10_000


def stream_subjects(template: str) -> str | None:
    """The subjects a stream needs for ``template``: its fixed first tokens and ``>``.

    ``None`` when a placeholder comes before the first ``.``: such a stream must be made
    by the operator.
    """
    if "{" not in template:
        return template  # one subject for every event
    head = template.split("{", 1)[0]
    if "." not in head:
        return None
    return head.rsplit(".", 1)[0] + ".>"


class BrokerPublisher(Publisher):
    """Publishes to a JetStream stream through nats-py."""

    _connection: Any = None
    _jetstream: Any = None

    def describe(self) -> str:
        return f"{self.shown_url} (stream {self.settings.stream})"

    async def connect(self) -> None:
        nats = client("nats", "nats")
        js_errors = client("nats.js.errors", "nats")

        async def quiet(error: Exception) -> None:
            """Failures surface as publish outcomes; nats-py would log each one too."""

        timeout = self.settings.publish_timeout
        try:
            self._connection = await nats.connect(
                self.url,
                name="reservation-core relay",
                connect_timeout=max(1, round(timeout)),
                allow_reconnect=False,
                max_reconnect_attempts=1,
                error_cb=quiet,
            )
            self._jetstream = self._connection.jetstream(
                timeout=timeout, publish_async_max_pending=_MOST_PENDING
            )
            try:
                await self._jetstream.stream_info(self.settings.stream)
            except js_errors.NotFoundError:
                await self._add_stream()
        except RelayError:
            await self.close()
            raise
        except Exception as error:
            raise await self.unreachable(error) from error

    async def _add_stream(self) -> None:
        subjects = stream_subjects(self.settings.topic)
        if subjects is None:
            raise RelayError(
                f"the stream {self.settings.stream} does not exist, and the topic "
                f"{self.settings.topic!r} has a placeholder in its first token: "
                "create the stream first"
            )
        await self._jetstream.add_stream(
            name=self.settings.stream,
            subjects=[subjects],
            storage="file",
            duplicate_window=self.settings.duplicate_window.total_seconds(),
        )

    async def publish(self, messages: Sequence[Outgoing]) -> list[Outcome]:
        sent: list[Any] = []
        for index, outgoing in enumerate(messages):
            try:
                sent.append(
                    await self._jetstream.publish_async(
                        outgoing.topic, outgoing.body, headers={"Nats-Msg-Id": outgoing.id}
                    )
                )
            except Exception as error:  # noqa: BLE001 - the rest were not sent either
                return [*await outcomes(sent, self.settings.publish_timeout)] + [error] * (
                    len(messages) - index
                )
        return await outcomes(sent, self.settings.publish_timeout)

    async def close(self) -> None:
        connection, self._connection, self._jetstream = self._connection, None, None
        await close_quietly(connection)
