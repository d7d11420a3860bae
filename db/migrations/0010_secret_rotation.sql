-- A rotated webhook secret stays valid until webhook_secret_previous_until, so callbacks
-- already addressed with it (Jasmin DLR tokens, Meta's verify token) keep passing for a while.
ALTER TABLE channels ADD COLUMN IF NOT EXISTS webhook_secret_previous text;
ALTER TABLE channels ADD COLUMN IF NOT EXISTS webhook_secret_previous_until timestamptz;
-- Listing an account's keys.
CREATE INDEX IF NOT EXISTS api_keys_account ON api_keys (account_id, created_at);
