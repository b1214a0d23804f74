"""The endpoints: parse JSON, call the service, answer JSON; errors go to the middleware.

A JSON API authenticated by other means than Django's session cookie: CSRF-exempt, every
route (``api``). Reservation, order and waiting-list routes act for the user named by the
``X-User-Id`` header (a stand-in for the host's authentication; see
``examples._common.authenticated_user``).
Django's own refusals (no such route, a method the route does not take, a body over
``MAX_BODY_BYTES``, a failed CSRF check) answer the library's ``{code, message, details}``
body too (``refusal``, ``not_found``, ``csrf_failure``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from examples._common import (
    IDEMPOTENCY_HEADER,
    USER_HEADER,
    as_sent,
    authenticated_user,
    body_too_large,
    error_response,
    hold_for,
    http_error,
    idempotency_key,
    json_object,
    list_arguments,
    offer_for,
    order_hold_for,
    order_json,
    order_lines,
    page_json,
    pools,
    required,
    reservation_json,
    schedule_json,
    waitlist_entry_json,
)
from examples.django_app.models import Order
from reservation_core import BusinessException
from reservation_core.contrib.django import get_service

View = Callable[..., HttpResponse]


def _database() -> str:
    """The alias reservation_core books on; the order goes to the same database."""
    return str(settings.RESERVATION_CORE.get("DATABASE", "default"))


def _user(request: HttpRequest) -> str:
    return authenticated_user(request.headers.get(USER_HEADER))


def _key(request: HttpRequest) -> str | None:
    return idempotency_key(request.headers.get(IDEMPOTENCY_HEADER))


def _body(request: HttpRequest) -> dict[str, Any]:
    try:
        raw = request.body  # Django refuses one over DATA_UPLOAD_MAX_MEMORY_SIZE unread
    except RequestDataTooBig:
        raise body_too_large() from None
    return json_object(raw)


def refusal(request: HttpRequest, error: BusinessException, **headers: str) -> JsonResponse:
    """The library's answer to ``error``, for refusals made outside a view."""
    answer = error_response(as_sent(error), request.headers.get("Accept"), request.path)
    response = JsonResponse(answer.body, status=answer.status, content_type=answer.media_type)
    for name, value in headers.items():
        response[name] = value
    return response


def api(*methods: str) -> Callable[[View], View]:
    """A JSON endpoint for ``methods``: CSRF-exempt, others refused (405 with ``Allow``).

    A ``VALIDATION_ERROR`` names the request's field (the ``X-User-Id`` header, not the
    service's ``user_id``); the middleware answers it.
    """

    def decorate(view: View) -> View:
        @csrf_exempt
        @functools.wraps(view)
        def endpoint(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.method not in methods:
                error = http_error(405, request.method or "", request.path)
                return refusal(request, error, Allow=", ".join(methods))
            try:
                return view(request, *args, **kwargs)
            except BusinessException as error:
                raise as_sent(error) from None

        return endpoint

    return decorate


def not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    """``handler404``: no such route."""
    return refusal(request, http_error(404, request.method or "", request.path))


def csrf_failure(request: HttpRequest, reason: str = "") -> JsonResponse:
    """``CSRF_FAILURE_VIEW``: only the admin's forms are checked; the API is exempt."""
    return refusal(request, http_error(403, request.method or "", request.path))


@api("POST")
def create_schedule(request: HttpRequest) -> JsonResponse:
    body = _body(request)
    capacity = required(body, "capacity")
    schedule = get_service().create_schedule(
        required(body, "schedule_id"), capacity, pools=pools(body)
    )
    return JsonResponse(schedule_json(schedule), status=201)


@api("GET")
def get_schedule(request: HttpRequest, schedule_id: str) -> JsonResponse:
    return JsonResponse(schedule_json(get_service().get_schedule(schedule_id)))


# --8<-- [start:booking]
@api("POST")
def create_reservation(request: HttpRequest, schedule_id: str) -> JsonResponse:
    body = _body(request)
    user_id = _user(request)
    using = _database()
    # The booking and the order commit together, or neither does: the service joins
    # this block (a savepoint), and an exception here rolls both back.
    with transaction.atomic(using=using):
        reservation = get_service().create_reservation(
            schedule_id,
            user_id,
            quantity=body.get("quantity", 1),
            idempotency_key=_key(request),
        )
        Order.objects.using(using).get_or_create(
            reservation_id=reservation.id,
            defaults={"schedule_id": schedule_id, "user_id": reservation.user_id},
        )
    return JsonResponse(reservation_json(reservation), status=201)


# --8<-- [end:booking]


@api("POST")
def hold_reservation(request: HttpRequest, schedule_id: str) -> JsonResponse:
    body = _body(request)
    reservation = get_service().hold_reservation(
        schedule_id,
        _user(request),
        quantity=body.get("quantity", 1),
        hold_for=hold_for(body),
        idempotency_key=_key(request),
    )
    return JsonResponse(reservation_json(reservation), status=201)


@api("GET")
def list_reservations(request: HttpRequest) -> JsonResponse:
    arguments = {**list_arguments(request.GET), "user_id": _user(request)}
    return JsonResponse(page_json(get_service().list_reservations(**arguments)))


@api("POST")
def release_expired_holds(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"expired": get_service().release_expired_holds()})


