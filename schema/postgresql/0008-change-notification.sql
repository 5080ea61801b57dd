-- schema/0008-change-notification.sql for PostgreSQL: every row of an object class added, changed
-- or removed is announced on the channel smsprov_site (NOTIFY, delivered at commit), so that
-- every host of the site tells its own clients (src/store/pg-watch.c reads them, and a host
-- skips what its own connection announced: the notification names the backend that sent it).
--
-- The payload is JSON: {"table": …, "op": "I"|"U"|"D", "key": {column: value, …}, "type": the
-- discriminator's value (tables shared by a hierarchy), "changed": [column, …] (updates)}.
-- The trigger's arguments are the table's discriminator column ('' for none), then its key
-- columns. A payload over NOTIFY's limit leaves out "changed" (every property may have changed),
-- then "key" (the host cannot tell which row, and says so in its log).
CREATE FUNCTION smsprov_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
        new_row jsonb := CASE WHEN TG_OP = 'DELETE' THEN to_jsonb(OLD) ELSE to_jsonb(NEW) END;
        old_row jsonb := CASE WHEN TG_OP = 'UPDATE' THEN to_jsonb(OLD) ELSE NULL END;
        keys jsonb := '{}';
        changed jsonb;
        payload jsonb;
BEGIN
        FOR i IN 1 .. TG_NARGS - 1 LOOP
                keys := keys || jsonb_build_object(TG_ARGV[i], new_row -> TG_ARGV[i]);
        END LOOP;
        payload := jsonb_build_object('table', TG_TABLE_NAME, 'op', left(TG_OP, 1), 'key', keys);
        IF TG_ARGV[0] <> '' THEN
                payload := payload || jsonb_build_object('type', new_row -> TG_ARGV[0]);
        END IF;
        IF TG_OP = 'UPDATE' THEN
                SELECT coalesce(jsonb_agg(c.key), '[]') INTO changed
                FROM jsonb_each(new_row) c WHERE c.value IS DISTINCT FROM old_row -> c.key;
                IF changed = '[]' THEN
                        RETURN NULL;
                END IF;
                payload := payload || jsonb_build_object('changed', changed);
        END IF;
        IF octet_length(payload::text) > 7900 THEN
                payload := payload - 'changed';
        END IF;
        IF octet_length(payload::text) > 7900 THEN
                payload := payload - 'key';
        END IF;
        PERFORM pg_notify('smsprov_site', payload::text);
        RETURN NULL;
END
$$;

CREATE TRIGGER package_notify AFTER INSERT OR UPDATE OR DELETE ON package
        FOR EACH ROW EXECUTE FUNCTION smsprov_notify_change('PackageType', 'PackageID');
CREATE TRIGGER distribution_point_info_notify AFTER INSERT OR UPDATE OR DELETE ON distribution_point_info
        FOR EACH ROW EXECUTE FUNCTION smsprov_notify_change('', 'NALPath');
CREATE TRIGGER distribution_notify AFTER INSERT OR UPDATE OR DELETE ON distribution
        FOR EACH ROW EXECUTE FUNCTION smsprov_notify_change('', 'PackageID', 'ServerNALPath', 'SiteCode');
CREATE TRIGGER image_information_notify AFTER INSERT OR UPDATE OR DELETE ON image_information
        FOR EACH ROW EXECUTE FUNCTION smsprov_notify_change('', 'PackageID', 'Index');
CREATE TRIGGER winpe_optional_component_notify AFTER INSERT OR UPDATE OR DELETE ON winpe_optional_component
        FOR EACH ROW EXECUTE FUNCTION smsprov_notify_change('', 'UniqueID');
