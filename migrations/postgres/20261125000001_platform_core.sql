-- Platform core: tenants, their configuration versions, org tree, staff users, tokens, audit.
-- Rule: every tenant table has tenant_id first in its primary key and in every unique key, and
-- every foreign key between tenant tables includes tenant_id, so no reference crosses tenants.
-- Row-level security (ENABLE + FORCE) on every tenant table: a statement sees only the rows of
-- the tenant set for its transaction with set_config('forecourt.tenant_id', …, true).
-- Timestamps are UTC milliseconds since the Unix epoch; ids are UUIDv7 text.

CREATE TABLE tenants (
    id              TEXT    NOT NULL PRIMARY KEY,
    slug            TEXT    NOT NULL UNIQUE,
    kind            TEXT    NOT NULL CHECK (kind IN ('oem', 'dealer_group')),
    name            TEXT    NOT NULL,
    status          TEXT    NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
    active_version  BIGINT,
    created_at      BIGINT  NOT NULL
);

CREATE TABLE bundle_versions (
    tenant_id       TEXT    NOT NULL REFERENCES tenants (id),
    version         BIGINT  NOT NULL,
    hash            TEXT    NOT NULL,
    files           TEXT    NOT NULL,
    origin          TEXT    NOT NULL CHECK (origin IN ('apply', 'rollback')),
    based_on        BIGINT,
    created_by      TEXT    NOT NULL,
    created_at      BIGINT  NOT NULL,
    PRIMARY KEY (tenant_id, version)
);

CREATE TABLE publish_log (
    seq             BIGSERIAL PRIMARY KEY,
    tenant_id       TEXT    NOT NULL REFERENCES tenants (id),
    version         BIGINT  NOT NULL,
    published_at    BIGINT  NOT NULL
);

CREATE TABLE org_units (
    tenant_id       TEXT    NOT NULL REFERENCES tenants (id),
    code            TEXT    NOT NULL,
    kind            TEXT    NOT NULL CHECK (kind IN ('region', 'dealer_group', 'store')),
    region_code     TEXT    NOT NULL,
    dealer_group_code TEXT,
    status          TEXT    NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'retired')),
    PRIMARY KEY (tenant_id, code)
);

CREATE TABLE users (
    tenant_id       TEXT    NOT NULL REFERENCES tenants (id),
    id              TEXT    NOT NULL,
    email           TEXT    NOT NULL,
    display_name    TEXT    NOT NULL,
    password_hash   TEXT,
    unit_code       TEXT,
    status          TEXT    NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    created_at      BIGINT  NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, email),
    FOREIGN KEY (tenant_id, unit_code) REFERENCES org_units (tenant_id, code)
);

CREATE TABLE user_roles (
    tenant_id       TEXT    NOT NULL,
    user_id         TEXT    NOT NULL,
    role_code       TEXT    NOT NULL,
    PRIMARY KEY (tenant_id, user_id, role_code),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);

CREATE TABLE auth_tokens (
    tenant_id       TEXT    NOT NULL,
    id              TEXT    NOT NULL,
    user_id         TEXT    NOT NULL,
    kind            TEXT    NOT NULL CHECK (kind IN ('session', 'api')),
    name            TEXT    NOT NULL,
    secret_hash     TEXT    NOT NULL,
    scopes          TEXT,
    created_at      BIGINT  NOT NULL,
    expires_at      BIGINT  NOT NULL,
    revoked_at      BIGINT,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id)
);

CREATE TABLE audit_log (
    tenant_id       TEXT    NOT NULL REFERENCES tenants (id),
    id              TEXT    NOT NULL,
    at              BIGINT  NOT NULL,
    actor           TEXT    NOT NULL,
    action          TEXT    NOT NULL,
    target          TEXT    NOT NULL,
    detail          TEXT    NOT NULL,
    request_id      TEXT,
    PRIMARY KEY (tenant_id, id)
);

-- The second wall. tenants and publish_log are platform tables (they hold no tenant business
-- data and are read before a tenant is known: login by slug, the publish watcher).
DO $$
DECLARE t TEXT;
BEGIN
    FOREACH t IN ARRAY ARRAY['bundle_versions', 'org_units', 'users', 'user_roles', 'auth_tokens', 'audit_log']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY tenant_isolation ON %I USING (tenant_id = current_setting(''forecourt.tenant_id'', true)) '
            'WITH CHECK (tenant_id = current_setting(''forecourt.tenant_id'', true))', t);
    END LOOP;
END $$;
