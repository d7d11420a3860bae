-- Delivery state: transition history, early receipts, inbound dedup and the
-- per-contact conversation window used by the 24-hour rules.

-- Bumped by each replay, so a replayed message can record its transitions again.
ALTER TABLE messages ADD COLUMN IF NOT EXISTS replays integer NOT NULL DEFAULT 0;

CREATE TABLE IF NOT EXISTS message_events (
  id bigserial PRIMARY KEY,
  message_id uuid NOT NULL,
  -- messages.replays at the time: a transition is recorded once per run.
  run integer NOT NULL DEFAULT 0,
  kind text NOT NULL DEFAULT 'status' CHECK (kind IN ('status', 'replay')),
  status text NOT NULL,
  -- The provider's time of the event where it gives one, else when we learned it.
  occurred_at timestamptz NOT NULL,
  recorded_at timestamptz NOT NULL DEFAULT now(),
  source text NOT NULL,
  error_code text,
  detail jsonb
);
CREATE UNIQUE INDEX IF NOT EXISTS message_events_once ON message_events (message_id, run, status) WHERE kind = 'status';
CREATE INDEX IF NOT EXISTS message_events_message_idx ON message_events (message_id, id);

-- Receipts that arrived before we knew which message they belong to (the provider
-- called back before our send recorded its provider id). Applied by the send activity.
CREATE TABLE IF NOT EXISTS pending_status_updates (
  id bigserial PRIMARY KEY,
  channel_id uuid NOT NULL,
  provider_message_id text NOT NULL,
  status text NOT NULL,
  occurred_at timestamptz NOT NULL,
  error_code text,
  error_message text,
  received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS pending_status_lookup ON pending_status_updates (channel_id, provider_message_id);

-- One row per inbound provider message: the partitioned messages table cannot hold a
-- unique constraint without created_at, so deduplication lives here.
CREATE TABLE IF NOT EXISTS inbound_dedup (
  channel_id uuid NOT NULL,
  provider_message_id text NOT NULL,
  message_id uuid NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (channel_id, provider_message_id)
);

CREATE TABLE IF NOT EXISTS contact_windows (
  channel_id uuid NOT NULL,
  contact text NOT NULL,
  last_inbound_at timestamptz NOT NULL,
  PRIMARY KEY (channel_id, contact)
);
