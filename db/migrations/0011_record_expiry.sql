-- The daily record-expiry run (workflows/record-expiry.ts) deletes rows past their retention
-- in small batches, oldest first: each batch is an index range scan, not a table scan.
-- (idempotency_keys has idempotency_keys_created_idx since 0005.)
CREATE INDEX IF NOT EXISTS pending_status_updates_received_idx ON pending_status_updates (received_at);
CREATE INDEX IF NOT EXISTS inbound_dedup_received_idx ON inbound_dedup (received_at);
