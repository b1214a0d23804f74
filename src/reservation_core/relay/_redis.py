"""Redis Streams: ``XADD`` of each message with its id, and a guard that drops a re-send.

Each message is added by a script that first looks for the message id among those added
within the duplicate window (a key per id, expiring with the window): a re-send within
the window adds nothing and answers the entry it added the first time, as JetStream does.
Every entry carries the message id in its ``id`` field for consumers to deduplicate on
beyond the window. The guarantee needs Redis to keep what it acknowledged: run it with
``appendonly yes`` and ``appendfsync always``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from reservation_core.relay._brokers import Outcome, Publisher, client, close_quietly
from reservation_core.relay._message import Outgoing

#: KEYS: the stream, the id's guard key. ARGV: the message id, its body, the window in ms.
ADD_ONCE = """
local first = redis.call('GET', KEYS[2])
if first then return {first, 1} end
local entry = redis.call('XADD', KEYS[1], '*', 'id', ARGV[1], 'body', ARGV[2])
redis.call('SET', KEYS[2], entry, 'PX', ARGV[3])
return {entry, 0}
"""


def guard_key(stream: str, message_id: str) -> str:
    """The key that marks ``message_id`` as added to ``stream`` within the window."""
    return f"{stream}:relayed:{message_id}"


class BrokerPublisher(Publisher):
    """Adds to Redis streams through redis-py's asyncio client."""

    _client: Any = None
    _add_once: Any = None

    async def connect(self) -> None:
        redis = client("redis.asyncio", "redis")
        timeout = self.settings.publish_timeout
        try:
            self._client = redis.from_url(
                self.url, socket_timeout=timeout, socket_connect_timeout=timeout
            )
            await self._client.ping()
            self._add_once = self._client.register_script(ADD_ONCE)
        except Exception as error:
            raise await self.unreachable(error) from error

    async def publish(self, messages: Sequence[Outgoing]) -> list[Outcome]:
        window = str(int(self.settings.duplicate_window.total_seconds() * 1000))
        pipeline = self._client.pipeline(transaction=False)
        for outgoing in messages:
            keys = [outgoing.topic, guard_key(outgoing.topic, outgoing.id)]
            # Queued, not run: the pipeline sends them all at once below.
            await self._add_once(
                keys=keys, args=[outgoing.id, outgoing.body, window], client=pipeline
            )
        try:
            answers = await pipeline.execute(raise_on_error=False)
        except Exception as error:  # noqa: BLE001 - none is known to be added
            return [error] * len(messages)
        return [answer if isinstance(answer, Exception) else None for answer in answers]

    async def close(self) -> None:
        connection, self._client = self._client, None
        await close_quietly(connection, "aclose")
