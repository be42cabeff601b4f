//! Letters: turns plain-data contexts into finished letters (recipient, subject,
//! text/plain body, threading ids, `Auto-Submitted`) and those into RFC 5322
//! messages (SPEC §6). Templates are askama files in `templates/`; a deployment
//! may override them at run time with minijinja files (`letters.templates_dir`).
//!
//! Architecture invariant: this module is pure. It reads no database, sends no
//! mail, reads no clock (the Date is a parameter) and depends on nothing but
//! `crate::domain`. It never sees a plaintext secret: contexts carry masked
//! artifacts and already redacted excerpts only.

mod context;
mod message;
mod overrides;
mod readability;
pub mod samples;
mod view;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_headers;

use std::path::PathBuf;
use std::sync::Arc;

pub use context::*;
pub use message::{build_message, can_address};
pub use overrides::Overrides;
pub use readability::{count_syllables, flesch_reading_ease};

use askama::Template;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::domain::{CaseId, LetterKind};
use view::*;

/// Longest header value we write (Subject); longer input is cut at a word.
const HEADER_MAX_CHARS: usize = 200;
/// Room kept for `Re: ` and ` [CL-n]` when a reporter's subject is cut.
const SUBJECT_BASE_MAX_CHARS: usize = 160;

/// A rendered letter, ready to be stored in the outbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Letter {
    pub kind: LetterKind,
    /// Exactly one address.
    pub to: String,
    /// Already sanitized (one line, no control characters).
    pub subject: String,
    /// text/plain, `\n` line ends, ends with one newline.
    pub body: String,
    /// Message-ID this letter answers, without `<>`.
    pub in_reply_to: Option<String>,
    /// Thread ancestry, without `<>`, oldest first.
    pub references: Vec<String>,
    pub reply_to: Option<String>,
    /// `auto-replied` for replies to a person's message, `auto-generated` otherwise.
    pub auto_submitted: &'static str,
}

impl Letter {
    /// Sets Reply-To (for example a per-case signed address for responder replies).
    pub fn with_reply_to(mut self, reply_to: Option<String>) -> Self {
        self.reply_to = reply_to
            .map(|r| sanitize_header(&r))
            .filter(|r| !r.is_empty());
        self
    }
}

/// Deployment facts letters need.
#[derive(Clone, Debug)]
pub struct Org {
    /// Shown in signatures ("Example Corp").
    pub name: String,
    /// Case id prefix (`CL` → `CL-12`).
    pub case_prefix: String,
    /// Runtime template overrides; `None` uses the built-in templates.
    pub overrides: Option<Arc<Overrides>>,
}

impl Org {
    pub fn new(name: impl Into<String>, case_prefix: impl Into<String>) -> Self {
        Org {
            name: name.into(),
            case_prefix: case_prefix.into(),
            overrides: None,
        }
    }

    pub fn with_overrides(mut self, overrides: Overrides) -> Self {
        self.overrides = Some(Arc::new(overrides));
        self
    }
}

/// Why a letter could not be produced. User-facing refusals are not errors here.
#[derive(Debug, thiserror::Error)]
pub enum LetterError {
    #[error("could not render the {kind} letter: {message}")]
    Render { kind: LetterKind, message: String },
    #[error("invalid {field} address {value:?}: {reason}")]
    Address {
        field: &'static str,
        value: String,
        reason: String,
    },
    #[error("invalid Message-ID {0:?}: expected left@right in printable ASCII")]
    MessageId(String),
    #[error("could not build the message: {0}")]
    Build(String),
    #[error("template override {}{}: {message}", file.display(), line.map(|l| format!(" line {l}")).unwrap_or_default())]
    Override {
        file: PathBuf,
        line: Option<usize>,
        message: String,
    },
}

// ---------------------------------------------------------------- rendering

/// Renders a view with the deployment's override when there is one, else the
/// built-in askama template; then tidies whitespace.
fn body<V: Template + Serialize>(
    org: &Org,
    kind: LetterKind,
    view: &V,
) -> Result<String, LetterError> {
    let raw = match org.overrides.as_deref().and_then(|o| o.render(kind, view)) {
        Some(rendered) => rendered?,
        None => view.render().map_err(|e| LetterError::Render {
            kind,
            message: e.to_string(),
        })?,
    };
    Ok(tidy(&raw))
}

