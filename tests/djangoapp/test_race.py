"""100 threads booking 10 seats on Django's connections never overbook, on every database."""

from __future__ import annotations

import functools
import json
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connections
from django.test import Client

from examples.django_app.models import Order
from reservation_core import BusinessException, ErrorCode
from reservation_core.contrib.django import get_service
from tests.concurrency.race import race
from tests.djangoapp.conftest import alias_params
from tests.djangoapp.helpers import seats

pytestmark = pytest.mark.parametrize("alias", alias_params(transaction=True), indirect=True)

#: A web server's worker threads: requests beyond them queue, as on a real server.
WORKERS = threading.BoundedSemaphore(20)


def as_a_request(work: Callable[[], Any]) -> Any:
    """Run ``work`` on a worker; close the thread's connections after, as Django's handler."""
    with WORKERS:
        try:
            return work()
        finally:
            connections.close_all()


def post(path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """POST through Django's test client, again while the conflict is retryable (409)."""
    client = Client(headers={"X-User-Id": body.pop("user_id", "admin")})
    while True:
        response = client.post(path, json.dumps(body), content_type="application/json")
        answer = json.loads(response.content)
        if response.status_code == 409 and answer.get("details", {}).get("retryable"):
            continue
        return response.status_code, answer


def test_a_hundred_requests_for_ten_seats_through_the_views(
    booking_on: str, new_id: Callable[[str], str]
) -> None:
    sid = new_id("race")
    assert post("/schedules", {"schedule_id": sid, "capacity": 10})[0] == 201
    path = f"/schedules/{sid}/reservations"
    results = race(
        [
            functools.partial(as_a_request, functools.partial(post, path, {"user_id": f"u{n}"}))
            for n in range(100)
        ]
    )
    assert Counter(status for status, _ in results) == {201: 10, 400: 90}
    assert {body["code"] for status, body in results if status == 400} == {"CAPACITY_EXCEEDED"}
    tally = seats(booking_on, sid)
    assert (tally.reserved, tally.confirmed_count, tally.consistent) == (10, 10, True)
    booked = {body["id"] for status, body in results if status == 201}
    stored = Order.objects.using(booking_on).filter(schedule_id=sid)
    assert set(stored.values_list("reservation_id", flat=True)) == booked


def test_a_hundred_threads_through_the_service_outside_any_block(
    alias: str, new_id: Callable[[str], str]
) -> None:
    service, sid = get_service(alias), new_id("race")
    service.create_schedule(sid, 10)
    results = race(
        [
            functools.partial(
                as_a_request, functools.partial(service.create_reservation, sid, f"u{n}")
            )
            for n in range(100)
        ]
    )
    refused = Counter(r.code for r in results if isinstance(r, BusinessException))
    assert refused == {ErrorCode.CAPACITY_EXCEEDED: 90}
    tally = seats(alias, sid)
    assert (tally.reserved, tally.confirmed_count, tally.consistent) == (10, 10, True)
