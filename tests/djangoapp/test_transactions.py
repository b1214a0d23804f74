"""A booking inside ``transaction.atomic`` commits or rolls back with the block's own rows."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from django.db import connections, transaction

from examples.django_app.models import Order
from reservation_core import BusinessException, ErrorCode, ReservationStatus
from reservation_core.contrib.django import DjangoUnitOfWork, get_service
from tests.djangoapp.conftest import alias_params
from tests.djangoapp.helpers import Seats, orders, reservation_exists, seats

each_alias = pytest.mark.parametrize("alias", alias_params(transaction=True), indirect=True)

NewId = Callable[[str], str]


class PaymentDeclined(Exception):
    pass


def order(alias: str, reservation_id: str) -> None:
    Order.objects.using(alias).create(reservation_id=reservation_id, schedule_id="s", user_id="u")


@each_alias
def test_commit_keeps_the_booking_and_the_order(alias: str, new_id: NewId) -> None:
    service, sid = get_service(alias), new_id("s")
    service.create_schedule(sid, 2)
    with transaction.atomic(using=alias):
        booking = service.create_reservation(sid, "u1")
        order(alias, booking.id)
    assert service.get_reservation(booking.id) == booking
    assert orders(alias, booking.id) == 1
    assert seats(alias, sid).reserved == 1


@each_alias
def test_an_exception_in_the_block_keeps_neither_and_returns_the_seats(
    alias: str, new_id: NewId
) -> None:
    service, sid = get_service(alias), new_id("s")
    service.create_schedule(sid, 1)
    booked: list[str] = []
    with pytest.raises(PaymentDeclined), transaction.atomic(using=alias):
        booked.append(service.create_reservation(sid, "u1").id)
        order(alias, booked[0])
        raise PaymentDeclined
    assert not reservation_exists(alias, booked[0])
    assert orders(alias, booked[0]) == 0
    assert seats(alias, sid) == Seats(reserved=0, confirmed=0, confirmed_count=0)
    assert service.create_reservation(sid, "u2").status is ReservationStatus.CONFIRMED


@each_alias
def test_set_rollback_keeps_neither(alias: str, new_id: NewId) -> None:
    service, sid = get_service(alias), new_id("s")
    service.create_schedule(sid, 1)
    with transaction.atomic(using=alias):
        booking = service.create_reservation(sid, "u1")
        order(alias, booking.id)
        transaction.set_rollback(True, using=alias)
    assert not reservation_exists(alias, booking.id)
    assert orders(alias, booking.id) == 0
    assert seats(alias, sid).reserved == 0


@each_alias
def test_a_business_error_leaves_the_block_usable(alias: str, new_id: NewId) -> None:
    service, sid, full = get_service(alias), new_id("s"), new_id("full")
    service.create_schedule(sid, 5)
    service.create_schedule(full, 0)
    refusals = []
    with transaction.atomic(using=alias):
        first = service.create_reservation(sid, "u1")
        for attempt in (
            lambda: service.create_reservation(sid, "u1"),  # duplicate
            lambda: service.create_reservation(full, "u1"),  # capacity
            lambda: service.create_reservation(new_id("nowhere"), "u1"),  # not found
            lambda: service.create_schedule(sid, 1),  # exists: a unique violation inside
        ):
            with pytest.raises(BusinessException) as info:
                attempt()
            refusals.append(info.value.code)
        second = service.create_reservation(sid, "u2")
        service.cancel_reservation(second.id)
        with pytest.raises(BusinessException) as info:
            service.cancel_reservation(second.id)
        refusals.append(info.value.code)
        order(alias, first.id)
    assert refusals == [
        ErrorCode.DUPLICATE_RESERVATION,
        ErrorCode.CAPACITY_EXCEEDED,
        ErrorCode.SCHEDULE_NOT_FOUND,
        ErrorCode.SCHEDULE_ALREADY_EXISTS,
        ErrorCode.RESERVATION_ALREADY_CANCELLED,
    ]
    assert orders(alias, first.id) == 1
    assert service.get_reservation(first.id) == first
    tally = seats(alias, sid)
    assert (tally.reserved, tally.confirmed_count, tally.consistent) == (1, 1, True)


@each_alias
def test_outside_a_block_each_use_case_commits_itself(alias: str, new_id: NewId) -> None:
    service, sid = get_service(alias), new_id("s")
    service.create_schedule(sid, 3)
    booking = service.create_reservation(sid, "u1", quantity=2, idempotency_key="k")
    assert not connections[alias].in_atomic_block
    seen: list[object] = []

    def elsewhere() -> None:  # another thread: another connection, sees only commits
        try:
            seen.append(seats(alias, sid).reserved)
            seen.append(service.get_reservation(booking.id))
        finally:
            connections.close_all()

    thread = threading.Thread(target=elsewhere)
    thread.start()
    thread.join()
    assert seen == [2, booking]
    assert service.create_reservation(sid, "u1", quantity=2, idempotency_key="k") == booking
    assert DjangoUnitOfWork(alias).retryable is True
    with transaction.atomic(using=alias):
        assert DjangoUnitOfWork(alias).retryable is False


_SHORT_LOCK_WAIT = {
    "postgresql": "SET LOCAL lock_timeout = '100ms'",
    "mysql": "SET SESSION innodb_lock_wait_timeout = 1",
}


@pytest.mark.parametrize(
    # On SQLite the lock is the database's: the block itself could not begin.
    "alias",
    alias_params(transaction=True, servers_only=True),
    indirect=True,
)
def test_a_transient_conflict_in_the_block_is_retryable_and_leaves_it_usable(
    alias: str, new_id: NewId
) -> None:
    """A schedule lock held by another transaction: not retried inside the block."""
    vendor = connections[alias].vendor
    service, sid, before, after = get_service(alias), new_id("s"), new_id("b"), new_id("a")
    service.create_schedule(sid, 5)
    holding, release = threading.Event(), threading.Event()

    def holder() -> None:
        try:
            with transaction.atomic(using=alias):
                service.create_reservation(sid, "holder")  # holds the schedule's row lock
                holding.set()
                release.wait(timeout=60)
        finally:
            connections.close_all()

    thread = threading.Thread(target=holder)
    thread.start()
    try:
        assert holding.wait(timeout=60)
        with transaction.atomic(using=alias):
            with connections[alias].cursor() as cursor:
                cursor.execute(_SHORT_LOCK_WAIT[vendor])
            order(alias, before)
            with pytest.raises(BusinessException) as info:
                service.create_reservation(sid, "waiter")
            assert info.value.code is ErrorCode.CONCURRENCY_CONFLICT
            assert info.value.details["retryable"] is True
            order(alias, after)
    finally:
        release.set()
        thread.join()
    assert (orders(alias, before), orders(alias, after)) == (1, 1)
    tally = seats(alias, sid)
    assert (tally.reserved, tally.confirmed_count, tally.consistent) == (1, 1, True)