/// Trims line ends (keeping the `-- ` signature mark), drops leading blank lines,
/// folds runs of blank lines into one and ends with exactly one newline.
fn tidy(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut blank_run = 0;
    for line in raw.lines() {
        let line = if line == "-- " { line } else { line.trim_end() };
        if line.is_empty() {
            blank_run += 1;
            if blank_run > 1 || out.is_empty() {
                continue;
            }
        } else {
            blank_run = 0;
        }
        out.push_str(line);
        out.push('\n');
    }
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

/// Validates and normalizes the single recipient.
fn recipient(to: &str) -> Result<String, LetterError> {
    let clean = to.trim();
    let bad = |reason: &str| LetterError::Address {
        field: "To",
        value: clean.chars().take(100).collect(),
        reason: reason.to_string(),
    };
    if clean.chars().any(|c| c.is_control()) {
        return Err(bad("contains a control character"));
    }
    if clean.contains(',') || clean.contains(';') {
        return Err(bad("must be exactly one address"));
    }
    clean
        .parse::<lettre::message::Mailbox>()
        .map_err(|e| bad(&e.to_string()))?;
    Ok(clean.to_string())
}

/// A letter threaded under a person's own message (reporter or responder).
fn reply_letter(
    kind: LetterKind,
    to: &str,
    subject: String,
    body: String,
    their_message_id: &Option<String>,
) -> Result<Letter, LetterError> {
    let parent = their_message_id.as_deref().and_then(clean_message_id);
    Ok(Letter {
        kind,
        to: recipient(to)?,
        subject: sanitize_header(&subject),
        body,
        references: parent.iter().cloned().collect(),
        in_reply_to: parent,
        reply_to: None,
        auto_submitted: "auto-replied",
    })
}

/// A letter nobody's message asked for (notifications, reminders, failures).
fn notice_letter(
    kind: LetterKind,
    to: &str,
    subject: String,
    body: String,
) -> Result<Letter, LetterError> {
    Ok(Letter {
        kind,
        to: recipient(to)?,
        subject: sanitize_header(&subject),
        body,
        in_reply_to: None,
        references: Vec::new(),
        reply_to: None,
        auto_submitted: "auto-generated",
    })
}

/// Acknowledgement: names the case and says it is not the outcome.
pub fn render_ack(org: &Org, to: &str, ctx: &AckCtx) -> Result<Letter, LetterError> {
    let view = AckView::new(org, ctx);
    let text = body(org, LetterKind::Ack, &view)?;
    let subject = reply_subject(&ctx.reported_subject, &org.case_prefix, ctx.case_id);
    reply_letter(LetterKind::Ack, to, subject, text, &ctx.their_message_id)
}

/// Case notification to one responder.
pub fn render_notify(org: &Org, to: &str, ctx: &NotifyCtx) -> Result<Letter, LetterError> {
    let view = NotifyView::new(org, ctx);
    let text = body(org, LetterKind::Notify, &view)?;
    let what = if ctx.reopened {
        "Reopened"
    } else if ctx.answered_from.is_some() {
        "Recent case reported again"
    } else if ctx.joined_existing {
        "Another report"
    } else {
        "New report"
    };
    let subject = format!(
        "[{}] {what}: {}",
        view.case,
        cut(&view.subject, SUBJECT_BASE_MAX_CHARS)
    );
    notice_letter(LetterKind::Notify, to, subject, text)
}

/// Confirmation of an applied command block, threaded under the responder's mail.
pub fn render_confirm(org: &Org, to: &str, ctx: &ConfirmCtx) -> Result<Letter, LetterError> {
    let view = ConfirmView::new(org, ctx);
    let text = body(org, LetterKind::Confirm, &view)?;
    let subject = reply_subject(&ctx.their_subject, &org.case_prefix, ctx.case_id);
    reply_letter(
        LetterKind::Confirm,
        to,
        subject,
        text,
        &ctx.their_message_id,
    )
}

/// Rejection of a command block, with every error and the command reference.
pub fn render_reject(org: &Org, to: &str, ctx: &RejectCtx) -> Result<Letter, LetterError> {
    let view = RejectView::new(org, ctx);
    let text = body(org, LetterKind::Reject, &view)?;
    let subject = match ctx.case_id {
        Some(id) => reply_subject(&ctx.their_subject, &org.case_prefix, id),
        None => format!("Re: {}", strip_reply_prefixes(&ctx.their_subject)),
    };
    reply_letter(LetterKind::Reject, to, subject, text, &ctx.their_message_id)
}

/// A responder's question to one reporter.
pub fn render_question(org: &Org, to: &str, ctx: &QuestionCtx) -> Result<Letter, LetterError> {
    let view = QuestionView::new(org, ctx);
    let text = body(org, LetterKind::Question, &view)?;
    let subject = reply_subject(&ctx.reported_subject, &org.case_prefix, ctx.case_id);
    reply_letter(
        LetterKind::Question,
        to,
        subject,
        text,
        &ctx.their_message_id,
    )
}

/// The outcome letter for one reporter.
pub fn render_outcome(org: &Org, to: &str, ctx: &OutcomeCtx) -> Result<Letter, LetterError> {
    let view = OutcomeView::new(org, ctx, "");
    let text = body(org, LetterKind::Outcome, &view)?;
    let subject = reply_subject(&ctx.reported_subject, &org.case_prefix, ctx.case_id);
    reply_letter(
        LetterKind::Outcome,
        to,
        subject,
        text,
        &ctx.their_message_id,
    )
}

/// Instant answer to a report that matches a recently resolved case.
pub fn render_recent(org: &Org, to: &str, ctx: &RecentCtx) -> Result<Letter, LetterError> {
    let o = &ctx.outcome;
    let view = RecentView::new(org, o, &ctx.resolved_on);
    let text = body(org, LetterKind::Recent, &view)?;
    let subject = reply_subject(&o.reported_subject, &org.case_prefix, o.case_id);
    reply_letter(LetterKind::Recent, to, subject, text, &o.their_message_id)
}

/// SLA or risk-review reminder to one responder.
pub fn render_reminder(org: &Org, to: &str, ctx: &ReminderCtx) -> Result<Letter, LetterError> {
    let view = ReminderView::new(org, ctx);
    let text = body(org, LetterKind::Reminder, &view)?;
    let what = match ctx.reason {
        ReminderReason::Classify => "Reminder: needs a classification",
        ReminderReason::Outcome => "Reminder: needs an outcome",
        ReminderReason::RiskReview { .. } => "Accepted risk ended, case reopened",
    };
    let subject = format!(
        "[{}] {what}: {}",
        view.case,
        cut(&view.subject, SUBJECT_BASE_MAX_CHARS)
    );
    notice_letter(LetterKind::Reminder, to, subject, text)
}

/// Honest progress letter to one reporter.
pub fn render_update(org: &Org, to: &str, ctx: &UpdateCtx) -> Result<Letter, LetterError> {
    let view = UpdateView::new(org, ctx);
    let text = body(org, LetterKind::Update, &view)?;
    let subject = reply_subject(&ctx.reported_subject, &org.case_prefix, ctx.case_id);
    reply_letter(LetterKind::Update, to, subject, text, &ctx.their_message_id)
}

/// Delivery failure notice to one responder.
pub fn render_failure(org: &Org, to: &str, ctx: &FailureCtx) -> Result<Letter, LetterError> {
    let view = FailureView::new(org, ctx);
    let text = body(org, LetterKind::Failure, &view)?;
    let subject = match ctx.case_id {
        Some(_) => format!(
            "[{}] Could not deliver the {} to {}",
            view.case, view.letter, view.failed_to
        ),
        None => format!(
            "Could not deliver the {} to {}",
            view.letter, view.failed_to
        ),
    };
    notice_letter(LetterKind::Failure, to, subject, text)
}

/// A date as reporter letters write it ("2 November 2026"), UTC.
pub fn date_words(at: crate::domain::Millis) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(at)
        .map(|d| d.format("%-d %B %Y").to_string())
        .unwrap_or_default()
}

