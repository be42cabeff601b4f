//! The input of every letter: one plain-data context struct per letter kind,
//! filled by the pipeline from the store (strings, counts, options, lists).
//!
//! Contexts carry only what a letter may show. Artifacts arrive already masked and
//! report text arrives already redacted: nothing here may hold a plaintext secret,
//! and this module must not look anything up, read a clock or touch IO.

use crate::domain::{CaseId, Category, LetterKind, Outcome, Severity};

/// A detected artifact as letters show it: kind in words and its masked form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MaskedArtifact {
    /// "an AWS access key", "a GitHub token" … (words, not the detector's slug).
    pub kind: String,
    /// The masked form from `extract` (`AKIA…WXYZ`); never the secret itself.
    pub masked: String,
}

impl MaskedArtifact {
    pub fn new(kind: impl Into<String>, masked: impl Into<String>) -> Self {
        MaskedArtifact {
            kind: kind.into(),
            masked: masked.into(),
        }
    }
}

/// Acknowledgement to a reporter: names the case, says this is not the outcome.
#[derive(Clone, Debug)]
pub struct AckCtx {
    pub case_id: CaseId,
    pub reporter_name: Option<String>,
    pub reported_subject: String,
    /// Date the reporter sent it, in words ("2 November 2026").
    pub reported_on: String,
    /// How many other people reported the same thing before this reporter.
    pub others_reported: usize,
    pub masked_artifacts: Vec<MaskedArtifact>,
    /// Message-ID of the reporter's own message (threading), without `<>`.
    pub their_message_id: Option<String>,
}

/// The headers of a forwarded original, when the report carried one.
#[derive(Clone, Debug, Default)]
pub struct OriginalInfo {
    pub from: String,
    pub subject: String,
    pub date: String,
}

/// Case notification to responders: what came in and how to act on it.
#[derive(Clone, Debug)]
pub struct NotifyCtx {
    pub case_id: CaseId,
    /// Address of the reporter of this report.
    pub from: String,
    pub subject: String,
    /// When the report arrived, as shown to responders (RFC 3339 is fine here).
    pub received: String,
    pub original: Option<OriginalInfo>,
    pub masked_artifacts: Vec<MaskedArtifact>,
    /// True when this report joined an open case instead of opening a new one.
    pub joined_existing: bool,
    /// Reports on the case now, this one included.
    pub report_count: usize,
    /// Every reporter address on the case so far.
    pub reporters: Vec<String>,
    /// A short excerpt of the report text, ALREADY REDACTED by `extract`.
    pub redacted_excerpt: String,
    /// Parse problems worth a responder's eye ("unknown charset x-foo").
    pub warnings: Vec<String>,
    /// Set when the report matched a recently resolved case and the reporter was
    /// answered at once with that case's outcome.
    pub answered_from: Option<CaseId>,
    /// Set when the report reopened the case (same secret seen after `remediated`).
    pub reopened: bool,
    /// "Please classify within 4h" deadline in words, when an SLA is configured.
    pub classify_within: Option<String>,
}

/// Confirmation of an applied command block, to the responder who sent it.
#[derive(Clone, Debug)]
pub struct ConfirmCtx {
    pub case_id: CaseId,
    /// One line per applied command, in the order applied ("classify secret-leak").
    pub applied: Vec<String>,
    /// Case status after the block ("open", "resolved", "merged into CL-4").
    pub status: String,
    /// Letters the block queued (outcomes, questions), one line each ("outcome to a@x.org").
    pub letters_queued: Vec<String>,
    pub their_subject: String,
    pub their_message_id: Option<String>,
}

/// Rejection of a command block: nothing was applied, and why.
#[derive(Clone, Debug)]
pub struct RejectCtx {
    /// None when no case could be matched at all.
    pub case_id: Option<CaseId>,
    /// Every error, one line each ("line 3: resolve remediated needs an action first").
    pub errors: Vec<String>,
    pub their_subject: String,
    pub their_message_id: Option<String>,
}

/// A responder's `ask`, sent to a reporter.
#[derive(Clone, Debug)]
pub struct QuestionCtx {
    pub case_id: CaseId,
    pub reporter_name: Option<String>,
    pub reported_subject: String,
    pub reported_on: String,
    /// The responder's question, in their words.
    pub question: String,
    pub their_message_id: Option<String>,
}

/// The outcome letter: one per reporter of the case and of cases merged into it.
#[derive(Clone, Debug)]
pub struct OutcomeCtx {
    /// The case whose outcome this is (the merge target for merged duplicates).
    pub case_id: CaseId,
    pub reporter_name: Option<String>,
    /// The reporter's own subject line.
    pub reported_subject: String,
    /// The date the reporter sent it, in words ("2 November 2026").
    pub reported_on: String,
    pub category: Category,
    /// Each `action`, in the responder's own words, in order.
    pub actions: Vec<String>,
    pub outcome: Outcome,
    /// The `resolve … : text` (what was checked; the policy for accepted-risk).
    pub resolution_text: Option<String>,
    /// The `until` date for accepted-risk, in words.
    pub until: Option<String>,
    /// What the reporter should do now, if anything.
    pub advice: Option<String>,
    /// 1 = this reporter was the first to report it.
    pub position: usize,
    pub reporters_total: usize,
    pub masked_artifacts: Vec<MaskedArtifact>,
    pub their_message_id: Option<String>,
    /// The case this reporter reported, when it was merged into `case_id`.
    pub merged_from: Option<CaseId>,
}

/// Instant answer to a report matching a recently resolved case: its outcome.
#[derive(Clone, Debug)]
pub struct RecentCtx {
    /// The resolved case's outcome, addressed to this reporter (their subject, date,
    /// message id; `position`/`reporters_total` count them in).
    pub outcome: OutcomeCtx,
    /// When that case was resolved, in words.
    pub resolved_on: String,
}

/// Why a reminder goes out to responders.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReminderReason {
    /// The case is past `sla.classify_within` without a classification.
    Classify,
    /// The case is past `sla.outcome_within` without an outcome.
    Outcome,
    /// An accepted risk reached its `until` date; the case reopened by itself.
    RiskReview { policy: String, until: String },
}

/// SLA reminder to responders.
#[derive(Clone, Debug)]
pub struct ReminderCtx {
    pub case_id: CaseId,
    pub reason: ReminderReason,
    /// Subject of the first report.
    pub subject: String,
    pub opened_at: String,
    /// "3 days", "5 hours".
    pub open_for: String,
    /// The SLA that was missed, as configured ("4h").
    pub sla: Option<String>,
    pub category: Option<Category>,
    pub severity: Option<Severity>,
    pub report_count: usize,
    /// Reporters still waiting for an outcome.
    pub waiting_reporters: usize,
}

/// Honest progress letter to a reporter: still being worked on, not the outcome.
#[derive(Clone, Debug)]
pub struct UpdateCtx {
    pub case_id: CaseId,
    pub reporter_name: Option<String>,
    pub reported_subject: String,
    pub reported_on: String,
    /// Known once classified.
    pub category: Option<Category>,
    /// Actions recorded so far, in the responder's words.
    pub actions_so_far: Vec<String>,
    pub their_message_id: Option<String>,
}

/// A letter could not be delivered; responders must close that loop by hand.
#[derive(Clone, Debug)]
pub struct FailureCtx {
    pub case_id: Option<CaseId>,
    pub letter_kind: LetterKind,
    /// The address that could not be reached.
    pub failed_to: String,
    pub attempts: u32,
    pub first_tried: String,
    /// The last SMTP error, one line (no message content).
    pub last_error: String,
}
