"""The example apps behind real HTTP servers: in a thread of the tests, or in a process.

:func:`serve_asgi` and :func:`serve_wsgi` serve an app object in a thread (uvicorn, and
Werkzeug's server); :func:`uvicorn` runs the FastAPI example as its users run it, in a
process of its own.
"""

from __future__ import annotations

import os
import re
import socket
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
from tests.processes import WatchedProcess

#: The folder that holds ``examples/`` (the repository root).
ROOT = Path(examples.__file__).resolve().parents[1]
_RUNNING = re.compile(r"Uvicorn running on (http://\S+)")
STARTED = re.compile(r"Application startup complete")


@contextmanager
def uvicorn(
    url: str, cwd: Path, *, workers: int = 1, python: str = sys.executable
) -> Iterator[tuple[str, WatchedProcess]]:
    """``uvicorn --factory examples.fastapi_app:create_app`` on ``url``: its base URL, process.

    ``--port 0``: uvicorn binds a free port and prints it. With one worker the line comes
    once the app has started; with several, before they start (see :data:`STARTED`).
    """
    path = [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = {**os.environ, DATABASE_URL_VARIABLE: url, "PYTHONPATH": os.pathsep.join(path)}
    command = [python, "-m", "uvicorn", "--factory", "examples.fastapi_app:create_app"]
    command += ["--host", "127.0.0.1", "--port", "0", "--workers", str(workers)]
    server = WatchedProcess(command, env, cwd)
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
