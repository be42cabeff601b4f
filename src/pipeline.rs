//! One raw email in, one committed outcome out: parse → route (ignore,
//! quarantine, responder command, reporter reply, report) → extract and redact
//! → dedup → case changes and letters, all in ONE transaction per batch.
//!
//! Architecture invariants: parsing never fails (damage becomes a recorded
//! problem); ingest is idempotent (same raw bytes or Message-ID = same
//! message); no plaintext secret reaches the store; logs carry ids, not content.

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

/// Stored report bodies are capped; the raw message stays in the mailbox.
const MAX_STORED_BODY: usize = 256 * 1024;
/// How much of an oversized message is read to learn its headers.
const OVERSIZE_HEAD: usize = 64 * 1024;

/// What became of one message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ingested {
    /// A new report, on a new or existing case.
    Report {
        case: CaseId,
        how: Joined,
    },
    /// Seen before (same bytes or Message-ID): nothing changed.
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
        }
    }
}

/// One message to ingest and where it came from (`file:…`, `imap:INBOX/42`, `stdin`).
pub struct Item<'a> {
    pub raw: &'a [u8],
    pub source: &'a str,
    /// The message's real size when `raw` is only its head (an IMAP intake
    /// fetches just the head of a message over `intake.max_message_bytes`).
    pub truncated_from: Option<usize>,
}

/// Ingests one message in its own transaction.
pub async fn ingest(
    ctx: &Context,
    raw: &[u8],
    source: &str,
    now: Millis,
) -> Result<Ingested, StoreError> {
    let mut out = ingest_batch(
        ctx,
        &[Item {
            raw,
            source,
            truncated_from: None,
        }],
        now,
    )
    .await?;
    Ok(out.remove(0))
}

