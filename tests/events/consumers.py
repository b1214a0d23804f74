"""The example consumers run as their users run them: ``python -m examples.refund_consumer``.

Each example (:data:`REFUND_CONSUMER`, :data:`WAITLIST_NOTIFIER`) is started against the
fake service it calls; :func:`service_down` starts one against a port that refuses
connections, for the tests of its back-off.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import examples
from examples._fake_api import FakeIdempotentApi
from tests.processes import WatchedProcess

#: The folder that holds ``examples/`` (the repository root).
ROOT = Path(examples.__file__).resolve().parents[1]
#: The warning of a retry: the event and the pause before it, in seconds.
RETRYING = re.compile(r"unavailable .*: retrying event (\d+) in ([\d.]+) s")


class Example(NamedTuple):
    """An example consumer: its module, and the option that names its service's URL."""

    module: str
    service_option: str


REFUND_CONSUMER = Example("examples.refund_consumer", "--provider")
WAITLIST_NOTIFIER = Example("examples.waitlist_notifier", "--mailer")


def _command(
    example: Example, url: str, service_url: str, *options: str
) -> tuple[list[str], dict[str, str]]:
    path = [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path)}
    command = ["-m", example.module, "--url", url, example.service_option, service_url]
    return [sys.executable, *command, *options], env


def start_consumer(
    example: Example, url: str, service_url: str, *, lease: float
) -> subprocess.Popen[str]:
    """Start ``example`` on ``url`` against the service at ``service_url``."""
    command, env = _command(example, url, service_url, "--lease", str(lease))
    return subprocess.Popen(  # noqa: S603 - our own interpreter and example
        command,
        cwd=ROOT,
        env=env,
        text=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def stop_consumer(process: subprocess.Popen[str]) -> tuple[int, str]:
    """SIGTERM: it finishes and acknowledges its batch, then exits. Its status and stderr."""
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    return process.returncode, err


def signalled_mid_batch(
    example: Example, url: str, api: FakeIdempotentApi, signum: int, *, after: int, lease: float
) -> tuple[int, str]:
    """Run ``example`` against ``api`` (running) and send it ``signum`` while ``api`` holds
    the answer to its ``after``-th result, already made; its exit status and stderr.

    SIGKILL: it dies waiting for that answer, so none of its batch is acknowledged.
    SIGTERM: it gets the answer, and is to finish and acknowledge its batch, then exit.
    """
    started: list[subprocess.Popen[str]] = []

    def signal_it(made: int) -> None:
        if made == after:
            started[0].send_signal(signum)
            if signum == signal.SIGKILL:
                started[0].wait(timeout=60)

    api.on_made = signal_it
    started.append(start_consumer(example, url, api.url, lease=lease))
    try:
        _, err = started[0].communicate(timeout=60)
    finally:
        api.on_made = None
    return started[0].returncode, err


def watch_consumer(example: Example, url: str, service_url: str, *options: str) -> WatchedProcess:
    """``example`` as a process whose log (stderr) the test reads as it comes."""
    command, env = _command(example, url, service_url, *options)
    return WatchedProcess(command, env, ROOT)


@contextmanager
def service_down(
    example: Example, url: str, *options: str
) -> Iterator[tuple[WatchedProcess, socket.socket]]:
    """``example`` started against a service whose port refuses connections (bound, never
    listening); the consumer is stopped at the end if it still runs."""
    down = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    down.bind(("127.0.0.1", 0))
    consumer = watch_consumer(example, url, f"http://127.0.0.1:{down.getsockname()[1]}", *options)
    try:
        yield consumer, down
    finally:
        down.close()
        if consumer.process.poll() is None:
            consumer.stop()


def assert_backs_off(consumer: WatchedProcess, count: int, first: float, maximum: float) -> None:
    """The consumer's first ``count`` retries wait steps doubling from ``first`` up to
    ``maximum`` seconds, each pause drawn in the upper half of its step (the log shows
    tenths of a second)."""
    lines = consumer.wait_for(RETRYING, count=count)
    pauses = [float(RETRYING.search(line).group(2)) for line in lines]  # type: ignore[union-attr]
    for attempt, pause in enumerate(pauses):
        step = min(maximum, first * 2**attempt)
        assert step / 2 - 0.05 <= pause <= step + 0.05, pauses
