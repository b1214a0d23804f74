"""A fake transactional-mail API for the waiting-list notifier example: idempotent sends.

``POST /messages`` with a JSON body (``to``, ``template``, ``model``: the values the
template fills in, as Postmark's and SendGrid's template sends take them) and an
``Idempotency-Key`` header sends once per key: a repeated key is answered with the
original message (and ``Idempotent-Replayed: true``) and sends nothing more.
``GET /messages`` shows what it saw: every request's key, and the messages sent.

Run it on its own (``python -m examples.fake_mailer``; it prints its URL on 127.0.0.1 with
a free port), or in a thread (:class:`FakeMailer`), as the tests do.
"""

from __future__ import annotations

from examples._fake_api import FakeIdempotentApi, serve


class FakeMailer(FakeIdempotentApi):
    """A mail API whose ``made`` are messages sent: ``{"message_id": "msg_1", ...}``."""

    path = "/messages"
    required = ("to", "template", "model")
    id_field = "message_id"
    id_prefix = "msg_"


if __name__ == "__main__":
    serve(FakeMailer)
