-- The public gallery (/loras, /lora): indexes that let SQLite read every page in order,
-- with no sort and no OFFSET. They add no column to the web app's tables, which it
-- keeps writing as before.

-- Newest-first pages of completed LoRAs: keyset on (created_at, id), and COUNT(*).
CREATE INDEX IF NOT EXISTS idx_lora_trainings_gallery
  ON lora_trainings(status, created_at, id);

-- The same pages for one creator; wallets are compared case-insensitively (checksummed
-- and lower-case spellings of one address are the same wallet).
CREATE INDEX IF NOT EXISTS idx_lora_trainings_creator
  ON lora_trainings(wallet_address COLLATE NOCASE, status, created_at, id);

-- /lora autocomplete: trigger-word prefixes as a range scan, substrings as a scan of
-- this (covering) index rather than of the table.
CREATE INDEX IF NOT EXISTS idx_lora_trainings_trigger
  ON lora_trainings(status, trigger_word COLLATE NOCASE, id);

-- A LoRA's generated images, newest first, paged the same way.
CREATE INDEX IF NOT EXISTS idx_gen_images_lora_created
  ON generated_images(lora_training_id, created_at, id);
