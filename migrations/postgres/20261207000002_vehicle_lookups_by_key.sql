-- The rule of `20261207000001_planner_proof_lookups` for vehicles: no index but the primary
-- key starts with `tenant_id` alone, so a lookup by VIN (`tenant_id = $1 AND vin …`: the
-- buyer's vehicle, the order batch's reservation, a CSV import's or a sync's existing
-- vehicles) has nothing to tie with while the table is new. In one benchmark setup a CSV
-- import's `vin IN (…) FOR UPDATE` of 500 VINs took 70 ms a statement instead of 6.
-- Both indexes' readers give the tenant and the leading column with equality (or, for the
-- store, a list), so each still answers them with one range per value.
DROP INDEX vehicles_pick;
CREATE INDEX vehicles_pick ON vehicles (build_key, tenant_id, hold, stage, arrival_date, vin);
DROP INDEX vehicles_store;
CREATE INDEX vehicles_store ON vehicles (store_code, tenant_id, stage);
