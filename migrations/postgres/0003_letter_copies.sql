-- Delivery confirmed by a copy of the letter coming back into the intake
-- mailbox (outbound.journal). Append-only.

-- When the copy arrived. A pending letter whose copy arrives was accepted by
-- the SMTP server even though its sender did not live to record it, so it
-- is marked sent instead of being sent again.
ALTER TABLE letters ADD COLUMN confirmed_at BIGINT;
