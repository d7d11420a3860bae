-- Monthly partitions of `messages`, named messages_yYYYYmMM. Idempotent: a
-- partition that exists is left alone. Run by every `db:migrate`.
CREATE OR REPLACE FUNCTION ensure_message_partitions(from_month date, months_ahead integer)
RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
  m date;
  part text;
BEGIN
  FOR i IN 0..months_ahead LOOP
    m := (date_trunc('month', from_month) + make_interval(months => i))::date;
    part := format('messages_y%sm%s', to_char(m, 'YYYY'), to_char(m, 'MM'));
    IF to_regclass(part) IS NULL THEN
      EXECUTE format(
        'CREATE TABLE IF NOT EXISTS %I PARTITION OF messages FOR VALUES FROM (%L) TO (%L)',
        part, to_char(m, 'YYYY-MM-DD') || ' 00:00:00+00',
        to_char((m + interval '1 month')::date, 'YYYY-MM-DD') || ' 00:00:00+00');
      RETURN NEXT part;
    END IF;
  END LOOP;
END
$$;
