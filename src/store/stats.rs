//! Reads for the measures of the loop (SPEC §8), the SLA timers and the health
//! check: plain rows and counts, no arithmetic.
//!
//! Must not decide anything: percentiles, windows and "past SLA" are
//! computed by `stats` and `sla` from what this module returns.

use sqlx::Row;

use super::{Conn, Result};
use crate::domain::{CaseId, Millis};

/// One report: which case it landed on, who sent it, when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportFact {
    pub id: i64,
    pub case_id: CaseId,
    pub reporter: String,
    pub received_at: Millis,
}

/// One case with the times that matter for measures and timers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaseFact {
    pub id: CaseId,
    pub status: String,
    pub outcome: Option<String>,
    pub merged_into: Option<CaseId>,
    pub opened_at: Millis,
    pub classified_at: Option<Millis>,
    pub resolved_at: Option<Millis>,
    /// The last time it reopened (`opened_at` is not moved by a reopen).
    pub last_reopen_at: Option<Millis>,
    /// The first `resolve` command: reports after it are repeat reports.
    pub first_resolve_at: Option<Millis>,
}

/// An outcome (or recent-case outcome) letter that really went out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SentOutcome {
    pub case_id: CaseId,
    pub recipient: String,
    pub created_at: Millis,
    pub sent_at: Millis,
}

/// What the SLA timers need to know about one open case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaseClock {
    pub id: CaseId,
    pub opened_at: Millis,
    pub classified_at: Option<Millis>,
    pub last_reopen_at: Option<Millis>,
    pub last_reminder_at: Option<Millis>,
    pub last_update_at: Option<Millis>,
}

/// Event kinds the SLA timers write (and read back to stay idempotent).
pub const REMINDER_EVENT: &str = "sla-reminder";
pub const UPDATE_EVENT: &str = "sla-update";

pub async fn reports(conn: &mut Conn) -> Result<Vec<ReportFact>> {
    let rows = sqlx::query("SELECT id, case_id, reporter, received_at FROM reports ORDER BY id")
        .fetch_all(&mut *conn)
        .await?;
    rows.iter()
        .map(|r| {
            Ok(ReportFact {
                id: r.try_get("id")?,
                case_id: CaseId(r.try_get("case_id")?),
                reporter: r.try_get("reporter")?,
                received_at: r.try_get("received_at")?,
            })
        })
        .collect()
}

pub async fn cases(conn: &mut Conn) -> Result<Vec<CaseFact>> {
    let rows = sqlx::query(
        "SELECT c.id, c.status, c.outcome, c.merged_into, c.opened_at, c.classified_at, c.resolved_at, \
         (SELECT MAX(e.at) FROM events e WHERE e.case_id = c.id AND e.kind = 'reopen') AS last_reopen_at, \
         (SELECT MIN(e.at) FROM events e WHERE e.case_id = c.id AND e.kind = 'resolve') AS first_resolve_at \
         FROM cases c ORDER BY c.id",
    )
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(CaseFact {
                id: CaseId(r.try_get("id")?),
                status: r.try_get("status")?,
                outcome: r.try_get("outcome")?,
                merged_into: r.try_get::<Option<i64>, _>("merged_into")?.map(CaseId),
                opened_at: r.try_get("opened_at")?,
                classified_at: r.try_get("classified_at")?,
                resolved_at: r.try_get("resolved_at")?,
                last_reopen_at: r.try_get("last_reopen_at")?,
                first_resolve_at: r.try_get("first_resolve_at")?,
            })
        })
        .collect()
}

/// Outcome and recent-case letters with status `sent` (queued ones do not count).
pub async fn sent_outcomes(conn: &mut Conn) -> Result<Vec<SentOutcome>> {
    let rows = sqlx::query(
        "SELECT case_id, recipient, created_at, sent_at FROM letters \
         WHERE kind IN ('outcome', 'recent') AND status = 'sent' AND case_id IS NOT NULL \
         AND sent_at IS NOT NULL ORDER BY id",
    )
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(SentOutcome {
                case_id: CaseId(r.try_get("case_id")?),
                recipient: r.try_get("recipient")?,
                created_at: r.try_get("created_at")?,
                sent_at: r.try_get("sent_at")?,
            })
        })
        .collect()
}

