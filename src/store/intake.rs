//! Inbound messages, reports and their artifacts: rows in, rows out, and the
//! indexed lookups dedup needs (by raw hash, Message-ID, fingerprint).
//!
//! Must not hold plaintext secrets: callers pass redacted text, masked forms
//! and fingerprints only.

use sqlx::Row;

use super::{binds, fetch_in, insert_rows, placeholders, varying, Conn, Result, MAX_BINDS};
use crate::domain::{CaseId, Millis};

/// What we already know about an inbound message (idempotent ingest).
#[derive(Clone, Debug)]
pub struct SeenMessage {
    pub disposition: String,
    pub case_id: Option<CaseId>,
    /// Its body's keyed hash (migration 0006), when known.
    pub body_hash: Option<String>,
}

impl SeenMessage {
    fn from_row(r: &sqlx::any::AnyRow) -> Result<SeenMessage> {
        Ok(SeenMessage {
            disposition: r.try_get("disposition")?,
            case_id: r.try_get::<Option<i64>, _>("case_id")?.map(CaseId),
            body_hash: r.try_get("body_hash")?,
        })
    }
}

/// Looks a message up by Message-ID, and by raw-bytes hash among messages
/// stored without one. Identical bytes give the same Message-ID, so a message
/// that has one is found by it; only messages without one have their hash
/// indexed (migration 0005: one random-place index write less per message).
pub async fn seen(
    conn: &mut Conn,
    raw_sha256: &str,
    message_id: Option<&str>,
) -> Result<Option<SeenMessage>> {
    let row = sqlx::query(
        "SELECT disposition, case_id, body_hash FROM messages \
         WHERE (raw_sha256 = $1 AND message_id IS NULL) OR ($2 <> '' AND message_id = $2) LIMIT 1",
    )
    .bind(raw_sha256)
    .bind(message_id.unwrap_or(""))
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(SeenMessage::from_row).transpose()
}

/// A quarantined message stored without a Message-ID whose body has this keyed hash:
/// a message that reused another's Message-ID, delivered again with other header
/// fields (migration 0007).
pub async fn set_aside_with_body(conn: &mut Conn, body_hash: &str) -> Result<Option<SeenMessage>> {
    let row = sqlx::query(
        "SELECT disposition, case_id, body_hash FROM messages \
         WHERE body_hash = $1 AND message_id IS NULL AND disposition = 'quarantined' LIMIT 1",
    )
    .bind(body_hash)
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(SeenMessage::from_row).transpose()
}

/// Messages already stored under any of these Message-IDs, or without a
/// Message-ID under any of these raw-bytes hashes (a whole batch at once, as
/// `seen`): `(raw_sha256, message_id, what we know)` per row.
pub async fn seen_any(
    conn: &mut Conn,
    raw_sha256s: &[&str],
    message_ids: &[&str],
) -> Result<Vec<(String, Option<String>, SeenMessage)>> {
    let mut out = Vec::new();
    let half = MAX_BINDS / 2;
    let chunks = raw_sha256s.len().max(message_ids.len()).div_ceil(half);
    for c in 0..chunks {
        let shas = &raw_sha256s
            [(c * half).min(raw_sha256s.len())..((c + 1) * half).min(raw_sha256s.len())];
        let mids = &message_ids
            [(c * half).min(message_ids.len())..((c + 1) * half).min(message_ids.len())];
        let mut wheres = Vec::new();
        if !shas.is_empty() {
            wheres.push(format!(
                "(raw_sha256 IN ({}) AND message_id IS NULL)",
                binds(conn, 1, shas.len())
            ));
        }
        if !mids.is_empty() {
            wheres.push(format!(
                "message_id IN ({})",
                binds(conn, 1 + shas.len(), mids.len())
            ));
        }
        if wheres.is_empty() {
            continue;
        }
        let sql = format!(
            "SELECT raw_sha256, message_id, disposition, case_id, body_hash FROM messages WHERE {}",
            wheres.join(" OR ")
        );
        let mut q = varying(sql);
        for v in shas.iter().chain(mids) {
            q = q.bind(*v);
        }
        for r in q.fetch_all(&mut *conn).await? {
            out.push((
                r.try_get("raw_sha256")?,
                r.try_get("message_id")?,
                SeenMessage::from_row(&r)?,
            ));
        }
    }
    Ok(out)
}

