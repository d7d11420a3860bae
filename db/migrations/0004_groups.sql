-- Group messages: one content, many recipients, fanned out by the groupFanout
-- workflow into ordinary messages (messages.group_message_id).

CREATE TABLE IF NOT EXISTS group_messages (
  id uuid PRIMARY KEY,
  account_id uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  channel_id uuid NOT NULL REFERENCES channels(id),
  channel_type text NOT NULL,
  -- draft: recipients may still be appended; completed: every recipient's message was started
  -- (delivery goes on in the messages); cancelled: the rest is never sent.
  status text NOT NULL CHECK (status IN ('draft', 'running', 'paused', 'cancelled', 'completed')),
  body text,
  subject text,
  html text,
  template jsonb,
  -- trace_id and the caller's metadata (under "user"), copied into every message.
  metadata_ jsonb NOT NULL DEFAULT '{}'::jsonb,
  -- Recipients stored; also the last seq handed out (seqs are 1..total).
  total integer NOT NULL DEFAULT 0 CHECK (total >= 0),
  -- Progress of the fan-out, written by the workflow's activities.
  materialized integer NOT NULL DEFAULT 0,
  started integer NOT NULL DEFAULT 0,
  -- Every recipient with seq <= cursor has its message workflow started.
  cursor integer NOT NULL DEFAULT 0,
  workflow_id text,
  created_at timestamptz NOT NULL DEFAULT now(),
  started_at timestamptz,
  -- Set once Temporal acknowledged the start of group-<id>; NULL on a running group means "retry the start".
  workflow_started_at timestamptz,
  fanout_completed_at timestamptz,
  cancelled_at timestamptz,
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS group_messages_account_created_idx ON group_messages (account_id, created_at DESC);

-- seq orders the fan-out and is its cursor: pages are read by (group_message_id, seq).
CREATE TABLE IF NOT EXISTS group_recipients (
  group_message_id uuid NOT NULL REFERENCES group_messages(id) ON DELETE CASCADE,
  seq integer NOT NULL CHECK (seq > 0),
  to_address text NOT NULL,
  variables jsonb,
  -- Assigned when the recipient's message row is created; NULL until then.
  message_id uuid,
  PRIMARY KEY (group_message_id, seq)
);
