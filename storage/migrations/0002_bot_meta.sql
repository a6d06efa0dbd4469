-- Small key/value facts the bot keeps about itself (e.g. the hash of the last command sync).
CREATE TABLE IF NOT EXISTS bot_meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
