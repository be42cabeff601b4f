//! `closeloop cases` and `closeloop case show`: tables for people, JSON with
//! the stable fields of SPEC §2 for scripts. Artifacts appear masked only.

use serde_json::{json, Value};

use super::{Failure, Outcome, StatusFilter};
use crate::context::Context;
use crate::domain::{rfc3339, CaseId, CaseStatus};
use crate::store::cases::{self, CaseRow};
use crate::store::intake::{self as rows, ReportRow};
use crate::store::{outbox, Conn, StoreError};

/// A case with what it gathered, including reports of cases merged into it.
pub struct CaseView {
    pub row: CaseRow,
    pub reports: Vec<ReportRow>,
    pub artifacts: Vec<rows::ArtifactRow>,
}

pub async fn load(conn: &mut Conn, row: CaseRow) -> Result<CaseView, StoreError> {
    let mut reports = rows::reports_of(conn, row.id).await?;
    let mut artifacts = rows::artifacts_of(conn, row.id).await?;
    for merged in cases::merged_from(conn, row.id).await? {
        reports.extend(rows::reports_of(conn, merged).await?);
        for a in rows::artifacts_of(conn, merged).await? {
            if !artifacts.contains(&a) {
                artifacts.push(a);
            }
        }
    }
    reports.sort_by_key(|r| (r.received_at, r.id));
    Ok(CaseView {
        row,
        reports,
        artifacts,
    })
}

impl CaseView {
    pub fn reporters(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for r in &self.reports {
            if !out.contains(&r.reporter) {
                out.push(r.reporter.clone());
            }
        }
        out
    }

    pub fn summary_json(&self, prefix: &str) -> Value {
        let c = &self.row;
        json!({
            "id": c.id.display(prefix),
            "status": c.status,
            "category": c.category,
            "severity": c.severity,
            "owasp": c.owasp,
            "assignee": c.assignee,
            "outcome": c.outcome,
            "resolution": c.resolution,
            "until": c.until_date,
            "merged_into": c.merged_into.map(|m| m.display(prefix)),
            "report_count": self.reports.len(),
            "reporters": self.reporters(),
            "artifacts": self.artifacts.iter().map(|a| json!({"kind": a.kind, "class": a.class, "masked": a.masked})).collect::<Vec<_>>(),
            "opened_at": rfc3339(c.opened_at),
            "classified_at": c.classified_at.map(rfc3339),
            "resolved_at": c.resolved_at.map(rfc3339),
        })
    }
}

pub async fn list(ctx: &Context, status: StatusFilter, json_out: bool) -> Outcome {
    let mut conn = ctx.store.conn().await?;
    let filter = match status {
        StatusFilter::Open => Some(CaseStatus::Open),
        StatusFilter::Resolved => Some(CaseStatus::Resolved),
        StatusFilter::All => None,
    };
    let mut views = Vec::new();
    for row in cases::list(&mut conn, filter).await? {
        views.push(load(&mut conn, row).await?);
    }
    if json_out {
        let arr: Vec<Value> = views.iter().map(|v| v.summary_json(ctx.prefix())).collect();
        println!("{}", serde_json::to_string_pretty(&arr)?);
        return Ok(());
    }
    if views.is_empty() {
        println!(
            "no {} cases",
            match status {
                StatusFilter::All => "",
                StatusFilter::Open => "open",
                StatusFilter::Resolved => "resolved",
            }
            .trim()
        );
        return Ok(());
    }
    println!(
        "{:<8} {:<9} {:<20} {:<15} {:>7}  {:<20}  FIRST SUBJECT",
        "ID", "STATUS", "CATEGORY", "OUTCOME", "REPORTS", "OPENED"
    );
    for v in &views {
        let c = &v.row;
        let subject = v.reports.first().map(|r| r.subject.as_str()).unwrap_or("");
        println!(
            "{:<8} {:<9} {:<20} {:<15} {:>7}  {:<20}  {}",
            c.id.display(ctx.prefix()),
            c.status,
            c.category.as_deref().unwrap_or("-"),
            c.outcome.as_deref().unwrap_or("-"),
            v.reports.len(),
            rfc3339(c.opened_at),
            truncate(subject, 60)
        );
    }
    Ok(())
}

