-- Lookups by primary key that do not depend on the planner's statistics.
--
-- A new database (or a table that grew fast since autovacuum last analysed it) has no column
-- statistics, so PostgreSQL guesses that `tenant_id = $1` matches 0.5 % of a small table — and
-- a plan made then is kept by the connection that made it. Two lookups went wrong that way
-- under a stream of orders:
-- - the foreign-key checks of new workflow history and timers (`tenant_id = $1 AND id = $2`
--   on workflow_instances) were planned on another index that starts with `tenant_id` — the
--   subject's unique key or `workflow_instances_open` — with `id` a filter, and so walked every
--   instance of the tenant, once per row written;
-- - the outbox relay's reads and marks by id did the same on `outbox_subject`.
-- A primary-key lookup costs no more than such a prefix walk while the table is small, so the
-- planner's choice between them was a tie. Here no other index of these tables starts with
-- `tenant_id` alone any more, so the primary key is the only index such a lookup can use:
-- - the subject's unique key and `outbox_subject` lead with the subject (their readers always
--   give subject, type and tenant);
-- - `workflow_instances_open` holds only running instances (every reader says `ended = 0`, and
--   a partial index cannot serve a lookup that does not).
-- And `forecourt_outbox_delivered` marks listed messages of one tenant delivered: one
-- primary-key update per id inside the database, one round trip for the relay. It runs as its
-- caller, so the tenant_isolation policy applies.
ALTER TABLE workflow_instances DROP CONSTRAINT workflow_instances_tenant_id_subject_type_subject_id_key;
ALTER TABLE workflow_instances ADD CONSTRAINT workflow_instances_subject
    UNIQUE (subject_id, subject_type, tenant_id);
DROP INDEX workflow_instances_open;
CREATE INDEX workflow_instances_open ON workflow_instances (tenant_id, store_code) WHERE ended = 0;
DROP INDEX outbox_subject;
CREATE INDEX outbox_subject ON outbox (subject_id, subject_type, tenant_id);

CREATE FUNCTION forecourt_outbox_delivered(p_tenant TEXT, p_ids TEXT, p_at BIGINT)
RETURNS BIGINT
LANGUAGE plpgsql VOLATILE SECURITY INVOKER AS $$
DECLARE
    message_id TEXT;
    marked BIGINT := 0;
BEGIN
    FOR message_id IN SELECT json_array_elements_text(p_ids::json) LOOP
        UPDATE outbox SET status = 'delivered', attempts = attempts + 1, delivered_at = p_at,
                          last_error = NULL
        WHERE tenant_id = p_tenant AND id = message_id AND status = 'pending';
        IF FOUND THEN
            marked := marked + 1;
        END IF;
    END LOOP;
    RETURN marked;
END
$$;
