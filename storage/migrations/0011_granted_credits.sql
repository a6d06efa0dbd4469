-- Operator tools (`lora-bot admin`): a credit an operator granted by hand records who
-- granted it; why is kept in `note`, as for every admin credit. NULL for credits bought
-- by a payment or opened by an admin wallet's /train.
ALTER TABLE training_credits ADD COLUMN granted_by TEXT;

-- `lora-bot admin audit` follows every credit to the order that holds it and every
-- training to its order: without these it would scan training_orders once per row.
CREATE INDEX IF NOT EXISTS idx_training_orders_credit ON training_orders(credit_id);
CREATE INDEX IF NOT EXISTS idx_training_orders_lora ON training_orders(lora_training_id);
CREATE INDEX IF NOT EXISTS idx_training_jobs_credit ON training_jobs(credit_id);
