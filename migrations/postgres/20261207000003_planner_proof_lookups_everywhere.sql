-- Lookups by primary key that do not depend on the planner's statistics, on every table.
--
-- 20261207000001 made the primary key the only index starting with `tenant_id` alone on the
-- tables the order path writes; the other tables kept such rivals, so a lookup of
-- `tenant_id = $1 AND id = $2` there — a payment callback's update of its order, the
-- foreign-key check of a new payment, a workflow step's update of its booking, a session's
-- user — could still be planned on a rival while the table had no statistics, and kept so by
-- the connection, walking every row of the tenant per lookup once the table grew. Here every
-- secondary key leads with the column its readers always give, then the tenant:
-- - unique keys: the order's number and tracking hash, the payment's provider reference, the
--   booking's code, the user's e-mail, the buyer's mobile index, the page's live route (the
--   tenant is still part of each key, so they stay unique per tenant; `ON CONFLICT` infers
--   an index by its set of columns, whatever their order);
-- - lists by store (orders sold or fulfilled, bookings by slot) lead with the store; lists by
--   buyer and a payment's order lead with the buyer or the order.
ALTER TABLE orders DROP CONSTRAINT orders_tenant_id_number_key;
ALTER TABLE orders ADD CONSTRAINT orders_number UNIQUE (number, tenant_id);
ALTER TABLE orders DROP CONSTRAINT orders_tenant_id_tracking_hash_key;
ALTER TABLE orders ADD CONSTRAINT orders_tracking_hash UNIQUE (tracking_hash, tenant_id);
DROP INDEX orders_store;
CREATE INDEX orders_store ON orders (store_code, tenant_id, created_at);
DROP INDEX orders_fulfilling;
CREATE INDEX orders_fulfilling ON orders (fulfilling_store, tenant_id, created_at);

ALTER TABLE payments DROP CONSTRAINT payments_tenant_id_provider_provider_ref_key;
ALTER TABLE payments ADD CONSTRAINT payments_provider_ref UNIQUE (provider_ref, provider, tenant_id);
DROP INDEX payments_order;
CREATE INDEX payments_order ON payments (order_id, tenant_id);

ALTER TABLE test_drive_bookings DROP CONSTRAINT test_drive_bookings_tenant_id_code_key;
ALTER TABLE test_drive_bookings ADD CONSTRAINT test_drive_bookings_code UNIQUE (code, tenant_id);
DROP INDEX test_drive_bookings_store;
CREATE INDEX test_drive_bookings_store ON test_drive_bookings (store_code, tenant_id, slot_start);
DROP INDEX test_drive_bookings_buyer;
CREATE INDEX test_drive_bookings_buyer ON test_drive_bookings (buyer_id, tenant_id);

DROP INDEX quotes_buyer;
CREATE INDEX quotes_buyer ON quotes (buyer_id, tenant_id);

ALTER TABLE users DROP CONSTRAINT users_tenant_id_email_key;
ALTER TABLE users ADD CONSTRAINT users_email UNIQUE (email, tenant_id);

ALTER TABLE buyers DROP CONSTRAINT buyers_tenant_id_mobile_index_key;
ALTER TABLE buyers ADD CONSTRAINT buyers_mobile_index UNIQUE (mobile_index, tenant_id);

ALTER TABLE pages DROP CONSTRAINT pages_tenant_id_live_route_key;
ALTER TABLE pages ADD CONSTRAINT pages_live_route UNIQUE (live_route, tenant_id);
