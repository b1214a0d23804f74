"""A booking storm with a database failover in the middle, and the checks that follow it.

Threads book with idempotency keys, and cancel or refund some of what they booked, through
services that live for the whole run (no client restarts). Mid-run ``kill`` takes the
database's writable member away; the storm goes on until the cluster serves writes again.
Then every call whose outcome the failover left unknown is resolved the way a client
would (the same call again: the same idempotency key for a booking), and the survivors
are checked on the cluster: every acknowledged booking with its status, a clean audit,
and one reservation per idempotency key.
"""

from __future__ import annotations

import collections
import dataclasses
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from sqlalchemy import Engine, func, select

from reservation_core import BusinessException, ErrorCode, ReservationService, ReservationStatus
from reservation_core.adapters.sqlalchemy import audit, idempotency_keys, reservations

#: Calls a client repeats after a failover: (kind, reservation id or schedule id, user, key).
Call = tuple[str, str, str, str]
_MOVES = {"cancel": ReservationStatus.CANCELLED, "refund": ReservationStatus.REFUNDED}
#: What a client meets in a failover and repeats the call on: the database was unreachable
#: (the outcome perhaps unknown), or, on Galera, write sets of clients that moved to
#: another node kept failing certification (nothing was written).
_REPEATABLE = {ErrorCode.STORAGE_UNAVAILABLE, ErrorCode.CONCURRENCY_CONFLICT}
_ALREADY = {
    "cancel": ErrorCode.RESERVATION_ALREADY_CANCELLED,
    "refund": ErrorCode.ALREADY_REFUNDED,
}


@dataclasses.dataclass
class Ledger:
    """What the clients were told, shared by the storm's threads."""

    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)
    #: reservation id -> the status the clients were last told it has.
    acknowledged: dict[str, ReservationStatus] = dataclasses.field(default_factory=dict)
    #: user -> the reservation its keyed booking was acknowledged as.
    booked_by: dict[str, str] = dataclasses.field(default_factory=dict)
    #: calls that failed with STORAGE_UNAVAILABLE, to repeat once the cluster serves.
    to_resolve: list[Call] = dataclasses.field(default_factory=list)
    errors: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)
    unexpected: list[str] = dataclasses.field(default_factory=list)
    killed_at: float | None = None
    #: when the cluster had taken the loss in (a new primary; a smaller Galera view).
    failed_over_at: float | None = None
    #: the first and the last failure after the kill (when each call ended).
    outage_began: float | None = None
    outage_ended: float | None = None
    #: when the first call begun after the first failure succeeded.
    recovered_at: float | None = None
    #: successes of calls begun after the fail-over, per client group (service).
    served_after_failover: collections.Counter[int] = dataclasses.field(
        default_factory=collections.Counter
    )


@dataclasses.dataclass(frozen=True)
class Findings:
    """The storm's outcome, as checked on the cluster after it."""

    acknowledged: int
    lost: list[str]
    wrong_status: list[str]
    duplicates: list[str]
    audit_consistent: bool
    errors: dict[str, int]
    resolved: dict[str, int]
    failover_seconds: float | None
    recovery_seconds: float | None
    last_error_seconds: float | None
    served_after_failover: dict[int, int]
    unexpected: list[str]

    def summary(self) -> dict[str, object]:
        """The figures to report."""
        return {
            "acknowledged": self.acknowledged,
            "lost": len(self.lost),
            "wrong_status": len(self.wrong_status),
            "unexpected": len(self.unexpected),
            "duplicates": len(self.duplicates),
            "audit_consistent": self.audit_consistent,
            "errors": self.errors,
            "resolved_after_failover": self.resolved,
            "failover_seconds": self.failover_seconds,
            "recovery_seconds": self.recovery_seconds,
            "last_error_seconds": self.last_error_seconds,
            "served_after_failover_by_client_group": self.served_after_failover,
        }


def _error_label(error: BusinessException) -> str:
    if error.code is ErrorCode.STORAGE_UNAVAILABLE:
        detail = "outcome=unknown" if error.details.get("outcome") == "unknown" else "not written"
        return f"STORAGE_UNAVAILABLE ({detail})"
    return str(error.code)


