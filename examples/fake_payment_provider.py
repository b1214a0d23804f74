"""A fake payment provider for the refund consumer example: refunds over HTTP, idempotent.

``POST /refunds`` with a JSON body (``reservation_id``, ``quantity``) and an
``Idempotency-Key`` header refunds once per key, as real providers do: a repeated key is
answered with the original refund (and ``Idempotent-Replayed: true``) and refunds nothing
more. ``GET /refunds`` shows what it saw: every request's key, and the refunds made.

Run it on its own (``python -m examples.fake_payment_provider``; it prints its URL on
127.0.0.1 with a free port), or in a thread (:class:`FakePaymentProvider`), as the tests do.
"""

from __future__ import annotations

from examples._fake_api import FakeIdempotentApi, serve


class FakePaymentProvider(FakeIdempotentApi):
    """A provider whose ``made`` are refunds: ``{"refund_id": "re_1", ...the request}``."""

    path = "/refunds"
    required = ("reservation_id", "quantity")
    id_field = "refund_id"
    id_prefix = "re_"


if __name__ == "__main__":
    serve(FakePaymentProvider)
