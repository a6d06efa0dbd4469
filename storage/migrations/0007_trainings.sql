-- Trainings started from Discord: who asked, where progress is shown, which credit paid
-- for it. The web app's own row (lora_trainings) stays the record of the LoRA itself.
CREATE TABLE IF NOT EXISTS training_jobs (
  lora_training_id TEXT PRIMARY KEY,
  request_id TEXT NOT NULL UNIQUE,
  discord_user_id TEXT NOT NULL,
  channel_id TEXT,
  progress_message_id TEXT,
  credit_id TEXT,
  state TEXT NOT NULL,
  queue_position INTEGER,
  steps_done INTEGER,
  steps_total INTEGER,
  error TEXT,
  notified_at TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_training_jobs_user ON training_jobs(discord_user_id, created_at);

-- Which bot process watches which pending training: a lease, renewed while it polls, so
-- several processes on one database never handle one training twice.
CREATE TABLE IF NOT EXISTS training_leases (
  lora_training_id TEXT PRIMARY KEY,
  owner TEXT NOT NULL,
  expires_at TEXT NOT NULL
);
