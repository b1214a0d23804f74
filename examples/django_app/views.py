"""The endpoints: parse JSON, call the service, answer JSON; errors go to the middleware."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET, require_POST

from examples._common import (
    hold_for,
    json_object,
    list_arguments,
    page_json,
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


@require_POST
def create_reservation(request: HttpRequest, schedule_id: str) -> JsonResponse:
    body = json_object(request.body)
    reservation = service().create_reservation(
        schedule_id,
        required(body, "user_id"),
        quantity=body.get("quantity", 1),
        idempotency_key=request.headers.get("Idempotency-Key"),
    )
    return JsonResponse(reservation_json(reservation), status=201)


@require_POST
def hold_reservation(request: HttpRequest, schedule_id: str) -> JsonResponse:
    body = json_object(request.body)
    reservation = service().hold_reservation(
        schedule_id,
        required(body, "user_id"),
        quantity=body.get("quantity", 1),
        hold_for=hold_for(body),
        idempotency_key=request.headers.get("Idempotency-Key"),
    )
    return JsonResponse(reservation_json(reservation), status=201)


@require_GET
def list_reservations(request: HttpRequest) -> JsonResponse:
    return JsonResponse(page_json(service().list_reservations(**list_arguments(request.GET))))


@require_POST
def release_expired_holds(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"expired": service().release_expired_holds()})


@require_POST
def confirm_reservation(request: HttpRequest, reservation_id: str) -> JsonResponse:
    return JsonResponse(reservation_json(service().confirm_reservation(reservation_id)))


@require_GET
def get_reservation(request: HttpRequest, reservation_id: str) -> JsonResponse:
    return JsonResponse(reservation_json(service().get_reservation(reservation_id)))


@require_POST
def cancel_reservation(request: HttpRequest, reservation_id: str) -> JsonResponse:
    return JsonResponse(reservation_json(service().cancel_reservation(reservation_id)))


@require_POST
def refund_reservation(request: HttpRequest, reservation_id: str) -> JsonResponse:
    return JsonResponse(reservation_json(service().refund_reservation(reservation_id)))
