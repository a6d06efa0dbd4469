-- Top-ups: a quote can be paid by several transactions from its wallet. A payment's
-- `credit_id` is the credit its value went into; NULL while it is part of a payment
-- that has not reached the quote yet (the user can still top it up). Payments from
-- before this migration name their credit through training_credits.payment_id.
ALTER TABLE payments ADD COLUMN credit_id TEXT;
UPDATE payments SET credit_id = (
  SELECT c.id FROM training_credits c WHERE c.payment_id = payments.id
);
CREATE INDEX IF NOT EXISTS idx_payments_quote ON payments(quote_id, payer);
