-- A receipt that ends a message's wait is written to its row by the webhook route and then
-- signalled to the message's workflow. When Temporal cannot take the signal (down, slow),
-- the webhook still answers 2xx and keeps the signal here; the outbox sweeper delivers it.
CREATE TABLE IF NOT EXISTS pending_signals (
  message_id uuid PRIMARY KEY,
  status text NOT NULL,
  occurred_at timestamptz NOT NULL,
  error_code text,
  error_message text,
  attempts integer NOT NULL DEFAULT 0,
  created_at timestamptz NOT NULL DEFAULT now(),
  next_attempt_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS pending_signals_due ON pending_signals (next_attempt_at);
