"""The brokers the relay tests publish to, and what a subscriber reads back from them.

The machine's own brokers (NATS with JetStream on 4222, RabbitMQ on 5672, Redis on 6379)
serve the tests that need no restart; each test there uses names of its own and removes
them. A test that kills a broker starts an instance of its own on free ports, with
durable settings, in a temporary directory, and stops it afterwards however the test ends:
the shared brokers are never restarted. A broker that cannot be had skips its tests,
unless ``RESERVATION_CORE_REQUIRE_BACKENDS`` names it (``nats``, ``rabbitmq``, ``redis``)
or is ``all``, as CI sets it: then they fail.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from tests.databases import unavailable

T = TypeVar("T")

#: The machine's brokers (``RESERVATION_CORE_<BROKER>_URL`` names others).
SHARED_URLS = {
    "nats": os.environ.get("RESERVATION_CORE_NATS_URL", "nats://127.0.0.1:4222"),
    "rabbitmq": os.environ.get(
        "RESERVATION_CORE_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/"
    ),
    "redis": os.environ.get("RESERVATION_CORE_REDIS_URL", "redis://127.0.0.1:6379/0"),
}
BROKERS = list(SHARED_URLS)


@dataclass(frozen=True)
class Received:
    """One message as a subscriber got it: the id the broker carried, its topic, its body."""

    id: str
    topic: str
    body: dict[str, Any]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _answers(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
        return True
    return False


def run_async(work: Coroutine[Any, Any, T]) -> T:
    """Run ``work`` to its end on a fresh event loop in a thread of its own.

    Not ``asyncio.run`` here: the suite's browser tests leave a sync Playwright session,
    whose event loop runs in the main thread, and ``asyncio.run`` refuses to start there.
    """
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, work).result()


def shared_url(name: str) -> str:
    """The machine's broker ``name``, checked to answer (else unavailable)."""
    url = SHARED_URLS[name]
    try:
        run_async(_ping(name, url))
    except Exception as error:  # noqa: BLE001 - any failure means it cannot be used
        unavailable(name, f"{url} does not answer: {error!r}")
    return url


async def _ping(name: str, url: str) -> None:
    if name == "nats":
        import nats

        connection = await nats.connect(url, allow_reconnect=False, connect_timeout=3)
        await connection.jetstream().account_info()  # JetStream is on
        await connection.close()
    elif name == "rabbitmq":
        import aio_pika

        await (await aio_pika.connect(url, timeout=5)).close()
    else:
        import redis.asyncio

        client = redis.asyncio.from_url(url, socket_connect_timeout=3)
        await client.ping()
        await client.aclose()


class Instance:
    """A broker process of the test's own: started, killed with SIGKILL, started again."""

    name: str
    binary: str

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.log = folder / "broker.log"
        if shutil.which(self.binary) is None and not Path(self.binary).exists():
            unavailable(self.name, f"{self.binary} is not installed")

    @property
    def url(self) -> str:
        raise NotImplementedError

    def command(self) -> list[str]:
        raise NotImplementedError

    def environment(self) -> dict[str, str]:
        return dict(os.environ)

    def start(self, timeout: float = 60) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 - a broker binary of the machine
                self.command(),
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.environment(),
                cwd=self.folder,
                start_new_session=True,  # its children (RabbitMQ's beam) die with it
            )
        deadline = time.monotonic() + timeout
        while not self.ready():
            if self.process.poll() is not None or time.monotonic() > deadline:
                tail = self.log.read_text(errors="replace")[-2000:]
                self.kill()
                raise RuntimeError(f"{self.name} on port {self.port} did not start:\n{tail}")
            time.sleep(0.1)

    def ready(self) -> bool:
        if not _answers(self.port):
            return False
        try:
            run_async(_ping(self.name, self.url))
        except Exception:  # noqa: BLE001 - not yet
            return False
        return True

    def kill(self) -> None:
        """SIGKILL the broker and everything it started: nothing is flushed or closed."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self.process = None
        deadline = time.monotonic() + 30
        while _answers(self.port) and time.monotonic() < deadline:
            time.sleep(0.05)  # a child may outlive the group leader for a moment

    def restart(self) -> None:
        self.kill()
        self.start()


class NatsInstance(Instance):
    name, binary = "nats", "nats-server"

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        store = self.folder / "jetstream"
        return [self.binary, "-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd", str(store)]


class RedisInstance(Instance):
    """Redis with every write on disk before it answers: ``appendfsync always``."""

    name, binary = "redis", "redis-server"
    password: str | None = None

    @property
    def url(self) -> str:
        secret = f":{self.password}@" if self.password else ""
        return f"redis://{secret}127.0.0.1:{self.port}/0"

    def command(self) -> list[str]:
        command = [
            self.binary, "--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(self.folder),
            "--appendonly", "yes", "--appendfsync", "always", "--save", "",
        ]  # fmt: skip
        return command + (["--requirepass", self.password] if self.password else [])


class RabbitInstance(Instance):
    """A RabbitMQ node of its own: its name, ports, data and logs; the machine's untouched."""

    name, binary = "rabbitmq", "/usr/lib/rabbitmq/bin/rabbitmq-server"

    def __init__(self, folder: Path) -> None:
        super().__init__(folder)
        self.dist_port = free_port()
        self.node = f"rc-relay-{os.getpid()}-{self.port}@localhost"
        (folder / "rabbitmq.conf").write_text(
            f"listeners.tcp.local = 127.0.0.1:{self.port}\nloopback_users = none\n"
        )
        (folder / "enabled_plugins").write_text("[].\n")
        (folder / "rabbitmq-env.conf").write_text("")

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    def command(self) -> list[str]:
        return [self.binary]

    def environment(self) -> dict[str, str]:
        folder = str(self.folder)
        return {
            **os.environ,
            "HOME": folder,  # its own Erlang cookie
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": f"{folder}/mnesia",
            "RABBITMQ_LOG_BASE": f"{folder}/log",
            "RABBITMQ_CONFIG_FILE": f"{folder}/rabbitmq.conf",
            "RABBITMQ_ENABLED_PLUGINS_FILE": f"{folder}/enabled_plugins",
            "RABBITMQ_CONF_ENV_FILE": f"{folder}/rabbitmq-env.conf",
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
        }


