"""``manage.py reservation_core_maintain``: the periodic jobs through the Django app."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from reservation_core import ReservationStatus
from reservation_core.contrib.django import get_service
from reservation_core.contrib.django.models import Reservation
from tests.djangoapp.conftest import alias_params
from tests.djangoapp.helpers import seats


@pytest.mark.parametrize("alias", alias_params(transaction=True), indirect=True)
def test_the_maintain_command_expires_lapsed_holds_and_reports(
    alias: str, new_id: Callable[[str], str]
) -> None:
    service, sid = get_service(alias), new_id("s")
    service.create_schedule(sid, 5)
    lapsed = service.hold_reservation(sid, "u1", quantity=2, hold_for=timedelta(microseconds=1))
    kept = service.hold_reservation(sid, "u2", hold_for=timedelta(hours=1))
    extended = service.extend_hold(kept.id, timedelta(hours=2))
    assert extended.expires_at == extended.updated_at + timedelta(hours=2)
    assert sid in [s.id for s in _every_schedule(alias)]

    output = StringIO()
    call_command(
        "reservation_core_maintain", "--json", "--batch-size", "1", database=alias, stdout=output
    )
    report = json.loads(output.getvalue())
    assert report["holds_expired"] >= 1
    assert set(report) == {
        "holds_expired",
        "idempotency_keys_purged",
        "events_purged",
        "transactions",
        "seconds",
    }
    assert service.get_reservation(lapsed.id).status is ReservationStatus.EXPIRED
    assert service.get_reservation(kept.id) == extended
    # The lapsed hold's two seats came back; the extended hold keeps its one.
    assert seats(alias, sid).reserved == 1
    held = Reservation.objects.using(alias).filter(schedule_id=sid, status="HELD")
    assert [r.quantity for r in held] == [1]

    text = StringIO()
    call_command("reservation_core_maintain", database=alias, stdout=text)
    assert text.getvalue().count("holds_expired=") == 1
    with pytest.raises(CommandError) as info:
        call_command("reservation_core_maintain", "--batch-size", "10001", database=alias)
    assert "VALIDATION_ERROR" in str(info.value)


def _every_schedule(alias: str) -> list[object]:
    service, found, after = get_service(alias), [], None
    while True:
        page = service.list_schedules(limit=1000, after=after)
        found += page.items
        if page.next_cursor is None:
            return found
        after = page.next_cursor
