-- Substring search of trigger words (/loras search:, /lora autocomplete) through a
-- trigram full-text index, instead of reading every trigger word (104 ms at 100k LoRAs
-- for a search that matches nothing). A table of ours beside the web app's, kept by
-- triggers on `lora_trainings` (so the web app's writes are indexed too); the web app's
-- table and columns are untouched. It stores the LoRA's id rather than relying on
-- `lora_trainings`' implicit rowid, which VACUUM may renumber. Queries still apply the
-- exact LIKE to what the index finds (the index folds case more widely than LIKE).
CREATE VIRTUAL TABLE IF NOT EXISTS lora_trigger_search
  USING fts5(trigger_word, id UNINDEXED, tokenize = 'trigram');

INSERT INTO lora_trigger_search (trigger_word, id)
  SELECT trigger_word, id FROM lora_trainings
  WHERE NOT EXISTS (SELECT 1 FROM lora_trigger_search);

CREATE TRIGGER IF NOT EXISTS lora_trigger_search_insert AFTER INSERT ON lora_trainings
BEGIN
  INSERT INTO lora_trigger_search (trigger_word, id) VALUES (NEW.trigger_word, NEW.id);
END;

-- A row is found again through the index by its old trigger word (a quoted phrase);
-- words under 3 characters have no trigram, so those few are found by a scan.
CREATE TRIGGER IF NOT EXISTS lora_trigger_search_delete AFTER DELETE ON lora_trainings
WHEN length(OLD.trigger_word) >= 3
BEGIN
  DELETE FROM lora_trigger_search WHERE rowid IN (
    SELECT rowid FROM lora_trigger_search
    WHERE lora_trigger_search MATCH '"' || replace(OLD.trigger_word, '"', '""') || '"'
      AND id = OLD.id);
END;

CREATE TRIGGER IF NOT EXISTS lora_trigger_search_delete_short AFTER DELETE ON lora_trainings
WHEN length(OLD.trigger_word) < 3
BEGIN
  DELETE FROM lora_trigger_search WHERE id = OLD.id;
END;

CREATE TRIGGER IF NOT EXISTS lora_trigger_search_update AFTER UPDATE OF trigger_word, id
ON lora_trainings
WHEN (OLD.trigger_word IS NOT NEW.trigger_word OR OLD.id IS NOT NEW.id)
  AND length(OLD.trigger_word) >= 3
BEGIN
  DELETE FROM lora_trigger_search WHERE rowid IN (
    SELECT rowid FROM lora_trigger_search
    WHERE lora_trigger_search MATCH '"' || replace(OLD.trigger_word, '"', '""') || '"'
      AND id = OLD.id);
  INSERT INTO lora_trigger_search (trigger_word, id) VALUES (NEW.trigger_word, NEW.id);
END;

CREATE TRIGGER IF NOT EXISTS lora_trigger_search_update_short AFTER UPDATE OF trigger_word, id
ON lora_trainings
WHEN (OLD.trigger_word IS NOT NEW.trigger_word OR OLD.id IS NOT NEW.id)
  AND length(OLD.trigger_word) < 3
BEGIN
  DELETE FROM lora_trigger_search WHERE id = OLD.id;
  INSERT INTO lora_trigger_search (trigger_word, id) VALUES (NEW.trigger_word, NEW.id);
END;
