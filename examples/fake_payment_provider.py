"""A fake payment provider for the refund consumer example: refunds over HTTP, idempotent.

``POST /refunds`` with a JSON body (``reservation_id``, ``quantity``) and an
``Idempotency-Key`` header refunds once per key, as real providers do: a repeated key is
answered with the original result (and ``Idempotent-Replayed: true``) and refunds nothing
more. ``GET /refunds`` shows what it saw: every request's key, and the refunds made.

Run it on its own (``python -m examples.fake_payment_provider``; it prints its URL on
127.0.0.1 with a free port), or in a thread (:class:`FakePaymentProvider`), as the tests do.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

KEY_HEADER = "Idempotency-Key"


class FakePaymentProvider:
    """The provider's state and its HTTP server on ``127.0.0.1`` (``port``, or a free one).

    Attributes:
        requests: the ``Idempotency-Key`` of every refund request, repeats included.
        refunds: the refunds made, one per key: the key and its answer.
        on_refund: called with the number of refunds made, after a new refund is recorded
            and before it is answered (a test's hook: "the provider has refunded N").
    """

    def __init__(self, on_refund: Callable[[int], None] | None = None, *, port: int = 0) -> None:
        self.requests: list[str] = []
        self.refunds: dict[str, dict[str, Any]] = {}
        self.on_refund = on_refund
        self._changed = threading.Condition()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _handler(self))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:41234``."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> FakePaymentProvider:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def refund(self, key: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Record a request; refund once per ``key``. Returns the status and the answer."""
        with self._changed:
            self.requests.append(key)
            if key in self.refunds:
                return 200, self.refunds[key]
            answer = {"refund_id": f"re_{len(self.refunds) + 1}", **body}
            self.refunds[key] = answer
            made = len(self.refunds)
            self._changed.notify_all()
        if self.on_refund is not None:
            self.on_refund(made)
        return 201, answer

    def wait_for_refunds(self, count: int, timeout: float) -> bool:
        """Wait until at least ``count`` refunds were made; ``False`` on timeout."""
        with self._changed:
            return self._changed.wait_for(lambda: len(self.refunds) >= count, timeout)


def _handler(provider: FakePaymentProvider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            key = self.headers.get(KEY_HEADER)
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length) or b"{}")
            if self.path != "/refunds" or not key:
                self._answer(400, {"error": f"POST /refunds with an {KEY_HEADER} header"})
                return
            status, answer = provider.refund(key, body)
            self._answer(status, answer, replayed=status == 200)

        def do_GET(self) -> None:
            with provider._changed:
                state = {"requests": list(provider.requests), "refunds": dict(provider.refunds)}
            self._answer(200, state)

        def _answer(self, status: int, body: dict[str, Any], *, replayed: bool = False) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if replayed:
                self.send_header("Idempotent-Replayed", "true")
            self.end_headers()
            # A client that died waiting: the refund stands, and its repeat gets it.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the tests read the state, not a log."""

    return Handler


if __name__ == "__main__":
    with FakePaymentProvider() as running:
        print(running.url, flush=True)
        threading.Event().wait()
