-- no-transaction
-- The raw-bytes hash is unique only among messages without a Message-ID.
-- A message that has one is found again by it (identical bytes give the same
-- Message-ID, which is unique), so indexing its hash too cost every message an
-- insert at a random place in a second index: on a growing database one more
-- page written, and usually read, per message. Lookups ask for the hash among
-- messages without a Message-ID and for the Message-ID (store::intake).
--
-- SQLite cannot drop a column's UNIQUE constraint, so the table is rebuilt
-- (sqlite.org/lang_altertable.html, "making other kinds of table schema
-- changes"): foreign keys off, rebuild in one transaction, keys on.
-- Run twice, it gives the same schema. Append-only.
PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;
CREATE TABLE messages_rebuilt (
    id           INTEGER PRIMARY KEY,
    message_id   TEXT,
    raw_sha256   TEXT    NOT NULL,
    source       TEXT    NOT NULL,
    sender       TEXT,
    subject      TEXT    NOT NULL,             -- redacted
    disposition  TEXT    NOT NULL,             -- report | quarantined | ignored | command | reply
    reason       TEXT,
    case_id      BIGINT REFERENCES cases(id),
    size         BIGINT  NOT NULL,
    problems     TEXT    NOT NULL DEFAULT '',
    received_at  BIGINT  NOT NULL
);
INSERT INTO messages_rebuilt (id, message_id, raw_sha256, source, sender, subject, disposition,
    reason, case_id, size, problems, received_at)
SELECT id, message_id, raw_sha256, source, sender, subject, disposition,
    reason, case_id, size, problems, received_at FROM messages;
DROP TABLE messages;
ALTER TABLE messages_rebuilt RENAME TO messages;
CREATE UNIQUE INDEX messages_message_id ON messages(message_id) WHERE message_id IS NOT NULL;
CREATE UNIQUE INDEX messages_raw_sha256 ON messages(raw_sha256) WHERE message_id IS NULL;
CREATE INDEX messages_disposition ON messages(disposition, received_at);
COMMIT;
PRAGMA foreign_keys = ON;
