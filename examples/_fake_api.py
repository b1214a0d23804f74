"""A fake HTTP API that acts once per ``Idempotency-Key``, as payment and mail providers do.

The example consumers' services (``examples.fake_payment_provider``,
``examples.fake_mailer``) are this server with their own path, required fields and ids:
``POST <path>`` with a JSON body and an ``Idempotency-Key`` header acts once per key (a
refund made, a message sent); a repeated key is answered with the original result (and
``Idempotent-Replayed: true``) and does nothing more. ``GET <path>`` shows what it saw:
every request's key, and what it did. It can also be down for its first requests,
answering them ``503 Service Unavailable`` without acting, as a provider in an outage.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, Self

KEY_HEADER = "Idempotency-Key"


class FakeIdempotentApi:
    """The API's state and its HTTP server on ``127.0.0.1`` (``port``, or a free one).

    Subclasses name what the API does: its ``path``, the body's ``required`` fields, and
    the field (``id_field``, prefixed ``id_prefix``) that numbers what it did.

    Attributes:
        requests: the ``Idempotency-Key`` of every request, repeats and refusals included.
        made: what it did, one per key: the key and its answer.
        on_made: called with ``len(made)`` after a new result is recorded and before it is
            answered (a test's hook: "the provider has refunded N").
        down_for: how many of the next requests are answered 503 without acting.
    """

    path: ClassVar[str]
    required: ClassVar[tuple[str, ...]]
    id_field: ClassVar[str]
    id_prefix: ClassVar[str]

    def __init__(
        self, on_made: Callable[[int], None] | None = None, *, port: int = 0, down_for: int = 0
    ) -> None:
        self.requests: list[str] = []
        self.made: dict[str, dict[str, Any]] = {}
        self.on_made = on_made
        self.down_for = down_for
        self._changed = threading.Condition()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _handler(self))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:41234``."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def act(self, key: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Record a request; act once per ``key``. Returns the status and the answer."""
        with self._changed:
            self.requests.append(key)
            if self.down_for > 0:
                self.down_for -= 1
                return 503, {"error": "down for maintenance"}
            if key in self.made:
                return 200, self.made[key]
            answer = {self.id_field: f"{self.id_prefix}{len(self.made) + 1}", **body}
            self.made[key] = answer
            made = len(self.made)
            self._changed.notify_all()
        if self.on_made is not None:
            self.on_made(made)
        return 201, answer

    def wait_for_made(self, count: int, timeout: float) -> bool:
        """Wait until at least ``count`` results were made; ``False`` on timeout."""
        with self._changed:
            return self._changed.wait_for(lambda: len(self.made) >= count, timeout)

    def state(self) -> dict[str, Any]:
        """What ``GET <path>`` answers: every request's key, and what was made."""
        with self._changed:
            return {"requests": list(self.requests), "made": dict(self.made)}


def serve(api: type[FakeIdempotentApi]) -> None:
    """Run ``api`` on a free port until interrupted, its URL printed first."""
    with api() as running:
        print(running.url, flush=True)
        threading.Event().wait()


def _handler(api: FakeIdempotentApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            key = self.headers.get(KEY_HEADER)
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length) or b"{}")
            missing = [field for field in api.required if field not in body]
            if self.path != api.path or not key or missing:
                usage = f"POST {api.path} with an {KEY_HEADER} header and {api.required}"
                self._answer(400, {"error": usage, "missing": missing})
                return
            status, answer = api.act(key, body)
            self._answer(status, answer, replayed=status == 200)

        def do_GET(self) -> None:
            self._answer(200, api.state())

        def _answer(self, status: int, body: dict[str, Any], *, replayed: bool = False) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if replayed:
                self.send_header("Idempotent-Replayed", "true")
            self.end_headers()
            # A client that died waiting: the result stands, and its repeat gets it.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the tests read the state, not a log."""

    return Handler
