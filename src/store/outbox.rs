//! The letters table: a transactional outbox. Letters are inserted in the same
//! transaction as the change that causes them; the sender claims due rows,
//! then records sent, retry-later or failed.
//!
//! Must not render or send anything: that is `letters` and `outbox`.

use sqlx::Row;

use super::{placeholders, varying, Conn, Dialect, Result, MAX_BINDS};
use crate::domain::{CaseId, Millis};

/// A letter row, already rendered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LetterRow {
    pub id: i64,
    pub case_id: Option<CaseId>,
    pub kind: String,
    pub recipient: String,
    pub subject: String,
    pub body: String,
    pub message_id: String,
    pub in_reply_to: Option<String>,
    /// Space-separated message ids (without angle brackets).
    pub refs: String,
    pub reply_to: Option<String>,
    pub auto_submitted: String,
    pub status: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub created_at: Millis,
    pub sent_at: Option<Millis>,
}

/// Inserts letters, each due at its own time, one statement per chunk; a
/// letter whose Message-ID is already queued is skipped (idempotent).
pub async fn enqueue_many(conn: &mut Conn, list: &[(LetterRow, Millis)]) -> Result<()> {
    super::insert_rows(
        conn,
        "INSERT INTO letters (case_id, kind, recipient, subject, body, message_id, in_reply_to, refs, reply_to, \
         auto_submitted, created_at, next_attempt_at, status, attempts)",
        "ON CONFLICT (message_id) DO NOTHING",
        14,
        list,
        |q, (l, due)| {
            q.bind(l.case_id.map(|c| c.0))
                .bind(&l.kind)
                .bind(&l.recipient)
                .bind(&l.subject)
                .bind(&l.body)
                .bind(&l.message_id)
                .bind(&l.in_reply_to)
                .bind(&l.refs)
                .bind(&l.reply_to)
                .bind(&l.auto_submitted)
                .bind(l.created_at)
                .bind(*due)
                .bind("pending")
                .bind(0_i64)
        },
    )
    .await?;
    Ok(())
}

const LETTER_COLUMNS: &str =
    "id, case_id, kind, recipient, subject, body, message_id, in_reply_to, refs, reply_to, \
     auto_submitted, status, attempts, last_error, created_at, sent_at";

fn letter_from_row(r: &sqlx::any::AnyRow) -> Result<LetterRow> {
    Ok(LetterRow {
        id: r.try_get("id")?,
        case_id: r.try_get::<Option<i64>, _>("case_id")?.map(CaseId),
        kind: r.try_get("kind")?,
        recipient: r.try_get("recipient")?,
        subject: r.try_get("subject")?,
        body: r.try_get("body")?,
        message_id: r.try_get("message_id")?,
        in_reply_to: r.try_get("in_reply_to")?,
        refs: r.try_get("refs")?,
        reply_to: r.try_get("reply_to")?,
        auto_submitted: r.try_get("auto_submitted")?,
        status: r.try_get("status")?,
        attempts: r.try_get("attempts")?,
        last_error: r.try_get("last_error")?,
        created_at: r.try_get("created_at")?,
        sent_at: r.try_get("sent_at")?,
    })
}

