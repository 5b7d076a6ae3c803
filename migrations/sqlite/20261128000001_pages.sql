-- Storefront pages: a page's working draft and its immutable published versions. The live
-- version is a pointer that publish and rollback move; a version row never changes.

-- Publishes other than bundles (pages) also go through publish_log so every node's watcher
-- drops what it cached: `what` says which cache (`bundle` or `pages`).
ALTER TABLE publish_log ADD COLUMN what TEXT NOT NULL DEFAULT 'bundle';

CREATE TABLE pages (
    tenant_id        TEXT    NOT NULL REFERENCES tenants (id),
    id               TEXT    NOT NULL,
    -- The draft: a page document (JSON) that validated when it was saved.
    draft            TEXT    NOT NULL,
    draft_hash       TEXT    NOT NULL,
    draft_updated_by TEXT    NOT NULL,
    draft_updated_at BIGINT  NOT NULL,
    -- The published version buyers see; NULL until the first publish.
    live_version     BIGINT,
    -- The live version's route, for matching requests (unique among live pages).
    live_route       TEXT,
    created_at       BIGINT  NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, live_route)
);

CREATE TABLE page_versions (
    tenant_id       TEXT    NOT NULL,
    page_id         TEXT    NOT NULL,
    version         BIGINT  NOT NULL,
    route           TEXT    NOT NULL,
    document        TEXT    NOT NULL,
    hash            TEXT    NOT NULL,
    published_by    TEXT    NOT NULL,
    published_at    BIGINT  NOT NULL,
    PRIMARY KEY (tenant_id, page_id, version),
    FOREIGN KEY (tenant_id, page_id) REFERENCES pages (tenant_id, id)
);

-- Enquiries from a storefront's lead-form block. Contact data is personal data: it never
-- reaches the outbox (the `lead.received` event carries the id only) or the logs.
CREATE TABLE storefront_leads (
    tenant_id       TEXT    NOT NULL REFERENCES tenants (id),
    id              TEXT    NOT NULL,
    block_id        TEXT    NOT NULL,
    model_code      TEXT,
    contact_name    TEXT    NOT NULL,
    contact_mobile  TEXT    NOT NULL,
    message         TEXT,
    locale          TEXT    NOT NULL,
    created_at      BIGINT  NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
