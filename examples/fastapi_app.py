"""reservation_core behind FastAPI, ``async def`` throughout, on AsyncReservationService.

Run from the repository root (the database comes from ``RESERVATION_CORE_EXAMPLE_DATABASE_URL``,
default a SQLite file; a sync URL is reached through its asyncio driver)::

    uvicorn --factory examples.fastapi_app:create_app

The endpoints await the service on the event loop: no thread pool. ONE exception handler
maps every ``BusinessException``, and one more the framework's own refusals (no such route,
a method the route does not take) to the same body. Reservation, order and waiting-list
routes act for the user named by the ``X-User-Id`` header (a stand-in for the host's
authentication; see ``examples._common.authenticated_user``). ``/openapi.json`` describes
every body, header, answer and link (``examples._openapi``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import create_async_engine
from starlette.exceptions import HTTPException

from examples._common import (
    IDEMPOTENCY_HEADER,
    MAX_BODY_BYTES,
    USER_HEADER,
    as_sent,
    authenticated_user,
    body_too_large,
    create_tables,
    database_url_from_environment,
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
from examples._openapi import (
    LIST_QUERY,
    ON_RESERVATIONS,
    USER,
    booking,
    checkout,
    install,
    link,
    operation,
    waitlist_join,
)
from reservation_core import AsyncReservationService, BusinessException
from reservation_core.adapters.sqlalchemy import AsyncSqlAlchemyUnitOfWork, async_url


async def json_body(request: Request) -> dict[str, Any]:
    # Parsed here rather than by a pydantic model, so a malformed body is the library's
    # VALIDATION_ERROR like any other bad argument, not FastAPI's own 422 format. Read
    # no further than MAX_BODY_BYTES, whatever Content-Length says (or does not say).
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise body_too_large()
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise body_too_large()
    return json_object(bytes(body))


JsonBody = Annotated[dict[str, Any], Depends(json_body)]


def current_user(request: Request) -> str:
    return authenticated_user(request.headers.get(USER_HEADER))


def current_key(request: Request) -> str | None:
    return idempotency_key(request.headers.get(IDEMPOTENCY_HEADER))


User = Annotated[str, Depends(current_user)]
Key = Annotated[str | None, Depends(current_key)]

_SCHEDULE_LINKS = {
    name: link(name, schedule_id="$response.body#/id")
    for name in ("get_schedule", "create_reservation", "hold_reservation", "join_waitlist")
}


def create_app(url: str | None = None) -> FastAPI:
    """The app on the database at ``url`` (tests give one), else the environment's.

    The app owns its ``AsyncEngine``: made here, its pool opened on the server's event
    loop, disposed when the app shuts down.
    """
    engine = create_async_engine(async_url(url or database_url_from_environment()))
    service = AsyncReservationService(lambda: AsyncSqlAlchemyUnitOfWork(engine))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Safe with many workers starting at once; a real host migrates once instead
        # (see examples._common.create_tables and docs/migrations.md).
        async with engine.begin() as connection:
            await connection.run_sync(create_tables)
        yield
        await engine.dispose()

    app = FastAPI(title="reservation_core example", lifespan=lifespan)
    install(app)

    # --8<-- [start:handler]
    @app.exception_handler(BusinessException)
    async def business_exception(request: Request, error: BusinessException) -> JSONResponse:
        answer = error_response(as_sent(error), request.headers.get("accept"), request.url.path)
        return JSONResponse(answer.body, answer.status, media_type=answer.media_type)

    # --8<-- [end:handler]

    @app.exception_handler(HTTPException)
    async def http_exception(request: Request, error: HTTPException) -> JSONResponse:
        refusal = http_error(error.status_code, request.method, request.url.path)
        response = await business_exception(request, refusal)
        response.headers.update(error.headers or {})  # a 405's Allow
        return response

    @app.post(
        "/schedules",
        **operation(
            "create_schedule",
            201,
            "Schedule",
            (404, 409, 422, 503),
            body="NewSchedule",
            body_required=True,
            links=_SCHEDULE_LINKS,
        ),
    )
    async def create_schedule(body: JsonBody) -> dict[str, Any]:
        capacity = required(body, "capacity")
        schedule = await service.create_schedule(
            required(body, "schedule_id"), capacity, pools=pools(body)
        )
        return schedule_json(schedule)

    @app.get(
        "/schedules/{schedule_id}", **operation("get_schedule", 200, "Schedule", (404, 422, 503))
    )
    async def get_schedule(schedule_id: str) -> dict[str, Any]:
        return schedule_json(await service.get_schedule(schedule_id))

    # --8<-- [start:booking]
    @app.post(
        "/schedules/{schedule_id}/reservations",
        **booking(
            "create_reservation",
            "NewReservation",
            "get_reservation",
            "cancel_reservation",
            "refund_reservation",
        ),
    )
    async def create_reservation(
        schedule_id: str, body: JsonBody, user: User, key: Key
    ) -> dict[str, Any]:
        reservation = await service.create_reservation(
            schedule_id, user, quantity=body.get("quantity", 1), idempotency_key=key
        )
        return reservation_json(reservation)

    # --8<-- [end:booking]

    @app.post(
        "/schedules/{schedule_id}/holds",
        **booking(
            "hold_reservation",
            "NewHold",
            "get_reservation",
            "confirm_reservation",
            "cancel_reservation",
        ),
    )
    async def hold_reservation(
        schedule_id: str, body: JsonBody, user: User, key: Key
    ) -> dict[str, Any]:
        reservation = await service.hold_reservation(
            schedule_id,
            user,
            quantity=body.get("quantity", 1),
            hold_for=hold_for(body),
            idempotency_key=key,
        )
        return reservation_json(reservation)

    @app.get(
        "/reservations",
        **operation(
            "list_reservations",
            200,
            "ReservationPage",
            (401, 422, 503),
            parameters=(USER, *LIST_QUERY),
        ),
    )
    async def list_reservations(request: Request, user: User) -> dict[str, Any]:
        arguments = {**list_arguments(request.query_params), "user_id": user}
        return page_json(await service.list_reservations(**arguments))

    @app.post(
        "/holds/release-expired", **operation("release_expired_holds", 200, "Released", (409, 503))
    )
    async def release_expired_holds() -> dict[str, Any]:
        return {"expired": await service.release_expired_holds()}

    @app.get(
        "/reservations/{reservation_id}",
        **operation(
            "get_reservation", 200, "Reservation", (401, 404, 422, 503), parameters=(USER,)
        ),
    )
    async def get_reservation(reservation_id: str, user: User) -> dict[str, Any]:
        return reservation_json(await service.get_reservation(reservation_id, user_id=user))

    @app.post(
        "/reservations/{reservation_id}/cancel",
        **operation(
            "cancel_reservation", 200, "Reservation", (400, *ON_RESERVATIONS), parameters=(USER,)
        ),
    )
    async def cancel_reservation(reservation_id: str, user: User) -> dict[str, Any]:
        return reservation_json(await service.cancel_reservation(reservation_id, user_id=user))

    @app.post(
        "/reservations/{reservation_id}/confirm",
        **operation(
            "confirm_reservation", 200, "Reservation", (410, *ON_RESERVATIONS), parameters=(USER,)
        ),
    )
    async def confirm_reservation(reservation_id: str, user: User) -> dict[str, Any]:
        return reservation_json(await service.confirm_reservation(reservation_id, user_id=user))

    @app.post(
        "/reservations/{reservation_id}/refund",
        **operation(
            "refund_reservation", 200, "Reservation", (400, *ON_RESERVATIONS), parameters=(USER,)
        ),
    )
    async def refund_reservation(reservation_id: str, user: User) -> dict[str, Any]:
        return reservation_json(await service.refund_reservation(reservation_id, user_id=user))

    # --8<-- [start:checkout]
    @app.post("/orders", **checkout())
    async def create_order(body: JsonBody, user: User, key: Key) -> dict[str, Any]:
        lines = await service.create_order(
            user, order_lines(body), idempotency_key=key, hold_for=order_hold_for(body)
        )
        return order_json(lines)

    # --8<-- [end:checkout]

    @app.get(
        "/orders/{order_id}",
        **operation("get_order", 200, "Order", (401, 404, 422, 503), parameters=(USER,)),
    )
    async def get_order(order_id: str, user: User) -> dict[str, Any]:
        return order_json(await service.get_order(order_id, user_id=user))

    @app.post(
        "/orders/{order_id}/confirm",
        **operation("confirm_order", 200, "Order", (410, *ON_RESERVATIONS), parameters=(USER,)),
    )
    async def confirm_order(order_id: str, user: User) -> dict[str, Any]:
        return order_json(await service.confirm_order(order_id, user_id=user))

    @app.post(
        "/orders/{order_id}/cancel",
        **operation("cancel_order", 200, "Order", (400, *ON_RESERVATIONS), parameters=(USER,)),
    )
    async def cancel_order(order_id: str, user: User) -> dict[str, Any]:
        return order_json(await service.cancel_order(order_id, user_id=user))

    # --8<-- [start:waitlist]
    @app.post("/schedules/{schedule_id}/waitlist", **waitlist_join())
    async def join_waitlist(schedule_id: str, body: JsonBody, user: User) -> dict[str, Any]:
        entry = await service.join_waitlist(
            schedule_id, user, quantity=body.get("quantity", 1), offer_for=offer_for(body)
        )
        return waitlist_entry_json(entry)

    # --8<-- [end:waitlist]

    @app.get(
        "/waitlist/{entry_id}",
        **operation(
            "get_waitlist_entry", 200, "WaitlistEntry", (401, 404, 422, 503), parameters=(USER,)
        ),
    )
    async def get_waitlist_entry(entry_id: str, user: User) -> dict[str, Any]:
        return waitlist_entry_json(await service.get_waitlist_entry(entry_id, user_id=user))

    @app.post(
        "/waitlist/{entry_id}/leave",
        **operation("leave_waitlist", 200, "WaitlistEntry", ON_RESERVATIONS, parameters=(USER,)),
    )
    async def leave_waitlist(entry_id: str, user: User) -> dict[str, Any]:
        return waitlist_entry_json(await service.leave_waitlist(entry_id, user_id=user))

    return app
