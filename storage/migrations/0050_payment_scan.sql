-- The payment scanner's place on Base: the next block it will read. One row per chain
-- scan ("base"); every bot process shares it, and each moves it forward only from the
-- value it read (compare and set), so two processes never both count a range as done.
-- Payments found are claimed in `payments` as pasted ones are (UNIQUE there).
CREATE TABLE IF NOT EXISTS payment_scan (
  name TEXT PRIMARY KEY,
  next_block INTEGER NOT NULL,
  updated_at TEXT NOT NULL
);
-- Open quotes are found from draft orders: the scanner asks for them every turn.
CREATE INDEX IF NOT EXISTS idx_training_orders_status ON training_orders(status, quote_id);
