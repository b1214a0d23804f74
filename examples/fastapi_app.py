"""reservation_core behind FastAPI.

Run from the repository root (the engine comes from ``RESERVATION_CORE_EXAMPLE_DATABASE_URL``,
default a SQLite file)::

    uvicorn --factory examples.fastapi_app:create_app

The endpoints are plain ``def`` functions: the service blocks on the database, so FastAPI
runs them in its thread pool. ONE exception handler maps every ``BusinessException``.
Reservation routes act for the user named by the ``X-User-Id`` header (a stand-in for
the host's authentication; see ``examples._common.authenticated_user``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Request
from fastapi.responses import JSONResponse
from sqlalchemy import Engine

from examples._common import (
    USER_HEADER,
    authenticated_user,
    build_service,
    engine_from_environment,
    error_response,
    hold_for,
    json_object,
    list_arguments,
    page_json,
    required,
    reservation_json,
    schedule_json,
)
from reservation_core import BusinessException


async def json_body(request: Request) -> dict[str, Any]:
    # Parsed here rather than by a pydantic model, so a malformed body is the library's
    # VALIDATION_ERROR like any other bad argument, not FastAPI's own 422 format.
    return json_object(await request.body())


JsonBody = Annotated[dict[str, Any], Depends(json_body)]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key")]
UserHeader = Annotated[str | None, Header(alias=USER_HEADER)]


def current_user(user: UserHeader = None) -> str:
    return authenticated_user(user)


User = Annotated[str, Depends(current_user)]


def create_app(engine: Engine | None = None) -> FastAPI:
    """The app on ``engine`` (tests inject one), else on the environment's database."""
    service = build_service(engine if engine is not None else engine_from_environment())
    app = FastAPI(title="reservation_core example")

    # --8<-- [start:handler]
    @app.exception_handler(BusinessException)
    async def business_exception(request: Request, error: BusinessException) -> JSONResponse:
        answer = error_response(error, request.headers.get("accept"), request.url.path)
        return JSONResponse(answer.body, answer.status, media_type=answer.media_type)

    # --8<-- [end:handler]

    @app.post("/schedules", status_code=201)
    def create_schedule(body: JsonBody) -> dict[str, Any]:
        capacity = required(body, "capacity")
        return schedule_json(service.create_schedule(required(body, "schedule_id"), capacity))

    @app.get("/schedules/{schedule_id}")
    def get_schedule(schedule_id: str) -> dict[str, Any]:
        return schedule_json(service.get_schedule(schedule_id))

    @app.post("/schedules/{schedule_id}/reservations", status_code=201)
    def create_reservation(
        schedule_id: str, body: JsonBody, user: User, idempotency_key: IdempotencyKey = None
    ) -> dict[str, Any]:
        reservation = service.create_reservation(
            schedule_id,
            user,
            quantity=body.get("quantity", 1),
            idempotency_key=idempotency_key,
        )
        return reservation_json(reservation)

    @app.post("/schedules/{schedule_id}/holds", status_code=201)
    def hold_reservation(
        schedule_id: str, body: JsonBody, user: User, idempotency_key: IdempotencyKey = None
    ) -> dict[str, Any]:
        reservation = service.hold_reservation(
            schedule_id,
            user,
            quantity=body.get("quantity", 1),
            hold_for=hold_for(body),
            idempotency_key=idempotency_key,
        )
        return reservation_json(reservation)

    @app.get("/reservations")
    def list_reservations(request: Request, user: User) -> dict[str, Any]:
        arguments = {**list_arguments(request.query_params), "user_id": user}
        return page_json(service.list_reservations(**arguments))

    @app.post("/holds/release-expired")
    def release_expired_holds() -> dict[str, Any]:
        return {"expired": service.release_expired_holds()}

    @app.get("/reservations/{reservation_id}")
    def get_reservation(reservation_id: str, user: User) -> dict[str, Any]:
        return reservation_json(service.get_reservation(reservation_id, user_id=user))

    @app.post("/reservations/{reservation_id}/cancel")
    def cancel_reservation(reservation_id: str, user: User) -> dict[str, Any]:
        return reservation_json(service.cancel_reservation(reservation_id, user_id=user))

    @app.post("/reservations/{reservation_id}/confirm")
    def confirm_reservation(reservation_id: str, user: User) -> dict[str, Any]:
        return reservation_json(service.confirm_reservation(reservation_id, user_id=user))

    @app.post("/reservations/{reservation_id}/refund")
    def refund_reservation(reservation_id: str, user: User) -> dict[str, Any]:
        return reservation_json(service.refund_reservation(reservation_id, user_id=user))

    return app
