"""The read-only admin pages, and ``manage.py reservation_core_audit [--repair]``."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.db import connections
from django.test import Client

from reservation_core import OrderLine
from reservation_core.contrib.django import get_service
from tests.djangoapp.conftest import alias_params
from tests.djangoapp.helpers import seats


@pytest.mark.django_db
def test_the_admin_lists_schedules_and_reservations_and_changes_nothing(
    new_id: Callable[[str], str],
) -> None:
    sid = new_id("s")
    get_service().create_schedule(sid, 2)
    booking = get_service().create_reservation(sid, "alice")
    client = Client()
    client.force_login(User.objects.create_superuser("admin", "admin@example.com", "pw"))
    schedules = client.get("/admin/reservation_core/schedule/")
    assert schedules.status_code == 200
    assert sid in schedules.content.decode()
    reservations = client.get("/admin/reservation_core/reservation/")
    assert reservations.status_code == 200
    assert booking.id in reservations.content.decode()
    detail = client.get(f"/admin/reservation_core/reservation/{booking.id}/change/")
    assert detail.status_code == 200  # viewable, read-only
    assert b"View reservation" in detail.content
    changed = client.post(f"/admin/reservation_core/reservation/{booking.id}/change/", {})
    assert changed.status_code == 403
    assert client.get("/admin/reservation_core/schedule/add/").status_code == 403
    deleted = client.post(
        f"/admin/reservation_core/reservation/{booking.id}/delete/", {"post": "yes"}
    )
    assert deleted.status_code == 403
    assert seats("default", sid).confirmed_count == 1


@pytest.mark.django_db
def test_the_admin_shows_pools_and_order_ids_read_only(new_id: Callable[[str], str]) -> None:
    service, pool, sid = get_service(), new_id("room"), new_id("talk")
    service.create_schedule(pool, 5)
    service.create_schedule(sid, 2, pools=[pool])
    (line,) = service.create_order("alice", [OrderLine(sid)])
    client = Client()
    client.force_login(User.objects.create_superuser("admin", "admin@example.com", "pw"))
    listed = client.get("/admin/reservation_core/schedule/", {"q": sid}).content.decode()
    assert re.search(rf"{sid}.*{pool}", listed, re.S)
    detail = client.get(f"/admin/reservation_core/schedule/{sid}/change/").content.decode()
    assert "pools" in detail
    assert pool in detail
    reservations = client.get("/admin/reservation_core/reservation/", {"q": line.order_id})
    assert line.id in reservations.content.decode()
    assert line.order_id in reservations.content.decode()
    changed = client.post(f"/admin/reservation_core/schedule/{sid}/change/", {"pools": ""})
    assert changed.status_code == 403
    assert service.get_schedule(sid).pools == (pool,)


@pytest.mark.parametrize("alias", alias_params(transaction=True), indirect=True)
def test_the_audit_command_finds_and_repairs_drift(
    alias: str, new_id: Callable[[str], str]
) -> None:
    service, sid = get_service(alias), new_id("s")
    service.create_schedule(sid, 5)
    service.create_reservation(sid, "u1", quantity=2)
    with connections[alias].cursor() as cursor:  # drift made outside the library
        cursor.execute("UPDATE rc_schedules SET reserved = 4 WHERE id = %s", [sid])

    output = StringIO()
    with pytest.raises(CommandError) as info:
        call_command("reservation_core_audit", "--json", database=alias, stdout=output)
    assert info.value.returncode == 1
    report = json.loads(output.getvalue())
    assert report["consistent"] is False
    assert [d for d in report["drifts"] if d["schedule_id"] == sid] == [
        {
            "schedule_id": sid,
            "capacity": 5,
            "stored_reserved": 4,
            "actual_reserved": 2,
            "repaired": False,
        }
    ]

    output = StringIO()
    call_command("reservation_core_audit", "--repair", database=alias, stdout=output)
    assert f"{sid}: reserved 4, confirmed 2, capacity 5 (repaired)" in output.getvalue()
    tally = seats(alias, sid)
    assert (tally.reserved, tally.consistent) == (2, True)
    output = StringIO()
    call_command("reservation_core_audit", database=alias, stdout=output)
    # The count agrees with its noun: "1 schedule checked", "2 schedules checked".
    assert re.search(r"^(1 schedule|(?!1 )\d+ schedules) checked$", output.getvalue(), re.M)


@pytest.mark.django_db
def test_the_admin_shows_waiting_lists_read_only(new_id: Callable[[str], str]) -> None:
    sid = new_id("s")
    service = get_service()
    service.create_schedule(sid, 1)
    service.create_reservation(sid, "alice")
    entry = service.join_waitlist(sid, "bob", quantity=1)
    client = Client()
    client.force_login(User.objects.create_superuser("admin", "admin@example.com", "pw"))
    listed = client.get("/admin/reservation_core/waitlistentry/")
    assert listed.status_code == 200
    assert entry.id in listed.content.decode()
    assert "WAITING" in listed.content.decode()
    assert client.get("/admin/reservation_core/waitlistentry/add/").status_code == 403
    assert service.get_waitlist_entry(entry.id).position == 1
