-- Quotes: a priced build with its all-in cost sheet, immutable once made, under a short
-- unguessable code. `body` is the quote as served (JSON); the columns are for listing and expiry.
CREATE TABLE quotes (
    tenant_id       TEXT    NOT NULL REFERENCES tenants (id),
    code            TEXT    NOT NULL,
    issued_on       TEXT    NOT NULL,
    valid_until     TEXT    NOT NULL,
    total           BIGINT  NOT NULL,
    currency        TEXT    NOT NULL,
    body            TEXT    NOT NULL,
    created_at      BIGINT  NOT NULL,
    PRIMARY KEY (tenant_id, code)
);

ALTER TABLE quotes ENABLE ROW LEVEL SECURITY;
ALTER TABLE quotes FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON quotes
    USING (tenant_id = current_setting('forecourt.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('forecourt.tenant_id', true));
GRANT SELECT, INSERT, UPDATE, DELETE ON quotes TO forecourt_app;
