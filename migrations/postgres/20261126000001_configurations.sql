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

ALTER TABLE saved_configurations ENABLE ROW LEVEL SECURITY;
ALTER TABLE saved_configurations FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON saved_configurations
    USING (tenant_id = current_setting('forecourt.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('forecourt.tenant_id', true));
GRANT SELECT, INSERT, UPDATE, DELETE ON saved_configurations TO forecourt_app;
