-- A paid submission as a durable state machine: each step of /train's submission is
-- recorded on its order before the next begins, under a lease, so a process that dies
-- at any moment leaves an order that another process (or the restarted one) resumes or
-- rolls back to a usable credit. Steps: reserved -> uploaded -> submitting -> accepted
-- -> announced (the order is 'submitted' from 'accepted' on).
ALTER TABLE training_orders ADD COLUMN step TEXT;
ALTER TABLE training_orders ADD COLUMN credit_id TEXT;
ALTER TABLE training_orders ADD COLUMN channel_id TEXT;
ALTER TABLE training_orders ADD COLUMN zip_url TEXT;
ALTER TABLE training_orders ADD COLUMN image_urls TEXT;
ALTER TABLE training_orders ADD COLUMN request_id TEXT;
ALTER TABLE training_orders ADD COLUMN owner TEXT;
ALTER TABLE training_orders ADD COLUMN lease_expires_at TEXT;
ALTER TABLE training_orders ADD COLUMN submit_started_at TEXT;
CREATE INDEX IF NOT EXISTS idx_training_orders_stalled ON training_orders(status, lease_expires_at);

-- Telling the user, at least once and deduplicated: a short claim while one process
-- sends, and the message id once Discord took it (a retry then edits, never reposts).
ALTER TABLE training_jobs ADD COLUMN telling_until TEXT;
ALTER TABLE training_jobs ADD COLUMN notice_message_id TEXT;
-- A cancellation asked of fal: the credit comes back only once fal confirms it.
ALTER TABLE training_jobs ADD COLUMN cancel_requested_at TEXT;
-- fal did not know the job (404: a web-app row, another fal account): the row is left as
-- it is, logged once, and looked at again only now and then (it must not crowd the
-- trainings fal does know out of a poll).
ALTER TABLE training_leases ADD COLUMN unknown_since TEXT;
ALTER TABLE training_leases ADD COLUMN next_check_at TEXT;