/// Inbound messages with `disposition` received at or after `since`.
pub async fn messages_since(conn: &mut Conn, disposition: &str, since: Millis) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "SELECT COUNT(*) FROM messages WHERE disposition = $1 AND received_at >= $2",
    )
    .bind(disposition)
    .bind(since)
    .fetch_one(&mut *conn)
    .await?)
}

/// Letters in `status` created at or after `since`.
pub async fn letters_since(conn: &mut Conn, status: &str, since: Millis) -> Result<i64> {
    Ok(
        sqlx::query_scalar("SELECT COUNT(*) FROM letters WHERE status = $1 AND created_at >= $2")
            .bind(status)
            .bind(since)
            .fetch_one(&mut *conn)
            .await?,
    )
}

/// Pending letters that were due before `before` (a stuck outbox shows here).
pub async fn overdue_letters(conn: &mut Conn, before: Millis) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "SELECT COUNT(*) FROM letters WHERE status = 'pending' AND next_attempt_at < $1",
    )
    .bind(before)
    .fetch_one(&mut *conn)
    .await?)
}

/// Pending letters created before `before` that have been tried and refused (a server
/// that will not take them: down, refusing the sign-in, refusing by policy). Retries move
/// their due time forward, so `overdue_letters` never counts them.
pub async fn failing_letters(conn: &mut Conn, before: Millis) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "SELECT COUNT(*) FROM letters WHERE status = 'pending' AND attempts > 0 AND created_at < $1",
    )
    .bind(before)
    .fetch_one(&mut *conn)
    .await?)
}

/// A trivial round trip: is the database there?
pub async fn ping(conn: &mut Conn) -> Result<()> {
    sqlx::query("SELECT 1").execute(&mut *conn).await?;
    Ok(())
}

const CLOCK_SQL: &str = "SELECT c.id, c.opened_at, c.classified_at, \
     (SELECT MAX(e.at) FROM events e WHERE e.case_id = c.id AND e.kind = 'reopen') AS last_reopen_at, \
     (SELECT MAX(e.at) FROM events e WHERE e.case_id = c.id AND e.kind = 'sla-reminder') AS last_reminder_at, \
     (SELECT MAX(e.at) FROM events e WHERE e.case_id = c.id AND e.kind = 'sla-update') AS last_update_at \
     FROM cases c WHERE c.status = 'open'";

fn clock_from_row(r: &sqlx::any::AnyRow) -> Result<CaseClock> {
    Ok(CaseClock {
        id: CaseId(r.try_get("id")?),
        opened_at: r.try_get("opened_at")?,
        classified_at: r.try_get("classified_at")?,
        last_reopen_at: r.try_get("last_reopen_at")?,
        last_reminder_at: r.try_get("last_reminder_at")?,
        last_update_at: r.try_get("last_update_at")?,
    })
}

/// Clocks of every open case.
pub async fn open_clocks(conn: &mut Conn) -> Result<Vec<CaseClock>> {
    let sql = format!("{CLOCK_SQL} ORDER BY c.id");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .fetch_all(&mut *conn)
        .await?;
    rows.iter().map(clock_from_row).collect()
}

/// Takes the case's row lock (a no-op update: PostgreSQL locks the row until
/// commit; SQLite's write transaction already holds the database), then
/// reads its clock afresh, so two timer passes cannot both act on it.
pub async fn lock_clock(conn: &mut Conn, case: CaseId) -> Result<Option<CaseClock>> {
    sqlx::query("UPDATE cases SET updated_at = updated_at WHERE id = $1")
        .bind(case.0)
        .execute(&mut *conn)
        .await?;
    let sql = format!("{CLOCK_SQL} AND c.id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(case.0)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(clock_from_row).transpose()
}
