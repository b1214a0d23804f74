"""The exception mapping: any ``BusinessException`` becomes its status and JSON body."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse

from examples._common import error_response
from reservation_core import BusinessException


# --8<-- [start:handler]
class BusinessExceptionMiddleware:
    """Answers ``error.http_status`` with ``to_dict()``, or ``to_problem()`` if asked."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, BusinessException):
            return None
        answer = error_response(exception, request.headers.get("Accept"), request.path)
        return JsonResponse(answer.body, status=answer.status, content_type=answer.media_type)


# --8<-- [end:handler]