/// A message about to be stored: every text field already redacted.
#[derive(Clone, Debug)]
pub struct NewMessage {
    pub message_id: Option<String>,
    pub raw_sha256: String,
    /// The body's keyed hash, when the whole message was read (`SeenMessage`).
    pub body_hash: Option<String>,
    pub source: String,
    pub sender: Option<String>,
    pub subject: String,
    pub disposition: &'static str,
    pub reason: Option<String>,
    pub case_id: Option<CaseId>,
    pub size: usize,
    /// What went wrong reading it, one problem a line ([`join_problems`]).
    pub problems: String,
    pub received_at: Millis,
}

/// A message's problems as stored: one a line (a problem's own text may hold "; ").
pub fn join_problems(problems: &[String]) -> String {
    problems.join("\n")
}

/// The problems stored by [`join_problems`].
pub fn split_problems(stored: &str) -> impl Iterator<Item = &str> {
    stored.lines().filter(|p| !p.is_empty())
}

/// Inserts messages under the ids the caller took (`Ids`), a few statements for all.
pub async fn insert_messages(conn: &mut Conn, list: &[(i64, &NewMessage)]) -> Result<()> {
    insert_rows(
        conn,
        "INSERT INTO messages (id, message_id, raw_sha256, body_hash, source, sender, subject, disposition, \
         reason, case_id, size, problems, received_at)",
        "",
        13,
        list,
        |q, (id, m)| {
            q.bind(*id)
                .bind(&m.message_id)
                .bind(&m.raw_sha256)
                .bind(&m.body_hash)
                .bind(&m.source)
                .bind(&m.sender)
                .bind(&m.subject)
                .bind(m.disposition)
                .bind(&m.reason)
                .bind(m.case_id.map(|c| c.0))
                .bind(m.size as i64)
                .bind(&m.problems)
                .bind(m.received_at)
        },
    )
    .await?;
    Ok(())
}

/// A report about to be stored: every text field already redacted.
#[derive(Clone, Debug, Default)]
pub struct NewReport {
    pub case_id: i64,
    pub reporter: String,
    pub reporter_name: Option<String>,
    pub subject: String,
    pub message_id: Option<String>,
    pub sent_at: Option<Millis>,
    pub received_at: Millis,
    pub body: String,
    pub orig_from: Option<String>,
    pub orig_subject: Option<String>,
    pub orig_date: Option<String>,
    pub orig_message_id: Option<String>,
    pub forward_style: Option<String>,
    /// What went wrong reading it, one problem a line ([`join_problems`]).
    pub problems: String,
    pub recent_case: Option<CaseId>,
}

impl NewReport {
    /// The report as `report` would read it back once stored under `id`.
    pub fn into_row(self, id: i64) -> ReportRow {
        ReportRow {
            id,
            case_id: CaseId(self.case_id),
            reporter: self.reporter,
            reporter_name: self.reporter_name,
            subject: self.subject,
            message_id: self.message_id,
            sent_at: self.sent_at,
            received_at: self.received_at,
            body: self.body,
            orig_from: self.orig_from,
            orig_subject: self.orig_subject,
            orig_date: self.orig_date,
            orig_message_id: self.orig_message_id,
            problems: self.problems,
        }
    }
}

/// Inserts reports under the ids the caller took (`Ids`): `(id, message row, report)`.
pub async fn insert_reports(conn: &mut Conn, list: &[(i64, i64, &NewReport)]) -> Result<()> {
    insert_rows(
        conn,
        "INSERT INTO reports (id, message_row, case_id, reporter, reporter_name, subject, message_id, sent_at, \
         received_at, body, orig_from, orig_subject, orig_date, orig_message_id, forward_style, problems, recent_case)",
        "",
        17,
        list,
        |q, (id, message_row, r)| {
            q.bind(*id)
                .bind(*message_row)
                .bind(r.case_id)
                .bind(&r.reporter)
                .bind(&r.reporter_name)
                .bind(&r.subject)
                .bind(&r.message_id)
                .bind(r.sent_at)
                .bind(r.received_at)
                .bind(&r.body)
                .bind(&r.orig_from)
                .bind(&r.orig_subject)
                .bind(&r.orig_date)
                .bind(&r.orig_message_id)
                .bind(&r.forward_style)
                .bind(&r.problems)
                .bind(r.recent_case.map(|c| c.0))
        },
    )
    .await?;
    Ok(())
}

/// An artifact as stored: never the plaintext.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArtifactRow {
    pub kind: String,
    pub class: String,
    pub masked: String,
    pub fingerprint: String,
}

