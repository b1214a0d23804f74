"""The error contract: every failure a caller can meet is a :class:`BusinessException`.

A web layer maps :attr:`BusinessException.http_status` (or :data:`HTTP_STATUS`) to its
response and serialises :meth:`BusinessException.to_dict` as the body, or
:meth:`BusinessException.to_problem` as an RFC 9457 ``application/problem+json`` body.
"""

from __future__ import annotations

import enum
import http
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, ClassVar

__all__ = ["HTTP_STATUS", "BusinessException", "ErrorCode"]


class ErrorCode(enum.StrEnum):
    """Every business error code; ``str(code)`` is the code's name."""

    CAPACITY_EXCEEDED = "CAPACITY_EXCEEDED"
    RESERVATION_ALREADY_CANCELLED = "RESERVATION_ALREADY_CANCELLED"
    ALREADY_REFUNDED = "ALREADY_REFUNDED"
    INVALID_STATE_TRANSITION = "INVALID_STATE_TRANSITION"
    VALIDATION_ERROR = "VALIDATION_ERROR"
    SCHEDULE_NOT_FOUND = "SCHEDULE_NOT_FOUND"
    RESERVATION_NOT_FOUND = "RESERVATION_NOT_FOUND"
    SCHEDULE_ALREADY_EXISTS = "SCHEDULE_ALREADY_EXISTS"
    CAPACITY_BELOW_RESERVED = "CAPACITY_BELOW_RESERVED"
    DUPLICATE_RESERVATION = "DUPLICATE_RESERVATION"
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
    CONCURRENCY_CONFLICT = "CONCURRENCY_CONFLICT"
    STORAGE_UNAVAILABLE = "STORAGE_UNAVAILABLE"
    HOLD_EXPIRED = "HOLD_EXPIRED"
    ORDER_NOT_FOUND = "ORDER_NOT_FOUND"
    WAITLIST_ENTRY_NOT_FOUND = "WAITLIST_ENTRY_NOT_FOUND"
    DUPLICATE_WAITLIST_ENTRY = "DUPLICATE_WAITLIST_ENTRY"


HTTP_STATUS: Mapping[ErrorCode, int] = MappingProxyType(
    {
        ErrorCode.CAPACITY_EXCEEDED: 400,
        ErrorCode.RESERVATION_ALREADY_CANCELLED: 400,
        ErrorCode.ALREADY_REFUNDED: 400,
        ErrorCode.INVALID_STATE_TRANSITION: 409,
        ErrorCode.VALIDATION_ERROR: 422,
        ErrorCode.SCHEDULE_NOT_FOUND: 404,
        ErrorCode.RESERVATION_NOT_FOUND: 404,
        ErrorCode.SCHEDULE_ALREADY_EXISTS: 409,
        ErrorCode.CAPACITY_BELOW_RESERVED: 409,
        ErrorCode.DUPLICATE_RESERVATION: 409,
        ErrorCode.IDEMPOTENCY_KEY_REUSED: 422,
        ErrorCode.CONCURRENCY_CONFLICT: 409,
        ErrorCode.STORAGE_UNAVAILABLE: 503,
        ErrorCode.HOLD_EXPIRED: 410,
        ErrorCode.ORDER_NOT_FOUND: 404,
        ErrorCode.WAITLIST_ENTRY_NOT_FOUND: 404,
        ErrorCode.DUPLICATE_WAITLIST_ENTRY: 409,
    }
)
"""The HTTP status a web layer should answer for each code (read-only)."""

_DEFAULT_MESSAGES: Mapping[ErrorCode, str] = MappingProxyType(
    {
        ErrorCode.CAPACITY_EXCEEDED: "Not enough seats remain on this schedule.",
        ErrorCode.RESERVATION_ALREADY_CANCELLED: "The reservation is already cancelled.",
        ErrorCode.ALREADY_REFUNDED: "The reservation is already refunded.",
        ErrorCode.INVALID_STATE_TRANSITION: "The reservation cannot move to that state.",
        ErrorCode.VALIDATION_ERROR: "An argument is invalid.",
        ErrorCode.SCHEDULE_NOT_FOUND: "No such schedule.",
        ErrorCode.RESERVATION_NOT_FOUND: "No such reservation.",
        ErrorCode.SCHEDULE_ALREADY_EXISTS: "A schedule with this id already exists.",
        ErrorCode.CAPACITY_BELOW_RESERVED: "The capacity would fall below the seats reserved.",
        ErrorCode.DUPLICATE_RESERVATION: "The user already holds a reservation on this schedule.",
        ErrorCode.IDEMPOTENCY_KEY_REUSED: "The idempotency key was used for a different request.",
        ErrorCode.CONCURRENCY_CONFLICT: "Concurrent updates conflicted; try again.",
        ErrorCode.STORAGE_UNAVAILABLE: "The storage is unavailable; nothing was written.",
        ErrorCode.HOLD_EXPIRED: "The hold has expired; its seats were released.",
        ErrorCode.ORDER_NOT_FOUND: "No such order.",
        ErrorCode.WAITLIST_ENTRY_NOT_FOUND: "No such waiting-list entry.",
        ErrorCode.DUPLICATE_WAITLIST_ENTRY: "The user is already on this schedule's waiting list.",
    }
)


