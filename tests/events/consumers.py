"""The example refund consumer run as its users run it: ``python -m examples.refund_consumer``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import examples
from tests.processes import WatchedProcess

#: The folder that holds ``examples/`` (the repository root).
ROOT = Path(examples.__file__).resolve().parents[1]


def _command(url: str, provider_url: str, *options: str) -> tuple[list[str], dict[str, str]]:
    path = [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path)}
    command = ["-m", "examples.refund_consumer", "--url", url, "--provider", provider_url]
    return [sys.executable, *command, *options], env


def start_consumer(url: str, provider_url: str, *, lease: float) -> subprocess.Popen[str]:
    """Start a refund consumer process on ``url`` against the provider at ``provider_url``."""
    command, env = _command(url, provider_url, "--lease", str(lease))
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


def watch_consumer(url: str, provider_url: str, *options: str) -> WatchedProcess:
    """A refund consumer process whose log (stderr) the test reads as it comes."""
    command, env = _command(url, provider_url, *options)
    return WatchedProcess(command, env, ROOT)