pub async fn show(ctx: &Context, id: &str, json_out: bool) -> Outcome {
    let case = CaseId::parse(id).ok_or_else(|| {
        Failure::usage(anyhow::anyhow!(
            "'{id}' is not a case id; write e.g. {}-3 or 3",
            ctx.prefix()
        ))
    })?;
    let mut conn = ctx.store.conn().await?;
    let row = cases::require(&mut conn, case, ctx.prefix()).await?;
    let view = load(&mut conn, row).await?;
    let events = cases::events(&mut conn, case).await?;
    let letters = outbox::of_case(&mut conn, case).await?;
    let p = ctx.prefix();
    if json_out {
        let mut obj = view.summary_json(p);
        obj["reports"] = view
            .reports
            .iter()
            .map(|r| {
                let original = (r.orig_from.is_some() || r.orig_subject.is_some() || r.orig_message_id.is_some()).then(|| {
                    json!({"from": r.orig_from, "subject": r.orig_subject, "date": r.orig_date, "message_id": r.orig_message_id})
                });
                json!({
                    "case": r.case_id.display(p),
                    "from": r.reporter,
                    "subject": r.subject,
                    "received_at": rfc3339(r.received_at),
                    "sent_at": r.sent_at.map(rfc3339),
                    "message_id": r.message_id,
                    "original": original,
                    "problems": if r.problems.is_empty() { Value::Null } else { Value::String(r.problems.clone()) },
                })
            })
            .collect();
        obj["events"] = events
            .iter()
            .map(|e| json!({"at": rfc3339(e.at), "actor": e.actor, "kind": e.kind, "text": e.text}))
            .collect();
        obj["letters"] = letters
            .iter()
            .map(|l| json!({"kind": l.kind, "to": l.recipient, "status": l.status, "message_id": l.message_id, "attempts": l.attempts, "last_error": l.last_error}))
            .collect();
        println!("{}", serde_json::to_string_pretty(&obj)?);
        return Ok(());
    }
    let c = &view.row;
    println!("{}  {}", c.id.display(p), c.status);
    println!(
        "  category:  {}",
        c.category.as_deref().unwrap_or("(not classified)")
    );
    if let Some(s) = &c.severity {
        println!("  severity:  {s}");
    }
    if let Some(o) = &c.outcome {
        println!(
            "  outcome:   {o}{}",
            c.resolution
                .as_deref()
                .map(|t| format!(" — {t}"))
                .unwrap_or_default()
        );
    }
    if let Some(m) = c.merged_into {
        println!("  merged into {}", m.display(p));
    }
    println!("  opened:    {}", rfc3339(c.opened_at));
    println!("\nReports ({}):", view.reports.len());
    for r in &view.reports {
        println!(
            "  {}  {}  \"{}\"",
            rfc3339(r.received_at),
            r.reporter,
            truncate(&r.subject, 70)
        );
        if let Some(s) = &r.orig_subject {
            println!(
                "      forwarded original: \"{}\" from {}",
                truncate(s, 60),
                r.orig_from.as_deref().unwrap_or("?")
            );
        }
    }
    println!("\nArtifacts ({}):", view.artifacts.len());
    for a in &view.artifacts {
        println!("  {:<26} {:<9} {}", a.kind, a.class, a.masked);
    }
    println!("\nTimeline:");
    for e in &events {
        println!(
            "  {}  {:<22} {:<14} {}",
            rfc3339(e.at),
            e.actor,
            e.kind,
            e.text
        );
    }
    println!("\nLetters ({}):", letters.len());
    for l in &letters {
        println!("  {:<9} {:<8} to {}", l.kind, l.status, l.recipient);
        if let (false, Some(why)) = (l.status == "sent", &l.last_error) {
            println!("            last try: {}", truncate(why, 120));
        }
    }
    Ok(())
}

/// At most `n` characters of one line of `s` (control characters become
/// spaces, so stored text cannot move the terminal's cursor).
pub(super) fn truncate(s: &str, n: usize) -> String {
    let line: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if line.chars().count() <= n {
        line
    } else {
        format!("{}…", line.chars().take(n - 1).collect::<String>())
    }
}
