-- A channel can be marked sandbox (talks to a simulator); only a sandbox channel may
-- have its webhook signature check turned off.
ALTER TABLE channels ADD COLUMN IF NOT EXISTS sandbox boolean NOT NULL DEFAULT false;
ALTER TABLE channels ADD COLUMN IF NOT EXISTS webhook_signature_required boolean NOT NULL DEFAULT true;
DO $$ BEGIN
  ALTER TABLE channels ADD CONSTRAINT channels_signature_only_off_in_sandbox CHECK (webhook_signature_required OR sandbox);
EXCEPTION WHEN duplicate_object THEN NULL;
END $$;
