-- Fewer index entries per order (each costs the single SQLite writer a B-tree insert on the
-- order path):
-- - `orders_reserved` had no reader: a lapsed reservation is found by the order's workflow
--   timer, and order lists filter by store and state and page by id.
-- - `orders_buyer` serves "my orders" of a signed-in buyer; guest orders (no buyer) no longer
--   add an entry that question never reads. `buyer_id = $n` implies `buyer_id IS NOT NULL`, so
--   both backends still answer it from the index.
DROP INDEX orders_reserved;
DROP INDEX orders_buyer;
CREATE INDEX orders_buyer ON orders (tenant_id, buyer_id) WHERE buyer_id IS NOT NULL;
