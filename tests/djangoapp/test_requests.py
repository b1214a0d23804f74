"""Under ``ATOMIC_REQUESTS`` a view's bookings live and die with the request's transaction."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from django.test import Client, override_settings

from reservation_core.contrib.django import get_service
from reservation_core.contrib.django.models import Reservation
from tests.djangoapp.conftest import alias_params
from tests.djangoapp.helpers import seats

pytestmark = pytest.mark.parametrize("alias", alias_params(transaction=True), indirect=True)


@override_settings(ROOT_URLCONF="tests.djangoapp.urls")
def test_a_view_that_fails_after_booking_keeps_nothing(
    booking_on: str, new_id: Callable[[str], str]
) -> None:
    sid, user = new_id("s"), new_id("u")
    get_service().create_schedule(sid, 3)
    response = Client().post(
        f"/book-twice/{sid}/{user}", headers={"Accept": "application/problem+json"}
    )
    assert (response.status_code, response["Content-Type"]) == (409, "application/problem+json")
    body = json.loads(response.content)
    assert body["code"] == "DUPLICATE_RESERVATION"
    # The first booking existed inside the request (the duplicate names it), then the
    # request's rollback took it away with its seat.
    assert (
        not Reservation.objects.using(booking_on)
        .filter(id=body["details"]["reservation_id"])
        .exists()
    )
    assert seats(booking_on, sid).reserved == 0


def test_a_view_that_succeeds_commits_with_the_request(
    booking_on: str, new_id: Callable[[str], str]
) -> None:
    sid = new_id("s")
    client = Client()
    created = client.post(
        "/schedules", json.dumps({"schedule_id": sid, "capacity": 1}), "application/json"
    )
    assert created.status_code == 201
    booked = client.post(
        f"/schedules/{sid}/reservations", "{}", "application/json", headers={"X-User-Id": "u"}
    )
    assert booked.status_code == 201
    assert seats(booking_on, sid).reserved == 1
