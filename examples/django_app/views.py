"""The endpoints: parse JSON, call the service, answer JSON; errors go to the middleware.

A JSON API authenticated by other means than Django's session cookie: CSRF-exempt.
Reservation routes act for the user named by the ``X-User-Id`` header (a stand-in for the
host's authentication; see ``examples._common.authenticated_user``).
"""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from examples._common import (
    USER_HEADER,
    authenticated_user,
    hold_for,
    json_object,
    list_arguments,
    page_json,
    required,
    reservation_json,
    schedule_json,
)
from examples.django_app.models import Order
from reservation_core.contrib.django import get_service


def _database() -> str:
    """The alias reservation_core books on; the order goes to the same database."""
    return str(settings.RESERVATION_CORE.get("DATABASE", "default"))


def _user(request: HttpRequest) -> str:
    return authenticated_user(request.headers.get(USER_HEADER))


@csrf_exempt
@require_POST
def create_schedule(request: HttpRequest) -> JsonResponse:
    body = json_object(request.body)
    capacity = required(body, "capacity")
    schedule = get_service().create_schedule(required(body, "schedule_id"), capacity)
    return JsonResponse(schedule_json(schedule), status=201)


@require_GET
def get_schedule(request: HttpRequest, schedule_id: str) -> JsonResponse:
    return JsonResponse(schedule_json(get_service().get_schedule(schedule_id)))


# --8<-- [start:booking]
@csrf_exempt
@require_POST
def create_reservation(request: HttpRequest, schedule_id: str) -> JsonResponse:
    body = json_object(request.body)
    user_id = _user(request)
    using = _database()
    # The booking and the order commit together, or neither does: the service joins
    # this block (a savepoint), and an exception here rolls both back.
    with transaction.atomic(using=using):
        reservation = get_service().create_reservation(
            schedule_id,
            user_id,
            quantity=body.get("quantity", 1),
            idempotency_key=request.headers.get("Idempotency-Key"),
        )
        Order.objects.using(using).get_or_create(
            reservation_id=reservation.id,
            defaults={"schedule_id": schedule_id, "user_id": reservation.user_id},
        )
    return JsonResponse(reservation_json(reservation), status=201)


# --8<-- [end:booking]


@csrf_exempt
@require_POST
def hold_reservation(request: HttpRequest, schedule_id: str) -> JsonResponse:
    body = json_object(request.body)
    reservation = get_service().hold_reservation(
        schedule_id,
        _user(request),
        quantity=body.get("quantity", 1),
        hold_for=hold_for(body),
        idempotency_key=request.headers.get("Idempotency-Key"),
    )
    return JsonResponse(reservation_json(reservation), status=201)


@require_GET
def list_reservations(request: HttpRequest) -> JsonResponse:
    arguments = {**list_arguments(request.GET), "user_id": _user(request)}
    return JsonResponse(page_json(get_service().list_reservations(**arguments)))


@csrf_exempt
@require_POST
def release_expired_holds(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"expired": get_service().release_expired_holds()})


# Not in the request's transaction: confirming a lapsed hold answers HOLD_EXPIRED and
# commits the expiry (its seats return), which ATOMIC_REQUESTS would roll back with the
# error response.
@transaction.non_atomic_requests
@csrf_exempt
@require_POST
def confirm_reservation(request: HttpRequest, reservation_id: str) -> JsonResponse:
    reservation = get_service().confirm_reservation(reservation_id, user_id=_user(request))
    return JsonResponse(reservation_json(reservation))


@require_GET
def get_reservation(request: HttpRequest, reservation_id: str) -> JsonResponse:
    reservation = get_service().get_reservation(reservation_id, user_id=_user(request))
    return JsonResponse(reservation_json(reservation))


@csrf_exempt
@require_POST
def cancel_reservation(request: HttpRequest, reservation_id: str) -> JsonResponse:
    reservation = get_service().cancel_reservation(reservation_id, user_id=_user(request))
    return JsonResponse(reservation_json(reservation))


@csrf_exempt
@require_POST
def refund_reservation(request: HttpRequest, reservation_id: str) -> JsonResponse:
    reservation = get_service().refund_reservation(reservation_id, user_id=_user(request))
    return JsonResponse(reservation_json(reservation))
