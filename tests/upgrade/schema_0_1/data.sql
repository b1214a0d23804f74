-- A database as reservation_core 0.1 left it: the version stamp of its head revision and
-- rows written the way 0.1 wrote them (timestamps in UTC, with microseconds). Portable
-- across SQLite, PostgreSQL and MariaDB. Frozen: never edit.

CREATE TABLE rc_alembic_version (
    version_num VARCHAR(32) NOT NULL,
    CONSTRAINT rc_alembic_version_pkc PRIMARY KEY (version_num)
);

INSERT INTO rc_alembic_version (version_num) VALUES ('0002_rc_idempotency_keys');

-- yoga-monday-0900: alice 2 + bob 1 confirmed, carol cancelled, dave refunded.
-- sold-out: every seat taken. "a", "A" and "a ": three schedules. An astral id.
INSERT INTO rc_schedules (id, capacity, reserved) VALUES
    ('yoga-monday-0900', 10, 3),
    ('sold-out', 2, 2),
    ('a', 5, 0),
    ('A', 6, 0),
    ('a ', 7, 0),
    ('café-☕-😀', 1, 1);

INSERT INTO rc_reservations (id, schedule_id, user_id, quantity, status, created_at, updated_at) VALUES
    ('00000000-0000-4000-8000-000000000001', 'yoga-monday-0900', 'alice', 2, 'CONFIRMED',
     '2026-01-01 12:00:00.000001', '2026-01-01 12:00:00.000001'),
    ('00000000-0000-4000-8000-000000000002', 'yoga-monday-0900', 'bob', 1, 'CONFIRMED',
     '2026-01-01 12:00:01.250000', '2026-01-01 12:00:01.250000'),
    ('00000000-0000-4000-8000-000000000003', 'yoga-monday-0900', 'carol', 4, 'CANCELLED',
     '2026-01-01 12:01:00.000000', '2026-01-01 12:05:30.999999'),
    ('00000000-0000-4000-8000-000000000004', 'yoga-monday-0900', 'dave', 1, 'REFUNDED',
     '2026-01-01 12:02:00.000000', '2026-01-01 12:10:00.000000'),
    ('00000000-0000-4000-8000-000000000005', 'sold-out', 'erin', 2, 'CONFIRMED',
     '2026-01-01 12:03:00.000000', '2026-01-01 12:03:00.000000'),
    ('00000000-0000-4000-8000-000000000006', 'café-☕-😀', 'zoë-😀', 1, 'CONFIRMED',
     '2026-01-01 12:04:00.000000', '2026-01-01 12:04:00.000000');

-- alice booked with idempotency key checkout-7f3a; the fingerprint is
-- sha256("yoga-monday-0900" NUL "2"). Values by position: "key" is a reserved word.
INSERT INTO rc_idempotency_keys VALUES
    ('alice', 'checkout-7f3a', '5f3ddab60a58b3a123576873ac1ed5a25dc286df21e89900587cb2a227f723fd',
     '00000000-0000-4000-8000-000000000001', '2026-01-01 12:00:00.000001');
