-- One quota per wallet, shared with the web app. The web app counts a wallet's
-- generated_images of the last 24 h (all of them, the bot's included) and divides by 4;
-- the bot counts its own generation_batches plus the web app's images, so it must tell
-- its own images from the web app's without changing the seed's columns: each image a
-- bot batch stored is linked to that batch here (written in the same transaction as the
-- image, by storage.generation_batches.in_db_complete).
CREATE TABLE IF NOT EXISTS batch_images (
  image_id TEXT PRIMARY KEY,
  batch_id TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_batch_images_batch ON batch_images(batch_id);

-- Images the bot stored before this table existed: in_db_complete wrote them with the
-- batch's wallet, LoRA and prompt, and created_at = the batch's finished_at.
INSERT OR IGNORE INTO batch_images (image_id, batch_id)
SELECT gi.id, gb.id
FROM generation_batches gb
JOIN generated_images gi
  ON gi.wallet_address = gb.wallet_address
 AND gi.created_at = gb.finished_at
 AND gi.lora_training_id = gb.lora_training_id
 AND gi.prompt = gb.prompt
WHERE gb.status = 'completed' AND gb.image_count > 0;

-- The web app writes addresses checksummed or in lower case, so the bot counts a
-- wallet's images by lower(wallet_address): SQLite uses this index only for queries
-- written with that same expression.
CREATE INDEX IF NOT EXISTS idx_gen_images_wallet_lower_created
  ON generated_images(lower(wallet_address), created_at);
