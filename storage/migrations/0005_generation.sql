-- /generate: one row per batch of images, reserved before fal is called. The quota
-- (batches per wallet in a rolling window) counts these rows; a reservation that never
-- finished stops counting after its timeout, so a crash cannot eat a slot for a day.
CREATE TABLE IF NOT EXISTS generation_batches (
  id TEXT PRIMARY KEY,
  wallet_address TEXT NOT NULL,
  discord_user_id TEXT NOT NULL,
  lora_training_id TEXT NOT NULL,
  prompt TEXT NOT NULL,
  status TEXT NOT NULL,
  image_count INTEGER NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL,
  finished_at TEXT
);
CREATE INDEX IF NOT EXISTS idx_generation_batches_wallet
  ON generation_batches(wallet_address, created_at);

-- The seed's per-wallet image count ("how many in 24 h") without a table scan.
CREATE INDEX IF NOT EXISTS idx_gen_images_wallet_created
  ON generated_images(wallet_address, created_at);
