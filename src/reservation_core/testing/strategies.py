"""Hypothesis strategies for the arguments of :class:`~reservation_core.ReservationService`.

Each ``valid_*`` strategy yields only values the service must accept; each ``invalid_*``
strategy only values it must refuse with ``VALIDATION_ERROR``. Reuse them to probe your own
wrappers (a web handler, a task) with the same edge cases the library is tested with.

Examples:
    >>> from hypothesis import given
    >>> from reservation_core import BusinessException, ErrorCode
    >>> @given(schedule_id=invalid_ids())
    ... def test_refuses_bad_ids(schedule_id: object) -> None:
    ...     try:
    ...         service.create_schedule(schedule_id, 1)  # your service
    ...     except BusinessException as exc:
    ...         assert exc.code is ErrorCode.VALIDATION_ERROR
"""

from __future__ import annotations

from datetime import timedelta

from hypothesis import strategies as st

from reservation_core.domain._validation import MAX_COUNT, MAX_ID_LENGTH

__all__ = [
    "MAX_COUNT",
    "MAX_ID_LENGTH",
    "invalid_capacities",
    "invalid_hold_durations",
    "invalid_ids",
    "invalid_quantities",
    "valid_capacities",
    "valid_ids",
    "valid_quantities",
]

#: Any character an identifier may hold: all of Unicode but control characters (Cc) and
#: surrogates (Cs), astral (4-byte UTF-8) code points included.
_ID_CHARACTERS = st.characters(codec=None, exclude_categories=("Cc", "Cs"))
_ASTRAL_CHARACTERS = st.characters(
    codec=None, min_codepoint=0x10000, exclude_categories=("Cc", "Cs")
)
_CONTROL_CHARACTERS = st.characters(codec=None, categories=["Cc"])
_SURROGATES = st.characters(codec=None, categories=["Cs"])
# Ids that differ only where MariaDB's default collations (and careless code) see no
# difference: case, trailing spaces, accents, normalization forms.
_LOOKALIKES = ("a", "A", "a ", " a", "á", "a\u0301", "ß", "ss", "\U0001f600")


def valid_ids(*, max_size: int = MAX_ID_LENGTH) -> st.SearchStrategy[str]:
    """Identifiers the service accepts: non-empty ``str`` of at most ``max_size`` characters.

    Leans on the edges: exactly ``max_size`` characters, 4-byte UTF-8 characters, and short
    lookalikes (``"a"``, ``"A"``, ``"a "``, ...) that must stay distinct ids.

    Args:
        max_size: the longest id to yield, 1 to 64 (less leaves room for a prefix).
    """
    if not 1 <= max_size <= MAX_ID_LENGTH:
        raise ValueError(f"max_size must be within 1..{MAX_ID_LENGTH}")
    return st.one_of(
        st.sampled_from([s for s in _LOOKALIKES if len(s) <= max_size]),
        st.text(_ID_CHARACTERS, min_size=1, max_size=max_size),
        st.text(_ID_CHARACTERS, min_size=max_size, max_size=max_size),
        st.text(_ASTRAL_CHARACTERS, min_size=1, max_size=max_size),
    )


def _with_one(bad: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Short valid text with one ``bad`` character somewhere in it."""
    text = st.text(_ID_CHARACTERS, max_size=10)
    return st.tuples(text, bad, text).map("".join)


def invalid_ids() -> st.SearchStrategy[object]:
    """Values every identifier argument refuses with ``VALIDATION_ERROR``.

    The empty string, strings of 65 or more characters, strings holding a control
    character or a lone surrogate, and values that are not ``str`` (``bytes``, ``int``,
    ``bool``, ``float``, a list). Never ``None``: optional ids (``user_id=`` on cancel,
    ``idempotency_key=``) take it to mean "absent"; required ids refuse it.
    """
    return st.one_of(
        st.just(""),
        st.text(_ID_CHARACTERS, min_size=MAX_ID_LENGTH + 1, max_size=MAX_ID_LENGTH + 16),
        _with_one(_CONTROL_CHARACTERS),
        _with_one(_SURROGATES),
        st.binary(min_size=1, max_size=8),
        st.integers(),
        st.booleans(),
        st.floats(allow_nan=False),
        st.lists(st.text(max_size=3), max_size=2),
    )


def valid_capacities() -> st.SearchStrategy[int]:
    """Capacities the service accepts: ``int`` within ``0..2**31-1``, edges favoured."""
    return st.one_of(st.sampled_from([0, 1, MAX_COUNT - 1, MAX_COUNT]), st.integers(0, MAX_COUNT))


def valid_quantities() -> st.SearchStrategy[int]:
    """Quantities the service accepts: ``int`` within ``1..2**31-1``, edges favoured."""
    return st.one_of(st.sampled_from([1, 2, MAX_COUNT]), st.integers(1, MAX_COUNT))


def _invalid_counts(minimum: int) -> st.SearchStrategy[object]:
    return st.one_of(
        st.booleans(),
        st.none(),
        st.integers(max_value=minimum - 1),
        st.integers(min_value=MAX_COUNT + 1),
        st.sampled_from([-(2**31), -(2**63), 2**31, 2**63]),
        st.floats(min_value=minimum, max_value=MAX_COUNT),
        st.integers(minimum, 9).map(str),
    )


def invalid_capacities() -> st.SearchStrategy[object]:
    """Capacities refused with ``VALIDATION_ERROR``.

    ``bool`` (not an ``int`` here), ``None``, negative numbers, numbers above ``2**31-1``
    (what a 32-bit column cannot store), whole floats and numeric strings.
    """
    return _invalid_counts(0)


def invalid_quantities() -> st.SearchStrategy[object]:
    """Quantities refused with ``VALIDATION_ERROR``: as :func:`invalid_capacities`, and ``0``."""
    return _invalid_counts(1)


def invalid_hold_durations() -> st.SearchStrategy[object]:
    """``hold_for`` values refused with ``VALIDATION_ERROR``.

    Zero, negative and over-long (above 365 days, up to ``timedelta.max``) durations, and
    what is not a ``timedelta`` at all: numbers of seconds, ``None``, ``bool``, strings.
    """
    return st.one_of(
        st.just(timedelta(0)),
        st.timedeltas(max_value=timedelta(0)),
        st.timedeltas(min_value=timedelta(days=365, microseconds=1)),
        st.just(timedelta.max),
        st.integers(),
        st.floats(allow_nan=False),
        st.none(),
        st.booleans(),
        st.sampled_from(["PT10M", "600"]),
    )
