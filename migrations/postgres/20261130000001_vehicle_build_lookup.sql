-- A vehicle's build for the order path in one round trip: the function sets the tenant for the
-- statement's own transaction and reads under row-level security (it runs as its caller, so the
-- tenant_isolation policy applies). Called only outside an explicit transaction: inside one it
-- would set the tenant for the rest of that transaction.
CREATE FUNCTION forecourt_vehicle_build(p_tenant TEXT, p_vin TEXT)
RETURNS TABLE (model_code TEXT, trim_code TEXT, options TEXT)
LANGUAGE plpgsql VOLATILE SECURITY INVOKER AS $$
BEGIN
    PERFORM set_config('forecourt.tenant_id', p_tenant, true);
    RETURN QUERY
        SELECT v.model_code, v.trim_code, v.options FROM vehicles v
        WHERE v.tenant_id = p_tenant AND v.vin = p_vin;
END
$$;
