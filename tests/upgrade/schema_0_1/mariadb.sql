-- reservation_core 0.1 on mariadb: what revisions 0001_rc_schedules and
-- 0002_rc_idempotency_keys (the head of 0.1) create, as Alembic renders them.
-- Frozen: never edit. tests/upgrade/test_upgrade_from_0_1.py checks that the shipped
-- revisions still create exactly this; a schema change is a new revision.

CREATE TABLE rc_schedules (
    id VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL,
    capacity INTEGER NOT NULL,
    reserved INTEGER NOT NULL DEFAULT '0',
    CONSTRAINT pk_rc_schedules PRIMARY KEY (id),
    CONSTRAINT ck_rc_schedules_ck_rc_schedules_capacity CHECK (capacity >= 0),
    CONSTRAINT ck_rc_schedules_ck_rc_schedules_reserved CHECK (reserved >= 0 AND reserved <= capacity)
)ENGINE=InnoDB CHARSET=utf8mb4;

CREATE TABLE rc_reservations (
    id VARCHAR(36) NOT NULL,
    schedule_id VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL,
    user_id VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL,
    quantity INTEGER NOT NULL,
    status VARCHAR(16) NOT NULL,
    created_at DATETIME(6) NOT NULL,
    updated_at DATETIME(6) NOT NULL,
    confirmed_user_id VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin GENERATED ALWAYS AS (CASE WHEN status = 'CONFIRMED' THEN user_id END) STORED,
    CONSTRAINT pk_rc_reservations PRIMARY KEY (id),
    CONSTRAINT ck_rc_reservations_ck_rc_reservations_quantity CHECK (quantity >= 1),
    CONSTRAINT ck_rc_reservations_ck_rc_reservations_status CHECK (status IN ('CONFIRMED', 'CANCELLED', 'REFUNDED')),
    CONSTRAINT fk_rc_reservations_schedule_id_rc_schedules FOREIGN KEY(schedule_id) REFERENCES rc_schedules (id)
)ENGINE=InnoDB CHARSET=utf8mb4;

CREATE INDEX ix_rc_reservations_schedule_id_status ON rc_reservations (schedule_id, status);

CREATE UNIQUE INDEX uq_rc_reservations_confirmed_user ON rc_reservations (schedule_id, confirmed_user_id);

CREATE TABLE rc_idempotency_keys (
    user_id VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL,
    `key` VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL,
    fingerprint VARCHAR(64) NOT NULL,
    reservation_id VARCHAR(36) NOT NULL,
    created_at DATETIME(6) NOT NULL,
    CONSTRAINT pk_rc_idempotency_keys PRIMARY KEY (user_id, `key`)
)ENGINE=InnoDB CHARSET=utf8mb4;

CREATE INDEX ix_rc_idempotency_keys_created_at ON rc_idempotency_keys (created_at);
