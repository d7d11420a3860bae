-- Core tables. `messages` is range-partitioned by month on created_at; the
-- partitions themselves are created by ensure_message_partitions() (db/partitions.sql),
-- which `npm run db:migrate` calls on every run.

CREATE TABLE IF NOT EXISTS accounts (
  id uuid PRIMARY KEY,
  name text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS api_keys (
  id uuid PRIMARY KEY,
  account_id uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  -- The visible part of the key (shown in listings); the secret is stored only as a hash.
  prefix text NOT NULL UNIQUE,
  key_hash text NOT NULL,
  name text NOT NULL DEFAULT 'default',
  created_at timestamptz NOT NULL DEFAULT now(),
  revoked_at timestamptz
);

CREATE TABLE IF NOT EXISTS channels (
  id uuid PRIMARY KEY,
  account_id uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  channel_type text NOT NULL CHECK (channel_type IN ('sms', 'whatsapp', 'messenger', 'email', 'smpp')),
  provider text NOT NULL,
  name text NOT NULL,
  credentials jsonb NOT NULL,
  webhook_secret text NOT NULL,
  rate_limit_per_second integer CHECK (rate_limit_per_second > 0),
  daily_limit integer CHECK (daily_limit > 0),
  enabled boolean NOT NULL DEFAULT true,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS channels_account_idx ON channels (account_id);

-- Status order used by every conditional update: a status only moves forward.
CREATE OR REPLACE FUNCTION message_status_rank(s text) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE s
    WHEN 'queued' THEN 0
    WHEN 'sending' THEN 1
    WHEN 'sent' THEN 2
    WHEN 'delivered' THEN 3
    WHEN 'read' THEN 4
    WHEN 'undelivered' THEN 5
    WHEN 'failed' THEN 5
  END
$$;

CREATE TABLE IF NOT EXISTS messages (
  id uuid NOT NULL,
  created_at timestamptz NOT NULL,
  account_id uuid NOT NULL,
  channel_id uuid NOT NULL,
  channel_type text NOT NULL,
  direction text NOT NULL DEFAULT 'outbound' CHECK (direction IN ('outbound', 'inbound')),
  to_address text NOT NULL,
  from_address text,
  body text,
  subject text,
  html text,
  template jsonb,
  status text NOT NULL CHECK (status IN ('queued', 'sending', 'sent', 'delivered', 'read', 'undelivered', 'failed')),
  error_code text,
  error_message text,
  group_message_id uuid,
  workflow_id text,
  -- Set once the workflow start was acknowledged; NULL rows are the outbox.
  workflow_started_at timestamptz,
  -- trace_id, provider_message_id and the caller's metadata (under "user").
  metadata_ jsonb NOT NULL DEFAULT '{}'::jsonb,
  sending_at timestamptz,
  sent_at timestamptz,
  delivered_at timestamptz,
  read_at timestamptz,
  failed_at timestamptz,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (id, created_at)
) PARTITION BY RANGE (created_at);

CREATE INDEX IF NOT EXISTS messages_account_created_idx ON messages (account_id, created_at DESC);
CREATE INDEX IF NOT EXISTS messages_account_status_idx ON messages (account_id, status);
CREATE INDEX IF NOT EXISTS messages_group_idx ON messages (group_message_id) WHERE group_message_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS messages_channel_status_idx ON messages (channel_id, status);
CREATE INDEX IF NOT EXISTS messages_provider_id_idx ON messages ((metadata_->>'provider_message_id'), channel_id);
