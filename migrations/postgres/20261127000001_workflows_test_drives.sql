-- Workflows: tenant definitions as immutable versions, running instances pinned to the version
-- they started on, their full history, durable timers and the transactional outbox.

-- Every publish of a workflow is a new immutable version; `status` moves published → deprecated
-- (a deprecated version starts no new instances; running ones keep it).
CREATE TABLE workflow_versions (
    tenant_id       TEXT    NOT NULL REFERENCES tenants (id),
    workflow_id     TEXT    NOT NULL,
    version         BIGINT  NOT NULL,
    subject_type    TEXT    NOT NULL,
    hash            TEXT    NOT NULL,
    source          TEXT    NOT NULL,
    status          TEXT    NOT NULL CHECK (status IN ('published', 'deprecated')),
    published_by    TEXT    NOT NULL,
    published_at    BIGINT  NOT NULL,
    PRIMARY KEY (tenant_id, workflow_id, version)
);

-- One running (or ended) workflow instance. `version` is the optimistic-concurrency counter;
-- `body` holds the engine's instance (approvals so far, subject) as JSON; `store_code` is the
-- subject's store, for scope filters.
CREATE TABLE workflow_instances (
    tenant_id       TEXT    NOT NULL REFERENCES tenants (id),
    id              TEXT    NOT NULL,
    workflow_id     TEXT    NOT NULL,
    workflow_version BIGINT NOT NULL,
    subject_type    TEXT    NOT NULL,
    subject_id      TEXT    NOT NULL,
    store_code      TEXT,
    state           TEXT    NOT NULL,
    version         BIGINT  NOT NULL,
    ended           BIGINT  NOT NULL DEFAULT 0,
    body            TEXT    NOT NULL,
    created_at      BIGINT  NOT NULL,
    updated_at      BIGINT  NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, subject_type, subject_id),
    FOREIGN KEY (tenant_id, workflow_id, workflow_version)
        REFERENCES workflow_versions (tenant_id, workflow_id, version)
);
CREATE INDEX workflow_instances_open ON workflow_instances (tenant_id, ended, store_code);

-- Who did what, when: one row per accepted command (start, transition, approval, escalation,
-- migration).
CREATE TABLE workflow_history (
    tenant_id       TEXT    NOT NULL,
    instance_id     TEXT    NOT NULL,
    seq             BIGINT  NOT NULL,
    kind            TEXT    NOT NULL,
    transition      TEXT,
    timer           TEXT,
    from_state      TEXT,
    to_state        TEXT    NOT NULL,
    actor_id        TEXT    NOT NULL,
    actor_name      TEXT    NOT NULL,
    input           TEXT    NOT NULL,
    at              BIGINT  NOT NULL,
    PRIMARY KEY (tenant_id, instance_id, seq),
    FOREIGN KEY (tenant_id, instance_id) REFERENCES workflow_instances (tenant_id, id)
);

-- Durable timers. Armed when an instance enters a state, cancelled when it leaves; the
-- scheduler claims a due one (pending → fired) in the same transaction that applies it, so each
-- fires exactly once whatever the number of nodes.
CREATE TABLE workflow_timers (
    tenant_id       TEXT    NOT NULL,
    instance_id     TEXT    NOT NULL,
    timer           TEXT    NOT NULL,
    epoch           BIGINT  NOT NULL,
    due_at          BIGINT  NOT NULL,
    status          TEXT    NOT NULL CHECK (status IN ('pending', 'fired', 'cancelled', 'stale')),
    fired_by        TEXT,
    fired_at        BIGINT,
    PRIMARY KEY (tenant_id, instance_id, timer, epoch),
    FOREIGN KEY (tenant_id, instance_id) REFERENCES workflow_instances (tenant_id, id)
);
CREATE INDEX workflow_timers_due ON workflow_timers (status, due_at);

-- The transactional outbox: side effects leaving the process (notifications, events, hooks),
-- written in the same transaction as the change that causes them and delivered by the relay
-- with retries and dead-lettering. `recipient` is a reference (`buyer:<booking>`,
-- `role:<code>@<store>`), never contact data.
CREATE TABLE outbox (
    tenant_id       TEXT    NOT NULL REFERENCES tenants (id),
    id              TEXT    NOT NULL,
    kind            TEXT    NOT NULL CHECK (kind IN ('notify', 'event', 'hook')),
    name            TEXT    NOT NULL,
    recipient       TEXT,
    subject_type    TEXT,
    subject_id      TEXT,
    payload         TEXT    NOT NULL,
    status          TEXT    NOT NULL CHECK (status IN ('pending', 'delivered', 'dead')),
    attempts        BIGINT  NOT NULL DEFAULT 0,
    next_attempt_at BIGINT  NOT NULL,
    last_error      TEXT,
    created_at      BIGINT  NOT NULL,
    delivered_at    BIGINT,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX outbox_subject ON outbox (tenant_id, subject_type, subject_id);

-- Test drives: a buyer's booking of a demo vehicle for one slot. The booking's lifecycle is
-- the tenant's `test_drive_review` workflow instance (subject_type `test_drive_booking`).
CREATE TABLE test_drive_bookings (
    tenant_id       TEXT    NOT NULL REFERENCES tenants (id),
    id              TEXT    NOT NULL,
    code            TEXT    NOT NULL,
    store_code      TEXT    NOT NULL,
    model_code      TEXT    NOT NULL,
    vehicle_id      TEXT    NOT NULL,
    slot_start      BIGINT  NOT NULL,
    slot_end        BIGINT  NOT NULL,
    contact_name    TEXT    NOT NULL,
    contact_mobile  TEXT    NOT NULL,
    notes           TEXT,
    locale          TEXT    NOT NULL,
    created_at      BIGINT  NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, code),
    FOREIGN KEY (tenant_id, store_code) REFERENCES org_units (tenant_id, code)
);
CREATE INDEX test_drive_bookings_store ON test_drive_bookings (tenant_id, store_code, slot_start);

-- A demo vehicle held for one slot. The primary key is the no-double-booking rule; a row is
-- removed when its booking ends or moves.
CREATE TABLE test_drive_holds (
    tenant_id       TEXT    NOT NULL,
    vehicle_id      TEXT    NOT NULL,
    slot_start      BIGINT  NOT NULL,
    booking_id      TEXT    NOT NULL,
    PRIMARY KEY (tenant_id, vehicle_id, slot_start),
    FOREIGN KEY (tenant_id, booking_id) REFERENCES test_drive_bookings (tenant_id, id)
);

-- Row-level security on every new table. The scheduler and the outbox relay scan due rows of
-- all tenants (ids and times only) with `forecourt.scheduler = 'scan'` set for their
-- transaction; everything else they touch goes through a tenant-bound transaction.
DO $$
DECLARE t TEXT;
BEGIN
    FOREACH t IN ARRAY ARRAY['workflow_versions', 'workflow_instances', 'workflow_history',
                             'workflow_timers', 'outbox', 'test_drive_bookings', 'test_drive_holds']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY tenant_isolation ON %I USING (tenant_id = current_setting(''forecourt.tenant_id'', true)) '
            'WITH CHECK (tenant_id = current_setting(''forecourt.tenant_id'', true))', t);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO forecourt_app', t);
    END LOOP;
END $$;

CREATE POLICY scheduler_scan ON workflow_timers FOR SELECT
    USING (current_setting('forecourt.scheduler', true) = 'scan');
CREATE POLICY scheduler_scan ON outbox FOR SELECT
    USING (current_setting('forecourt.scheduler', true) = 'scan');
