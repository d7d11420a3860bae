-- A receipt's time as the provider gave it: carriers date a delivery to the minute
-- (Twilio's RawDlrDoneDate, an SMSC's donedate), often before our own time of the send.
-- occurred_at is our time of the event (the provider's, never earlier than the status
-- before it); provider_time keeps the provider's as given, NULL when it gave none.
ALTER TABLE message_events ADD COLUMN IF NOT EXISTS provider_time timestamptz;

-- A receipt kept for the send to apply: occurred_at is when it arrived, provider_time the
-- provider's time of it. Rows kept before this migration have only occurred_at.
ALTER TABLE pending_status_updates ADD COLUMN IF NOT EXISTS provider_time timestamptz;
