"""extend_hold: a new deadline for an unexpired hold, the same on every backend."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from reservation_core import (
    BusinessException,
    ErrorCode,
    ReservationEvent,
    ReservationService,
    ReservationStatus,
)
from tests.backends import Backend
from tests.clock import Clock

HELD, EXPIRED = ReservationStatus.HELD, ReservationStatus.EXPIRED
MISSING = "00000000-0000-0000-0000-000000000000"


@pytest.fixture
def schedule_id(service: ReservationService, new_id: Callable[[str], str]) -> str:
    sid = new_id("s")
    service.create_schedule(sid, 3)
    return sid


def refused(call: Callable[[], Any]) -> BusinessException:
    with pytest.raises(BusinessException) as info:
        call()
    return info.value


def drain(service: ReservationService, consumer: str) -> list[ReservationEvent]:
    claimed: list[ReservationEvent] = []
    while batch := service.claim_events(consumer, limit=1000):
        claimed += batch
    return claimed


def test_an_unexpired_hold_gets_now_plus_hold_for_and_keeps_its_seats(
    service: ReservationService,
    backend: Backend,
    clock: Clock,
    schedule_id: str,
    new_id: Callable[[str], str],
) -> None:
    hold = service.hold_reservation(schedule_id, "alice", quantity=2)
    clock.now += timedelta(minutes=9)
    extended = service.extend_hold(hold.id, timedelta(minutes=30, microseconds=3), user_id="alice")
    assert extended.status is HELD
    assert extended.expires_at == clock.now + timedelta(minutes=30, microseconds=3)
    assert (extended.updated_at, extended.created_at) == (clock.now, hold.created_at)
    assert (extended.id, extended.quantity, extended.user_id) == (hold.id, 2, "alice")
    assert service.get_reservation(hold.id) == extended
    tally = backend.tally(schedule_id)
    assert (tally.reserved, tally.held_count) == (2, 1)
    assert tally.consistent
    # Past the first deadline, within the new one: still a hold that confirms.
    clock.now += timedelta(minutes=20)
    service.release_expired_holds()
    assert service.confirm_reservation(hold.id).status is ReservationStatus.CONFIRMED
    events = [e for e in drain(service, new_id("consumer")) if e.reservation_id == hold.id]
    assert [(e.type, e.status) for e in events] == [
        ("reservation.held", HELD),
        ("reservation.hold_extended", HELD),
        ("reservation.confirmed", ReservationStatus.CONFIRMED),
    ]
    assert events[1].occurred_at == extended.updated_at
    assert events[1].quantity == 2


def test_a_shorter_hold_for_moves_the_deadline_earlier(
    service: ReservationService, clock: Clock, schedule_id: str
) -> None:
    hold = service.hold_reservation(schedule_id, "alice", hold_for=timedelta(hours=1))
    shorter = service.extend_hold(hold.id, timedelta(minutes=1))
    assert shorter.expires_at == clock.now + timedelta(minutes=1)
    clock.now += timedelta(minutes=2)
    assert refused(lambda: service.confirm_reservation(hold.id)).code is ErrorCode.HOLD_EXPIRED


def test_a_lapsed_hold_is_hold_expired_expires_and_returns_its_seats(
    service: ReservationService,
    backend: Backend,
    clock: Clock,
    schedule_id: str,
    new_id: Callable[[str], str],
) -> None:
    hold = service.hold_reservation(schedule_id, "alice", quantity=2)
    clock.now = hold.expires_at  # expires_at itself is past
    error = refused(lambda: service.extend_hold(hold.id, timedelta(minutes=5)))
    assert (error.code, error.http_status) == (ErrorCode.HOLD_EXPIRED, 410)
    assert error.details["reservation_id"] == hold.id
    expired = service.get_reservation(hold.id)
    assert (expired.status, expired.updated_at, expired.expires_at) == (
        EXPIRED,
        clock.now,
        hold.expires_at,
    )
    assert service.get_schedule(schedule_id).reserved == 0
    assert backend.tally(schedule_id).consistent
    again = refused(lambda: service.extend_hold(hold.id, timedelta(minutes=5)))
    assert again.code is ErrorCode.HOLD_EXPIRED
    types = [e.type for e in drain(service, new_id("consumer")) if e.reservation_id == hold.id]
    assert types == ["reservation.held", "reservation.expired"]


@pytest.mark.parametrize("end", ["confirm", "cancel", "refund"])
def test_a_confirmed_cancelled_or_refunded_reservation_is_an_invalid_transition(
    service: ReservationService, schedule_id: str, end: str
) -> None:
    hold = service.hold_reservation(schedule_id, "alice")
    if end == "cancel":
        service.cancel_reservation(hold.id)
    else:
        service.confirm_reservation(hold.id)
        if end == "refund":
            service.refund_reservation(hold.id)
    before = service.get_reservation(hold.id)
    error = refused(lambda: service.extend_hold(hold.id, timedelta(minutes=5)))
    assert (error.code, error.http_status) == (ErrorCode.INVALID_STATE_TRANSITION, 409)
    assert service.get_reservation(hold.id) == before
    booking = service.create_reservation(schedule_id, "bob")
    plain = refused(lambda: service.extend_hold(booking.id, timedelta(minutes=5)))
    assert plain.code is ErrorCode.INVALID_STATE_TRANSITION


def test_unknown_or_another_users_hold_is_not_found(
    service: ReservationService, schedule_id: str
) -> None:
    hold = service.hold_reservation(schedule_id, "alice")
    for call in (
        lambda: service.extend_hold(hold.id, timedelta(minutes=5), user_id="bob"),
        lambda: service.extend_hold(MISSING, timedelta(minutes=5)),
    ):
        error = refused(call)
        assert (error.code, error.http_status) == (ErrorCode.RESERVATION_NOT_FOUND, 404)
    assert service.get_reservation(hold.id) == hold


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        (("", timedelta(minutes=5)), "reservation_id"),
        ((None, timedelta(minutes=5)), "reservation_id"),
        (("x" * 65, timedelta(minutes=5)), "reservation_id"),
        ((MISSING, timedelta(0)), "hold_for"),
        ((MISSING, timedelta(seconds=-1)), "hold_for"),
        ((MISSING, timedelta(days=366)), "hold_for"),
        ((MISSING, 600), "hold_for"),
        ((MISSING, True), "hold_for"),
        ((MISSING, None), "hold_for"),
    ],
)
def test_bad_arguments_are_validation_errors_before_not_found(
    service: ReservationService, arguments: tuple[Any, Any], field: str
) -> None:
    error = refused(lambda: service.extend_hold(*arguments))
    assert (error.code, error.details["field"]) == (ErrorCode.VALIDATION_ERROR, field)


def test_a_bad_user_id_is_a_validation_error_and_precedence_is_not_found_then_state(
    service: ReservationService, schedule_id: str
) -> None:
    hold = service.hold_reservation(schedule_id, "alice")
    service.cancel_reservation(hold.id)
    error = refused(lambda: service.extend_hold(hold.id, timedelta(minutes=5), user_id=""))
    assert (error.code, error.details["field"]) == (ErrorCode.VALIDATION_ERROR, "user_id")
    # A cancelled hold of another user: not found outranks the state.
    other = refused(lambda: service.extend_hold(hold.id, timedelta(minutes=5), user_id="bob"))
    assert other.code is ErrorCode.RESERVATION_NOT_FOUND
    # A bad hold_for on a cancelled hold: validation outranks the state.
    bad = refused(lambda: service.extend_hold(hold.id, timedelta(0)))
    assert bad.code is ErrorCode.VALIDATION_ERROR


def test_the_longest_hold_for_is_accepted(service: ReservationService, schedule_id: str) -> None:
    hold = service.hold_reservation(schedule_id, "alice")
    extended = service.extend_hold(hold.id, timedelta(days=365))
    assert extended.expires_at == extended.updated_at + timedelta(days=365)


def test_extend_racing_confirm_and_cancel_one_wins_and_seats_stay_exact(
    backend: Backend, new_id: Callable[[str], str]
) -> None:
    """Threads extend, confirm and cancel the same holds at once: each move is all or nothing."""
    service = backend.service()
    sid = new_id("s")
    service.create_schedule(sid, 20)
    holds = [service.hold_reservation(sid, f"user-{n}") for n in range(10)]
    moves: list[Callable[[str], Any]] = [
        lambda rid: service.extend_hold(rid, timedelta(hours=1)),
        service.confirm_reservation,
        service.cancel_reservation,
    ]
    barrier = threading.Barrier(len(moves))
    outcomes: list[tuple[str, int, str]] = []
    lock = threading.Lock()

    def run(index: int) -> None:
        for hold in holds:
            barrier.wait()
            try:
                moves[index](hold.id)
                result = "ok"
            except BusinessException as error:
                result = str(error.code)
            with lock:
                outcomes.append((hold.id, index, result))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(moves))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    tally = backend.tally(sid)
    assert tally.consistent
    for hold in holds:
        final = service.get_reservation(hold.id)
        assert final.status in {ReservationStatus.CONFIRMED, ReservationStatus.CANCELLED}
        mine = {index: result for rid, index, result in outcomes if rid == hold.id}
        expected = {"ok", "INVALID_STATE_TRANSITION", "RESERVATION_ALREADY_CANCELLED"}
        if backend.name.startswith("joined-"):  # no retries in the host's transaction
            expected.add("CONCURRENCY_CONFLICT")
        assert set(mine.values()) <= expected
        # An extension that succeeded came first: then the hold's deadline moved.
        if mine[0] == "ok":
            assert final.expires_at != hold.expires_at
        else:
            assert final.expires_at == hold.expires_at