/// Inserts artifacts, `(report, case, artifact)`, in order, a few statements
/// for all; an artifact its case already carries is kept as it was.
pub async fn insert_artifacts(conn: &mut Conn, list: &[(i64, CaseId, &ArtifactRow)]) -> Result<()> {
    insert_rows(
        conn,
        "INSERT INTO artifacts (report_id, case_id, kind, class, masked, fingerprint)",
        "ON CONFLICT (case_id, fingerprint) DO NOTHING",
        6,
        list,
        |q, (report, case, a)| {
            q.bind(*report)
                .bind(case.0)
                .bind(&a.kind)
                .bind(&a.class)
                .bind(&a.masked)
                .bind(&a.fingerprint)
        },
    )
    .await?;
    Ok(())
}

/// A case that already carries a fingerprint, as dedup needs to see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FingerprintHit {
    pub case_id: CaseId,
    pub status: String,
    pub merged_into: Option<CaseId>,
    pub outcome: Option<String>,
    pub resolved_at: Option<Millis>,
    pub class: String,
}

/// Cases carrying each of these fingerprints (one indexed lookup for all),
/// grouped by fingerprint in the order given, newest case first within each.
pub async fn cases_with_fingerprints(
    conn: &mut Conn,
    fingerprints: &[&str],
) -> Result<Vec<Vec<FingerprintHit>>> {
    let mut found: Vec<(String, FingerprintHit)> = Vec::new();
    for chunk in fingerprints.chunks(MAX_BINDS) {
        let sql = format!(
            "SELECT a.fingerprint, c.id, c.status, c.merged_into, c.outcome, c.resolved_at, a.class \
             FROM artifacts a JOIN cases c ON c.id = a.case_id WHERE a.fingerprint IN ({}) ORDER BY c.id DESC",
            binds(conn, 1, chunk.len())
        );
        let mut q = varying(sql);
        for fp in chunk {
            q = q.bind(*fp);
        }
        for r in q.fetch_all(&mut *conn).await? {
            found.push((
                r.try_get("fingerprint")?,
                FingerprintHit {
                    case_id: CaseId(r.try_get("id")?),
                    status: r.try_get("status")?,
                    merged_into: r.try_get::<Option<i64>, _>("merged_into")?.map(CaseId),
                    outcome: r.try_get("outcome")?,
                    resolved_at: r.try_get("resolved_at")?,
                    class: r.try_get("class")?,
                },
            ));
        }
    }
    let mut by_fp: std::collections::HashMap<String, Vec<FingerprintHit>> =
        std::collections::HashMap::new();
    for (fp, hit) in found {
        by_fp.entry(fp).or_default().push(hit);
    }
    Ok(fingerprints
        .iter()
        .map(|fp| by_fp.get(*fp).cloned().unwrap_or_default())
        .collect())
}

/// A stored report, as `case show` and the letters need it.
#[derive(Clone, Debug)]
pub struct ReportRow {
    pub id: i64,
    pub case_id: CaseId,
    pub reporter: String,
    pub reporter_name: Option<String>,
    pub subject: String,
    pub message_id: Option<String>,
    pub sent_at: Option<Millis>,
    pub received_at: Millis,
    pub body: String,
    pub orig_from: Option<String>,
    pub orig_subject: Option<String>,
    pub orig_date: Option<String>,
    pub orig_message_id: Option<String>,
    pub problems: String,
}

const REPORT_COLUMNS: &str =
    "id, case_id, reporter, reporter_name, subject, message_id, sent_at, received_at, body, \
     orig_from, orig_subject, orig_date, orig_message_id, problems";

fn report_from_row(r: &sqlx::any::AnyRow) -> Result<ReportRow> {
    Ok(ReportRow {
        id: r.try_get("id")?,
        case_id: CaseId(r.try_get("case_id")?),
        reporter: r.try_get("reporter")?,
        reporter_name: r.try_get("reporter_name")?,
        subject: r.try_get("subject")?,
        message_id: r.try_get("message_id")?,
        sent_at: r.try_get("sent_at")?,
        received_at: r.try_get("received_at")?,
        body: r.try_get("body")?,
        orig_from: r.try_get("orig_from")?,
        orig_subject: r.try_get("orig_subject")?,
        orig_date: r.try_get("orig_date")?,
        orig_message_id: r.try_get("orig_message_id")?,
        problems: r.try_get("problems")?,
    })
}

