-- Wallets linked to Discord users with Sign-In with Ethereum, and the one-time link
-- challenges (token, nonce, the exact message text) that prove them.
CREATE TABLE IF NOT EXISTS wallet_links (
  discord_user_id TEXT PRIMARY KEY,
  wallet_address TEXT NOT NULL,
  proof TEXT NOT NULL,
  linked_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_wallet_links_wallet ON wallet_links(wallet_address);

CREATE TABLE IF NOT EXISTS siwe_challenges (
  token TEXT PRIMARY KEY,
  discord_user_id TEXT NOT NULL,
  discord_user_name TEXT NOT NULL,
  nonce TEXT NOT NULL UNIQUE,
  address TEXT,
  message TEXT,
  created_at TEXT NOT NULL,
  expires_at TEXT NOT NULL,
  consumed_at TEXT,
  application_id TEXT,
  interaction_token TEXT,
  message_id TEXT
);
CREATE INDEX IF NOT EXISTS idx_siwe_challenges_user ON siwe_challenges(discord_user_id, created_at);
