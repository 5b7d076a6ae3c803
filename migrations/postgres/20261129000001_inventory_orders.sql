-- Vehicle inventory, buyers, orders, payments and idempotency keys.
--
-- Personal data (a buyer's name, mobile number, ID number) is stored only as ciphertext
-- (`*_enc`, AES-256-GCM, see core/src/pii.rs); lookups by mobile number go through a keyed
-- blind index (`mobile_index`, HMAC-SHA256), never through the plain number.

-- One physical vehicle by VIN. `stage` is where the car is (in_production → in_transit →
-- in_stock → delivered); `hold` is whether it is promised to an order (free → reserved → sold).
-- The status buyers and staff see combines the two (see core/src/inventory).
CREATE TABLE vehicles (
    tenant_id               TEXT    NOT NULL REFERENCES tenants (id),
    vin                     TEXT    NOT NULL,
    model_code              TEXT    NOT NULL,
    trim_code               TEXT    NOT NULL,
    -- The build's option codes, sorted, as a JSON array.
    options                 TEXT    NOT NULL,
    -- `model/trim/opt+opt+…` (options sorted): what an order from a saved build matches.
    build_key               TEXT    NOT NULL,
    store_code              TEXT    NOT NULL,
    stage                   TEXT    NOT NULL,
    hold                    TEXT    NOT NULL DEFAULT 'free',
    -- The order holding it (reserved or sold) and, while only reserved, until when.
    order_id                TEXT,
    reserved_until          BIGINT,
    -- Arrival at the store (planned while in production or transit), YYYY-MM-DD.
    arrival_date            TEXT,
    -- What one month in stock costs the holder, minor units of the tenant's currency.
    holding_cost_per_month  BIGINT  NOT NULL DEFAULT 0,
    -- Where the record came from last: `csv` or `sync`, and the DMS's own reference.
    source                  TEXT    NOT NULL,
    external_ref            TEXT,
    version                 BIGINT  NOT NULL DEFAULT 1,
    created_at              BIGINT  NOT NULL,
    updated_at              BIGINT  NOT NULL,
    PRIMARY KEY (tenant_id, vin),
    FOREIGN KEY (tenant_id, store_code) REFERENCES org_units (tenant_id, code)
);
-- Picking a vehicle for an order: one probe per step (see inventory/stock.rs).
CREATE INDEX vehicles_pick ON vehicles (tenant_id, build_key, hold, stage, arrival_date, vin);
CREATE INDEX vehicles_store ON vehicles (tenant_id, store_code, stage);

-- Buyer accounts: one per mobile number and tenant.
CREATE TABLE buyers (
    tenant_id       TEXT    NOT NULL REFERENCES tenants (id),
    id              TEXT    NOT NULL,
    mobile_index    TEXT    NOT NULL,
    mobile_enc      TEXT    NOT NULL,
    name_enc        TEXT,
    created_at      BIGINT  NOT NULL,
    last_login_at   BIGINT,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, mobile_index)
);

-- The one live sign-in code per mobile number (hashed), with its expiry and wrong tries.
CREATE TABLE buyer_otps (
    tenant_id       TEXT    NOT NULL REFERENCES tenants (id),
    mobile_index    TEXT    NOT NULL,
    mobile_enc      TEXT    NOT NULL,
    code_hash       TEXT    NOT NULL,
    expires_at      BIGINT  NOT NULL,
    attempts        BIGINT  NOT NULL DEFAULT 0,
    sent_at         BIGINT  NOT NULL,
    PRIMARY KEY (tenant_id, mobile_index)
);

-- Buyer sessions (the cookie or bearer token is stored hashed).
CREATE TABLE buyer_sessions (
    tenant_id       TEXT    NOT NULL REFERENCES tenants (id),
    token_hash      TEXT    NOT NULL,
    buyer_id        TEXT    NOT NULL,
    expires_at      BIGINT  NOT NULL,
    created_at      BIGINT  NOT NULL,
    PRIMARY KEY (tenant_id, token_hash),
    FOREIGN KEY (tenant_id, buyer_id) REFERENCES buyers (tenant_id, id)
);

-- Bookings and quotes made by a signed-in buyer belong to that buyer.
ALTER TABLE test_drive_bookings ADD COLUMN buyer_id TEXT;
ALTER TABLE quotes ADD COLUMN buyer_id TEXT;
CREATE INDEX test_drive_bookings_buyer ON test_drive_bookings (tenant_id, buyer_id);
CREATE INDEX quotes_buyer ON quotes (tenant_id, buyer_id);

