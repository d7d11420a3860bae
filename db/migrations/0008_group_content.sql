-- A group's content is stored once, on group_messages. Its messages carry no copy: each
-- names its recipient (group_message_id, group_seq), and the content is rendered with that
-- recipient's variables when the message is sent or read.
ALTER TABLE messages ADD COLUMN IF NOT EXISTS group_seq integer;

-- The sweeper looks for running or paused groups whose fan-out has not moved for a while.
CREATE INDEX IF NOT EXISTS group_messages_unfinished_idx ON group_messages (updated_at)
  WHERE status IN ('running', 'paused');
