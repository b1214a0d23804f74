"""The endpoints: parse JSON, call the service, answer JSON; errors go to the middleware.

Reservation routes act for the user named by the ``X-User-Id`` header (a stand-in for the
host's authentication; see ``examples._common.authenticated_user``).
"""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET, require_POST

from examples._common import (
    USER_HEADER,
    authenticated_user,
    json_object,
    required,
    reservation_json,
    schedule_json,
)
from examples.django_app import service


@require_POST
def create_schedule(request: HttpRequest) -> JsonResponse:
    body = json_object(request.body)
    capacity = required(body, "capacity")
    schedule = service().create_schedule(required(body, "schedule_id"), capacity)
    return JsonResponse(schedule_json(schedule), status=201)


@require_GET
def get_schedule(request: HttpRequest, schedule_id: str) -> JsonResponse:
    return JsonResponse(schedule_json(service().get_schedule(schedule_id)))


def _user(request: HttpRequest) -> str:
    return authenticated_user(request.headers.get(USER_HEADER))


@require_POST
def create_reservation(request: HttpRequest, schedule_id: str) -> JsonResponse:
    body = json_object(request.body)
    reservation = service().create_reservation(
        schedule_id,
        _user(request),
        quantity=body.get("quantity", 1),
        idempotency_key=request.headers.get("Idempotency-Key"),
    )
    return JsonResponse(reservation_json(reservation), status=201)


@require_GET
def get_reservation(request: HttpRequest, reservation_id: str) -> JsonResponse:
    reservation = service().get_reservation(reservation_id, user_id=_user(request))
    return JsonResponse(reservation_json(reservation))


@require_POST
def cancel_reservation(request: HttpRequest, reservation_id: str) -> JsonResponse:
    reservation = service().cancel_reservation(reservation_id, user_id=_user(request))
    return JsonResponse(reservation_json(reservation))


@require_POST
def refund_reservation(request: HttpRequest, reservation_id: str) -> JsonResponse:
    reservation = service().refund_reservation(reservation_id, user_id=_user(request))
    return JsonResponse(reservation_json(reservation))