// ---------------------------------------------------------------- headers

/// One header-safe line: control characters (CR, LF, NUL, U+0085 …), invisible
/// bidi/zero-width marks and whitespace runs become one space; trimmed; at most
/// [`HEADER_MAX_CHARS`] characters, cut at a word when possible.
pub fn sanitize_header(s: &str) -> String {
    cut(&one_line(s), HEADER_MAX_CHARS)
}

/// Like [`sanitize_header`] without the length cap: for values shown in bodies.
pub(crate) fn one_line(s: &str) -> String {
    // Printable ASCII with single inner spaces is its own one-line form.
    let b = s.as_bytes();
    if b.iter().all(|c| (0x20..0x7F).contains(c))
        && !b.starts_with(b" ")
        && !b.ends_with(b" ")
        && !s.contains("  ")
    {
        return s.to_string();
    }
    squeeze(s)
}

/// [`one_line`] character by character.
fn squeeze(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut pending_space = false;
    for c in s.chars() {
        let invisible = matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}');
        if c.is_control() || c.is_whitespace() || invisible {
            pending_space = !out.is_empty();
            continue;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        out.push(c);
    }
    out
}

/// Cuts to at most `max` characters, at the last space when one is near, adding "…".
fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let head: String = s.chars().take(max - 1).collect();
    let head = match head.rfind(' ') {
        Some(i) if i > head.len() / 2 => head[..i].to_string(),
        _ => head,
    };
    format!("{}…", head.trim_end())
}

