-- Per-account quotas. NULL takes the deployment's default (QUOTA_* settings); 0 means unlimited.
ALTER TABLE accounts ADD COLUMN IF NOT EXISTS quota_messages_per_day integer CHECK (quota_messages_per_day >= 0);
ALTER TABLE accounts ADD COLUMN IF NOT EXISTS quota_recipients_per_group integer CHECK (quota_recipients_per_group >= 0);
ALTER TABLE accounts ADD COLUMN IF NOT EXISTS quota_channels integer CHECK (quota_channels >= 0);

-- Messages accepted per account and UTC day (single messages plus started groups' recipients).
-- One row per account and day: the counter is raised by an UPSERT whose WHERE refuses a raise
-- past the quota, so concurrent requests serialise on the row and cannot overshoot.
CREATE TABLE IF NOT EXISTS account_daily_usage (
  account_id uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  day date NOT NULL,
  messages bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (account_id, day)
);
