"""The machine's argument vocabulary: what it draws for each parameter (private).

Mostly valid arguments, so that most calls get past validation, and about one draw in
eight an invalid or unknown one. Ids are drawn as suffixes that the machine prefixes.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

from hypothesis import strategies as st

from reservation_core.domain import ReservationStatus
from reservation_core.testing.strategies import (
    MAX_ID_LENGTH,
    invalid_capacities,
    invalid_hold_durations,
    invalid_ids,
    invalid_quantities,
    valid_capacities,
    valid_ids,
    valid_quantities,
)

# Every id the machine makes starts with a prefix fresh to the machine instance, so runs can
# share a database that is never reset. 10 hex digits and a colon; the rest is drawn.
PREFIX_LENGTH = 11
TAIL = MAX_ID_LENGTH - PREFIX_LENGTH


@dataclasses.dataclass(frozen=True)
class Exact:
    """An argument passed to the service as it is (often an invalid one)."""

    value: object


@dataclasses.dataclass(frozen=True)
class Known:
    """The ``index``-th schedule or reservation the model knows (modulo how many there are)."""

    index: int


@dataclasses.dataclass(frozen=True)
class Pool:
    """The ``index``-th schedule without pools (one that may be a pool), modulo their number."""

    index: int


@dataclasses.dataclass(frozen=True)
class Owner:
    """The user who owns the reservation acted on."""


#: An argument as drawn: a ``str`` is an id suffix (the machine prefixes it), ``None`` an
#: absent optional id; the classes above say the rest.
Ref = str | Exact | Known | Owner | None


@dataclasses.dataclass(frozen=True)
class Line:
    """An order line as drawn: its schedule and its quantity.

    A ``Known`` schedule is one that no earlier line of the order took, while any is left.
    """

    schedule: Ref
    quantity: object


@dataclasses.dataclass(frozen=True)
class Span:
    """A valid ``hold_for`` of ``n`` units: minutes on the machine's clock, else hours."""

    n: int


class FakeClock:
    """The service's clock in a run: starts now, moves only when the machine says."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


def rarely(usual: st.SearchStrategy[Any], rare: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``rare`` about one draw in eight, else ``usual``: most calls should get past validation."""
    return st.integers(0, 7).flatmap(lambda n: rare if n == 7 else usual)


INVALID_REQUIRED_ID = st.one_of(st.none(), invalid_ids()).map(Exact)
NEW_TAIL = valid_ids(max_size=TAIL)
SCHEDULE_TAILS = st.sampled_from(["a", "A", "a ", "\U0001f600"])
SCHEDULE = rarely(
    st.integers(0, 7).map(Known), st.one_of(SCHEDULE_TAILS, NEW_TAIL, INVALID_REQUIRED_ID)
)
NEW_SCHEDULE = rarely(SCHEDULE_TAILS, st.one_of(NEW_TAIL, INVALID_REQUIRED_ID))
USER = rarely(
    st.sampled_from(["alice", "Alice", "alice ", "bob"]),
    st.one_of(NEW_TAIL, INVALID_REQUIRED_ID),
)
AS_USER = rarely(st.sampled_from([None, Owner()]), USER)
KEY = st.one_of(
    st.none(),
    rarely(st.sampled_from(["k1", "K1", "k2"]), st.one_of(NEW_TAIL, invalid_ids().map(Exact))),
)
_UNKNOWN_ID = st.one_of(
    st.uuids().map(str),  # well-formed but unknown
    valid_ids(),  # not even a UUID: a UUID-typed column must still answer "not found"
    st.none(),
    invalid_ids(),
).map(Exact)
RESERVATION = rarely(st.integers(0, 31).map(Known), _UNKNOWN_ID)
CAPACITY = rarely(st.integers(0, 8), st.one_of(valid_capacities(), invalid_capacities()))
QUANTITY = rarely(st.integers(1, 2), st.one_of(valid_quantities(), invalid_quantities()))
HOLD_FOR = rarely(st.integers(1, 30).map(Span), invalid_hold_durations().map(Exact))
STATUS = st.one_of(st.none(), st.sampled_from(list(ReservationStatus)))

#: A schedule's pools: usually none, or one or two schedules that may be pools; rarely a
#: schedule with pools, an unknown or invalid id, a repeat, too many, or not a list.
POOLS = rarely(
    st.one_of(st.just([]), st.lists(st.integers(0, 7).map(Pool), min_size=1, max_size=2)),
    st.one_of(
        st.lists(st.one_of(st.integers(0, 7).map(Known), SCHEDULE_TAILS, NEW_TAIL), max_size=3),
        st.lists(st.integers(0, 7).map(Pool), min_size=1, max_size=1).map(lambda p: p + p),
        st.lists(INVALID_REQUIRED_ID, min_size=1, max_size=2),
        st.lists(NEW_TAIL, min_size=9, max_size=9, unique=True),
        st.sampled_from([Exact("pool"), Exact(None), Exact(7)]),
    ),
)
_LINE = st.builds(Line, st.integers(0, 7).map(Known), st.integers(1, 2))
#: An order's lines: usually 1 to 3 on distinct known schedules; rarely an unknown or
#: invalid schedule or quantity, a repeated schedule, or no list of lines at all.
LINES = rarely(
    st.lists(_LINE, min_size=1, max_size=3),
    st.one_of(
        st.lists(st.builds(Line, SCHEDULE, QUANTITY), min_size=1, max_size=3),
        st.lists(_LINE, min_size=1, max_size=2).map(lambda lines: [*lines, lines[0]]),
        st.sampled_from([Exact([]), Exact(()), Exact(None), Exact("abc"), Exact([("a", 1)])]),
    ),
)
ORDER = rarely(st.integers(0, 15).map(Known), _UNKNOWN_ID)
ORDER_HOLD_FOR = st.one_of(st.none(), HOLD_FOR)
ENTRY = rarely(st.integers(0, 7).map(Known), _UNKNOWN_ID)
#: A waiting list's ``offer_for``: minutes (hours on the real clock), rarely an invalid one.
OFFER_FOR = HOLD_FOR
