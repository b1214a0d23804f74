"""MkDocs hook: the error code table of ``errors.md``, generated from the code at build time.

The statuses come from :data:`reservation_core.HTTP_STATUS` and the messages from
:class:`reservation_core.BusinessException`, so they cannot drift. The prose (when a code
is raised, what its details hold) is kept below; a code without it fails the build.
Each code's cell carries an HTML id equal to the code, so a problem ``type`` built with
``to_problem("https://<docs>/errors/#")`` links to its row.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from reservation_core import HTTP_STATUS, BusinessException, ErrorCode

MARKER = "<!-- error-code-table -->"
PAGE = "errors.md"

#: code -> (when it is raised, what ``details`` holds)
DESCRIPTIONS: dict[str, tuple[str, str]] = {
    "CAPACITY_EXCEEDED": (
        "fewer seats remain than requested, on the schedule or one of its pools",
        "`requested`, `remaining`, `schedule_id` (the counter short of seats); `line` for an order",
    ),
    "RESERVATION_ALREADY_CANCELLED": ("cancel of a cancelled reservation", "`status`, `action`"),
    "ALREADY_REFUNDED": ("refund of a refunded reservation", "`status`, `action`"),
    "INVALID_STATE_TRANSITION": (
        "refund after cancel, cancel after refund, refund of a hold, confirm after cancel",
        "`status`, `action`",
    ),
    "VALIDATION_ERROR": ("a bad argument", "`field`, `reason`, `value`"),
    "SCHEDULE_NOT_FOUND": (
        "unknown schedule (or pool)",
        "`schedule_id`; `line` for an order",
    ),
    "RESERVATION_NOT_FOUND": (
        "unknown reservation, or another user's (`user_id=`)",
        "`reservation_id`",
    ),
    "SCHEDULE_ALREADY_EXISTS": ("`create_schedule` with a taken id", "`schedule_id`"),
    "CAPACITY_BELOW_RESERVED": (
        "`change_capacity` under the seats reserved",
        "`capacity`, `reserved`",
    ),
    "DUPLICATE_RESERVATION": (
        "the user already has an active (held or confirmed) reservation on the schedule",
        "`reservation_id`",
    ),
    "IDEMPOTENCY_KEY_REUSED": ("the key was used for a different request", "`idempotency_key`"),
    "CONCURRENCY_CONFLICT": ("transient database conflicts outlasted the retries", "`attempts`"),
    "STORAGE_UNAVAILABLE": (
        "the database cannot be reached; nothing was written",
        "`attempts`, `reason` or `outcome`",
    ),
    "HOLD_EXPIRED": (
        "confirm of a hold past its `expires_at` (it becomes `EXPIRED`, its seats return)",
        "`reservation_id`, `status`, `action`, `expires_at`; for `confirm_order`, "
        "`order_id` and `expires_at`",
    ),
    "WAITLIST_ENTRY_NOT_FOUND": (
        "`get_waitlist_entry` or `leave_waitlist` of an unknown entry, or another user's "
        "when `user_id` is given",
        "`entry_id`",
    ),
    "DUPLICATE_WAITLIST_ENTRY": (
        "`join_waitlist` by a user already waiting (or holding an offer) on the schedule",
        "`entry_id`",
    ),
    "ORDER_NOT_FOUND": (
        "`get_order`, `confirm_order` or `cancel_order` of an unknown order, or another "
        "user's when `user_id` is given",
        "`order_id`",
    ),
}


def error_code_table() -> str:
    """The Markdown table: one row per :class:`ErrorCode`, in declaration order.

    Raises:
        ValueError: a code has no description, or a description names no code.
    """
    missing = [str(code) for code in ErrorCode if str(code) not in DESCRIPTIONS]
    unknown = sorted(set(DESCRIPTIONS) - {str(code) for code in ErrorCode})
    if missing or unknown:
        raise ValueError(f"describe every ErrorCode in {__file__}: {missing=} {unknown=}")
    rows = [
        "| code | HTTP | when | details | message |",
        "|---|---|---|---|---|",
    ]
    for code in ErrorCode:
        status = HTTP_STATUS[code]
        when, details = DESCRIPTIONS[str(code)]
        rows.append(
            f'| <span id="{code}"></span>`{code}` | {status} {HTTPStatus(status).phrase} '
            f"| {when} | {details} | {BusinessException(code).message} |"
        )
    return "\n".join(rows) + "\n"


def on_page_markdown(markdown: str, page: Any, **_: Any) -> str:
    """Put the table where ``errors.md`` has the marker."""
    if page.file.src_uri != PAGE:
        return markdown
    if MARKER not in markdown:
        raise ValueError(f"{PAGE} lost its {MARKER} marker")
    return markdown.replace(MARKER, error_code_table())
