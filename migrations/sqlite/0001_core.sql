-- closeloop core schema (SQLite). Append-only: never edit a released migration.
-- Timestamps are BIGINT Unix milliseconds, UTC. No plaintext secret is ever stored:
-- text columns hold redacted text, artifacts hold a masked form and a keyed fingerprint.

CREATE TABLE cases (
    id            INTEGER PRIMARY KEY,
    status        TEXT    NOT NULL,            -- open | resolved | merged
    category      TEXT,
    severity      TEXT,
    owasp         TEXT,
    assignee      TEXT,
    outcome       TEXT,
    resolution    TEXT,                        -- the responder's explanation
    until_date    TEXT,                        -- accepted-risk expiry, YYYY-MM-DD
    merged_into   BIGINT REFERENCES cases(id),
    opened_at     BIGINT  NOT NULL,
    classified_at BIGINT,
    resolved_at   BIGINT,
    updated_at    BIGINT  NOT NULL
);
CREATE INDEX cases_status ON cases(status);

-- Every inbound message, whatever became of it.
CREATE TABLE messages (
    id           INTEGER PRIMARY KEY,
    message_id   TEXT,
    raw_sha256   TEXT    NOT NULL UNIQUE,
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
CREATE UNIQUE INDEX messages_message_id ON messages(message_id) WHERE message_id IS NOT NULL;
CREATE INDEX messages_disposition ON messages(disposition, received_at);

CREATE TABLE reports (
    id                 INTEGER PRIMARY KEY,
    message_row        BIGINT  NOT NULL UNIQUE REFERENCES messages(id),
    case_id            BIGINT  NOT NULL REFERENCES cases(id),
    reporter           TEXT    NOT NULL,        -- lowercased address
    reporter_name      TEXT,
    subject            TEXT    NOT NULL,        -- redacted
    message_id         TEXT,                    -- the reporter's own Message-ID, for threading
    sent_at            BIGINT,
    received_at        BIGINT  NOT NULL,
    body               TEXT    NOT NULL,        -- redacted
    orig_from          TEXT,
    orig_subject       TEXT,
    orig_date          TEXT,
    orig_message_id    TEXT,
    forward_style      TEXT,
    problems           TEXT    NOT NULL DEFAULT '',
    recent_case        BIGINT REFERENCES cases(id)  -- matched a recently resolved case (SPEC §4)
);
CREATE INDEX reports_case ON reports(case_id);
CREATE INDEX reports_reporter ON reports(reporter);

CREATE TABLE artifacts (
    id           INTEGER PRIMARY KEY,
    report_id    BIGINT  NOT NULL REFERENCES reports(id),   -- the first report that carried it
    case_id      BIGINT  NOT NULL REFERENCES cases(id),
    kind         TEXT    NOT NULL,
    class        TEXT    NOT NULL,              -- secret | identity | context | original
    masked       TEXT    NOT NULL,
    fingerprint  TEXT    NOT NULL               -- HMAC-SHA256(local key, kind \0 value)
);
-- One row per (case, fingerprint): a secret reported a thousand times costs one row,
-- so dedup lookups stay O(cases carrying it), never O(reports).
CREATE UNIQUE INDEX artifacts_case_fingerprint ON artifacts(case_id, fingerprint);
CREATE INDEX artifacts_fingerprint ON artifacts(fingerprint);

-- The audit log: every change to a case.
CREATE TABLE events (
    id       INTEGER PRIMARY KEY,
    case_id  BIGINT  NOT NULL REFERENCES cases(id),
    at       BIGINT  NOT NULL,
    actor    TEXT    NOT NULL,
    kind     TEXT    NOT NULL,
    text     TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX events_case ON events(case_id, at);

-- Transactional outbox: rendered letters, enqueued with the change that causes them.
CREATE TABLE letters (
    id               INTEGER PRIMARY KEY,
    case_id          BIGINT REFERENCES cases(id),
    kind             TEXT    NOT NULL,
    recipient        TEXT    NOT NULL,
    subject          TEXT    NOT NULL,
    body             TEXT    NOT NULL,
    message_id       TEXT    NOT NULL UNIQUE,
    in_reply_to      TEXT,
    refs             TEXT    NOT NULL DEFAULT '',
    reply_to         TEXT,
    auto_submitted   TEXT    NOT NULL,
    status           TEXT    NOT NULL,          -- pending | sent | failed
    attempts         BIGINT  NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT  NOT NULL,
    last_error       TEXT,
    claimed_until    BIGINT,
    created_at       BIGINT  NOT NULL,
    sent_at          BIGINT
);
CREATE INDEX letters_due ON letters(status, next_attempt_at);
CREATE INDEX letters_case ON letters(case_id);
CREATE INDEX letters_recipient ON letters(recipient, created_at);

-- IMAP position per mailbox.
CREATE TABLE mailbox_state (
    mailbox      TEXT    PRIMARY KEY,
    uidvalidity  BIGINT  NOT NULL,
    last_uid     BIGINT  NOT NULL
);
