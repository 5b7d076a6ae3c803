-- The outbox takes two more kinds of message: `sms` (a text to a mobile number, e.g. a buyer's
-- sign-in code, through the SMS adapter) and `refund` (a refund request to the payment
-- provider). SQLite cannot change a CHECK constraint in place, so the table is rebuilt with the
-- same columns, rows and indexes.
CREATE TABLE outbox_next (
    tenant_id       TEXT    NOT NULL REFERENCES tenants (id),
    id              TEXT    NOT NULL,
    kind            TEXT    NOT NULL CHECK (kind IN ('notify', 'event', 'hook', 'sms', 'refund')),
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
INSERT INTO outbox_next (tenant_id, id, kind, name, recipient, subject_type, subject_id, payload,
                         status, attempts, next_attempt_at, last_error, created_at, delivered_at)
    SELECT tenant_id, id, kind, name, recipient, subject_type, subject_id, payload,
           status, attempts, next_attempt_at, last_error, created_at, delivered_at
    FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_next RENAME TO outbox;
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX outbox_subject ON outbox (tenant_id, subject_type, subject_id);
-- Rate limits count a recipient's recent messages (sign-in codes per number and hour).
CREATE INDEX outbox_recipient ON outbox (tenant_id, recipient, created_at);
