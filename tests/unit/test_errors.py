from __future__ import annotations

import pickle

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
    assert reservation_core.__version__ == "0.1.0.dev0"
