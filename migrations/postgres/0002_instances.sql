-- Several closeloop instances on one database. Append-only.

-- Named leases: exactly one instance reads the mailbox at a time. A holder
-- renews before `expires_at` (Unix ms); anyone may take an expired lease.
CREATE TABLE leases (
    name        TEXT    PRIMARY KEY,
    holder      TEXT    NOT NULL,
    expires_at  BIGINT  NOT NULL
);

-- The dedup keys (secret and identity fingerprints, forwarded originals) of
-- OPEN cases, one case per key. Two instances opening a case for the same
-- secret at the same moment collide here; the loser retries and joins.
CREATE TABLE case_keys (
    key      TEXT    PRIMARY KEY,
    case_id  BIGINT  NOT NULL REFERENCES cases(id)
);
CREATE INDEX case_keys_case ON case_keys(case_id);

INSERT INTO case_keys (key, case_id)
SELECT a.fingerprint, MIN(a.case_id) FROM artifacts a JOIN cases c ON c.id = a.case_id
WHERE c.status = 'open' AND a.class IN ('secret', 'identity', 'original')
GROUP BY a.fingerprint;
