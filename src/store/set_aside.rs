//! Messages that did not become reports or commands: quarantined (a sender
//! not allowed to report, an oversized or unreadable message) or ignored
//! (automatic mail, bounces, copies of our own letters). Kept with the reason
//! and listed by `closeloop quarantine`; never answered.
//!
//! Read-only: `intake` records them.

use sqlx::Row;

use super::{Conn, Result};
use crate::domain::Millis;

/// One message set aside, as stored (the subject is already redacted).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetAside {
    pub received_at: Millis,
    pub sender: Option<String>,
    pub subject: String,
    pub reason: String,
    pub source: String,
    pub message_id: Option<String>,
    pub size: i64,
}

/// Messages with `disposition` (`quarantined` or `ignored`) received since
/// `since`, newest first, at most `limit`.
pub async fn list(
    conn: &mut Conn,
    disposition: &str,
    since: Option<Millis>,
    limit: i64,
) -> Result<Vec<SetAside>> {
    let rows = sqlx::query(
        "SELECT received_at, sender, subject, reason, source, message_id, size FROM messages \
         WHERE disposition = $1 AND received_at >= $2 ORDER BY received_at DESC, id DESC LIMIT $3",
    )
    .bind(disposition)
    .bind(since.unwrap_or(0))
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(SetAside {
                received_at: r.try_get("received_at")?,
                sender: r.try_get("sender")?,
                subject: r.try_get("subject")?,
                reason: r
                    .try_get::<Option<String>, _>("reason")?
                    .unwrap_or_default(),
                source: r.try_get("source")?,
                message_id: r.try_get("message_id")?,
                size: r.try_get("size")?,
            })
        })
        .collect()
}
