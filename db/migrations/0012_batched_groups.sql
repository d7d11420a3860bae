-- A group is sent in one of two modes: 'batched' (its workflow sends pages of recipients
-- through sendBatch activities; the recipients' rows have no workflow of their own) or
-- 'per_message' (every recipient is its own dispatchMessage workflow). Groups stored
-- before this migration ran per message.
ALTER TABLE group_messages ADD COLUMN IF NOT EXISTS mode text NOT NULL DEFAULT 'per_message';
ALTER TABLE group_messages DROP CONSTRAINT IF EXISTS group_messages_mode_check;
ALTER TABLE group_messages ADD CONSTRAINT group_messages_mode_check CHECK (mode IN ('batched', 'per_message'));

-- Send attempts a batched recipient has had (in its batch and in the retry passes); it fails
-- with its last error once it reaches SEND_MAX_ATTEMPTS.
ALTER TABLE group_recipients ADD COLUMN IF NOT EXISTS attempts integer NOT NULL DEFAULT 0;
