"""The middleware that answers every ``BusinessException`` a view raises.

Add ``"reservation_core.contrib.django.middleware.BusinessExceptionMiddleware"`` to
``MIDDLEWARE``: the status is ``error.http_status``, the body ``error.to_dict()`` as
``application/json``, or RFC 9457 problem details (``application/problem+json``) when the
request's ``Accept`` asks for them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import JsonResponse

from reservation_core.contrib.http import error_response
from reservation_core.errors import BusinessException

__all__ = ["BusinessExceptionMiddleware"]


# --8<-- [start:handler]
class BusinessExceptionMiddleware:
    """Answers ``error.http_status`` with ``to_dict()``, or ``to_problem()`` if asked."""

    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        """Pass the request on; exceptions come back through :meth:`process_exception`."""
        return self.get_response(request)

    def process_exception(self, request: Any, exception: Exception) -> JsonResponse | None:
        """The JSON answer to a ``BusinessException``; ``None`` lets others through."""
        if not isinstance(exception, BusinessException):
            return None
        answer = error_response(exception, request.headers.get("Accept"), request.path)
        return JsonResponse(answer.body, status=answer.status, content_type=answer.media_type)


# --8<-- [end:handler]
