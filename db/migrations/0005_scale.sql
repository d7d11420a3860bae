-- Shared send-rate state (one row per channel) and idempotency keys.

-- Generic cell rate algorithm: `tat` is the theoretical arrival time of the next
-- free slot. Every worker process reserves slots through the same row, so the
-- limit holds with any number of workers. Two scopes per channel: 'reserve' paces
-- the workflows (durable sleeps), 'send' gates the provider call itself, so timer
-- and task-dispatch jitter cannot bunch sends above the rate.
CREATE TABLE IF NOT EXISTS rate_limiter_state (
  channel_id uuid NOT NULL,
  scope text NOT NULL DEFAULT 'reserve',
  tat timestamptz NOT NULL,
  -- UTC day the daily counter belongs to.
  day date NOT NULL,
  day_count integer NOT NULL DEFAULT 0,
  PRIMARY KEY (channel_id, scope)
);

CREATE TABLE IF NOT EXISTS idempotency_keys (
  account_id uuid NOT NULL,
  key text NOT NULL,
  -- sha256 of the request body: the same key with another body is a client bug (422).
  request_hash text NOT NULL,
  resource_id uuid NOT NULL,
  status_code integer,
  response jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (account_id, key)
);
CREATE INDEX IF NOT EXISTS idempotency_keys_created_idx ON idempotency_keys (created_at);
