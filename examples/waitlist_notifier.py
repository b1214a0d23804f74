"""A consumer of the library's events: every ``waitlist.offered`` mails the user the offer.

Run it beside your application, as many processes as you like::

    python -m examples.waitlist_notifier --url postgresql+psycopg://app@db/app \\
        --mailer http://127.0.0.1:8025

It claims batches of events for the consumer ``waitlist-notifier`` and, for each
``waitlist.offered`` one, POSTs a message to the transactional-mail API (``/messages``):
``to`` the waiting user, the ``waitlist-offer`` template, and what the template tells
them: the schedule, the seats, the held reservation that is the offer (the one to
confirm) and when the offer lapses. The event names the waiting-list entry; the entry
(``get_waitlist_entry``) names the offer's reservation, and the reservation
(``get_reservation``) when it expires. An offer that is no longer open when its event is
handled (accepted, cancelled, left or lapsed meanwhile) is not mailed. Other event types
are acknowledged without a call.

The ``Idempotency-Key`` is the event id: a notifier killed after the mail was sent but
before it acknowledged leaves the event to be claimed again, and the mail API answers the
repeat with the original message: each offer is mailed once, whatever dies when. The
claims, retries with back-off while the mail API is down, leases and SIGTERM are those
of every example consumer (``examples._consumers``).
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from typing import Any

from examples._consumers import Consumer, run
from reservation_core import ReservationEvent, ReservationService, ReservationStatus

log = logging.getLogger("examples.waitlist_notifier")


def offer_mail(service: ReservationService, event: ReservationEvent) -> dict[str, Any] | None:
    """The message telling the user of the offer ``event`` made; ``None`` once it is closed.

    ``to`` is the user's id: a real notifier would look up the user's address (or pass
    the id to a mail API that knows its recipients).
    """
    entry = service.get_waitlist_entry(event.reservation_id)
    offer = None if entry.reservation_id is None else service.get_reservation(entry.reservation_id)
    if (
        offer is None
        or offer.status is not ReservationStatus.HELD
        or offer.expires_at is None
        or offer.expires_at <= datetime.now(UTC)
    ):
        log.info("no mail for event %d: the offer of entry %s is closed", event.id, entry.id)
        return None
    return {
        "to": entry.user_id,
        "template": "waitlist-offer",
        "model": {
            "schedule_id": entry.schedule_id,
            "quantity": entry.quantity,
            "reservation_id": offer.id,
            "expires_at": offer.expires_at.isoformat(),
            "waitlist_entry_id": entry.id,
        },
    }


OFFERS = Consumer(
    name="waitlist-notifier",
    acts_on="waitlist.offered",
    service="mailer",
    option="--mailer",
    path="/messages",
    body=offer_mail,
    summary=__doc__.splitlines()[0],
)


def main(argv: list[str] | None = None) -> int:
    """Mail offers until SIGINT or SIGTERM; returns the exit status."""
    return run(OFFERS, argv)


if __name__ == "__main__":
    sys.exit(main())
