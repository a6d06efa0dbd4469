-- A change log of lora_trainings, kept by triggers (so it sees the web app's writes as
-- well as every bot process's): the id of each row inserted, updated or deleted, in
-- order. An in-memory autocomplete index (bot/services/lora_index.py) asks "what changed
-- after seq N?" every couple of seconds and re-reads only those rows. Only the newest
-- 10,000 entries are kept; a reader that fell further behind reloads everything.
CREATE TABLE IF NOT EXISTS lora_changes (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  lora_id TEXT NOT NULL
);

CREATE TRIGGER IF NOT EXISTS lora_changes_insert AFTER INSERT ON lora_trainings
BEGIN
  INSERT INTO lora_changes (lora_id) VALUES (NEW.id);
  DELETE FROM lora_changes WHERE seq <= (SELECT MAX(seq) FROM lora_changes) - 10000;
END;

CREATE TRIGGER IF NOT EXISTS lora_changes_delete AFTER DELETE ON lora_trainings
BEGIN
  INSERT INTO lora_changes (lora_id) VALUES (OLD.id);
  DELETE FROM lora_changes WHERE seq <= (SELECT MAX(seq) FROM lora_changes) - 10000;
END;

CREATE TRIGGER IF NOT EXISTS lora_changes_update AFTER UPDATE ON lora_trainings
BEGIN
  INSERT INTO lora_changes (lora_id) SELECT OLD.id WHERE OLD.id IS NOT NEW.id;
  INSERT INTO lora_changes (lora_id) VALUES (NEW.id);
  DELETE FROM lora_changes WHERE seq <= (SELECT MAX(seq) FROM lora_changes) - 10000;
END;
