CREATE TABLE IF NOT EXISTS lora_trainings (
  id TEXT PRIMARY KEY,
  request_id TEXT UNIQUE NOT NULL,
  wallet_address TEXT NOT NULL,
  trigger_word TEXT NOT NULL,
  steps INTEGER NOT NULL,
  image_urls TEXT NOT NULL,
  lora_weights_url TEXT,
  status TEXT NOT NULL DEFAULT 'pending',
  created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_lora_trainings_created_at ON lora_trainings(created_at);
CREATE INDEX IF NOT EXISTS idx_lora_trainings_status ON lora_trainings(status);
-- packages/api/src/db.ts
CREATE TABLE IF NOT EXISTS generated_images (
  id TEXT PRIMARY KEY,
  lora_training_id TEXT NOT NULL,
  wallet_address TEXT NOT NULL,
  prompt TEXT NOT NULL,
  image_url TEXT NOT NULL,
  image_width INTEGER,
  image_height INTEGER,
  seed TEXT,
  created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_gen_images_lora ON generated_images(lora_training_id);
CREATE INDEX IF NOT EXISTS idx_gen_images_wallet ON generated_images(wallet_address);
CREATE INDEX IF NOT EXISTS idx_gen_images_created ON generated_images(created_at);
