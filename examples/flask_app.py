"""reservation_core behind Flask.

Run from the repository root (the engine comes from ``RESERVATION_CORE_EXAMPLE_DATABASE_URL``,
default a SQLite file)::

    flask --app examples.flask_app run

ONE ``errorhandler`` maps every ``BusinessException``, and one more the framework's own
refusals (no such route, a method the route does not take, a body over
``MAX_BODY_BYTES``) to the same body. Reservation, order and waiting-list routes act for
the user named by the ``X-User-Id`` header (a stand-in for the host's authentication; see
``examples._common.authenticated_user``).
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, request
from sqlalchemy import Engine
from werkzeug.exceptions import HTTPException

from examples._common import (
    IDEMPOTENCY_HEADER,
    MAX_BODY_BYTES,
    USER_HEADER,
    as_sent,
    authenticated_user,
    build_service,
    engine_from_environment,
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
from reservation_core import BusinessException


def _user() -> str:
    return authenticated_user(request.headers.get(USER_HEADER))


def _key() -> str | None:
    return idempotency_key(request.headers.get(IDEMPOTENCY_HEADER))


def create_app(engine: Engine | None = None) -> Flask:
    """The app on ``engine`` (tests inject one), else on the environment's database."""
    service = build_service(engine if engine is not None else engine_from_environment())
    app = Flask(__name__)
    # Werkzeug refuses a larger body (413) before reading it.
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES

    # --8<-- [start:handler]
    @app.errorhandler(BusinessException)
    def business_exception(error: BusinessException) -> Response:
        answer = error_response(as_sent(error), request.headers.get("Accept"), request.path)
        return Response(app.json.dumps(answer.body), answer.status, content_type=answer.media_type)

    # --8<-- [end:handler]

    @app.errorhandler(HTTPException)
    def http_exception(error: HTTPException) -> Response | HTTPException:
        if error.code is None or error.code >= 500:
            return error  # Flask's own answer to a failure of the server
        response = business_exception(http_error(error.code, request.method, request.path))
        valid_methods = getattr(error, "valid_methods", None)  # a 405's
        if valid_methods:
            response.headers["Allow"] = ", ".join(valid_methods)
        return response

    @app.post("/schedules")
    def create_schedule() -> tuple[dict[str, Any], int]:
        body = json_object(request.get_data())
        capacity = required(body, "capacity")
        schedule = service.create_schedule(
            required(body, "schedule_id"), capacity, pools=pools(body)
        )
        return schedule_json(schedule), 201

    @app.get("/schedules/<schedule_id>")
    def get_schedule(schedule_id: str) -> dict[str, Any]:
        return schedule_json(service.get_schedule(schedule_id))

    @app.post("/schedules/<schedule_id>/reservations")
    def create_reservation(schedule_id: str) -> tuple[dict[str, Any], int]:
        body = json_object(request.get_data())
        reservation = service.create_reservation(
            schedule_id,
            _user(),
            quantity=body.get("quantity", 1),
            idempotency_key=_key(),
        )
        return reservation_json(reservation), 201

    @app.post("/schedules/<schedule_id>/holds")
    def hold_reservation(schedule_id: str) -> tuple[dict[str, Any], int]:
        body = json_object(request.get_data())
        reservation = service.hold_reservation(
            schedule_id,
            _user(),
            quantity=body.get("quantity", 1),
            hold_for=hold_for(body),
            idempotency_key=_key(),
        )
        return reservation_json(reservation), 201

    @app.get("/reservations")
    def list_reservations() -> dict[str, Any]:
        arguments = {**list_arguments(request.args), "user_id": _user()}
        return page_json(service.list_reservations(**arguments))

    @app.post("/holds/release-expired")
    def release_expired_holds() -> dict[str, Any]:
        return {"expired": service.release_expired_holds()}

    @app.get("/reservations/<reservation_id>")
    def get_reservation(reservation_id: str) -> dict[str, Any]:
        return reservation_json(service.get_reservation(reservation_id, user_id=_user()))

    @app.post("/reservations/<reservation_id>/cancel")
    def cancel_reservation(reservation_id: str) -> dict[str, Any]:
        return reservation_json(service.cancel_reservation(reservation_id, user_id=_user()))

    @app.post("/reservations/<reservation_id>/confirm")
    def confirm_reservation(reservation_id: str) -> dict[str, Any]:
        return reservation_json(service.confirm_reservation(reservation_id, user_id=_user()))

    @app.post("/reservations/<reservation_id>/refund")
    def refund_reservation(reservation_id: str) -> dict[str, Any]:
        return reservation_json(service.refund_reservation(reservation_id, user_id=_user()))

    @app.post("/orders")
    def create_order() -> tuple[dict[str, Any], int]:
        body = json_object(request.get_data())
        lines = service.create_order(
            _user(), order_lines(body), idempotency_key=_key(), hold_for=order_hold_for(body)
        )
        return order_json(lines), 201

    @app.get("/orders/<order_id>")
    def get_order(order_id: str) -> dict[str, Any]:
        return order_json(service.get_order(order_id, user_id=_user()))

    @app.post("/orders/<order_id>/confirm")
    def confirm_order(order_id: str) -> dict[str, Any]:
        return order_json(service.confirm_order(order_id, user_id=_user()))

    @app.post("/orders/<order_id>/cancel")
    def cancel_order(order_id: str) -> dict[str, Any]:
        return order_json(service.cancel_order(order_id, user_id=_user()))

    @app.post("/schedules/<schedule_id>/waitlist")
    def join_waitlist(schedule_id: str) -> tuple[dict[str, Any], int]:
        body = json_object(request.get_data())
        entry = service.join_waitlist(
            schedule_id, _user(), quantity=body.get("quantity", 1), offer_for=offer_for(body)
        )
        return waitlist_entry_json(entry), 201

    @app.get("/waitlist/<entry_id>")
    def get_waitlist_entry(entry_id: str) -> dict[str, Any]:
        return waitlist_entry_json(service.get_waitlist_entry(entry_id, user_id=_user()))

    @app.post("/waitlist/<entry_id>/leave")
    def leave_waitlist(entry_id: str) -> dict[str, Any]:
        return waitlist_entry_json(service.leave_waitlist(entry_id, user_id=_user()))

    return app