/// Ingests a batch in ONE transaction (group commit): all or none are stored.
/// A transaction that lost a race with another instance (see
/// `StoreError::is_conflict`) is run again from the start, so it sees what
/// the other committed. A transient error (database busy or away) is
/// returned for the caller to retry the batch later. On any other database
/// error the batch is retried one message at a time so one bad row cannot
/// hold back the others; a message the store refuses is quarantined.
pub async fn ingest_batch(
    ctx: &Context,
    items: &[Item<'_>],
    now: Millis,
) -> Result<Vec<Ingested>, StoreError> {
    let e = match ingest_retrying(ctx, items, now).await {
        Ok(out) => return Ok(out),
        Err(e) if e.is_transient() || e.is_conflict() => return Err(e),
        Err(e) => e,
    };
    tracing::warn!(error = %e, batch = items.len(), "batch failed; retrying one message at a time");
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        match ingest_retrying(ctx, std::slice::from_ref(item), now).await {
            Ok(r) => out.extend(r),
            Err(e) if !e.is_transient() && !e.is_conflict() => {
                // This message cannot be stored as it is: keep a record of it with the
                // reason (the raw message stays in the mailbox), so intake moves on.
                out.push(record_unstorable(ctx, item, &e, now).await?);
            }
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// One transaction over `items`, run again when it lost a race.
async fn ingest_retrying(
    ctx: &Context,
    items: &[Item<'_>],
    now: Millis,
) -> Result<Vec<Ingested>, StoreError> {
    // Hashing and parsing are pure: done once, whatever the retries.
    let reads: Vec<Read> = items.iter().map(|item| read(ctx, item)).collect();
    let mut attempt = 0;
    loop {
        match ingest_tx(ctx, &reads, now).await {
            Err(e) if e.is_conflict() && attempt < store::RETRIES => {
                attempt += 1;
                tracing::debug!(error = %e, attempt, "concurrent change; running the transaction again");
                store::retry_pause(attempt).await;
            }
            result => return result,
        }
    }
}

/// One message, hashed and parsed, before its transaction.
struct Read<'i, 'a> {
    item: &'i Item<'a>,
    sha: String,
    parsed: Inbound,
    size: usize,
    oversize: bool,
    /// Extraction, should it be a report (pure, so done up front for the
    /// batch's dedup lookup).
    prepared: Prepared,
}

impl Read<'_, '_> {
    fn message_id(&self) -> Option<&str> {
        self.parsed.message_id.as_deref().filter(|m| !m.is_empty())
    }
}

fn read<'i, 'a>(ctx: &Context, item: &'i Item<'a>) -> Read<'i, 'a> {
    let raw = item.raw;
    let max = ctx.cfg.intake.max_message_bytes;
    let size = item.truncated_from.unwrap_or(raw.len()).max(raw.len());
    let oversize = size > max || item.truncated_from.is_some();
    let parsed = if oversize {
        parse::parse(head_of(raw))
    } else {
        parse::parse(raw)
    };
    Read {
        item,
        sha: hex::encode(Sha256::digest(raw)),
        prepared: Prepared::new(ctx, &parsed),
        parsed,
        size,
        oversize,
    }
}

/// What one batch's transaction knows as it goes, so each message costs
/// fewer round trips: the messages already stored (looked up for the whole
/// batch at once, then kept up to date as the batch stores more), the
/// recipients' letter counts for the rate limit, and the events and letters
/// not yet written (see `compose::Outgoing`: flushed before anything that
/// writes to a case by another way, and before commit).
struct Batch {
    by_sha: HashMap<String, SeenMessage>,
    by_message_id: HashMap<String, SeenMessage>,
    out: compose::Outgoing,
    /// The cases carrying each dedup key of the batch, looked up at its start.
    hits: HashMap<String, Vec<rows::FingerprintHit>>,
    /// Fingerprints the batch has stored since: their lookups are asked again.
    touched: std::collections::HashSet<String>,
    /// A case may have changed state (reopened, a command, a reply): every
    /// lookup is asked again.
    stale: bool,
    /// Dedup keys to attach (`claim`: true for a case just opened), in order.
    keys: Vec<(String, CaseId, bool)>,
}

impl Batch {
    async fn load(
        ctx: &Context,
        conn: &mut Conn,
        reads: &[Read<'_, '_>],
        now: Millis,
    ) -> Result<Batch, StoreError> {
        let shas: Vec<&str> = reads.iter().map(|r| r.sha.as_str()).collect();
        let mids: Vec<&str> = reads.iter().filter_map(|r| r.message_id()).collect();
        let mut batch = Batch {
            by_sha: HashMap::new(),
            by_message_id: HashMap::new(),
            out: compose::Outgoing::default(),
            hits: HashMap::new(),
            touched: Default::default(),
            stale: false,
            keys: Vec::new(),
        };
        let mut fps: Vec<&str> = Vec::new();
        for r in reads {
            for (_, fp) in &r.prepared.keys {
                if !fps.contains(&fp.as_str()) {
                    fps.push(fp);
                }
            }
        }
        let found = rows::cases_with_fingerprints(conn, &fps).await?;
        batch.hits = fps.into_iter().map(str::to_string).zip(found).collect();
        // Who the batch's letters will most likely go to: its senders and the responders.
        let mut recipients: Vec<String> = reads
            .iter()
            .filter_map(|r| r.parsed.from.as_ref())
            .map(|f| f.address.to_ascii_lowercase())
            .chain(
                ctx.cfg
                    .notify_addresses()
                    .into_iter()
                    .map(|a| a.to_ascii_lowercase()),
            )
            .collect();
        recipients.sort_unstable();
        recipients.dedup();
        batch.out.prefetch(conn, &recipients, now).await?;
        for (sha, mid, seen) in rows::seen_any(conn, &shas, &mids).await? {
            if let Some(mid) = mid.filter(|m| !m.is_empty()) {
                batch
                    .by_message_id
                    .entry(mid)
                    .or_insert_with(|| seen.clone());
            }
            batch.by_sha.entry(sha).or_insert(seen);
        }
        Ok(batch)
    }

    /// The cases carrying each of these fingerprints, as a lookup now would
    /// find them: from the batch's first lookup unless the batch changed them.
    async fn cases_with_fingerprints(
        &self,
        conn: &mut Conn,
        fps: &[&str],
    ) -> Result<Vec<Vec<rows::FingerprintHit>>, StoreError> {
        let known = !self.stale
            && fps
                .iter()
                .all(|fp| !self.touched.contains(*fp) && self.hits.contains_key(*fp));
        if known {
            Ok(fps.iter().map(|fp| self.hits[*fp].clone()).collect())
        } else {
            rows::cases_with_fingerprints(conn, fps).await
        }
    }

    /// Writes what waits: dedup keys, then events and letters.
    async fn flush(&mut self, conn: &mut Conn) -> Result<(), StoreError> {
        if !self.keys.is_empty() {
            let attach: Vec<(&str, CaseId)> =
                self.keys.iter().map(|(k, c, _)| (k.as_str(), *c)).collect();
            let claims: Vec<(&str, CaseId)> = self
                .keys
                .iter()
                .filter(|(_, _, claim)| *claim)
                .map(|(k, c, _)| (k.as_str(), *c))
                .collect();
            case_keys::attach_and_claim(conn, &attach, &claims).await?;
            self.keys.clear();
        }
        self.out.flush(conn).await
    }

    /// Stored already (same raw bytes, else same Message-ID)?
    fn seen(&self, sha: &str, message_id: Option<&str>) -> Option<SeenMessage> {
        self.by_sha
            .get(sha)
            .or_else(|| message_id.and_then(|m| self.by_message_id.get(m)))
            .cloned()
    }

    /// Stores the message row and remembers it for the rest of the batch.
    async fn insert_message(
        &mut self,
        conn: &mut Conn,
        msg: &NewMessage<'_>,
    ) -> Result<i64, StoreError> {
        let id = rows::insert_message(conn, msg).await?;
        let seen = SeenMessage {
            disposition: msg.disposition.to_string(),
            case_id: msg.case_id,
        };
        if let Some(mid) = msg.message_id {
            self.by_message_id.insert(mid.to_string(), seen.clone());
        }
        self.by_sha.insert(msg.raw_sha256.to_string(), seen);
        Ok(id)
    }
}

async fn ingest_tx(
    ctx: &Context,
    reads: &[Read<'_, '_>],
    now: Millis,
) -> Result<Vec<Ingested>, StoreError> {
    let mut tx = ctx.store.begin().await?;
    let mut batch = match Batch::load(ctx, &mut tx, reads, now).await {
        Ok(b) => b,
        Err(e) => {
            tx.rollback().await.ok();
            return Err(e);
        }
    };
    let mut out = Vec::with_capacity(reads.len());
    for r in reads {
        match ingest_in(ctx, &mut tx, &mut batch, r, now).await {
            Ok(r) => out.push(r),
            Err(e) => {
                tx.rollback().await.ok();
                return Err(e);
            }
        }
    }
    if let Err(e) = batch.flush(&mut tx).await {
        tx.rollback().await.ok();
        return Err(e);
    }
    tx.commit().await?;
    ctx.outbox_wake.notify_one();
    Ok(out)
}

/// Quarantines a message the store refused, naming the error (never its content).
async fn record_unstorable(
    ctx: &Context,
    item: &Item<'_>,
    error: &StoreError,
    now: Millis,
) -> Result<Ingested, StoreError> {
    tracing::error!(source = item.source, error = %error, "message could not be stored; quarantined");
    let sha = hex::encode(Sha256::digest(item.raw));
    let reason = format!("could not be stored: {}", one_line(&error.to_string()));
    let mut tx = ctx.store.begin().await?;
    if let Some(seen) = rows::seen(&mut tx, &sha, None).await? {
        tx.rollback().await.ok();
        return Ok(Ingested::AlreadySeen {
            disposition: seen.disposition,
            case: seen.case_id,
        });
    }
    let msg = NewMessage {
        message_id: None,
        raw_sha256: &sha,
        source: item.source,
        sender: None,
        subject: "",
        disposition: Disposition::Quarantined.slug(),
        reason: Some(&reason),
        case_id: None,
        size: item.truncated_from.unwrap_or(item.raw.len()),
        problems: "",
        received_at: now,
    };
    rows::insert_message(&mut tx, &msg).await?;
    tx.commit().await?;
    Ok(Ingested::Quarantined { reason })
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
    read: &Read<'_, '_>,
    now: Millis,
) -> Result<Ingested, StoreError> {
    let Read {
        item,
        sha,
        parsed,
        size,
        oversize,
        ..
    } = read;
    let (size, oversize) = (*size, *oversize);
    let max = ctx.cfg.intake.max_message_bytes;
    let message_id = read.message_id();

    if let Some(seen) = batch.seen(sha, message_id) {
        tracing::debug!(source = item.source, "message already ingested");
        return Ok(Ingested::AlreadySeen {
            disposition: seen.disposition,
            case: seen.case_id,
        });
    }

    let subject = redact_all(&parsed.subject);
    let sender = parsed.from.as_ref().map(|m| m.address.clone());
    let mut msg = NewMessage {
        message_id,
        raw_sha256: sha,
        source: item.source,
        sender: sender.as_deref(),
        subject: &subject,
        disposition: "",
        reason: None,
        case_id: None,
        size,
        problems: &parsed.problems.join("; "),
        received_at: now,
    };

    if oversize {
        let reason = format!(
            "message is {size} bytes, over intake.max_message_bytes ({max}); kept in the mailbox, not read"
        );
        return quarantine(conn, batch, &msg, reason).await;
    }
    if let Some(reason) = ignore_reason(ctx, parsed) {
        msg.disposition = Disposition::Ignored.slug();
        msg.reason = Some(&reason);
        batch.insert_message(conn, &msg).await?;
        tracing::info!(
            source = item.source,
            disposition = "ignored",
            "message ignored"
        );
        return Ok(Ingested::Ignored { reason });
    }
    let Some(from) = sender.clone() else {
        return quarantine(
            conn,
            batch,
            &msg,
            "no sender address (From) could be read".into(),
        )
        .await;
    };

    if ctx.cfg.responder_addresses().contains(&from) {
        if let Some(named) = named_case(ctx, conn, parsed).await? {
            // A merged case's commands act on the case it was merged into.
            let case = cases::surviving(conn, named).await?;
            batch.flush(conn).await?;
            batch.stale = true;
            let applied = lifecycle::email_command(ctx, conn, case, parsed, now).await?;
            // The command may have queued letters the batch's counts do not know of.
            batch.out.forget();
            msg.disposition = Disposition::Command.slug();
            msg.case_id = Some(case);
            batch.insert_message(conn, &msg).await?;
            tracing::info!(case = case.0, applied, "responder command processed");
            return Ok(Ingested::Command { case, applied });
        }
    }
    if let Some(case) = reporter_reply_case(ctx, conn, parsed, &from).await? {
        batch.flush(conn).await?;
        batch.stale = true;
        lifecycle::reporter_reply(ctx, conn, case, &from, &redact_all(&parsed.text), now).await?;
        // The reminder it sends went past the batch's counts.
        batch.out.forget();
        msg.disposition = Disposition::Reply.slug();
        msg.case_id = Some(case);
        batch.insert_message(conn, &msg).await?;
        tracing::info!(case = case.0, "reporter reply added to case");
        return Ok(Ingested::Reply { case });
    }
    if !ctx.cfg.sender_allowed(&from) {
        let domain = from.rsplit_once('@').map(|(_, d)| d).unwrap_or(&from);
        let reason = format!("sender domain '{domain}' is not in intake.allowed_domains");
        return quarantine(conn, batch, &msg, reason).await;
    }

    let report = &read.prepared;
    let (case, how) = place(ctx, conn, batch, report, now).await?;
    msg.disposition = Disposition::Report.slug();
    msg.case_id = Some(case);
    let message_row = batch.insert_message(conn, &msg).await?;
    let new_report = report.row(&from, parsed, case, &how, now);
    let report_id = rows::insert_report(conn, message_row, &new_report).await?;
    rows::insert_artifacts(conn, report_id, case, &report.artifacts).await?;
    batch
        .touched
        .extend(report.artifacts.iter().map(|a| a.fingerprint.clone()));
    let stored = new_report.into_row(report_id);
    compose::after_report(
        ctx,
        conn,
        &mut batch.out,
        case,
        &stored,
        &report.artifacts,
        &how,
        now,
    )
    .await?;
    tracing::info!(
        case = case.0,
        report = report_id,
        artifacts = report.artifacts.len(),
        "report stored"
    );
    Ok(Ingested::Report { case, how })
}

async fn quarantine(
    conn: &mut Conn,
    batch: &mut Batch,
    msg: &NewMessage<'_>,
    reason: String,
) -> Result<Ingested, StoreError> {
    let stored = NewMessage {
        disposition: Disposition::Quarantined.slug(),
        reason: Some(&reason),
        ..*msg
    };
    batch.insert_message(conn, &stored).await?;
    tracing::info!(
        source = msg.source,
        disposition = "quarantined",
        "message quarantined"
    );
    Ok(Ingested::Quarantined { reason })
}

/// The first bytes of an oversized message, cut at a line end so headers parse.
fn head_of(raw: &[u8]) -> &[u8] {
    let cut = raw.len().min(OVERSIZE_HEAD);
    let end = raw[..cut]
        .iter()
        .rposition(|b| *b == b'\n')
        .map(|i| i + 1)
        .unwrap_or(cut);
    &raw[..end]
}

/// RFC 3834 and loop protection: automatic mail is recorded, never answered.
fn ignore_reason(ctx: &Context, m: &Inbound) -> Option<String> {
    let from = m.from.as_ref().map(|f| f.address.as_str()).unwrap_or("");
    if !from.is_empty() && from == ctx.own_address() {
        return Some("sent by closeloop itself (mail loop guard)".into());
    }
    if let Some(a) = m.auto_submitted.as_deref().map(str::trim) {
        if !a.eq_ignore_ascii_case("no") && !a.is_empty() {
            return Some(format!(
                "automatic message (Auto-Submitted: {})",
                first_word(a)
            ));
        }
    }
    if let Some(p) = m
        .precedence
        .as_deref()
        .map(|p| p.trim().to_ascii_lowercase())
    {
        if matches!(p.as_str(), "bulk" | "junk" | "list") {
            return Some(format!("bulk or list mail (Precedence: {p})"));
        }
    }
    if m.list_id.is_some() {
        return Some("mailing-list message (List-Id)".into());
    }
    if m.is_delivery_report {
        return Some("delivery report (bounce)".into());
    }
    let local = from.split('@').next().unwrap_or("");
    if local.eq_ignore_ascii_case("mailer-daemon") || local.eq_ignore_ascii_case("postmaster") {
        return Some(format!("bounce from {local}"));
    }
    if m.return_path.as_deref() == Some("") {
        return Some("null return path (bounce or automatic notice)".into());
    }
    None
}

fn first_word(s: &str) -> String {
    s.split([';', ' '])
        .next()
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_control())
        .take(40)
        .collect()
}

/// The case a message names: `[PREFIX-n]` in the subject, or In-Reply-To /
/// References naming a letter we sent for the case.
pub async fn named_case(
    ctx: &Context,
    conn: &mut Conn,
    m: &Inbound,
) -> Result<Option<CaseId>, StoreError> {
    if let Some(id) = case_in_subject(&m.subject, ctx.prefix()) {
        if cases::get(conn, id).await?.is_some() {
            return Ok(Some(id));
        }
    }
    for mid in m.in_reply_to.iter().chain(m.references.iter().rev()) {
        if let Some((case, _, _)) = outbox::case_of_message_id(conn, mid).await? {
            return Ok(Some(case));
        }
    }
    Ok(None)
}

/// `[CL-12]` (case-insensitive prefix) anywhere in a subject.
pub fn case_in_subject(subject: &str, prefix: &str) -> Option<CaseId> {
    let upper = subject.to_ascii_uppercase();
    let needle = format!("[{}-", prefix.to_ascii_uppercase());
    let start = upper.find(&needle)? + needle.len();
    let rest = &upper[start..];
    let end = rest.find(']')?;
    CaseId::parse(&rest[..end])
}

/// A reporter answering a letter we sent them (a question, usually): the case it belongs to.
async fn reporter_reply_case(
    ctx: &Context,
    conn: &mut Conn,
    m: &Inbound,
    from: &str,
) -> Result<Option<CaseId>, StoreError> {
    for mid in m.in_reply_to.iter().chain(m.references.iter().rev()) {
        if let Some((case, kind, to)) = outbox::case_of_message_id(conn, mid).await? {
            if to.eq_ignore_ascii_case(from) && kind == "question" {
                return Ok(Some(cases::surviving(conn, case).await?));
            }
        }
    }
    // A subject naming an open case they reported, while a question is pending to them.
    if let Some(case) = case_in_subject(&m.subject, ctx.prefix()) {
        let letters = outbox::of_case(conn, case).await?;
        if letters
            .iter()
            .any(|l| l.kind == "question" && l.recipient.eq_ignore_ascii_case(from))
        {
            return Ok(Some(cases::surviving(conn, case).await?));
        }
    }
    Ok(None)
}

/// Redacts every secret in a text.
pub fn redact_all(text: &str) -> String {
    let findings = extract::scanner().scan(text);
    extract::redact(text, &findings)
}

/// A report after extraction: redacted texts and artifacts, no plaintext left.
struct Prepared {
    body: String,
    artifacts: Vec<ArtifactRow>,
    keys: Vec<(KeyKind, String)>,
    original_message_id: Option<String>,
}

impl Prepared {
    fn new(ctx: &Context, m: &Inbound) -> Prepared {
        let scanner = extract::scanner();
        let key = ctx.key.bytes();
        let mut artifacts: Vec<ArtifactRow> = Vec::new();
        let mut keys: Vec<(KeyKind, String)> = Vec::new();
        let mut take = |findings: &[Finding]| {
            for f in findings {
                let fp = f.fingerprint(key);
                if artifacts.iter().any(|a| a.fingerprint == fp) {
                    continue;
                }
                match f.class {
                    ArtifactClass::Secret => keys.push((KeyKind::Secret, fp.clone())),
                    ArtifactClass::Identity => keys.push((KeyKind::Identity, fp.clone())),
                    ArtifactClass::Context => {}
                }
                artifacts.push(ArtifactRow {
                    kind: f.kind.to_string(),
                    class: f.class.as_str().to_string(),
                    masked: f.masked.clone(),
                    fingerprint: fp,
                });
            }
        };
        let mut scan_redact = |text: &str| -> String {
            let findings = scanner.scan(text);
            take(&findings);
            extract::redact(text, &findings)
        };
        let _ = scan_redact(&m.subject);
        let mut body = scan_redact(&m.text);
        if let Some(o) = &m.original {
            if o.style == ForwardStyle::Attached {
                body.push_str("\n\n--- forwarded message ---\n");
                body.push_str(&scan_redact(&o.text));
            }
        }
        for a in &m.attachments {
            body.push_str(&format!("\n\n--- attachment {} ---\n", redact_all(&a.name)));
            body.push_str(&scan_redact(&a.text));
        }
        if body.len() > MAX_STORED_BODY {
            let mut cut = MAX_STORED_BODY;
            while !body.is_char_boundary(cut) {
                cut -= 1;
            }
            body.truncate(cut);
            body.push_str("\n[… truncated; the full message stays in the mailbox]");
        }
        let original_message_id = m
            .original
            .as_ref()
            .and_then(|o| o.message_id.clone())
            .filter(|s| !s.is_empty());
        if let Some(mid) = &original_message_id {
            let fp = extract::fingerprint(key, "original-message-id", mid);
            keys.push((KeyKind::Original, fp.clone()));
            artifacts.push(ArtifactRow {
                kind: "original-message-id".into(),
                class: "original".into(),
                masked: redact_all(mid),
                fingerprint: fp,
            });
        }
        Prepared {
            body,
            artifacts,
            keys,
            original_message_id,
        }
    }

    fn row(&self, from: &str, m: &Inbound, case: CaseId, how: &Joined, now: Millis) -> NewReport {
        let orig = m.original.as_ref();
        NewReport {
            case_id: case.0,
            reporter: from.to_string(),
            reporter_name: m
                .from
                .as_ref()
                .and_then(|f| f.name.as_deref())
                .map(redact_all),
            subject: redact_all(&m.subject),
            message_id: m.message_id.clone(),
            sent_at: m.date.map(|d| d.saturating_mul(1000)),
            received_at: now,
            body: self.body.clone(),
            orig_from: orig.and_then(|o| o.from.as_deref()).map(redact_all),
            orig_subject: orig.and_then(|o| o.subject.as_deref()).map(redact_all),
            orig_date: orig.and_then(|o| o.date.as_deref()).map(redact_all),
            orig_message_id: self.original_message_id.as_deref().map(redact_all),
            forward_style: orig.map(|o| match &o.style {
                ForwardStyle::Attached => "attached".to_string(),
                ForwardStyle::Inline(client) => format!("inline:{client}"),
            }),
            problems: m.problems.join("; "),
            recent_case: match how {
                Joined::Recent(_) => Some(case),
                _ => None,
            },
        }
    }
}

/// Finds or opens the case for a report and records how it got there.
async fn place(
    ctx: &Context,
    conn: &mut Conn,
    batch: &mut Batch,
    r: &Prepared,
    now: Millis,
) -> Result<(CaseId, Joined), StoreError> {
    let mut candidates = Vec::new();
    let fingerprints: Vec<&str> = r.keys.iter().map(|(_, fp)| fp.as_str()).collect();
    let hits = batch.cases_with_fingerprints(conn, &fingerprints).await?;
    for ((key, _), hits) in r.keys.iter().zip(hits) {
        for hit in hits {
            // The hit carries its case's state; only a merged case needs a second look.
            let candidate = match hit.merged_into {
                None => Candidate {
                    case_id: hit.case_id,
                    status: hit.status.parse().unwrap_or(CaseStatus::Open),
                    outcome: hit
                        .outcome
                        .as_deref()
                        .and_then(|o| o.parse::<Outcome>().ok()),
                    resolved_at: hit.resolved_at,
                    key: *key,
                },
                Some(_) => {
                    let id = cases::surviving(conn, hit.case_id).await?;
                    let Some(case) = cases::get(conn, id).await? else {
                        continue;
                    };
                    Candidate {
                        case_id: id,
                        status: case.status(),
                        outcome: case
                            .outcome
                            .as_deref()
                            .and_then(|o| o.parse::<Outcome>().ok()),
                        resolved_at: case.resolved_at,
                        key: *key,
                    }
                }
            };
            candidates.push(candidate);
        }
    }
    let decision = dedup::decide(&candidates, now, ctx.cfg.dedup.reopen_window.millis());
    let keys = fingerprints;
    // Another instance may have changed the chosen case (or opened one for
    // these keys) since the lookups above: each arm checks, under a row lock
    // or a unique key, and fails with a retryable conflict if so.
    let still = |ok: bool, case: CaseId, what: &str| {
        if ok {
            Ok(())
        } else {
            Err(StoreError::Conflict(format!(
                "case {} is no longer {what}",
                case.0
            )))
        }
    };
    Ok(match decision {
        Decision::New => {
            let id = cases::insert(conn, now).await?;
            // Claimed with the batch's other keys before it commits.
            batch
                .keys
                .extend(keys.iter().map(|k| (k.to_string(), id, true)));
            batch
                .out
                .event(id, now, "opened", "case opened from a new report".into());
            (id, Joined::NewCase)
        }
        Decision::Join { case_id, key } => {
            still(
                cases::lock_if(conn, case_id, CaseStatus::Open).await?,
                case_id,
                "open",
            )?;
            batch
                .keys
                .extend(keys.iter().map(|k| (k.to_string(), case_id, false)));
            let text = format!("another report joined ({})", key.reason());
            batch.out.event(case_id, now, "joined", text);
            (case_id, Joined::Duplicate(key))
        }
        Decision::Reopen { case_id } => {
            still(
                cases::lock_if(conn, case_id, CaseStatus::Resolved).await?,
                case_id,
                "resolved",
            )?;
            // Its events go in after those still waiting, as they happened.
            batch.flush(conn).await?;
            batch.stale = true;
            lifecycle::reopen(
                conn,
                case_id,
                now,
                "closeloop",
                "the same secret was reported again after the case was remediated: the rotation looks incomplete",
            )
            .await?;
            case_keys::claim(conn, case_id, &keys).await?;
            (case_id, Joined::Reopened)
        }
        Decision::Recent { case_id, key } => {
            still(
                cases::lock_if(conn, case_id, CaseStatus::Resolved).await?,
                case_id,
                "resolved",
            )?;
            let text = format!(
                "a new report matched this resolved case ({}); its outcome was sent",
                key.reason()
            );
            batch.out.event(case_id, now, "recent-report", text);
            (case_id, Joined::Recent(key))
        }
    })
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

    #[test]
    fn oversized_heads_end_at_a_line() {
        let mut raw = b"Subject: x\r\n".repeat(10_000);
        raw.extend_from_slice(b"tail");
        let head = head_of(&raw);
        assert!(head.len() <= OVERSIZE_HEAD && head.ends_with(b"\n"));
    }
}
