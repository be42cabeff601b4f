//! The outbox sender: claims due letters, builds each message with its stored
//! Message-ID (a retry can never fork a thread), hands it to the `mailer`,
//! and records sent, retry-later (exponential backoff) or failed. A letter
//! that fails for good is reported to the responders, so the loop is closed
//! by hand rather than silently left open.
//!
//! Must not render templates or change cases.

use crate::compose;
use crate::context::Context;
use crate::domain::{CaseId, LetterKind, Millis};
use crate::letters::{self, Letter};
use crate::mailer::{Mailer, SendError};
use crate::store::outbox::{self as rows, LetterRow};
use crate::store::StoreError;

/// Give up after this many attempts (about two days with the backoff below).
pub const MAX_ATTEMPTS: i64 = 12;
/// How long a claimed letter is reserved for the claiming sender: if that
/// instance dies, another sends the letter once the claim has run out.
const CLAIM_MS: Millis = 2 * 60_000;
/// Letters claimed at once: small, so a dead sender strands few, and each
/// batch is sent well within its claim.
const BATCH: i64 = 10;
/// A sender stops handing letters of a batch to SMTP once this much of the
/// claim has passed and gives the rest back: a letter it did hand over keeps
/// at least half a claim during which its journal copy (`outbound.journal`)
/// can come back before anyone may send it again.
const HAND_OVER_WITHIN: std::time::Duration = std::time::Duration::from_millis(CLAIM_MS as u64 / 2);

/// Fault injection for the crash tests: with this variable set to N, the
/// process kills itself (SIGKILL) right after the SMTP server accepted its
/// Nth letter, before the send is recorded: the worst moment for a crash.
pub const FAULT_KILL_AFTER_SEND_ENV: &str = "CLOSELOOP_FAULT_KILL_AFTER_SEND";

/// What one pass did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pass {
    pub sent: usize,
    pub retried: usize,
    pub failed: usize,
    /// Where sent letters went (file paths for the file sink).
    pub delivered: Vec<(LetterKind, String, String)>,
}

/// Delay before attempt `attempts + 1` with the default `outbound.retry_after`:
/// 1 min, 2, 4 … capped at 6 h.
pub fn backoff_ms(attempts: i64) -> Millis {
    backoff_from(60_000, attempts)
}

/// Delay before attempt `attempts + 1` when the first retry waits `first` ms.
pub fn backoff_from(first: Millis, attempts: i64) -> Millis {
    let exp = attempts.clamp(0, 20) as u32;
    (first.max(1).saturating_mul(1i64 << exp)).min(6 * 3_600_000)
}

/// Why a letter whose building panicked failed.
const PANICKED_BUILDING: &str =
    "closeloop hit a bug building it (a panic; the log names the place in the code)";

/// Sends every letter due at `now`, in batches, until none is left.
pub async fn send_due(ctx: &Context, mailer: &Mailer, now: Millis) -> Result<Pass, StoreError> {
    let mut pass = Pass::default();
    let started = std::time::Instant::now();
    loop {
        // A long pass claims by the clock, not by the time it started.
        let claimed_at = std::time::Instant::now();
        let now = now + claimed_at.duration_since(started).as_millis() as Millis;
        let mut tx = ctx.store.begin().await?;
        let batch = rows::claim_due(&mut tx, now, CLAIM_MS, BATCH).await?;
        tx.commit().await?;
        if batch.is_empty() {
            return Ok(pass);
        }
        for (i, row) in batch.iter().enumerate() {
            if claimed_at.elapsed() > HAND_OVER_WITHIN {
                let rest: Vec<i64> = batch[i..].iter().map(|r| r.id).collect();
                tracing::warn!(
                    letters = rest.len(),
                    "sending is slow; giving the rest of the batch back"
                );
                let mut tx = ctx.store.begin().await?;
                rows::release(&mut tx, &rest, now + CLAIM_MS).await?;
                tx.commit().await?;
                return Ok(pass);
            }
            send_one(ctx, mailer, row, now, &mut pass).await?;
        }
    }
}

/// Kills the process when `FAULT_KILL_AFTER_SEND_ENV` says this send is the one.
fn fault_after_send() {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::OnceLock;
    static AFTER: OnceLock<Option<u64>> = OnceLock::new();
    static SENT: AtomicU64 = AtomicU64::new(0);
    let after = AFTER.get_or_init(|| {
        std::env::var(FAULT_KILL_AFTER_SEND_ENV)
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
    });
    let Some(n) = *after else {
        return;
    };
    if SENT.fetch_add(1, Ordering::SeqCst) + 1 == n {
        tracing::error!("{FAULT_KILL_AFTER_SEND_ENV}={n}: killing this process after a send, before recording it");
        // SAFETY: kill(2) on our own pid; SIGKILL, as a crash would be.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGKILL);
        }
    }
}

