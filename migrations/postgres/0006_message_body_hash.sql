-- A keyed hash (HMAC-SHA256 with the local key) of a message's body, line ends
-- and trailing blanks aside: two deliveries of one message differ only in the
-- header fields added on the way, so a message whose Message-ID is already
-- stored with another body is not the same message — a sender reusing
-- Message-IDs, or someone wanting a report to vanish — and is quarantined
-- instead of being taken as already ingested (pipeline). NULL where unknown:
-- rows stored before, and messages read only in part. Not indexed: it is read
-- with the row found by Message-ID. Append-only.
ALTER TABLE messages ADD COLUMN body_hash TEXT;
