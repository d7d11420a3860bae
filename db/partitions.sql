-- Monthly partitions of `messages`, named messages_yYYYYmMM, covering
-- [first of month 00:00 UTC, first of next month). Run by every `db:migrate` and
-- by the daily partitionMaintenance schedule. Idempotent: a month that is already
-- covered is left alone, and it never fails because a partition exists.
--
-- No DEFAULT partition, on purpose (db/PARTITIONS.md): DETACH ... CONCURRENTLY is
-- refused while one exists, and a row outside every month must fail loudly.
CREATE OR REPLACE FUNCTION ensure_message_partitions(from_month date, months_ahead integer)
RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
  m date;
  part text;
BEGIN
  -- The key db/migrate.ts holds: a maintenance run and a migration never race to
  -- create the same month (advisory locks are re-entrant within one session).
  PERFORM pg_advisory_xact_lock(7261001);
  FOR i IN 0..months_ahead LOOP
    m := (date_trunc('month', from_month) + make_interval(months => i))::date;
    part := format('messages_y%sm%s', to_char(m, 'YYYY'), to_char(m, 'MM'));
    CONTINUE WHEN to_regclass(part) IS NOT NULL;
    BEGIN
      -- Created apart and then attached: ATTACH takes SHARE UPDATE EXCLUSIVE on
      -- `messages`, so traffic keeps flowing; CREATE ... PARTITION OF would take
      -- ACCESS EXCLUSIVE and queue every query behind it.
      EXECUTE format('CREATE TABLE %I (LIKE messages INCLUDING DEFAULTS INCLUDING CONSTRAINTS '
                     'INCLUDING STORAGE INCLUDING COMPRESSION INCLUDING STATISTICS)', part);
      EXECUTE format('ALTER TABLE messages ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
        part, to_char(m, 'YYYY-MM-DD') || ' 00:00:00+00',
        to_char((m + interval '1 month')::date, 'YYYY-MM-DD') || ' 00:00:00+00');
      RETURN NEXT part;
    EXCEPTION WHEN invalid_object_definition THEN
      -- A differently named partition already covers (part of) this month: the
      -- month is served; the subtransaction rollback removes our empty table.
      RAISE WARNING 'ensure_message_partitions: % overlaps an existing partition, left as is', part;
    END;
  END LOOP;
END
$$;
