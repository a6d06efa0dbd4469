-- A /train request between its preview and its submission: what the Confirm, Pay and
-- Cancel buttons refer to (their custom_ids carry only this row's id).
CREATE TABLE IF NOT EXISTS training_orders (
  id TEXT PRIMARY KEY,
  discord_user_id TEXT NOT NULL,
  wallet_address TEXT NOT NULL,
  channel_slug TEXT NOT NULL,
  channel_title TEXT NOT NULL,
  trigger_word TEXT NOT NULL,
  steps INTEGER NOT NULL,
  image_count INTEGER NOT NULL,
  quote_id TEXT,
  tx_hash TEXT,
  status TEXT NOT NULL,
  lora_training_id TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_training_orders_user ON training_orders(discord_user_id, created_at);
