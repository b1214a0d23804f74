"""A consumer of the library's events: every ``reservation.refunded`` refunds at the provider.

Run it beside your application, as many processes as you like::

    python -m examples.refund_consumer --url postgresql+psycopg://app@db/app \\
        --provider http://127.0.0.1:8000

It claims batches of events for the consumer ``refunds`` and POSTs a refund to the payment
provider (``/refunds``: the reservation's id and quantity) for each ``reservation.refunded``
one, with the event id as the ``Idempotency-Key``; other event types are acknowledged
without a call. A consumer killed after the provider refunded but before it acknowledged
leaves the event to be claimed again, and the provider answers the repeat with the
original refund: each refund reaches the provider exactly once in effect, whatever dies
when. The claims, retries with back-off while the provider is down, leases and SIGTERM
are those of every example consumer (``examples._consumers``).
"""

from __future__ import annotations

import sys
from typing import Any

from examples._consumers import Consumer, run
from reservation_core import ReservationEvent, ReservationService


def refund(service: ReservationService, event: ReservationEvent) -> dict[str, Any]:
    """The provider's refund of ``event``'s reservation: all it has refunded."""
    return {"reservation_id": event.reservation_id, "quantity": event.quantity}


REFUNDS = Consumer(
    name="refunds",
    acts_on="reservation.refunded",
    service="payment provider",
    option="--provider",
    path="/refunds",
    body=refund,
    summary=__doc__.splitlines()[0],
)


def main(argv: list[str] | None = None) -> int:
    """Refund until SIGINT or SIGTERM; returns the exit status."""
    return run(REFUNDS, argv)


if __name__ == "__main__":
    sys.exit(main())
