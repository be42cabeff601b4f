-- The raw-bytes hash is unique only among messages without a Message-ID.
-- A message that has one is found again by it (identical bytes give the same
-- Message-ID, which is unique), so indexing its hash too cost every message an
-- insert at a random place in a second index: on a growing database one more
-- page written, and usually read, per message. Lookups ask for the hash among
-- messages without a Message-ID and for the Message-ID (store::intake).
-- Append-only.
ALTER TABLE messages DROP CONSTRAINT messages_raw_sha256_key;
CREATE UNIQUE INDEX messages_raw_sha256 ON messages(raw_sha256) WHERE message_id IS NULL;