class Storm:
    """``threads`` clients; client ``n`` uses ``services[n % len(services)]``."""

    def __init__(
        self, services: Sequence[ReservationService], schedule_ids: Sequence[str], run_id: str
    ) -> None:
        self.services = services
        self.schedule_ids = schedule_ids
        self.run_id = run_id
        self.ledger = Ledger()
        self.stop = threading.Event()

    # -- the clients ---------------------------------------------------------------------

    def _client(self, n: int, barrier: threading.Barrier, limit: int) -> None:
        group = n % len(self.services)
        service = self.services[group]
        ledger = self.ledger
        barrier.wait()
        for i in range(limit):
            if self.stop.is_set():
                return
            user, key = f"{self.run_id}-u{n}-{i}", f"k{i}"
            schedule_id = self.schedule_ids[(n + i) % len(self.schedule_ids)]
            began = time.monotonic()
            try:
                booking = service.create_reservation(schedule_id, user, idempotency_key=key)
            except BusinessException as error:
                self._failed(error, ("book", schedule_id, user, key))
                continue
            with ledger.lock:
                ledger.acknowledged[booking.id] = booking.status
                ledger.booked_by[user] = booking.id
                self._served(group, began)
            move = ("keep", "cancel", "keep", "refund")[i % 4]
            if move != "keep":
                self._move(group, move, booking.id, user)

    def _move(self, group: int, move: str, reservation_id: str, user: str) -> None:
        service = self.services[group]
        began = time.monotonic()
        call = service.cancel_reservation if move == "cancel" else service.refund_reservation
        try:
            moved = call(reservation_id, user_id=user)
        except BusinessException as error:
            self._failed(error, (move, reservation_id, user, ""))
            return
        with self.ledger.lock:
            self.ledger.acknowledged[reservation_id] = moved.status
            self._served(group, began)

    def _served(self, group: int, began: float) -> None:
        ledger = self.ledger  # the caller holds the lock
        outage = ledger.outage_began
        if outage is not None and began > outage and ledger.recovered_at is None:
            ledger.recovered_at = time.monotonic()
        if ledger.failed_over_at is not None and began > ledger.failed_over_at:
            ledger.served_after_failover[group] += 1

    def _failed(self, error: BusinessException, call: Call) -> None:
        ledger = self.ledger
        with ledger.lock:
            ledger.errors[_error_label(error)] += 1
            if ledger.killed_at is not None:
                ledger.outage_ended = time.monotonic()
                if ledger.outage_began is None:
                    ledger.outage_began = ledger.outage_ended
            if error.code in _REPEATABLE:
                ledger.to_resolve.append(call)
            else:
                ledger.unexpected.append(f"{call}: {error.to_dict()}")
        if error.code in _REPEATABLE:
            self.stop.wait(0.05)  # a client's pause before its next call, not a race timer

    # -- the run -------------------------------------------------------------------------

    def run(
        self,
        threads: int,
        kill: Callable[[], object],
        *,
        before_kill: int = 40,
        after_recovery: int = 60,
        bound_seconds: float = 120,
    ) -> None:
        """Book until ``before_kill`` are acknowledged, then ``kill``, which returns once the
        cluster has taken the loss in (a new primary promoted, a smaller Galera view); then
        book until every client group has had ``after_recovery`` calls begun after that
        served; all within ``bound_seconds``."""
        barrier = threading.Barrier(threads + 1)
        workers = [
            threading.Thread(target=self._client, args=(n, barrier, 100_000), daemon=True)
            for n in range(threads)
        ]
        for worker in workers:
            worker.start()
        barrier.wait()
        deadline = time.monotonic() + bound_seconds
        try:
            while len(self.ledger.acknowledged) < before_kill and time.monotonic() < deadline:
                self.stop.wait(0.05)
            assert len(self.ledger.acknowledged) >= before_kill, "the storm did not get going"
            with self.ledger.lock:
                self.ledger.killed_at = time.monotonic()
            kill()
            with self.ledger.lock:
                self.ledger.failed_over_at = time.monotonic()
            served = self.ledger.served_after_failover
            while min(served[group] for group in range(len(self.services))) < after_recovery:
                assert time.monotonic() < deadline, (
                    f"the cluster did not serve again within {bound_seconds}s of the start: "
                    f"{dict(self.ledger.errors)}"
                )
                self.stop.wait(0.05)
        finally:
            self.stop.set()
            for worker in workers:
                worker.join(timeout=60)
        assert not any(worker.is_alive() for worker in workers)

    def resolve(self, service: ReservationService, bound_seconds: float = 60) -> dict[str, int]:
        """Repeat every call the failover interrupted, as the client would, once each.

        A booking is repeated with its idempotency key: it must come back as the one
        reservation that key stands for (the committed one, or a booking made now).
        """
        resolved: collections.Counter[str] = collections.Counter()
        ledger = self.ledger
        deadline = time.monotonic() + bound_seconds
        started = datetime.now(UTC)
        for call in ledger.to_resolve:
            while True:
                try:
                    resolved[self._repeat(service, call, started)] += 1
                    break
                except BusinessException as error:
                    if error.code not in _REPEATABLE:
                        ledger.unexpected.append(f"repeating {call}: {error.to_dict()}")
                        break
                    assert time.monotonic() < deadline, "the cluster stopped serving"
                    time.sleep(0.1)
        return dict(resolved)

    def _repeat(self, service: ReservationService, call: Call, started: datetime) -> str:
        ledger = self.ledger
        kind, target, user, key = call
        if kind == "book":
            booking = service.create_reservation(target, user, idempotency_key=key)
            ledger.acknowledged[booking.id] = booking.status
            ledger.booked_by[user] = booking.id
            # A replay returns the reservation the interrupted call committed.
            return "book (had committed)" if booking.created_at < started else "book"
        call = service.cancel_reservation if kind == "cancel" else service.refund_reservation
        try:
            ledger.acknowledged[target] = call(target, user_id=user).status
        except BusinessException as error:
            if error.code is not _ALREADY[kind]:
                raise
            ledger.acknowledged[target] = _MOVES[kind]  # the interrupted call had committed
            return f"{kind} (had committed)"
        return kind

    # -- the checks ----------------------------------------------------------------------

    def check(self, engine: Engine, resolved: dict[str, int]) -> Findings:
        """Compare what the clients were told with what the cluster holds."""
        ledger = self.ledger
        prefix = f"{self.run_id}-%"
        with engine.connect() as connection:
            stored = dict(
                connection.execute(
                    select(reservations.c.id, reservations.c.status).where(
                        reservations.c.user_id.like(prefix)
                    )
                ).all()
            )
            per_user = connection.execute(
                select(reservations.c.user_id, func.count())
                .where(reservations.c.user_id.like(prefix))
                .group_by(reservations.c.user_id)
                .having(func.count() > 1)
            ).all()
            keys = dict(
                connection.execute(
                    select(idempotency_keys.c.user_id, idempotency_keys.c.reservation_id).where(
                        idempotency_keys.c.user_id.like(prefix)
                    )
                ).all()
            )
        lost = sorted(rid for rid in ledger.acknowledged if rid not in stored)
        wrong = sorted(
            f"{rid}: told {status}, stored {stored[rid]}"
            for rid, status in ledger.acknowledged.items()
            if rid in stored and stored[rid] != status
        )
        duplicates = [f"{user}: {count} reservations" for user, count in per_user]
        duplicates += [  # a key standing for another reservation than the one acknowledged
            f"{user}: key -> {keys[user]}, acknowledged {rid}"
            for user, rid in ledger.booked_by.items()
            if user in keys and keys[user] != rid
        ]
        report = audit(engine, schedule_ids=self.schedule_ids)

        def since_kill(moment: float | None) -> float | None:
            if moment is None or ledger.killed_at is None:
                return None
            return round(moment - ledger.killed_at, 2)

        return Findings(
            acknowledged=len(ledger.acknowledged),
            lost=lost,
            wrong_status=wrong,
            duplicates=duplicates,
            audit_consistent=report.consistent,
            errors=dict(ledger.errors),
            resolved=resolved,
            failover_seconds=since_kill(ledger.failed_over_at),
            recovery_seconds=since_kill(ledger.recovered_at),
            last_error_seconds=since_kill(ledger.outage_ended),
            served_after_failover=dict(ledger.served_after_failover),
            unexpected=list(ledger.unexpected),
        )
