//! One raw email in, one committed outcome out: parse → route (ignore,
//! quarantine, responder command, reporter reply, report) → extract and redact
//! → dedup → case changes and letters, all in ONE transaction per batch.
//!
//! Architecture invariants: parsing never fails (damage becomes a recorded
//! problem); ingest is idempotent (same raw bytes, or same Message-ID and
//! body, = same message); no plaintext secret reaches the store; logs carry
//! ids, not content.

use std::collections::HashMap;

use sha2::{Digest, Sha256};

use crate::context::Context;
use crate::dedup::{self, Candidate, Decision, KeyKind};
use crate::domain::{CaseId, CaseStatus, Disposition, Millis, Outcome};
use crate::extract::{self, ArtifactClass, Finding};
use crate::parse::{self, ForwardStyle, Inbound};
use crate::store::intake::{self as rows, ArtifactRow, NewMessage, NewReport, SeenMessage};
use crate::store::{self, case_keys, cases, outbox, Conn, StoreError};
use crate::{compose, lifecycle};

mod batch;
pub mod marks;
mod pending;
mod read;
mod report;
mod route;

use batch::*;
use pending::Pending;
use read::read_all;
pub use read::{batches, warm_up, Item, Read, ReadAhead, ReadAheads};
use report::*;
pub use report::{redact_all, shown_path};
pub use route::{case_in_subject, named_case};
use route::{ignore_reason, may_report, reporter_reply_case};

/// Stored report bodies are capped; the raw message stays in the mailbox.
const MAX_STORED_BODY: usize = 256 * 1024;
/// Most distinct keys, identities and context artifacts a report keeps. A dump of
/// 600,000 tokens (25 MB) would otherwise add 1.2 million rows in one transaction and
/// take over a gigabyte to prepare; the rest are redacted in the text and counted.
pub const MAX_KEPT_ARTIFACTS: usize = 10_000;
/// How much of an oversized message is read to learn its headers.
pub const OVERSIZE_HEAD: usize = 64 * 1024;
/// Bytes of mail an intake reads per batch, about (a single bigger message gets
/// a batch of its own; see `batches`).
pub const BATCH_BYTES: u64 = 16 * 1024 * 1024;

