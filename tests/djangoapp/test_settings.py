"""``get_service()`` is built from ``RESERVATION_CORE``, once per alias."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from reservation_core import BusinessException, ErrorCode
from reservation_core.contrib.django import get_service


def test_one_service_per_alias_rebuilt_when_the_setting_changes() -> None:
    assert get_service() is get_service("default")
    with override_settings(RESERVATION_CORE={"DATABASE": "default", "MAX_ATTEMPTS": 3}):
        changed = get_service()
        assert changed is get_service()
        assert changed._retry._max_attempts == 3
    assert get_service()._retry._max_attempts != 3


def test_the_ttl_is_seconds_or_a_timedelta() -> None:
    for ttl in (60, timedelta(seconds=60)):
        with override_settings(RESERVATION_CORE={"IDEMPOTENCY_TTL": ttl}):
            assert get_service()._cases._idempotency_ttl == timedelta(seconds=60)


def test_an_unknown_key_is_a_configuration_error() -> None:
    with (
        override_settings(RESERVATION_CORE={"IDEMPOTENCY_TTL_HOURS": 1}),
        pytest.raises(ImproperlyConfigured, match="IDEMPOTENCY_TTL_HOURS"),
    ):
        get_service()


def test_an_unknown_alias_is_refused_plainly() -> None:
    with pytest.raises(BusinessException) as info:
        get_service("nowhere").get_schedule("s")
    assert info.value.code is ErrorCode.STORAGE_UNAVAILABLE
    assert info.value.details == {"reason": "unknown_alias", "alias": "nowhere"}
    assert isinstance(info.value, ValueError)  # a wiring mistake, for the code that wires
    assert "'nowhere'" in info.value.message
