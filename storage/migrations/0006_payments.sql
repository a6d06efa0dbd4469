-- /train payments: a price quoted in ETH, the payments verified on Base, and the
-- training credits they become. Amounts in wei are decimal TEXT (they can pass 2^63);
-- prices are decimal TEXT (exact, never floats); times are ISO 8601 UTC.

-- A price in ETH for one training, valid for a while. `created_block` is the chain's
-- latest block when it was made: a payment counts only when mined in a later block.
CREATE TABLE IF NOT EXISTS payment_quotes (
  id TEXT PRIMARY KEY,
  discord_user_id TEXT NOT NULL,
  wallet_address TEXT NOT NULL,
  usd TEXT NOT NULL,
  eth_usd TEXT NOT NULL,
  wei TEXT NOT NULL,
  created_at TEXT NOT NULL,
  expires_at TEXT NOT NULL,
  created_block INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_payment_quotes_user ON payment_quotes(discord_user_id, created_at);

-- One row per verified payment: the value `payer` sent to the treasury in `tx_hash`.
-- A plain transfer has one payer (the sender), so the hash can be claimed once. An
-- ERC-4337 bundle can carry payments of several smart wallets in one transaction: each
-- payer claims its own share once. (tx_hash, payer) is what must never repeat.
CREATE TABLE IF NOT EXISTS payments (
  id TEXT PRIMARY KEY,
  tx_hash TEXT NOT NULL,
  payer TEXT NOT NULL,
  quote_id TEXT NOT NULL REFERENCES payment_quotes(id),
  discord_user_id TEXT NOT NULL,
  wallet_address TEXT NOT NULL,
  value_wei TEXT NOT NULL,
  kind TEXT NOT NULL,
  chain_id INTEGER NOT NULL,
  block_number INTEGER NOT NULL,
  block_hash TEXT NOT NULL,
  verified_at TEXT NOT NULL,
  UNIQUE (tx_hash, payer)
);
CREATE INDEX IF NOT EXISTS idx_payments_tx_hash ON payments(tx_hash);
CREATE INDEX IF NOT EXISTS idx_payments_user ON payments(discord_user_id, verified_at);

-- What a payment (or an admin) gives: one training. available -> reserved (a training is
-- being submitted) -> consumed (its lora_trainings row exists); back to available when
-- fal never took the job or the training failed, so money is never lost.
CREATE TABLE IF NOT EXISTS training_credits (
  id TEXT PRIMARY KEY,
  discord_user_id TEXT NOT NULL,
  wallet_address TEXT NOT NULL,
  source TEXT NOT NULL,
  payment_id TEXT UNIQUE REFERENCES payments(id),
  status TEXT NOT NULL,
  note TEXT,
  created_at TEXT NOT NULL,
  reserved_at TEXT,
  consumed_at TEXT,
  training_id TEXT
);
CREATE INDEX IF NOT EXISTS idx_training_credits_user
  ON training_credits(discord_user_id, status, created_at);
CREATE INDEX IF NOT EXISTS idx_training_credits_training ON training_credits(training_id);
