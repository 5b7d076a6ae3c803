-- The builds of many vehicles for the order path in one round trip (orders for named vehicles
-- arriving together are looked up together, see core/src/inventory/builds.rs). Like
-- forecourt_vehicle_build: the function sets the tenant for the statement's own transaction and
-- reads under row-level security (it runs as its caller); called only outside an explicit
-- transaction. One primary-key probe per listed VIN (LATERAL … LIMIT 1), whatever the planner
-- knows of the table.
CREATE FUNCTION forecourt_vehicle_builds(p_tenant TEXT, p_vins JSON)
RETURNS TABLE (vin TEXT, model_code TEXT, trim_code TEXT, options TEXT)
LANGUAGE plpgsql VOLATILE SECURITY INVOKER AS $$
BEGIN
    PERFORM set_config('forecourt.tenant_id', p_tenant, true);
    RETURN QUERY
        SELECT v.vin, v.model_code, v.trim_code, v.options
        FROM json_array_elements_text(p_vins) AS k(wanted),
             LATERAL (SELECT x.vin, x.model_code, x.trim_code, x.options FROM vehicles x
                      WHERE x.tenant_id = p_tenant AND x.vin = k.wanted LIMIT 1) AS v;
END
$$;
