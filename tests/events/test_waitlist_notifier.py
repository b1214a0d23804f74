"""The example waiting-list notifier, run as a process: each offer is mailed once, to its user.

A sold-out schedule, users waiting (parties of one to three), bookings cancelled one by
one: every offer the cancels make is mailed to the fake mail API exactly once, to the
entry's user and naming the held reservation that is the offer, whether the notifier is
stopped (SIGTERM) or killed (SIGKILL) mid-batch, or the mail API is down for a while.
"""

from __future__ import annotations

import collections
import re
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from examples.fake_mailer import FakeMailer
from reservation_core import ReservationService, WaitlistEntry, WaitlistStatus
from reservation_core.adapters.sqlalchemy import SqlAlchemyUnitOfWork, metadata
from tests.databases import make_engine, separate_database_url
from tests.events.consumers import (
    RETRYING,
    WAITLIST_NOTIFIER,
    assert_backs_off,
    signalled_mid_batch,
    start_consumer,
    stop_consumer,
    watch_consumer,
)

CONSUMER = "waitlist-notifier"
SEATS = 20
CANCELLED = 10
PARTIES = [1, 2, 1, 3] * 3  # the waiting entries' quantities, in join order
STOPPED_AFTER = 3  # mails sent when the notifier is stopped or killed


