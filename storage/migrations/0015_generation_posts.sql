-- Where each /generate batch was posted in Discord (ours). The thread post holds
-- Discord's own copy of the images (fal's URLs expire), so the LoRA's detail page links
-- each batch to it. One row per batch; written after the post succeeds, so a batch
-- without a row simply has no link.
CREATE TABLE IF NOT EXISTS generation_posts (
  batch_id TEXT PRIMARY KEY,
  guild_id TEXT,
  channel_id TEXT NOT NULL,
  message_id TEXT NOT NULL,
  created_at TEXT NOT NULL
);
