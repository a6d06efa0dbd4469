-- Wallet-link secrets. The link token is a credential, so it no longer doubles as the
-- SIWE message's Request ID (users paste that text into third-party signing tools):
-- each challenge gets its own random request_id. Rows from before this migration have
-- none and are refused as expired (they live 10 minutes; the user runs /wallet link
-- again). signature_attempts counts the signature checks started for a token, so a
-- token dies after a few wrong signatures instead of letting anyone try forever.
ALTER TABLE siwe_challenges ADD COLUMN request_id TEXT;
ALTER TABLE siwe_challenges ADD COLUMN signature_attempts INTEGER NOT NULL DEFAULT 0;