@dataclass
class Database:
    """A fresh database of the backend under test, and its URL for the notifier."""

    url: str
    engine: Engine

    def service(self, *, hours_behind: int = 0) -> ReservationService:
        """A service on it, whose clock is ``hours_behind`` the real one."""
        return ReservationService(
            lambda: SqlAlchemyUnitOfWork(self.engine),
            clock=lambda: datetime.now(UTC) - timedelta(hours=hours_behind),
        )


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """The notifier's own database, empty: it claims every event there is."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'notifier.sqlite3'}"
    else:
        url = separate_database_url(request.param, "notifier")
    engine = make_engine(url)
    metadata.drop_all(engine)
    metadata.create_all(engine)
    yield Database(url, engine)
    engine.dispose()


@dataclass
class Offers:
    """What the cancels on a sold-out schedule offered, and the keys their mails carry."""

    service: ReservationService
    entries: list[WaitlistEntry]  # the entries offered seats (first fit, in join order)
    keys: dict[str, str]  # each one's mail's ``Idempotency-Key`` (its event), by entry id

    def assert_each_mailed_once(self, mailer: FakeMailer) -> None:
        """One mail per offer, keyed by its event, to its user, naming its held
        reservation; no mail for any other event; every event acknowledged."""
        assert set(self.keys) == {entry.id for entry in self.entries}
        assert set(mailer.made) == set(self.keys.values())
        for entry in self.entries:
            assert entry.reservation_id is not None
            mail = mailer.made[self.keys[entry.id]]
            offer = self.service.get_reservation(entry.reservation_id)
            assert (mail["to"], mail["template"]) == (entry.user_id, "waitlist-offer")
            assert mail["model"] == {
                "schedule_id": "talk",
                "quantity": entry.quantity,
                "reservation_id": entry.reservation_id,
                "expires_at": offer.expires_at.isoformat(),  # type: ignore[union-attr]
                "waitlist_entry_id": entry.id,
            }
        assert self.service.claim_events(CONSUMER) == []


def offer_keys(service: ReservationService) -> dict[str, str]:
    """The ``Idempotency-Key`` of each offer's mail (its event's id), by entry id.

    Read once per test: the events are claimed (for a consumer of the test's own).
    """
    events = service.claim_events("audit-only", limit=1000)
    return {e.reservation_id: f"event-{e.id}" for e in events if e.type == "waitlist.offered"}


@pytest.fixture
def offers(database: Database) -> Offers:
    """A sold-out schedule, users waiting in parties of one to three, then cancels."""
    service = database.service()
    service.create_schedule("talk", SEATS)
    fans = [service.create_reservation("talk", f"fan-{n}") for n in range(SEATS)]
    entries = [
        service.join_waitlist("talk", f"waiter-{n}", quantity=q, offer_for=timedelta(hours=2))
        for n, q in enumerate(PARTIES)
    ]
    for fan in fans[:CANCELLED]:
        service.cancel_reservation(fan.id)
    now = [service.get_waitlist_entry(entry.id) for entry in entries]
    offered = [entry for entry in now if entry.status is WaitlistStatus.OFFERED]
    # Every seat freed went to the list: parties of one, and of two once two were free.
    assert sum(entry.quantity for entry in offered) == CANCELLED
    assert {entry.quantity for entry in offered} == {1, 2}
    return Offers(service, offered, offer_keys(service))


def test_a_notifier_stopped_mid_batch_mails_each_offer_once_and_exits_cleanly(
    database: Database, offers: Offers
) -> None:
    with FakeMailer() as mailer:
        status, err = signalled_mid_batch(
            WAITLIST_NOTIFIER, database.url, mailer, signal.SIGTERM, after=STOPPED_AFTER, lease=30
        )
    # SIGTERM: the batch in hand is finished and acknowledged, then it exits.
    assert status == 0, err
    assert "Traceback" not in err, err
    offers.assert_each_mailed_once(mailer)
    assert sorted(collections.Counter(mailer.requests).values()) == [1] * len(offers.entries)


def test_a_notifier_killed_mid_batch_and_restarted_mails_each_offer_once(
    database: Database, offers: Offers
) -> None:
    with FakeMailer() as mailer:
        # The mail is sent, the notifier waits for the answer: it dies before it could
        # acknowledge any of its batch.
        status, _ = signalled_mid_batch(
            WAITLIST_NOTIFIER, database.url, mailer, signal.SIGKILL, after=STOPPED_AFTER, lease=1
        )
        assert status == -signal.SIGKILL
        assert len(mailer.made) == len(mailer.requests) == STOPPED_AFTER

        second = start_consumer(WAITLIST_NOTIFIER, database.url, mailer.url, lease=1)
        try:
            assert mailer.wait_for_made(len(offers.entries), timeout=60), mailer.made.keys()
        finally:
            status, err = stop_consumer(second)
        assert status == 0, err
    offers.assert_each_mailed_once(mailer)
    # The killed batch came back: its first mails were asked for again and answered with
    # the original message, not sent twice.
    asked = collections.Counter(mailer.requests)
    once = len(offers.entries) - STOPPED_AFTER
    assert sorted(asked.values()) == [1] * once + [2] * STOPPED_AFTER


def test_a_notifier_backs_off_while_the_mailer_is_down_then_mails_each_offer_once(
    database: Database, offers: Offers
) -> None:
    first_offer = min(offers.keys.values(), key=lambda key: int(key.removeprefix("event-")))
    options = ("--lease", "60", "--retry-first", "0.2", "--retry-max", "1")
    with FakeMailer(down_for=4) as mailer:  # its first four answers: 503
        notifier = watch_consumer(WAITLIST_NOTIFIER, database.url, mailer.url, *options)
        try:
            assert_backs_off(notifier, count=4, first=0.2, maximum=1.0)
            assert mailer.wait_for_made(len(offers.entries), timeout=60), mailer.made.keys()
        finally:
            status = notifier.stop()
        assert status == 0, notifier.output
    assert "Traceback" not in notifier.output, notifier.output
    # Four retries, each of the first offer: the mailer was down for four requests.
    retried = [event for event, _ in RETRYING.findall(notifier.output)]
    assert retried == [first_offer.removeprefix("event-")] * 4
    offers.assert_each_mailed_once(mailer)
    # The first offer was asked for until the mailer was back, the others once.
    asked = collections.Counter(mailer.requests)
    assert sorted(asked.values()) == [1] * (len(offers.entries) - 1) + [5]
    assert asked[first_offer] == 5


def offered_alone(service: ReservationService, schedule_id: str) -> WaitlistEntry:
    """A one-seat schedule booked by a fan, one user waiting, the fan's cancel: an offer."""
    service.create_schedule(schedule_id, 1)
    fan = service.create_reservation(schedule_id, "fan")
    entry = service.join_waitlist(
        schedule_id, f"waiter-{schedule_id}", offer_for=timedelta(hours=1)
    )
    service.cancel_reservation(fan.id)
    return service.get_waitlist_entry(entry.id)


def test_offers_closed_before_the_notifier_came_to_them_are_not_mailed(
    database: Database,
) -> None:
    service = database.service()
    accepted = offered_alone(service, "accepted")
    assert accepted.reservation_id is not None
    service.confirm_reservation(accepted.reservation_id)
    left = offered_alone(service, "left")
    service.leave_waitlist(left.id)
    # Offered three hours ago for an hour: lapsed, though nothing has swept it yet.
    lapsed = offered_alone(database.service(hours_behind=3), "lapsed")
    open_offer = offered_alone(service, "open")
    keys = offer_keys(service)

    with FakeMailer() as mailer:
        notifier = start_consumer(WAITLIST_NOTIFIER, database.url, mailer.url, lease=30)
        try:
            assert mailer.wait_for_made(1, timeout=60)
        finally:
            status, err = stop_consumer(notifier)
        assert status == 0, err
    assert mailer.requests == [keys[open_offer.id]]
    assert mailer.made[keys[open_offer.id]]["to"] == open_offer.user_id
    closed = re.findall(r"the offer of entry (\S+) is closed", err)
    assert sorted(closed) == sorted(entry.id for entry in (accepted, left, lapsed))
    assert service.claim_events(CONSUMER) == []