/// What became of one message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ingested {
    /// A new report, on a new or existing case.
    Report {
        case: CaseId,
        how: Joined,
    },
    /// Seen before (same bytes, or same Message-ID and body): nothing changed.
    AlreadySeen {
        disposition: String,
        case: Option<CaseId>,
    },
    Quarantined {
        reason: String,
    },
    Ignored {
        reason: String,
    },
    /// A responder's command block, applied or rejected.
    Command {
        case: CaseId,
        applied: bool,
    },
    /// A reporter's answer to a question, added to the case.
    Reply {
        case: CaseId,
    },
    /// A copy of one of our letters come back (`outbound.journal`): recorded
    /// as delivery proof, not as mail we ignored.
    LetterCopy {
        reason: String,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Joined {
    NewCase,
    Duplicate(KeyKind),
    Reopened,
    /// Matched a recently resolved case: answered at once with its outcome.
    Recent(KeyKind),
}

impl Ingested {
    pub fn disposition(&self) -> Disposition {
        match self {
            Ingested::Report { .. } => Disposition::Report,
            Ingested::AlreadySeen { disposition, .. } => {
                disposition.parse().unwrap_or(Disposition::Report)
            }
            Ingested::Quarantined { .. } => Disposition::Quarantined,
            Ingested::Ignored { .. } => Disposition::Ignored,
            Ingested::Command { .. } => Disposition::Command,
            Ingested::Reply { .. } => Disposition::Reply,
            Ingested::LetterCopy { .. } => Disposition::LetterCopy,
        }
    }

    /// One line for CLI output: ids and reasons, never content.
    pub fn describe(&self, prefix: &str) -> String {
        match self {
            Ingested::Report { case, how } => match how {
                Joined::NewCase => format!("report: opened case {}", case.display(prefix)),
                Joined::Duplicate(k) => format!(
                    "report: joined case {} ({})",
                    case.display(prefix),
                    k.reason()
                ),
                Joined::Reopened => format!(
                    "report: reopened case {} (the same secret again after it was remediated)",
                    case.display(prefix)
                ),
                Joined::Recent(k) => format!(
                    "report: matches recently resolved case {} ({}); its outcome was sent",
                    case.display(prefix),
                    k.reason()
                ),
            },
            Ingested::AlreadySeen { disposition, case } => match case {
                Some(c) => format!(
                    "already ingested ({disposition}, case {})",
                    c.display(prefix)
                ),
                None => format!("already ingested ({disposition})"),
            },
            Ingested::Quarantined { reason } => format!("quarantined: {reason}"),
            Ingested::Ignored { reason } => format!("ignored: {reason}"),
            Ingested::Command { case, applied } => format!(
                "command for case {}: {}",
                case.display(prefix),
                if *applied { "applied" } else { "rejected" }
            ),
            Ingested::Reply { case } => format!("reply added to case {}", case.display(prefix)),
            Ingested::LetterCopy { reason } => reason.clone(),
        }
    }
}

/// Ingests one message in its own transaction.
pub async fn ingest(
    ctx: &Context,
    raw: &[u8],
    source: &str,
    now: Millis,
) -> Result<Ingested, StoreError> {
    let item = Item {
        raw: raw.to_vec(),
        source: source.to_string(),
        truncated_from: None,
    };
    ingest_item(ctx, item, now).await
}

/// Ingests one message read by the caller (`Item::from_file`, `from_reader`) in
/// its own transaction.
pub async fn ingest_item(ctx: &Context, item: Item, now: Millis) -> Result<Ingested, StoreError> {
    let mut out = ingest_batch(ctx, vec![item], now).await?;
    Ok(out.remove(0))
}

/// Reads and stores a batch in ONE transaction (see `store`).
pub async fn ingest_batch(
    ctx: &Context,
    items: Vec<Item>,
    now: Millis,
) -> Result<Vec<Ingested>, StoreError> {
    let reads = read_all(ctx, items);
    let mut conn = ctx.store.conn().await?;
    store(ctx, &mut conn, &reads, now).await
}

/// Stores a batch read by `read` in ONE transaction (group commit): all or
/// none are stored. A transaction that lost a race with another instance
/// (see `StoreError::is_conflict`) is run again from the start, so it sees
/// what the other committed. A transient error (database busy or away) is
/// returned for the caller to retry the batch later. On any other database
/// error the batch is retried one message at a time so one bad row cannot
/// hold back the others; a message the store refuses is quarantined. The
/// transactions run on `conn` (see `Store::begin_on`).
pub async fn store(
    ctx: &Context,
    conn: &mut Conn,
    reads: &[Read],
    now: Millis,
) -> Result<Vec<Ingested>, StoreError> {
    let e = match ingest_retrying(ctx, conn, reads, now).await {
        Ok(out) => return Ok(out),
        Err(e) if e.is_transient() || e.is_conflict() => return Err(e),
        Err(e) => e,
    };
    tracing::warn!(error = %e, batch = reads.len(), "batch failed; retrying one message at a time");
    let mut out = Vec::with_capacity(reads.len());
    for r in reads {
        match ingest_retrying(ctx, conn, std::slice::from_ref(r), now).await {
            Ok(done) => out.extend(done),
            Err(e) if !e.is_transient() && !e.is_conflict() => {
                // This message cannot be stored as it is: keep a record of it with the
                // reason (the raw message stays in the mailbox), so intake moves on.
                out.push(record_unstorable(ctx, conn, r, &e, now).await?);
            }
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// One transaction over `reads`, run again when it lost a race.
async fn ingest_retrying(
    ctx: &Context,
    conn: &mut Conn,
    reads: &[Read],
    now: Millis,
) -> Result<Vec<Ingested>, StoreError> {
    let mut attempt = 0;
    loop {
        match ingest_tx(ctx, conn, reads, now).await {
            Err(e) if e.is_conflict() && attempt < store::RETRIES => {
                attempt += 1;
                tracing::debug!(error = %e, attempt, "concurrent change; running the transaction again");
                store::retry_pause(attempt).await;
            }
            result => return result,
        }
    }
}

/// One transaction over `reads`: committed when all were stored, else rolled back. A
/// panic while storing (a bug that some input reaches) is this transaction's error
/// ([`StoreError::Panicked`]), not the end of intake: `store` then takes the batch one
/// message at a time and quarantines the message that causes it.
async fn ingest_tx(
    ctx: &Context,
    conn: &mut Conn,
    reads: &[Read],
    now: Millis,
) -> Result<Vec<Ingested>, StoreError> {
    use futures::FutureExt;
    let mut tx = ctx.store.begin_on(conn).await?;
    let stored = std::panic::AssertUnwindSafe(ingest_all(ctx, &mut tx, reads, now))
        .catch_unwind()
        .await
        .unwrap_or(Err(StoreError::Panicked));
    match stored {
        Ok(out) => {
            tx.commit().await?;
            ctx.outbox_wake.notify_one();
            Ok(out)
        }
        Err(e) => {
            tx.rollback().await.ok();
            Err(e)
        }
    }
}

/// Every message of `reads`, inside the transaction `tx`.
async fn ingest_all(
    ctx: &Context,
    tx: &mut Conn,
    reads: &[Read],
    now: Millis,
) -> Result<Vec<Ingested>, StoreError> {
    let mut batch = Batch::load(ctx, tx, reads, now).await?;
    let mut out = Vec::with_capacity(reads.len());
    for r in reads {
        out.push(ingest_in(ctx, tx, &mut batch, r, now).await?);
    }
    batch.flush(tx).await?;
    Ok(out)
}

/// Quarantines a message the store refused, naming the error (never its content).
async fn record_unstorable(
    ctx: &Context,
    conn: &mut Conn,
    read: &Read,
    error: &StoreError,
    now: Millis,
) -> Result<Ingested, StoreError> {
    tracing::error!(source = read.source, error = %error, "message could not be stored; quarantined");
    let sha = read.sha.clone();
    let reason = format!("could not be stored: {}", one_line(&error.to_string()));
    let mut tx = ctx.store.begin_on(conn).await?;
    if let Some(seen) = rows::seen(&mut tx, &sha, read.message_id())
        .await?
        .filter(|seen| !other_body(seen, read))
    {
        tx.rollback().await.ok();
        return Ok(Ingested::AlreadySeen {
            disposition: seen.disposition,
            case: seen.case_id,
        });
    }
    let msg = NewMessage {
        message_id: None,
        raw_sha256: sha,
        body_hash: read.body_hash.clone(),
        source: read.source.clone(),
        sender: None,
        subject: String::new(),
        disposition: Disposition::Quarantined.slug(),
        reason: Some(reason.clone()),
        case_id: None,
        size: read.size,
        problems: String::new(),
        received_at: now,
    };
    let mut rows = Pending::default();
    rows.message(msg);
    rows.flush(&mut tx).await?;
    tx.commit().await?;
    Ok(Ingested::Quarantined { reason })
}

/// Whether a message found stored under its Message-ID, not its bytes, is
/// another message reusing that Message-ID: both bodies known, and different.
/// A redelivery differs only in header fields added on the way.
fn other_body(seen: &SeenMessage, read: &Read) -> bool {
    matches!((&seen.body_hash, &read.body_hash), (Some(a), Some(b)) if a != b)
}

fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(300)
        .collect()
}

async fn ingest_in(
    ctx: &Context,
    conn: &mut Conn,
    batch: &mut Batch,
    read: &Read,
    now: Millis,
) -> Result<Ingested, StoreError> {
    let Read {
        source,
        sha,
        parsed,
        size,
        unread,
        ..
    } = read;
    let size = *size;
    let mut message_id = read.message_id();

    let mut reused = None;
    if let Some((seen, same_bytes)) = batch.seen(sha, message_id) {
        let already = if same_bytes {
            tracing::debug!(source = source.as_str(), "message already ingested");
            Some(seen)
        } else if !other_body(&seen, read) {
            tracing::info!(
                source = source.as_str(),
                "a stored message has this Message-ID and body; taken as already ingested"
            );
            Some(seen)
        } else if let Some(kept) = match &read.body_hash {
            // A message that reused another's Message-ID (below) and is delivered again
            // with other header fields is found by its body among those set aside so.
            Some(body) => batch.set_aside_with_body(conn, body).await?,
            None => None,
        } {
            tracing::info!(
                source = source.as_str(),
                "a message set aside for reusing this Message-ID has this body; taken as already ingested"
            );
            Some(kept)
        } else {
            None
        };
        if let Some(seen) = already {
            return Ok(Ingested::AlreadySeen {
                disposition: seen.disposition,
                case: seen.case_id,
            });
        }
        // Not a redelivery: a sender reusing Message-IDs, or a message sent to make a
        // report vanish. Kept and shown, never taken for the stored one; stored without
        // its Message-ID, which names the other message.
        tracing::warn!(
            source = source.as_str(),
            "a stored message has this Message-ID and another body; quarantined"
        );
        reused = Some(format!(
            "its Message-ID <{}> names a stored message with another body (a sender \
             reusing Message-IDs, or a forgery): not taken as that message",
            one_line(message_id.unwrap_or_default())
        ));
        message_id = None;
    }

    crate::fault::panic_at(crate::fault::Stage::Storing, parsed.subject.as_bytes());
    let sender = parsed.from.as_ref().map(|m| m.address.clone());
    let mut msg = NewMessage {
        message_id: message_id.map(str::to_string),
        raw_sha256: sha.clone(),
        body_hash: read.body_hash.clone(),
        source: source.clone(),
        // An address is stored as it is unless part of it scans as a secret (its own, or
        // one the report's texts hold).
        sender: sender.as_deref().map(|s| read.prepared.redact(s)),
        subject: read.prepared.redact(&parsed.subject),
        disposition: "",
        reason: None,
        case_id: None,
        size,
        problems: rows::join_problems(&parsed.problems),
        received_at: now,
    };

    if let Some(reason) = reused.or_else(|| unread.clone()) {
        return Ok(quarantine(batch, msg, reason));
    }
    if let Some(reason) = route::letter_copy(ctx, conn, parsed, now).await? {
        msg.disposition = Disposition::LetterCopy.slug();
        msg.reason = Some(reason.clone());
        batch.insert_message(msg);
        tracing::info!(source = source.as_str(), "{reason}");
        return Ok(Ingested::LetterCopy { reason });
    }
    if let Some(reason) = ignore_reason(ctx, parsed) {
        msg.disposition = Disposition::Ignored.slug();
        msg.reason = Some(reason.clone());
        batch.insert_message(msg);
        tracing::info!(
            source = source.as_str(),
            disposition = "ignored",
            "message ignored"
        );
        return Ok(Ingested::Ignored { reason });
    }
    let Some(from) = sender else {
        return Ok(quarantine(
            batch,
            msg,
            "no sender address (From) could be read".into(),
        ));
    };
    if !crate::letters::can_address(&from) {
        // A damaged From that still names a domain: no letter could reach it, so no
        // loop could close.
        return Ok(quarantine(
            batch,
            msg,
            "the sender address (From) is not one a letter can be sent to".into(),
        ));
    }
    if msg.sender.as_deref() != Some(from.as_str()) {
        // Reports and letters keep their reporter's address in plaintext, and
        // nothing may keep a secret so: the message waits for a responder.
        return Ok(quarantine(
            batch,
            msg,
            "the sender address (From) holds text that looks like a secret (stored redacted; \
             no letter is sent to it)"
                .into(),
        ));
    }

    // What follows may read cases and letters this batch has not written yet.
    if may_name_case(ctx, parsed) {
        batch.flush(conn).await?;
    }
    if ctx.cfg.responder_addresses().contains(&from) {
        if let Some(named) = named_case(ctx, conn, parsed).await? {
            // A merged case's commands act on the case it was merged into.
            let case = cases::surviving(conn, named).await?;
            batch.invalidate(conn).await?;
            let applied = lifecycle::email_command(ctx, conn, case, parsed, now).await?;
            // The command may have queued letters the batch's counts do not know of.
            batch.out.forget();
            msg.disposition = Disposition::Command.slug();
            msg.case_id = Some(case);
            batch.insert_message(msg);
            tracing::info!(case = case.0, applied, "responder command processed");
            return Ok(Ingested::Command { case, applied });
        }
    }
    if let Some(case) = reporter_reply_case(ctx, conn, parsed, &from).await? {
        batch.invalidate(conn).await?;
        lifecycle::reporter_reply(
            ctx,
            conn,
            case,
            &from,
            &read.prepared.redact(&parsed.text),
            now,
        )
        .await?;
        // The reminder it sends went past the batch's counts.
        batch.out.forget();
        msg.disposition = Disposition::Reply.slug();
        msg.case_id = Some(case);
        batch.insert_message(msg);
        tracing::info!(case = case.0, "reporter reply added to case");
        return Ok(Ingested::Reply { case });
    }
    if !may_report(ctx, parsed) {
        let domain = from.rsplit_once('@').map(|(_, d)| d).unwrap_or(&from);
        let reason = format!(
            "sender domain '{}' is not in intake.allowed_domains",
            redact_all(domain)
        );
        return Ok(quarantine(batch, msg, reason));
    }

    let report = &read.prepared;
    let (case, how) = place(ctx, conn, batch, report, now).await?;
    let facts = batch
        .facts(conn, case, matches!(how, Joined::NewCase))
        .await?;
    facts.add(&from, &report.artifacts);
    msg.disposition = Disposition::Report.slug();
    msg.case_id = Some(case);
    let new_report = report.row(&from, parsed, case, &how, now);
    // The letters read it as it will be stored (its id is given at flush).
    let stored = new_report.clone().into_row(0);
    let so_far = batch.facts[&case].so_far();
    compose::after_report(ctx, conn, &mut batch.out, case, &stored, &so_far, &how, now).await?;
    let message = batch.insert_message(msg);
    batch
        .rows
        .report(message, new_report, case, &report.artifacts);
    tracing::info!(
        case = case.0,
        source = source.as_str(),
        artifacts = report.artifacts.len(),
        "report stored"
    );
    Ok(Ingested::Report { case, how })
}

/// Whether routing will look the message's case up in the store: a
/// `[PREFIX-n]` subject, or In-Reply-To / References.
fn may_name_case(ctx: &Context, m: &Inbound) -> bool {
    !m.in_reply_to.is_empty()
        || !m.references.is_empty()
        || case_in_subject(&m.subject, ctx.prefix()).is_some()
}

fn quarantine(batch: &mut Batch, msg: NewMessage, reason: String) -> Ingested {
    tracing::info!(
        source = msg.source,
        disposition = "quarantined",
        "message quarantined"
    );
    batch.insert_message(NewMessage {
        disposition: Disposition::Quarantined.slug(),
        reason: Some(reason.clone()),
        ..msg
    });
    Ingested::Quarantined { reason }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_ids_are_found_in_subjects() {
        assert_eq!(
            case_in_subject("Re: leaked key [CL-12]", "CL"),
            Some(CaseId(12))
        );
        assert_eq!(case_in_subject("RE: AW: [cl-3] x", "CL"), Some(CaseId(3)));
        assert_eq!(case_in_subject("[SEC-3]", "CL"), None);
        assert_eq!(case_in_subject("[CL-x]", "CL"), None);
        assert_eq!(case_in_subject("no id", "CL"), None);
    }
}