fn letter_of(row: &LetterRow) -> Letter {
    Letter {
        kind: row.kind.parse().unwrap_or(LetterKind::Notify),
        to: row.recipient.clone(),
        subject: row.subject.clone(),
        body: row.body.clone(),
        in_reply_to: row.in_reply_to.clone(),
        references: row.refs.split_whitespace().map(str::to_string).collect(),
        reply_to: row.reply_to.clone(),
        auto_submitted: if row.auto_submitted == "auto-generated" {
            "auto-generated"
        } else {
            "auto-replied"
        },
    }
}

async fn send_one(
    ctx: &Context,
    mailer: &Mailer,
    row: &LetterRow,
    now: Millis,
    pass: &mut Pass,
) -> Result<(), StoreError> {
    let date =
        chrono::DateTime::<chrono::Utc>::from_timestamp_millis(row.created_at).unwrap_or_default();
    let letter = letter_of(row);
    // A bug that this letter's text reaches (a panic) fails this letter, not the sender.
    let built = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        crate::fault::panic_at(crate::fault::Stage::Sending, letter.subject.as_bytes());
        letters::build_message(&letter, &ctx.cfg.outbound.from, &row.message_id, date)
    }));
    let result = match built {
        Ok(Ok(message)) => {
            let name = format!("{:06}-{}-{}", row.id, row.kind, file_safe(&row.recipient));
            mailer.send(&message, &name).await
        }
        Ok(Err(e)) => Err(SendError::Permanent(e.to_string())),
        Err(_) => Err(SendError::Permanent(PANICKED_BUILDING.to_string())),
    };
    if result.is_ok() {
        fault_after_send();
    }
    let mut conn = ctx.store.begin().await?;
    match result {
        Ok(place) => {
            rows::mark_sent(&mut conn, row.id, now).await?;
            tracing::info!(letter = row.id, kind = %row.kind, case = row.case_id.map(|c| c.0), "letter sent");
            pass.sent += 1;
            pass.delivered
                .push((letter.kind, row.recipient.clone(), place));
        }
        Err(SendError::Transient(e)) if row.attempts + 1 < MAX_ATTEMPTS => {
            let next = now + backoff_from(ctx.cfg.outbound.retry_after.millis(), row.attempts);
            rows::mark_retry(&mut conn, row.id, next, &one_line(&e)).await?;
            tracing::warn!(letter = row.id, attempts = row.attempts + 1, error = %one_line(&e), "letter not sent; will retry");
            pass.retried += 1;
        }
        Err(e) => {
            let e = one_line(&e.to_string());
            rows::mark_failed(&mut conn, row.id, &e).await?;
            tracing::error!(letter = row.id, error = %e, "letter failed for good");
            pass.failed += 1;
            if letter.kind != LetterKind::Failure {
                tell_responders(ctx, &mut conn, row, &e, now).await?;
            }
        }
    }
    conn.commit().await?;
    Ok(())
}

async fn tell_responders(
    ctx: &Context,
    conn: &mut crate::store::Conn,
    row: &LetterRow,
    error: &str,
    now: Millis,
) -> Result<(), StoreError> {
    let kind = row.kind.parse().unwrap_or(LetterKind::Notify);
    let f = letters::FailureCtx {
        case_id: row.case_id,
        letter_kind: kind,
        failed_to: row.recipient.clone(),
        attempts: (row.attempts + 1) as u32,
        first_tried: crate::domain::rfc3339(row.created_at),
        last_error: error.to_string(),
    };
    if let Some(case) = row.case_id {
        let text = format!(
            "{} letter to {} could not be delivered: {error}",
            row.kind, row.recipient
        );
        crate::store::cases::add_event(conn, case, now, "closeloop", "letter-failed", &text)
            .await?;
    }
    for to in ctx.cfg.notify_addresses() {
        if to == row.recipient {
            continue;
        }
        match letters::render_failure(&ctx.org, &to, &f) {
            Ok(l) => {
                compose::store_letter(
                    ctx,
                    conn,
                    row.case_id.or(Some(CaseId(0))).filter(|c| c.0 > 0),
                    l,
                    now,
                )
                .await?;
            }
            Err(e) => tracing::error!(error = %e, "cannot render the failure letter"),
        }
    }
    Ok(())
}

fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(300)
        .collect()
}

fn file_safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "@.-_".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(80)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff_ms(0), 60_000);
        assert_eq!(backoff_ms(1), 120_000);
        assert_eq!(backoff_ms(3), 480_000);
        assert_eq!(backoff_ms(30), 6 * 3_600_000);
        assert_eq!(backoff_from(2_000, 0), 2_000);
        assert_eq!(backoff_from(2_000, 3), 16_000);
        let total: Millis = (0..MAX_ATTEMPTS).map(backoff_ms).sum();
        assert!(
            total > 24 * 3_600_000,
            "retries span more than a day: {total}"
        );
    }
}
