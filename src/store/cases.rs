//! Cases and their audit log (events): rows in, rows out.
//!
//! Must not decide anything: which transition is allowed is `command`'s and
//! `lifecycle`'s business; this module only writes what it is told.

use sqlx::Row;

use super::{case_keys, insert_rows, placeholders, varying, Conn, Result, StoreError, MAX_BINDS};
use crate::domain::{CaseId, CaseStatus, Millis};

/// One case as stored.
#[derive(Clone, Debug)]
pub struct CaseRow {
    pub id: CaseId,
    pub status: String,
    pub category: Option<String>,
    pub severity: Option<String>,
    pub owasp: Option<String>,
    pub assignee: Option<String>,
    pub outcome: Option<String>,
    pub resolution: Option<String>,
    pub until_date: Option<String>,
    pub merged_into: Option<CaseId>,
    pub opened_at: Millis,
    pub classified_at: Option<Millis>,
    pub resolved_at: Option<Millis>,
}

impl CaseRow {
    pub fn status(&self) -> CaseStatus {
        self.status.parse().unwrap_or(CaseStatus::Open)
    }
}

#[derive(Clone, Debug)]
pub struct EventRow {
    pub at: Millis,
    pub actor: String,
    pub kind: String,
    pub text: String,
}

const CASE_COLUMNS: &str =
    "id, status, category, severity, owasp, assignee, outcome, resolution, until_date, \
     merged_into, opened_at, classified_at, resolved_at";

fn case_from_row(r: &sqlx::any::AnyRow) -> Result<CaseRow> {
    Ok(CaseRow {
        id: CaseId(r.try_get("id")?),
        status: r.try_get("status")?,
        category: r.try_get("category")?,
        severity: r.try_get("severity")?,
        owasp: r.try_get("owasp")?,
        assignee: r.try_get("assignee")?,
        outcome: r.try_get("outcome")?,
        resolution: r.try_get("resolution")?,
        until_date: r.try_get("until_date")?,
        merged_into: r.try_get::<Option<i64>, _>("merged_into")?.map(CaseId),
        opened_at: r.try_get("opened_at")?,
        classified_at: r.try_get("classified_at")?,
        resolved_at: r.try_get("resolved_at")?,
    })
}

/// Opens cases under the ids the caller took (`Ids`): `(id, opened at)`.
pub async fn insert_many(conn: &mut Conn, list: &[(CaseId, Millis)]) -> Result<()> {
    insert_rows(
        conn,
        "INSERT INTO cases (id, status, opened_at, updated_at)",
        "",
        4,
        list,
        |q, (id, at)| {
            q.bind(id.0)
                .bind(CaseStatus::Open.slug())
                .bind(*at)
                .bind(*at)
        },
    )
    .await?;
    Ok(())
}

pub async fn get(conn: &mut Conn, id: CaseId) -> Result<Option<CaseRow>> {
    let sql = format!("SELECT {CASE_COLUMNS} FROM cases WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id.0)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(case_from_row).transpose()
}

pub async fn require(conn: &mut Conn, id: CaseId, prefix: &str) -> Result<CaseRow> {
    get(conn, id)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("no case {}", id.display(prefix))))
}

/// Cases, newest first; `status` filters (`None` = all).
pub async fn list(conn: &mut Conn, status: Option<CaseStatus>) -> Result<Vec<CaseRow>> {
    let sql =
        format!("SELECT {CASE_COLUMNS} FROM cases WHERE ($1 = '' OR status = $1) ORDER BY id DESC");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(status.map(|s| s.slug()).unwrap_or(""))
        .fetch_all(&mut *conn)
        .await?;
    rows.iter().map(case_from_row).collect()
}

/// Follows `merged_into` to the case that now carries the work.
pub async fn surviving(conn: &mut Conn, mut id: CaseId) -> Result<CaseId> {
    for _ in 0..32 {
        let next: Option<Option<i64>> =
            sqlx::query_scalar("SELECT merged_into FROM cases WHERE id = $1")
                .bind(id.0)
                .fetch_optional(&mut *conn)
                .await?;
        match next.flatten() {
            Some(n) => id = CaseId(n),
            None => break,
        }
    }
    Ok(id)
}

/// Ids of cases merged into `id` (directly).
pub async fn merged_from(conn: &mut Conn, id: CaseId) -> Result<Vec<CaseId>> {
    let ids: Vec<i64> =
        sqlx::query_scalar("SELECT id FROM cases WHERE merged_into = $1 ORDER BY id")
            .bind(id.0)
            .fetch_all(&mut *conn)
            .await?;
    Ok(ids.into_iter().map(CaseId).collect())
}

