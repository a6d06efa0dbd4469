-- Who and where a page is for. The signing and payment pages name the Discord server
-- and user they were opened from, so someone handed a link on a phone can tell it is
-- theirs. Known when the link is made (the /wallet link or /train interaction); NULL
-- for a direct message, and on rows made before this migration (the pages then leave
-- the line out).
ALTER TABLE siwe_challenges ADD COLUMN guild_name TEXT;
ALTER TABLE training_orders ADD COLUMN discord_user_name TEXT;
ALTER TABLE training_orders ADD COLUMN guild_name TEXT;
