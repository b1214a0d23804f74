"""A lost or unreachable database is a ``BusinessException``, never a raw driver error."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from django.db import connections, transaction

from reservation_core import BusinessException, ErrorCode, ReservationService
from reservation_core.contrib.django import DjangoUnitOfWork, get_service
from reservation_core.contrib.django import _uow as django_uow
from tests.djangoapp.conftest import alias_params

pytestmark = pytest.mark.parametrize(
    "alias", alias_params(transaction=True, servers_only=True), indirect=True
)

_OWN_ID = {"postgresql": "SELECT pg_backend_pid()", "mysql": "SELECT CONNECTION_ID()"}
_KILL = {"postgresql": "SELECT pg_terminate_backend(%s)", "mysql": "KILL %s"}


def kill_connection_of_this_thread(alias: str) -> None:
    """End this thread's server session from another connection, as a failover would."""
    vendor = connections[alias].vendor
    with connections[alias].cursor() as cursor:
        cursor.execute(_OWN_ID[vendor])
        (session,) = cursor.fetchone()

    def killer() -> None:
        try:
            with connections[alias].cursor() as cursor:
                cursor.execute(_KILL[vendor], [session])
        finally:
            connections.close_all()

    thread = threading.Thread(target=killer)
    thread.start()
    thread.join()


def test_a_connection_lost_between_use_cases_is_reopened(
    alias: str, new_id: Callable[[str], str]
) -> None:
    service, sid = get_service(alias), new_id("s")
    service.create_schedule(sid, 2)
    kill_connection_of_this_thread(alias)
    booking = service.create_reservation(sid, "u1")  # the first attempt meets the dead session
    assert service.get_reservation(booking.id) == booking


def test_a_connection_lost_inside_a_block_is_storage_unavailable(
    alias: str, new_id: Callable[[str], str]
) -> None:
    service, sid = get_service(alias), new_id("s")
    service.create_schedule(sid, 2)
    with pytest.raises(BusinessException) as info, transaction.atomic(using=alias):
        kill_connection_of_this_thread(alias)
        service.create_reservation(sid, "u1")
    assert info.value.code is ErrorCode.STORAGE_UNAVAILABLE
    connections[alias].close()
    assert service.get_schedule(sid).reserved == 0


def test_an_unreachable_database_is_storage_unavailable(
    alias: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    connections[alias].close()
    monkeypatch.setitem(connections[alias].settings_dict, "PORT", "1")
    # As at a process's start: nothing known yet about the alias's database.
    monkeypatch.setattr(django_uow, "_DATABASES", {})
    for known in ("mysql_is_mariadb", "mysql_server_info", "mysql_server_data"):  # cached
        monkeypatch.delattr(connections[alias], known, raising=False)
    service = ReservationService(lambda: DjangoUnitOfWork(alias), max_attempts=2)
    with pytest.raises(BusinessException) as info:
        service.get_schedule("anything")
    assert info.value.code is ErrorCode.STORAGE_UNAVAILABLE
    monkeypatch.undo()
    connections[alias].close()