-- Vehicle orders. The lifecycle is the tenant's workflow (subject `vehicle_order`); `state`
-- mirrors the instance's state for lists. A guest follows the order through a tracking link
-- whose token is stored hashed.
CREATE TABLE orders (
    tenant_id           TEXT    NOT NULL REFERENCES tenants (id),
    id                  TEXT    NOT NULL,
    -- Short reference buyers and staff quote on the phone.
    number              TEXT    NOT NULL,
    tracking_hash       TEXT    NOT NULL,
    buyer_id            TEXT,
    -- The selling store (a direct store or a dealer) and its channel (`direct`/`dealer`).
    store_code          TEXT    NOT NULL,
    channel             TEXT    NOT NULL,
    -- Where the vehicle comes from: the store whose stock fulfils it (may be another dealer's).
    fulfilling_store    TEXT,
    configuration_code  TEXT,
    vin                 TEXT,
    model_code          TEXT    NOT NULL,
    trim_code           TEXT    NOT NULL,
    options             TEXT    NOT NULL,
    build_key           TEXT    NOT NULL,
    price               BIGINT  NOT NULL,
    deposit             BIGINT  NOT NULL,
    currency            TEXT    NOT NULL,
    paid                BIGINT  NOT NULL DEFAULT 0,
    refunded            BIGINT  NOT NULL DEFAULT 0,
    state               TEXT    NOT NULL,
    reserved_until      BIGINT,
    buyer_name_enc      TEXT    NOT NULL,
    buyer_mobile_enc    TEXT    NOT NULL,
    buyer_id_number_enc TEXT,
    buyer_mobile_index  TEXT    NOT NULL,
    locale              TEXT    NOT NULL,
    created_at          BIGINT  NOT NULL,
    updated_at          BIGINT  NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, number),
    UNIQUE (tenant_id, tracking_hash),
    FOREIGN KEY (tenant_id, store_code) REFERENCES org_units (tenant_id, code)
);
CREATE INDEX orders_store ON orders (tenant_id, store_code, created_at);
CREATE INDEX orders_fulfilling ON orders (tenant_id, fulfilling_store, created_at);
CREATE INDEX orders_buyer ON orders (tenant_id, buyer_id);
CREATE INDEX orders_reserved ON orders (tenant_id, state, reserved_until);

-- Stripe-style idempotency: the first response to a key is kept and replayed; the same key with
-- another request is refused. `scope` separates callers (a buyer, a staff user, the public).
CREATE TABLE idempotency_keys (
    tenant_id       TEXT    NOT NULL REFERENCES tenants (id),
    scope           TEXT    NOT NULL,
    key             TEXT    NOT NULL,
    request_hash    TEXT    NOT NULL,
    status          BIGINT  NOT NULL,
    response        TEXT    NOT NULL,
    created_at      BIGINT  NOT NULL,
    PRIMARY KEY (tenant_id, scope, key)
);
CREATE INDEX idempotency_keys_age ON idempotency_keys (created_at);

-- Payments through the provider adapter: a deposit or the balance of an order.
CREATE TABLE payments (
    tenant_id       TEXT    NOT NULL REFERENCES tenants (id),
    id              TEXT    NOT NULL,
    order_id        TEXT    NOT NULL,
    kind            TEXT    NOT NULL,
    amount          BIGINT  NOT NULL,
    currency        TEXT    NOT NULL,
    provider        TEXT    NOT NULL,
    provider_ref    TEXT,
    -- created → succeeded | failed; refunded tracks what went back.
    status          TEXT    NOT NULL,
    refunded        BIGINT  NOT NULL DEFAULT 0,
    redirect_url    TEXT,
    created_at      BIGINT  NOT NULL,
    updated_at      BIGINT  NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, provider, provider_ref),
    FOREIGN KEY (tenant_id, order_id) REFERENCES orders (tenant_id, id)
);
CREATE INDEX payments_order ON payments (tenant_id, order_id);

CREATE TABLE refunds (
    tenant_id       TEXT    NOT NULL REFERENCES tenants (id),
    id              TEXT    NOT NULL,
    payment_id      TEXT    NOT NULL,
    amount          BIGINT  NOT NULL,
    reason          TEXT    NOT NULL,
    -- requested → pending (the provider took it) → succeeded | failed
    status          TEXT    NOT NULL,
    provider_ref    TEXT,
    -- The refund worker's retries: attempts so far, when to try next, the last error.
    attempts        BIGINT  NOT NULL DEFAULT 0,
    next_attempt_at BIGINT  NOT NULL DEFAULT 0,
    last_error      TEXT,
    created_at      BIGINT  NOT NULL,
    updated_at      BIGINT  NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, payment_id) REFERENCES payments (tenant_id, id)
);
CREATE INDEX refunds_due ON refunds (status, next_attempt_at);

-- Every provider callback received, verified or not: replays and forgeries are kept here (and
-- logged) and change nothing. `event_id` is the provider's; a verified event counts once.
CREATE TABLE payment_callbacks (
    tenant_id       TEXT    NOT NULL REFERENCES tenants (id),
    id              TEXT    NOT NULL,
    provider        TEXT    NOT NULL,
    event_id        TEXT,
    verdict         TEXT    NOT NULL,
    detail          TEXT    NOT NULL,
    received_at     BIGINT  NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX payment_callbacks_event ON payment_callbacks (tenant_id, provider, event_id)
    WHERE verdict = 'accepted';

DO $$
DECLARE t TEXT;
BEGIN
    FOREACH t IN ARRAY ARRAY['vehicles', 'buyers', 'buyer_otps', 'buyer_sessions', 'orders',
                             'idempotency_keys', 'payments', 'refunds', 'payment_callbacks']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY tenant_isolation ON %I USING (tenant_id = current_setting(''forecourt.tenant_id'', true)) '
            'WITH CHECK (tenant_id = current_setting(''forecourt.tenant_id'', true))', t);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO forecourt_app', t);
    END LOOP;
END $$;

-- The reservation sweeper and the idempotency-key janitor scan all tenants (ids and times).
CREATE POLICY scheduler_scan ON orders FOR SELECT
    USING (current_setting('forecourt.scheduler', true) = 'scan');
CREATE POLICY scheduler_scan ON idempotency_keys FOR ALL
    USING (current_setting('forecourt.scheduler', true) = 'scan');
-- The refund worker claims requested refunds of every tenant.
CREATE POLICY scheduler_scan ON refunds FOR ALL
    USING (current_setting('forecourt.scheduler', true) = 'scan');
