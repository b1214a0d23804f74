"""The example apps behind real HTTP servers: in a thread of the tests, or in a process.

:func:`serve_asgi` and :func:`serve_wsgi` serve an app object in a thread (uvicorn, and
Werkzeug's server); :func:`uvicorn` runs the FastAPI example as its users run it, in a
process of its own.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn as uvicorn_server
from werkzeug.serving import make_server

import examples
from examples._common import DATABASE_URL_VARIABLE

#: The folder that holds ``examples/`` (the repository root).
ROOT = Path(examples.__file__).resolve().parents[1]
_RUNNING = re.compile(r"Uvicorn running on (http://\S+)")
STARTED = re.compile(r"Application startup complete")


class ServerProcess:
    """A server process whose output (stdout and stderr) is read line by line as it comes."""

    def __init__(self, command: list[str], env: dict[str, str], cwd: Path) -> None:
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._ended = False
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and example
            command,
            cwd=cwd,
            env=env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._changed:
                self.lines.append(line)
                self._changed.notify_all()
        with self._changed:
            self._ended = True
            self._changed.notify_all()

    @property
    def output(self) -> str:
        with self._changed:
            return "".join(self.lines)

    def wait_for(self, pattern: re.Pattern[str], count: int = 1, timeout: float = 120) -> list[str]:
        """The first ``count`` lines matching ``pattern``, once printed; fails if it ends first."""

        def found() -> list[str]:
            return [line for line in self.lines if pattern.search(line)]

        with self._changed:
            self._changed.wait_for(lambda: len(found()) >= count or self._ended, timeout)
            matches = found()
        assert len(matches) >= count, f"no {count} x {pattern.pattern!r} in:\n{self.output}"
        return matches[:count]

    def stop(self) -> int:
        """SIGTERM, as a process manager stops it; its exit status."""
        self.process.terminate()
        try:
            status = self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            status = self.process.wait(timeout=60)
        self._reader.join(timeout=60)
        assert self.process.stdout is not None
        self.process.stdout.close()
        return status


@contextmanager
def uvicorn(
    url: str, cwd: Path, *, workers: int = 1, python: str = sys.executable
) -> Iterator[tuple[str, ServerProcess]]:
    """``uvicorn --factory examples.fastapi_app:create_app`` on ``url``: its base URL, process.

    ``--port 0``: uvicorn binds a free port and prints it. With one worker the line comes
    once the app has started; with several, before they start (see :data:`STARTED`).
    """
    path = [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = {**os.environ, DATABASE_URL_VARIABLE: url, "PYTHONPATH": os.pathsep.join(path)}
    command = [python, "-m", "uvicorn", "--factory", "examples.fastapi_app:create_app"]
    command += ["--host", "127.0.0.1", "--port", "0", "--workers", str(workers)]
    server = ServerProcess(command, env, cwd)
    try:
        (line,) = server.wait_for(_RUNNING)
        match = _RUNNING.search(line)
        assert match is not None
        yield match.group(1), server
    finally:
        server.stop()


@contextmanager
def serve_asgi(app: Any, backlog: int = 256) -> Iterator[tuple[str, int]]:
    """``app`` served by uvicorn in a thread, on a free port of 127.0.0.1: its address."""
    # Bound and listening before the server starts: early connections wait in the backlog,
    # so no readiness polling is needed.
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(backlog)
    server = uvicorn_server.Server(uvicorn_server.Config(app, log_level="warning", backlog=backlog))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]})
    thread.start()
    try:
        yield listener.getsockname()
    finally:
        server.should_exit = True
        thread.join(timeout=60)
        listener.close()
    assert not thread.is_alive(), "uvicorn did not stop"


@contextmanager
def serve_wsgi(app: Any) -> Iterator[tuple[str, int]]:
    """``app`` served by Werkzeug's threaded server in a thread, on a free port: its address."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    try:
        yield "127.0.0.1", server.server_port
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=60)
