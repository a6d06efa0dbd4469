-- Short server-side handles for row ids too long to travel in a Discord custom_id
-- (100 characters): a button carries `*<handle>` and the click reads the id back here.
-- One handle per id (the UNIQUE index), so rebuilding a view gives the same custom_ids.
CREATE TABLE IF NOT EXISTS id_handles (
  handle TEXT PRIMARY KEY,
  full_id TEXT NOT NULL UNIQUE,
  created_at TEXT NOT NULL
);
