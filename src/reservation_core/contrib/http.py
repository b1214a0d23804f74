"""The HTTP answer to a :class:`~reservation_core.BusinessException`, for any framework.

A handler calls :func:`error_response` with the exception, the request's ``Accept`` header
and path, and answers its ``status``, ``body`` (JSON) and ``media_type``: the
``{code, message, details}`` body, or RFC 9457 problem details when the client asks.

Examples:
    >>> from reservation_core import BusinessException
    >>> answer = error_response(BusinessException("SCHEDULE_NOT_FOUND"), None, "/s/x")
    >>> answer.status, answer.media_type, answer.body["code"]
    (404, 'application/json', 'SCHEDULE_NOT_FOUND')
    >>> error_response(BusinessException("SCHEDULE_NOT_FOUND"),
    ...                "application/problem+json", "/s/x").media_type
    'application/problem+json'
"""

from __future__ import annotations

import dataclasses
from typing import Any

from reservation_core.errors import BusinessException

__all__ = ["JSON", "PROBLEM_JSON", "ErrorResponse", "error_response", "wants_problem_json"]

JSON = "application/json"
"""The media type of a ``to_dict()`` body."""
PROBLEM_JSON = "application/problem+json"
"""The media type of RFC 9457 problem details (``to_problem()``)."""


# --8<-- [start:negotiation]
def wants_problem_json(accept: str | None) -> bool:
    """True when ``Accept`` ranks ``application/problem+json`` at least as high as JSON.

    ``*/*``, a missing header or a plain ``application/json`` keep the ``{code, message,
    details}`` body; a client must name ``application/problem+json`` to get RFC 9457.
    """
    quality: dict[str, float] = {}
    for media_range in (accept or "").split(","):
        media_type, *parameters = (part.strip() for part in media_range.split(";"))
        q = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        media_type = media_type.lower()
        quality[media_type] = max(quality.get(media_type, 0.0), q)
    problem = quality.get(PROBLEM_JSON, 0.0)
    return problem > 0 and problem >= quality.get(JSON, 0.0)


@dataclasses.dataclass(frozen=True)
class ErrorResponse:
    """How to answer a :class:`~reservation_core.BusinessException`.

    Attributes:
        status: the HTTP status (``error.http_status``).
        body: the JSON body.
        media_type: ``application/json`` or ``application/problem+json``.
    """

    status: int
    body: dict[str, Any]
    media_type: str


def error_response(error: BusinessException, accept: str | None, path: str) -> ErrorResponse:
    """The response for ``error``: problem details if the client asks, else ``to_dict()``."""
    if wants_problem_json(accept):
        return ErrorResponse(error.http_status, error.to_problem(instance=path), PROBLEM_JSON)
    return ErrorResponse(error.http_status, error.to_dict(), JSON)


# --8<-- [end:negotiation]
