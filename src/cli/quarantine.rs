//! `closeloop quarantine [--ignored] [--since DURATION] [--limit N] [--json]`:
//! the messages set aside instead of becoming reports, newest first, each
//! with the reason. Subjects are shown as stored: redacted.

use anyhow::Context as _;
use serde_json::json;

use super::cases::truncate;
use super::{since_arg, Outcome};
use crate::context::Context;
use crate::daemon::now_ms;
use crate::domain::{rfc3339, Disposition};
use crate::store::set_aside;

pub async fn run(
    ctx: &Context,
    ignored: bool,
    since: Option<&str>,
    limit: i64,
    json_out: bool,
) -> Outcome {
    let since = since_arg(since)?.map(|span| now_ms().saturating_sub(span.millis()));
    let disposition = if ignored {
        Disposition::Ignored
    } else {
        Disposition::Quarantined
    };
    let mut conn = ctx.store.conn().await?;
    let list = set_aside::list(&mut conn, disposition.slug(), since, limit.max(1))
        .await
        .context("reading the messages set aside")?;
    drop(conn);
    if json_out {
        let arr: Vec<_> = list
            .iter()
            .map(|m| {
                json!({
                    "received_at": rfc3339(m.received_at),
                    "from": m.sender,
                    "subject": m.subject,
                    "reason": m.reason,
                    "source": m.source,
                    "message_id": m.message_id,
                    "size": m.size,
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&arr)?);
    } else if list.is_empty() {
        println!("no {} messages", disposition.slug());
    } else {
        println!(
            "{:<20}  {:<32}  {:<40}  REASON",
            "RECEIVED", "FROM", "SUBJECT"
        );
        for m in &list {
            println!(
                "{:<20}  {:<32}  {:<40}  {}",
                rfc3339(m.received_at),
                truncate(m.sender.as_deref().unwrap_or("-"), 32),
                truncate(&m.subject, 40),
                truncate(&m.reason, 200)
            );
        }
    }
    ctx.store.close().await;
    Ok(())
}