/// One report by id.
pub async fn report(conn: &mut Conn, id: i64) -> Result<Option<ReportRow>> {
    let sql = format!("SELECT {REPORT_COLUMNS} FROM reports WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(report_from_row).transpose()
}

/// Reports on each of these cases and how many distinct people sent them:
/// `(case, reports, people)`, for cases with at least one report.
pub async fn report_tallies(conn: &mut Conn, cases: &[CaseId]) -> Result<Vec<(CaseId, i64, i64)>> {
    let rows = fetch_in(
        conn,
        cases,
        |list| {
            format!(
                "SELECT case_id, COUNT(*) AS n, COUNT(DISTINCT reporter) AS people FROM reports \
                 WHERE case_id IN ({list}) GROUP BY case_id"
            )
        },
        |q, c| q.bind(c.0),
    )
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                CaseId(r.try_get("case_id")?),
                r.try_get("n")?,
                r.try_get("people")?,
            ))
        })
        .collect()
}

/// Distinct reporters of each of these cases: the first `first` in order of
/// their first report, and any of `also` who reported on it, as
/// `(case, reporter, rank)` in rank order (rank 1 = the first reporter).
pub async fn reporters_of(
    conn: &mut Conn,
    cases: &[CaseId],
    first: i64,
    also: &[&str],
) -> Result<Vec<(CaseId, String, i64)>> {
    let mut out = Vec::new();
    let step = MAX_BINDS / 2;
    for chunk in cases.chunks(step) {
        let alsos: Vec<&[&str]> = if also.is_empty() {
            vec![&[]]
        } else {
            also.chunks(step).collect()
        };
        for also in alsos {
            let named = if also.is_empty() {
                String::new()
            } else {
                format!(
                    " OR reporter IN ({})",
                    placeholders(2 + chunk.len(), also.len())
                )
            };
            let sql = format!(
                "SELECT case_id, reporter, n FROM (SELECT case_id, reporter, \
                 ROW_NUMBER() OVER (PARTITION BY case_id ORDER BY MIN(id)) AS n \
                 FROM reports WHERE case_id IN ({}) GROUP BY case_id, reporter) ranked \
                 WHERE n <= $1{named} ORDER BY case_id, n",
                placeholders(2, chunk.len())
            );
            let mut q = varying(sql).bind(first);
            for c in chunk {
                q = q.bind(c.0);
            }
            for a in also {
                q = q.bind(*a);
            }
            for r in q.fetch_all(&mut *conn).await? {
                out.push((
                    CaseId(r.try_get("case_id")?),
                    r.try_get("reporter")?,
                    r.try_get("n")?,
                ));
            }
        }
    }
    out.sort_by_key(|(c, _, n)| (*c, *n));
    out.dedup();
    Ok(out)
}

/// Reports filed on these cases, oldest first.
pub async fn reports_of(conn: &mut Conn, case: CaseId) -> Result<Vec<ReportRow>> {
    let sql =
        format!("SELECT {REPORT_COLUMNS} FROM reports WHERE case_id = $1 ORDER BY received_at, id");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(case.0)
        .fetch_all(&mut *conn)
        .await?;
    rows.iter().map(report_from_row).collect()
}

/// Distinct artifacts of a case (original-message keys excluded), in first-seen order.
pub async fn artifacts_of(conn: &mut Conn, case: CaseId) -> Result<Vec<ArtifactRow>> {
    Ok(artifacts_of_cases(conn, &[case])
        .await?
        .into_iter()
        .map(|(_, a)| a)
        .collect())
}

/// Distinct artifacts of each of these cases (original-message keys
/// excluded), in first-seen order: `(case, artifact)`.
pub async fn artifacts_of_cases(
    conn: &mut Conn,
    cases: &[CaseId],
) -> Result<Vec<(CaseId, ArtifactRow)>> {
    let rows = fetch_in(
        conn,
        cases,
        |list| {
            format!(
                "SELECT case_id, kind, class, masked, fingerprint FROM artifacts \
                 WHERE case_id IN ({list}) AND class <> 'original' ORDER BY id"
            )
        },
        |q, c| q.bind(c.0),
    )
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                CaseId(r.try_get("case_id")?),
                ArtifactRow {
                    kind: r.try_get("kind")?,
                    class: r.try_get("class")?,
                    masked: r.try_get("masked")?,
                    fingerprint: r.try_get("fingerprint")?,
                },
            ))
        })
        .collect()
}
