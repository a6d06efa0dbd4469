-- A training recorded from a signed fal webhook after the bot lost its own record of the
-- submission (it crashed between fal's answer and the `accept` transaction): why it was
-- recorded that way, and whether a credit paid for it (credit_id NULL and this note say
-- why not), so an audit can tell it from an ordinary submission.
ALTER TABLE training_jobs ADD COLUMN audit_note TEXT;
