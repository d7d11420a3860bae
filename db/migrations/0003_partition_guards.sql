-- Guards for the partitioned messages table (db/PARTITIONS.md).

-- created_at is the partition key and equals the time inside the message's UUIDv7
-- id, which is how every lookup by id finds its one partition. An UPDATE that
-- changed it would make the row unreachable by id (and could move it into a month
-- that has already been archived), so it is refused instead of letting Postgres
-- move the row across partitions.
CREATE OR REPLACE FUNCTION messages_created_at_is_immutable() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'messages.created_at cannot change (message %)', OLD.id
    USING ERRCODE = 'check_violation',
          HINT = 'created_at is the partition key and the timestamp of the UUIDv7 id; insert a new message instead.';
END
$$;

DROP TRIGGER IF EXISTS messages_created_at_immutable ON messages;
-- `UPDATE OF created_at` + WHEN: ordinary status updates never pay for the trigger.
CREATE TRIGGER messages_created_at_immutable
  BEFORE UPDATE OF created_at ON messages
  FOR EACH ROW WHEN (NEW.created_at IS DISTINCT FROM OLD.created_at)
  EXECUTE FUNCTION messages_created_at_is_immutable();