/// Claims up to `limit` due letters for `lease_ms`, so another sender skips them.
/// Run inside a write transaction. SQLite has one writer at a time (`BEGIN
/// IMMEDIATE`); on PostgreSQL, `FOR UPDATE SKIP LOCKED` makes concurrent
/// senders on other instances pass over rows being claimed instead of
/// claiming them twice.
pub async fn claim_due(
    conn: &mut Conn,
    now: Millis,
    lease_ms: Millis,
    limit: i64,
) -> Result<Vec<LetterRow>> {
    let lock = match Dialect::of(conn) {
        Dialect::Sqlite => "",
        Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
    };
    let sql = format!(
        "UPDATE letters SET claimed_until = $1 WHERE id IN (SELECT id FROM letters WHERE status = 'pending' \
         AND next_attempt_at <= $2 AND (claimed_until IS NULL OR claimed_until < $2) ORDER BY next_attempt_at, id \
         LIMIT $3{lock}) RETURNING {LETTER_COLUMNS}"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(now + lease_ms)
        .bind(now)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?;
    let mut letters = rows
        .iter()
        .map(letter_from_row)
        .collect::<Result<Vec<_>>>()?;
    letters.sort_by_key(|l| l.id);
    Ok(letters)
}

pub async fn mark_sent(conn: &mut Conn, id: i64, now: Millis) -> Result<()> {
    sqlx::query(
        "UPDATE letters SET status = 'sent', sent_at = $1, attempts = attempts + 1, claimed_until = NULL, \
         last_error = NULL WHERE id = $2",
    )
    .bind(now)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn mark_retry(conn: &mut Conn, id: i64, next_at: Millis, error: &str) -> Result<()> {
    sqlx::query(
        "UPDATE letters SET attempts = attempts + 1, next_attempt_at = $1, last_error = $2, claimed_until = NULL \
         WHERE id = $3",
    )
    .bind(next_at)
    .bind(error)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn mark_failed(conn: &mut Conn, id: i64, error: &str) -> Result<()> {
    sqlx::query(
        "UPDATE letters SET status = 'failed', attempts = attempts + 1, last_error = $1, claimed_until = NULL \
         WHERE id = $2",
    )
    .bind(error)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Gives claimed letters back (a sender that ran short of time for its batch),
/// if the claim is still the one this sender took.
pub async fn release(conn: &mut Conn, ids: &[i64], claimed_until: Millis) -> Result<()> {
    for chunk in ids.chunks(MAX_BINDS - 1) {
        let sql = format!(
            "UPDATE letters SET claimed_until = NULL WHERE claimed_until = $1 AND status = 'pending' \
             AND id IN ({})",
            placeholders(2, chunk.len())
        );
        let mut q = varying(sql).bind(claimed_until);
        for id in chunk {
            q = q.bind(*id);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// What a copy of one of our letters (`outbound.journal`) told us.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Copy {
    /// Not one of our letters.
    Unknown,
    /// Already recorded as sent (the usual case); now confirmed.
    Sent { letter: i64 },
    /// In doubt (handed to SMTP with no result recorded, or a send that
    /// failed after the server may have taken it): now marked sent.
    Settled { letter: i64 },
    /// Pending but never handed to a sender, or failed: left alone.
    Ignored { letter: i64, status: String },
}

/// Records that a copy of the letter with `message_id` came back. Only a
/// letter that may have been handed to SMTP (claimed, or tried before) is
/// settled as sent; a letter no sender touched cannot have a real copy.
pub async fn confirm_copy(conn: &mut Conn, message_id: &str, now: Millis) -> Result<Copy> {
    let row = sqlx::query(
        "SELECT id, status, claimed_until, attempts FROM letters WHERE message_id = $1",
    )
    .bind(message_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else {
        return Ok(Copy::Unknown);
    };
    let letter: i64 = row.try_get("id")?;
    let status: String = row.try_get("status")?;
    let claimed: Option<Millis> = row.try_get("claimed_until")?;
    let attempts: i64 = row.try_get("attempts")?;
    let in_doubt = status == "pending" && (claimed.is_some() || attempts > 0);
    if status != "sent" && !in_doubt {
        return Ok(Copy::Ignored { letter, status });
    }
    sqlx::query(
        "UPDATE letters SET confirmed_at = COALESCE(confirmed_at, $1), sent_at = COALESCE(sent_at, $1), \
         attempts = CASE WHEN status = 'pending' THEN attempts + 1 ELSE attempts END, \
         status = 'sent', claimed_until = NULL, last_error = NULL WHERE id = $2",
    )
    .bind(now)
    .bind(letter)
    .execute(&mut *conn)
    .await?;
    Ok(if in_doubt {
        Copy::Settled { letter }
    } else {
        Copy::Sent { letter }
    })
}

/// Letters of a case (including those to merged cases' reporters), oldest first.
pub async fn of_case(conn: &mut Conn, case: CaseId) -> Result<Vec<LetterRow>> {
    let sql = format!("SELECT {LETTER_COLUMNS} FROM letters WHERE case_id = $1 ORDER BY id");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(case.0)
        .fetch_all(&mut *conn)
        .await?;
    rows.iter().map(letter_from_row).collect()
}

/// Finds the case of a letter we sent, by its Message-ID (reply threading).
pub async fn case_of_message_id(
    conn: &mut Conn,
    message_id: &str,
) -> Result<Option<(CaseId, String, String)>> {
    let row = sqlx::query("SELECT case_id, kind, recipient FROM letters WHERE message_id = $1 AND case_id IS NOT NULL")
        .bind(message_id)
        .fetch_optional(&mut *conn)
        .await?;
    row.map(|r| {
        Ok((
            CaseId(r.try_get("case_id")?),
            r.try_get("kind")?,
            r.try_get("recipient")?,
        ))
    })
    .transpose()
}

/// Letters to `recipient` created since `since`, counted up to `cap` (the
/// per-recipient rate limit needs no more; a flood must not make it a scan).
pub async fn count_to_since(
    conn: &mut Conn,
    recipient: &str,
    since: Millis,
    cap: i64,
) -> Result<i64> {
    Ok(counts_to_since(conn, &[recipient], since, cap)
        .await?
        .first()
        .map(|(_, n)| *n)
        .unwrap_or(0))
}

/// Letters to each of these recipients created since `since`, each counted
/// up to `cap` (rate limit, a batch at once): `(recipient, count)` for those
/// with any.
pub async fn counts_to_since(
    conn: &mut Conn,
    recipients: &[&str],
    since: Millis,
    cap: i64,
) -> Result<Vec<(String, i64)>> {
    let mut out = Vec::new();
    // One capped subquery per recipient, joined by UNION ALL (SQLite allows 500).
    for chunk in recipients.chunks(400) {
        let sql = (0..chunk.len())
            .map(|i| {
                let p = i + 2;
                format!(
                    "SELECT ${p} AS recipient, (SELECT COUNT(*) FROM (SELECT 1 FROM letters \
                     WHERE recipient = ${p} AND created_at >= $1 LIMIT {cap}) x) AS n"
                )
            })
            .collect::<Vec<_>>()
            .join(" UNION ALL ");
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(since);
        for r in chunk {
            q = q.bind(*r);
        }
        for r in q.fetch_all(&mut *conn).await? {
            let n: i64 = r.try_get("n")?;
            if n > 0 {
                out.push((r.try_get("recipient")?, n));
            }
        }
    }
    Ok(out)
}

/// Letters in a status (all, for tests and `stats`).
pub async fn count_status(conn: &mut Conn, status: &str) -> Result<i64> {
    Ok(
        sqlx::query_scalar("SELECT COUNT(*) FROM letters WHERE status = $1")
            .bind(status)
            .fetch_one(&mut *conn)
            .await?,
    )
}