pub async fn add_event(
    conn: &mut Conn,
    case: CaseId,
    at: Millis,
    actor: &str,
    kind: &str,
    text: &str,
) -> Result<()> {
    sqlx::query("INSERT INTO events (case_id, at, actor, kind, text) VALUES ($1, $2, $3, $4, $5)")
        .bind(case.0)
        .bind(at)
        .bind(actor)
        .bind(kind)
        .bind(text)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// An event not yet stored (see `add_events`).
#[derive(Clone, Debug)]
pub struct NewEvent {
    pub case: CaseId,
    pub at: Millis,
    pub actor: &'static str,
    pub kind: &'static str,
    pub text: String,
}

/// Inserts events in order, one statement per chunk.
pub async fn add_events(conn: &mut Conn, list: &[NewEvent]) -> Result<()> {
    insert_rows(
        conn,
        "INSERT INTO events (case_id, at, actor, kind, text)",
        "",
        5,
        list,
        |q, e| {
            q.bind(e.case.0)
                .bind(e.at)
                .bind(e.actor)
                .bind(e.kind)
                .bind(&e.text)
        },
    )
    .await?;
    Ok(())
}

pub async fn events(conn: &mut Conn, case: CaseId) -> Result<Vec<EventRow>> {
    let rows =
        sqlx::query("SELECT at, actor, kind, text FROM events WHERE case_id = $1 ORDER BY at, id")
            .bind(case.0)
            .fetch_all(&mut *conn)
            .await?;
    rows.iter()
        .map(|r| {
            Ok(EventRow {
                at: r.try_get("at")?,
                actor: r.try_get("actor")?,
                kind: r.try_get("kind")?,
                text: r.try_get("text")?,
            })
        })
        .collect()
}

/// Sets one of the responder-controlled text fields.
#[derive(Clone, Copy, Debug)]
pub enum Field {
    Category,
    Severity,
    Owasp,
    Assignee,
}

pub async fn set_field(
    conn: &mut Conn,
    case: CaseId,
    field: Field,
    value: &str,
    now: Millis,
) -> Result<()> {
    let sql = match field {
        // The first classification is the one that counts for time-to-classification.
        Field::Category => {
            "UPDATE cases SET category = $1, classified_at = COALESCE(classified_at, $2), updated_at = $2 WHERE id = $3"
        }
        Field::Severity => "UPDATE cases SET severity = $1, updated_at = $2 WHERE id = $3",
        Field::Owasp => "UPDATE cases SET owasp = $1, updated_at = $2 WHERE id = $3",
        Field::Assignee => "UPDATE cases SET assignee = $1, updated_at = $2 WHERE id = $3",
    };
    sqlx::query(sql)
        .bind(value)
        .bind(now)
        .bind(case.0)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub async fn resolve(
    conn: &mut Conn,
    case: CaseId,
    outcome: &str,
    resolution: Option<&str>,
    until: Option<&str>,
    now: Millis,
) -> Result<()> {
    sqlx::query(
        "UPDATE cases SET status = 'resolved', outcome = $1, resolution = $2, until_date = $3, \
         resolved_at = $4, updated_at = $4 WHERE id = $5",
    )
    .bind(outcome)
    .bind(resolution)
    .bind(until)
    .bind(now)
    .bind(case.0)
    .execute(&mut *conn)
    .await?;
    case_keys::release(conn, case).await
}

pub async fn reopen(conn: &mut Conn, case: CaseId, now: Millis) -> Result<()> {
    sqlx::query(
        "UPDATE cases SET status = 'open', outcome = NULL, resolution = NULL, until_date = NULL, \
         resolved_at = NULL, merged_into = NULL, updated_at = $1 WHERE id = $2",
    )
    .bind(now)
    .bind(case.0)
    .execute(&mut *conn)
    .await?;
    case_keys::restore(conn, case).await
}

pub async fn merge(conn: &mut Conn, case: CaseId, into: CaseId, now: Millis) -> Result<()> {
    sqlx::query(
        "UPDATE cases SET status = 'merged', merged_into = $1, outcome = 'duplicate', resolved_at = $2, \
         updated_at = $2 WHERE id = $3",
    )
    .bind(into.0)
    .bind(now)
    .bind(case.0)
    .execute(&mut *conn)
    .await?;
    case_keys::transfer(conn, case, into).await
}

/// Locks the case row for this transaction if the case is still in `status`;
/// false when it is not (another instance changed it first). On PostgreSQL a
/// concurrent writer of the same case waits here until this transaction ends,
/// then sees its result: decisions made on a case's state are serialized.
pub async fn lock_if(conn: &mut Conn, case: CaseId, status: CaseStatus) -> Result<bool> {
    lock_all_if(conn, &[case], status).await
}

/// `lock_if` for many cases at once: true when every one (ids distinct) is
/// still in `status`, all of them then locked.
pub async fn lock_all_if(conn: &mut Conn, cases: &[CaseId], status: CaseStatus) -> Result<bool> {
    let mut locked = 0;
    for chunk in cases.chunks(MAX_BINDS - 1) {
        let sql = format!(
            "UPDATE cases SET updated_at = updated_at WHERE status = $1 AND id IN ({})",
            placeholders(2, chunk.len())
        );
        let mut q = varying(sql).bind(status.slug());
        for c in chunk {
            q = q.bind(c.0);
        }
        locked += q.execute(&mut *conn).await?.rows_affected();
    }
    Ok(locked == cases.len() as u64)
}

/// Resolved accepted-risk cases whose `until` date has come (date as `YYYY-MM-DD`).
pub async fn expired_acceptances(conn: &mut Conn, today: &str) -> Result<Vec<CaseId>> {
    let ids: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM cases WHERE status = 'resolved' AND outcome = 'accepted-risk' \
         AND until_date IS NOT NULL AND until_date <= $1 ORDER BY id",
    )
    .bind(today)
    .fetch_all(&mut *conn)
    .await?;
    Ok(ids.into_iter().map(CaseId).collect())
}

/// Number of actions recorded on a case (events of kind `action`).
pub async fn action_count(conn: &mut Conn, case: CaseId) -> Result<usize> {
    let n: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM events WHERE case_id = $1 AND kind = 'action'")
            .bind(case.0)
            .fetch_one(&mut *conn)
            .await?;
    Ok(n as usize)
}