_ABOUT_BLANK = "about:blank"


def _status_phrase(status: int, code: ErrorCode) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:  # a status override outside the registry has no phrase
        return _DEFAULT_MESSAGES[code]


class BusinessException(Exception):
    """A failure of a use case, identified by an :class:`ErrorCode`.

    Args:
        code: the error code (an :class:`ErrorCode` or its name).
        message: a human-readable message; defaults to the code's standard message.
        details: machine-readable context (for example ``{"field": "quantity"}``).
        http_status: overrides the status from :data:`HTTP_STATUS`.

    Examples:
        >>> err = BusinessException("CAPACITY_EXCEEDED", details={"requested": 2, "remaining": 1})
        >>> err.to_dict()["code"], err.http_status
        ('CAPACITY_EXCEEDED', 400)
    """

    problem_type_base: ClassVar[str | None] = None
    """The default base URI of :meth:`to_problem`'s ``type`` member, for every exception.

    Set it once at start-up (``BusinessException.problem_type_base = "https://..."``);
    ``None`` means ``about:blank``.
    """

    code: ErrorCode
    message: str
    details: dict[str, Any]
    http_status: int

    def __init__(
        self,
        code: ErrorCode | str,
        message: str | None = None,
        *,
        details: Mapping[str, Any] | None = None,
        http_status: int | None = None,
    ) -> None:
        self.code = ErrorCode(code)
        self.message = message if message is not None else _DEFAULT_MESSAGES[self.code]
        self.details = dict(details) if details is not None else {}
        self.http_status = http_status if http_status is not None else HTTP_STATUS[self.code]
        super().__init__(f"{self.code}: {self.message}")

    def to_dict(self) -> dict[str, Any]:
        """The response body: exactly ``{"code", "message", "details"}``."""
        return {"code": str(self.code), "message": self.message, "details": dict(self.details)}

    def to_problem(
        self, type_base: str | None = None, *, instance: str | None = None
    ) -> dict[str, Any]:
        """The response body as RFC 9457 problem details (``application/problem+json``).

        Members, in this order: ``type``, ``title``, ``status``, ``detail``, ``instance``
        (only when given), then the extension members ``code`` and ``details``, the same
        values as in :meth:`to_dict`.

        Args:
            type_base: the base URI of the problem types; ``type`` is the base followed by
                the code (a ``/`` is put between them unless the base ends with ``/``,
                ``#`` or ``:``). ``None`` uses :attr:`problem_type_base`; ``"about:blank"`` (or a
                ``None`` default) gives ``type: "about:blank"``, where RFC 9457 has the
                problem mean no more than its HTTP status: ``title`` is then the status
                phrase (``"Bad Request"``). With a base, ``title`` is the code's standard
                message, the same for every occurrence of the problem type.
            instance: a URI reference naming this occurrence (for example the request path).

        Examples:
            >>> err = BusinessException("RESERVATION_NOT_FOUND", details={"reservation_id": "r1"})
            >>> err.to_problem()["type"], err.to_problem()["title"]
            ('about:blank', 'Not Found')
            >>> err.to_problem("https://example.com/problems/")["type"]
            'https://example.com/problems/RESERVATION_NOT_FOUND'
        """
        base = type_base if type_base is not None else self.problem_type_base
        if base is None or base == _ABOUT_BLANK:
            problem_type, title = _ABOUT_BLANK, _status_phrase(self.http_status, self.code)
        else:
            separator = "" if base.endswith(("/", "#", ":")) else "/"
            problem_type, title = f"{base}{separator}{self.code}", _DEFAULT_MESSAGES[self.code]
        problem: dict[str, Any] = {
            "type": problem_type,
            "title": title,
            "status": self.http_status,
            "detail": self.message,
        }
        if instance is not None:
            problem["instance"] = instance
        problem["code"] = str(self.code)
        problem["details"] = dict(self.details)
        return problem

    def __reduce__(self) -> tuple[Any, ...]:
        # Keeps the exception picklable (multiprocessing, task queues) despite keyword args.
        return (type(self), (self.code, self.message), self.__dict__.copy())

    def __repr__(self) -> str:
        return f"BusinessException({str(self.code)!r}, {self.message!r}, details={self.details!r})"
