-- Saved configurations: a buyer's build under a short, unguessable code that can be shared.
-- The build is stored as requested (trim + selections) and as resolved at save time (so the
-- shared link shows what the buyer saw, even after the catalog changes).
CREATE TABLE saved_configurations (
    tenant_id       TEXT    NOT NULL REFERENCES tenants (id),
    code            TEXT    NOT NULL,
    model_code      TEXT    NOT NULL,
    trim_code       TEXT    NOT NULL,
    selections      TEXT    NOT NULL,
    region_code     TEXT,
    resolved        TEXT    NOT NULL,
    total_price     BIGINT  NOT NULL,
    currency        TEXT    NOT NULL,
    config_version  BIGINT  NOT NULL,
    created_at      BIGINT  NOT NULL,
    PRIMARY KEY (tenant_id, code)
);
