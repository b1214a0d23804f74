"""The rounds both scale-out suites run through a :class:`~tests.scaleout.fleet.Fleet`."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

from sqlalchemy import Engine

from reservation_core import ReservationService
from reservation_core.adapters.sqlalchemy import SqlAlchemyUnitOfWork
from tests.backends import sql_backend
from tests.cli.conftest import run_cli
from tests.scaleout.fleet import STORM_ANSWERS, Fleet, Round

HOT_ROUNDS = 20
STORM_ROUNDS = 3


def hot_rounds(
    fleet: Fleet, checkers: Sequence[Engine], new_id: Callable[[str], str]
) -> list[Round]:
    """20 rounds of every client at once for 10 seats: exactly 10 each time, no give-up.

    Every node (each engine of ``checkers``) must agree on the count afterwards.
    """
    service = ReservationService(lambda: SqlAlchemyUnitOfWork(checkers[0]))
    rounds = []
    for number in range(HOT_ROUNDS):
        sid = new_id("hot")
        service.create_schedule(sid, 10)
        result = fleet.book(sid)
        clients = len(result.calls)
        assert result.outcomes == {"ok": 10, "CAPACITY_EXCEEDED": clients - 10}, (
            number,
            result.outcomes,
        )
        for engine in checkers:
            tally = sql_backend("node", engine).tally(sid)
            assert (tally.reserved, tally.confirmed_count, tally.consistent) == (10, 10, True)
        rounds.append(result)
    return rounds


def storm_rounds(
    fleet: Fleet, checkers: Sequence[Engine], new_id: Callable[[str], str]
) -> list[Round]:
    """Mixed calls from every client on three small schedules; the invariant on every node."""
    service = ReservationService(lambda: SqlAlchemyUnitOfWork(checkers[0]))
    rounds = []
    for number in range(STORM_ROUNDS):
        schedules = [new_id("storm") for _ in range(3)]
        for sid in schedules:
            service.create_schedule(sid, 8)
        seeded = [
            service.create_reservation(sid, f"seed-{n}").id for sid in schedules for n in range(4)
        ]
        result = fleet.storm(schedules, seeded, seed=number, operations=4)
        assert set(result.outcomes) <= STORM_ANSWERS, result.outcomes
        assert result.outcomes["ok"] > 0, result.outcomes
        for engine in checkers:
            for sid in schedules:
                tally = sql_backend("node", engine).tally(sid)
                assert tally.consistent, (number, sid, tally)
        rounds.append(result)
    return rounds


def audit_is_clean(url: str) -> None:
    """``reservation-core audit --url URL`` as an operator runs it: exit 0, consistent."""
    result = run_cli("audit", "--url", url, "--json")
    assert result.returncode == 0, (result.stdout, result.stderr)
    report = json.loads(result.stdout)
    assert report["consistent"] is True, report


def summary(name: str, rounds: Sequence[Round], **extra: object) -> str:
    """One line for the log (``pytest -rP``) and docs/scale-out.md."""
    retries = [r.retries for r in rounds]
    return (
        f"{name}: {len(rounds)} rounds x {len(rounds[0].calls)} calls; "
        f"give-ups {sum(r.give_ups for r in rounds)}; retries per round "
        f"min {min(retries)} max {max(retries)} total {sum(retries)}; "
        f"most attempts by one call {max(r.max_attempts for r in rounds)}"
        + "".join(f"; {key} {value}" for key, value in extra.items())
    )
