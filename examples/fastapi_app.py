"""reservation_core behind FastAPI, ``async def`` throughout, on AsyncReservationService.

Run from the repository root (the database comes from ``RESERVATION_CORE_EXAMPLE_DATABASE_URL``,
default a SQLite file; a sync URL is reached through its asyncio driver)::

    uvicorn --factory examples.fastapi_app:create_app

The endpoints await the service on the event loop: no thread pool. ONE exception handler
maps every ``BusinessException``. Reservation routes act for the user named by the
``X-User-Id`` header (a stand-in for the host's authentication; see
``examples._common.authenticated_user``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Request
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import create_async_engine

from examples._common import (
    USER_HEADER,
    authenticated_user,
    database_url_from_environment,
    error_response,
    hold_for,
    json_object,
    list_arguments,
    page_json,
    required,
    reservation_json,
    schedule_json,
)
from reservation_core import AsyncReservationService, BusinessException
from reservation_core.adapters.sqlalchemy import AsyncSqlAlchemyUnitOfWork, async_url, metadata


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


def create_app(url: str | None = None) -> FastAPI:
    """The app on the database at ``url`` (tests give one), else the environment's.

    The app owns its ``AsyncEngine``: made here, its pool opened on the server's event
    loop, disposed when the app shuts down.
    """
    engine = create_async_engine(async_url(url or database_url_from_environment()))
    service = AsyncReservationService(lambda: AsyncSqlAlchemyUnitOfWork(engine))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # A real host runs the Alembic branch instead (see docs/migrations.md).
        async with engine.begin() as connection:
            await connection.run_sync(metadata.create_all)
        yield
        await engine.dispose()

    app = FastAPI(title="reservation_core example", lifespan=lifespan)

    # --8<-- [start:handler]
    @app.exception_handler(BusinessException)
    async def business_exception(request: Request, error: BusinessException) -> JSONResponse:
        answer = error_response(error, request.headers.get("accept"), request.url.path)
        return JSONResponse(answer.body, answer.status, media_type=answer.media_type)

    # --8<-- [end:handler]

    @app.post("/schedules", status_code=201)
    async def create_schedule(body: JsonBody) -> dict[str, Any]:
        capacity = required(body, "capacity")
        schedule = await service.create_schedule(required(body, "schedule_id"), capacity)
        return schedule_json(schedule)

    @app.get("/schedules/{schedule_id}")
    async def get_schedule(schedule_id: str) -> dict[str, Any]:
        return schedule_json(await service.get_schedule(schedule_id))

    # --8<-- [start:booking]
    @app.post("/schedules/{schedule_id}/reservations", status_code=201)
    async def create_reservation(
        schedule_id: str, body: JsonBody, user: User, idempotency_key: IdempotencyKey = None
    ) -> dict[str, Any]:
        reservation = await service.create_reservation(
            schedule_id,
            user,
            quantity=body.get("quantity", 1),
            idempotency_key=idempotency_key,
        )
        return reservation_json(reservation)

    # --8<-- [end:booking]

    @app.post("/schedules/{schedule_id}/holds", status_code=201)
    async def hold_reservation(
        schedule_id: str, body: JsonBody, user: User, idempotency_key: IdempotencyKey = None
    ) -> dict[str, Any]:
        reservation = await service.hold_reservation(
            schedule_id,
            user,
            quantity=body.get("quantity", 1),
            hold_for=hold_for(body),
            idempotency_key=idempotency_key,
        )
        return reservation_json(reservation)

    @app.get("/reservations")
    async def list_reservations(request: Request, user: User) -> dict[str, Any]:
        arguments = {**list_arguments(request.query_params), "user_id": user}
        return page_json(await service.list_reservations(**arguments))

    @app.post("/holds/release-expired")
    async def release_expired_holds() -> dict[str, Any]:
        return {"expired": await service.release_expired_holds()}

    @app.get("/reservations/{reservation_id}")
    async def get_reservation(reservation_id: str, user: User) -> dict[str, Any]:
        return reservation_json(await service.get_reservation(reservation_id, user_id=user))

    @app.post("/reservations/{reservation_id}/cancel")
    async def cancel_reservation(reservation_id: str, user: User) -> dict[str, Any]:
        return reservation_json(await service.cancel_reservation(reservation_id, user_id=user))

    @app.post("/reservations/{reservation_id}/confirm")
    async def confirm_reservation(reservation_id: str, user: User) -> dict[str, Any]:
        return reservation_json(await service.confirm_reservation(reservation_id, user_id=user))

    @app.post("/reservations/{reservation_id}/refund")
    async def refund_reservation(reservation_id: str, user: User) -> dict[str, Any]:
        return reservation_json(await service.refund_reservation(reservation_id, user_id=user))

    return app