# Not in the request's transaction: confirming a lapsed hold answers HOLD_EXPIRED and
# commits the expiry (its seats return), which ATOMIC_REQUESTS would roll back with the
# error response.
@transaction.non_atomic_requests
@api("POST")
def confirm_reservation(request: HttpRequest, reservation_id: str) -> JsonResponse:
    reservation = get_service().confirm_reservation(reservation_id, user_id=_user(request))
    return JsonResponse(reservation_json(reservation))


@api("GET")
def get_reservation(request: HttpRequest, reservation_id: str) -> JsonResponse:
    reservation = get_service().get_reservation(reservation_id, user_id=_user(request))
    return JsonResponse(reservation_json(reservation))


@api("POST")
def cancel_reservation(request: HttpRequest, reservation_id: str) -> JsonResponse:
    reservation = get_service().cancel_reservation(reservation_id, user_id=_user(request))
    return JsonResponse(reservation_json(reservation))


@api("POST")
def refund_reservation(request: HttpRequest, reservation_id: str) -> JsonResponse:
    reservation = get_service().refund_reservation(reservation_id, user_id=_user(request))
    return JsonResponse(reservation_json(reservation))


@api("POST")
def create_order(request: HttpRequest) -> JsonResponse:
    body = _body(request)
    user_id = _user(request)
    using = _database()
    # Every line and its Order row commit together, or nothing does (as for a booking).
    with transaction.atomic(using=using):
        lines = get_service().create_order(
            user_id,
            order_lines(body),
            idempotency_key=_key(request),
            hold_for=order_hold_for(body),
        )
        for line in lines:
            Order.objects.using(using).get_or_create(
                reservation_id=line.id,
                defaults={"schedule_id": line.schedule_id, "user_id": line.user_id},
            )
    return JsonResponse(order_json(lines), status=201)


@api("GET")
def get_order(request: HttpRequest, order_id: str) -> JsonResponse:
    return JsonResponse(order_json(get_service().get_order(order_id, user_id=_user(request))))


# Not in the request's transaction, as confirm_reservation: a lapsed order's expiry is
# committed although the call answers HOLD_EXPIRED.
@transaction.non_atomic_requests
@api("POST")
def confirm_order(request: HttpRequest, order_id: str) -> JsonResponse:
    lines = get_service().confirm_order(order_id, user_id=_user(request))
    return JsonResponse(order_json(lines))


@api("POST")
def cancel_order(request: HttpRequest, order_id: str) -> JsonResponse:
    return JsonResponse(order_json(get_service().cancel_order(order_id, user_id=_user(request))))


@api("POST")
def join_waitlist(request: HttpRequest, schedule_id: str) -> JsonResponse:
    body = _body(request)
    entry = get_service().join_waitlist(
        schedule_id, _user(request), quantity=body.get("quantity", 1), offer_for=offer_for(body)
    )
    return JsonResponse(waitlist_entry_json(entry), status=201)


@api("GET")
def get_waitlist_entry(request: HttpRequest, entry_id: str) -> JsonResponse:
    entry = get_service().get_waitlist_entry(entry_id, user_id=_user(request))
    return JsonResponse(waitlist_entry_json(entry))


@api("POST")
def leave_waitlist(request: HttpRequest, entry_id: str) -> JsonResponse:
    entry = get_service().leave_waitlist(entry_id, user_id=_user(request))
    return JsonResponse(waitlist_entry_json(entry))