/// Drops leading "Re:"-style prefixes (any case, repeated, also "Aw:", "Sv:",
/// "Antw:") so a reply never reads "Re: Re:". "Fwd:" is kept: it is the reporter's.
fn strip_reply_prefixes(subject: &str) -> String {
    let mut s = one_line(subject);
    // By bytes: the prefixes are ASCII, so a match ends at a character boundary.
    let prefix = |s: &str| {
        ["re:", "aw:", "sv:", "antw:", "re :"]
            .into_iter()
            .find(|p| {
                s.as_bytes()
                    .get(..p.len())
                    .is_some_and(|head| head.eq_ignore_ascii_case(p.as_bytes()))
            })
    };
    while let Some(p) = prefix(&s) {
        s = s[p.len()..].trim_start().to_string();
    }
    s
}

/// Removes `[PREFIX-n]` tags naming another case (a merged case's old tag).
fn drop_other_case_tags(subject: &str, prefix: &str, keep: CaseId) -> String {
    let mut out = String::new();
    let mut rest = subject;
    while let Some(start) = rest.find('[') {
        let after = &rest[start + 1..];
        let tag_end = after.find(']');
        let is_other_tag = tag_end.is_some_and(|end| {
            let tag = &after[..end];
            // By bytes: a tag's first characters may be any text, not the prefix.
            tag.len() > prefix.len() + 1
                && tag.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
                && tag.as_bytes()[prefix.len()] == b'-'
                && CaseId::parse(tag).is_some_and(|id| id != keep)
        });
        out.push_str(&rest[..start]);
        if is_other_tag {
            rest = &after[tag_end.unwrap_or(0) + 1..];
        } else {
            out.push('[');
            rest = after;
        }
    }
    out.push_str(rest);
    one_line(&out)
}

/// `Re: <their subject> [CL-n]`: no doubled "Re:", no second tag, sanitized.
pub fn reply_subject(their_subject: &str, prefix: &str, case: CaseId) -> String {
    let tag = format!("[{}]", case.display(prefix));
    let base = drop_other_case_tags(&strip_reply_prefixes(their_subject), prefix, case);
    let base = cut(&base, SUBJECT_BASE_MAX_CHARS);
    let subject = if base.is_empty() {
        format!("Re: your report {tag}")
    } else if base.to_lowercase().contains(&tag.to_lowercase()) {
        format!("Re: {base}")
    } else {
        format!("Re: {base} {tag}")
    };
    sanitize_header(&subject)
}

/// A Message-ID without `<>` if it looks like one (`left@right`, printable
/// ASCII, no spaces or angle brackets); None otherwise.
pub fn clean_message_id(id: &str) -> Option<String> {
    let id = id.trim().trim_start_matches('<').trim_end_matches('>');
    let ok = !id.is_empty()
        && id.len() <= 250
        && id
            .bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'<' | b'>' | b'"' | b'\\' | b','))
        && id
            .split_once('@')
            .is_some_and(|(l, r)| !l.is_empty() && !r.is_empty() && !r.contains('@'));
    ok.then(|| id.to_string())
}

/// Stable Message-ID (without `<>`) for one letter: the same kind, case,
/// recipient and sequence always give the same id, so a retried send cannot fork
/// a thread. `seq` tells apart letters of one kind to one person (e.g. the outbox
/// row id or a per-case counter). The recipient is hashed, never shown.
pub fn message_id_for(
    kind: LetterKind,
    case: CaseId,
    recipient: &str,
    seq: i64,
    domain: &str,
) -> String {
    let mut h = Sha256::new();
    for part in [
        kind.slug(),
        &case.0.to_string(),
        &recipient.trim().to_lowercase(),
        &seq.to_string(),
    ] {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    let digest = hex::encode(h.finalize());
    let domain: String = domain
        .trim()
        .to_ascii_lowercase()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '-')
        .collect();
    let domain = if domain.trim_matches('.').is_empty() {
        "closeloop.invalid".to_string()
    } else {
        domain
    };
    format!(
        "cl.{}.{}.{}.{}@{}",
        kind.slug(),
        case.0,
        seq,
        &digest[..16],
        domain
    )
}
