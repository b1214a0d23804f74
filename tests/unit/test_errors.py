from __future__ import annotations

import pickle
import re
from collections.abc import Iterator
from http import HTTPStatus
from pathlib import Path

import pytest

import reservation_core
from reservation_core import HTTP_STATUS, BusinessException, ErrorCode

EXPECTED_STATUS = {
    "CAPACITY_EXCEEDED": 400,
    "RESERVATION_ALREADY_CANCELLED": 400,
    "ALREADY_REFUNDED": 400,
    "INVALID_STATE_TRANSITION": 409,
    "VALIDATION_ERROR": 422,
    "SCHEDULE_NOT_FOUND": 404,
    "RESERVATION_NOT_FOUND": 404,
    "SCHEDULE_ALREADY_EXISTS": 409,
    "CAPACITY_BELOW_RESERVED": 409,
    "DUPLICATE_RESERVATION": 409,
    "IDEMPOTENCY_KEY_REUSED": 422,
    "CONCURRENCY_CONFLICT": 409,
    "STORAGE_UNAVAILABLE": 503,
    "HOLD_EXPIRED": 410,
    "ORDER_NOT_FOUND": 404,
    "WAITLIST_ENTRY_NOT_FOUND": 404,
    "DUPLICATE_WAITLIST_ENTRY": 409,
}


def test_every_code_has_its_documented_status() -> None:
    assert {str(code): status for code, status in HTTP_STATUS.items()} == EXPECTED_STATUS
    assert set(ErrorCode) == set(HTTP_STATUS)


@pytest.mark.parametrize("code", list(ErrorCode))
def test_exception_shape(code: ErrorCode) -> None:
    err = BusinessException(str(code))
    assert err.code is code
    assert str(err.code) == code.value
    assert err.http_status == EXPECTED_STATUS[code.value]
    body = err.to_dict()
    assert list(body) == ["code", "message", "details"]
    assert body["code"] == code.value
    assert body["message"]
    assert body["details"] == {}


def test_message_details_and_status_override() -> None:
    err = BusinessException(
        ErrorCode.CAPACITY_EXCEEDED, "full", details={"requested": 2}, http_status=418
    )
    assert err.to_dict() == {
        "code": "CAPACITY_EXCEEDED",
        "message": "full",
        "details": {"requested": 2},
    }
    assert err.http_status == 418
    err.to_dict()["details"]["requested"] = 99
    assert err.details == {"requested": 2}


def test_unknown_code_is_refused() -> None:
    with pytest.raises(ValueError, match="NOT_A_CODE"):
        BusinessException("NOT_A_CODE")


def test_exception_pickles() -> None:
    err = BusinessException("DUPLICATE_RESERVATION", details={"reservation_id": "r1"})
    copy = pickle.loads(pickle.dumps(err))
    assert copy.to_dict() == err.to_dict()
    assert copy.http_status == 409


def test_public_api() -> None:
    assert set(reservation_core.__all__) >= {
        "ReservationService",
        "BusinessException",
        "ErrorCode",
        "Reservation",
        "ReservationStatus",
        "Schedule",
        "HTTP_STATUS",
        "__version__",
    }
    for name in reservation_core.__all__:
        assert hasattr(reservation_core, name)


def test_the_version_is_the_changelogs_latest_release() -> None:
    """``__version__`` and CHANGELOG.md's newest ``## [x.y.z] - date`` section agree."""
    changelog = (Path(__file__).parents[2] / "CHANGELOG.md").read_text(encoding="utf-8")
    releases = re.findall(r"^## \[(\d+\.\d+\.\d+)\] - \d{4}-\d{2}-\d{2}$", changelog, re.M)
    assert releases, "CHANGELOG.md has no released section"
    assert reservation_core.__version__ == releases[0]
    assert changelog.index("## [Unreleased]") < changelog.index(f"## [{releases[0]}]")


def test_to_dict_is_exactly_code_message_details() -> None:
    err = BusinessException("SCHEDULE_NOT_FOUND", details={"schedule_id": "s1"})
    assert err.to_dict() == {
        "code": "SCHEDULE_NOT_FOUND",
        "message": "No such schedule.",
        "details": {"schedule_id": "s1"},
    }


@pytest.fixture
def problem_type_base() -> Iterator[None]:
    yield
    BusinessException.problem_type_base = None


@pytest.mark.parametrize("code", list(ErrorCode))
def test_problem_about_blank_titles_with_the_status_phrase(code: ErrorCode) -> None:
    err = BusinessException(code, "occurrence", details={"k": 1})
    problem = err.to_problem()
    assert list(problem) == ["type", "title", "status", "detail", "code", "details"]
    assert problem == {
        "type": "about:blank",
        "title": HTTPStatus(EXPECTED_STATUS[code.value]).phrase,
        "status": EXPECTED_STATUS[code.value],
        "detail": "occurrence",
        "code": code.value,
        "details": {"k": 1},
    }
    assert err.to_problem("about:blank") == problem


def test_problem_with_a_type_base() -> None:
    err = BusinessException(
        "CAPACITY_EXCEEDED", "Only 1 seat left.", details={"requested": 2, "remaining": 1}
    )
    assert err.to_problem("https://example.com/problems/", instance="/schedules/s1") == {
        "type": "https://example.com/problems/CAPACITY_EXCEEDED",
        "title": "Not enough seats remain on this schedule.",
        "status": 400,
        "detail": "Only 1 seat left.",
        "instance": "/schedules/s1",
        "code": "CAPACITY_EXCEEDED",
        "details": {"requested": 2, "remaining": 1},
    }


@pytest.mark.parametrize(
    ("base", "expected"),
    [
        ("https://example.com/problems", "https://example.com/problems/ALREADY_REFUNDED"),
        ("https://example.com/errors/#", "https://example.com/errors/#ALREADY_REFUNDED"),
        ("urn:example:problem:", "urn:example:problem:ALREADY_REFUNDED"),
    ],
)
def test_problem_type_joins_base_and_code(base: str, expected: str) -> None:
    assert BusinessException("ALREADY_REFUNDED").to_problem(base)["type"] == expected


@pytest.mark.usefixtures("problem_type_base")
def test_problem_type_base_default_is_configurable() -> None:
    BusinessException.problem_type_base = "https://example.com/p/"
    err = BusinessException("DUPLICATE_RESERVATION")
    assert err.to_problem()["type"] == "https://example.com/p/DUPLICATE_RESERVATION"
    assert err.to_problem()["title"] == err.message
    assert err.to_problem("about:blank")["type"] == "about:blank"
    assert err.to_problem("about:blank")["title"] == "Conflict"
    assert err.to_problem("https://other/")["type"] == "https://other/DUPLICATE_RESERVATION"


def test_problem_follows_status_override_and_copies_details() -> None:
    err = BusinessException("CAPACITY_EXCEEDED", details={"requested": 2}, http_status=429)
    problem = err.to_problem()
    assert (problem["status"], problem["title"]) == (429, "Too Many Requests")
    problem["details"]["requested"] = 99
    assert err.details == {"requested": 2}
    unregistered = BusinessException("CAPACITY_EXCEEDED", http_status=499).to_problem()
    assert (unregistered["status"], unregistered["title"]) == (499, err.message)