INSTANCES: dict[str, type[Instance]] = {
    "nats": NatsInstance,
    "rabbitmq": RabbitInstance,
    "redis": RedisInstance,
}


@contextlib.contextmanager
def running(name: str, folder: Path) -> Iterator[Instance]:
    """A broker instance of the test's own, stopped at the end whatever happens."""
    instance = INSTANCES[name](folder)
    try:
        instance.start()
        yield instance
    finally:
        instance.kill()


# -- what a subscriber reads -----------------------------------------------------------------


def received(name: str, url: str, where: str) -> list[Received]:
    """Every message ``where`` holds (a stream, a queue, a Redis stream), in its order."""
    return run_async(_READERS[name](url, where))


async def _nats_stream(url: str, stream: str) -> list[Received]:
    """A subscriber of the whole stream, from its first message."""
    import nats

    connection = await nats.connect(url, allow_reconnect=False)
    try:
        jetstream = connection.jetstream()
        total = (await jetstream.stream_info(stream)).state.messages
        subscription = await jetstream.subscribe(">", stream=stream, ordered_consumer=True)
        got = []
        for _ in range(total):
            msg = await subscription.next_msg(timeout=10)
            message_id = (msg.headers or {}).get("Nats-Msg-Id", "")
            got.append(Received(message_id, msg.subject, json.loads(msg.data)))
        await subscription.unsubscribe()
        return got
    finally:
        await connection.close()


async def _rabbitmq_queue(url: str, queue: str) -> list[Received]:
    """A consumer that takes every message of the queue (acknowledging it)."""
    import aio_pika

    connection = await aio_pika.connect(url)
    try:
        channel = await connection.channel()
        source = await channel.declare_queue(queue, durable=True, passive=True)
        got = []
        while (message := await source.get(no_ack=True, fail=False)) is not None:
            assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
            body = json.loads(message.body)
            got.append(Received(message.message_id or "", message.routing_key or "", body))
        return got
    finally:
        await connection.close()


async def _redis_stream(url: str, key: str) -> list[Received]:
    import redis.asyncio

    client = redis.asyncio.from_url(url)
    try:
        entries = await client.xrange(key)
        return [
            Received(fields[b"id"].decode(), key, json.loads(fields[b"body"]))
            for _, fields in entries
        ]
    finally:
        await client.aclose()


_READERS = {"nats": _nats_stream, "rabbitmq": _rabbitmq_queue, "redis": _redis_stream}


def remove(name: str, url: str, where: str) -> None:
    """Delete what a test made on a shared broker (stream, exchange and queue, keys)."""
    run_async(_REMOVERS[name](url, where))


async def _remove_nats(url: str, stream: str) -> None:
    import nats

    connection = await nats.connect(url, allow_reconnect=False)
    with contextlib.suppress(Exception):
        await connection.jetstream().delete_stream(stream)
    await connection.close()


async def _remove_rabbitmq(url: str, name: str) -> None:
    import aio_pika

    connection = await aio_pika.connect(url)
    channel = await connection.channel()
    await channel.queue_delete(name)
    await channel.exchange_delete(name)
    await connection.close()


async def _remove_redis(url: str, key: str) -> None:
    import redis.asyncio

    client = redis.asyncio.from_url(url)
    keys = [key, *[found async for found in client.scan_iter(f"{key}:relayed:*")]]
    await client.delete(*keys)
    await client.aclose()


_REMOVERS = {"nats": _remove_nats, "rabbitmq": _remove_rabbitmq, "redis": _remove_redis}
