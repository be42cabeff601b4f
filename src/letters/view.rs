//! What templates see: one flat struct per letter kind, built from the context,
//! holding only strings, numbers, booleans and lists, so the same data drives the
//! built-in askama templates and a deployment's minijinja overrides (serde).
//!
//! Wording decisions that need code (category and outcome in words, greetings,
//! one-line cleaning, excerpt quoting) live here; sentences live in the templates.
//! Must not render, read files or hold anything a context did not provide.

use askama::Template;
use serde::Serialize;

use super::context::*;
use super::{one_line, Org};
use crate::domain::{CaseId, LetterKind, Outcome};

/// Filters the built-in templates use beyond askama's own, named as in Jinja so
/// the same template text works in minijinja overrides.
mod filters {
    /// `xs|length`: number of items in a list.
    #[askama::filter_fn]
    pub fn length<T>(value: &[T], _env: &dyn askama::Values) -> askama::Result<usize> {
        Ok(value.len())
    }
}

/// Longest excerpt shown to responders, in lines and in characters.
const EXCERPT_LINES: usize = 20;
const EXCERPT_CHARS: usize = 1500;

#[derive(Clone, Debug, Serialize)]
pub struct ArtifactView {
    pub kind: String,
    pub masked: String,
}

/// Most artifacts a letter lists: a report of a dump may carry thousands of keys,
/// and a letter listing them all would be a megabyte nobody reads. The rest are
/// counted (`artifacts_more`); `closeloop case show` lists every one.
pub const LISTED_ARTIFACTS: usize = 25;

/// The artifacts a letter lists, in their order, and how many it leaves out. When
/// some must be left out, the first of each kind is listed before the others, so a
/// dump of 5,000 key IDs followed by their secret keys shows both kinds.
fn artifacts(list: &[MaskedArtifact]) -> (Vec<ArtifactView>, usize) {
    let mut listed = vec![list.len() <= LISTED_ARTIFACTS; list.len()];
    if list.len() > LISTED_ARTIFACTS {
        let mut kinds = std::collections::HashSet::new();
        let mut room = LISTED_ARTIFACTS;
        for (i, a) in list.iter().enumerate() {
            if room > 0 && kinds.insert(a.kind.as_str()) {
                listed[i] = true;
                room -= 1;
            }
        }
        for l in listed.iter_mut().filter(|l| !**l).take(room) {
            *l = true;
        }
    }
    let shown = list
        .iter()
        .zip(&listed)
        .filter(|(_, l)| **l)
        .map(|(a, _)| ArtifactView {
            kind: one_line(&a.kind),
            masked: one_line(&a.masked),
        })
        .collect();
    (shown, list.len().saturating_sub(LISTED_ARTIFACTS))
}

/// A responder's words as a sentence: first letter capitalised, closing full stop.
fn sentence(s: &str) -> String {
    let s = s.trim();
    let mut chars = s.chars();
    let Some(first) = chars.next() else {
        return String::new();
    };
    let mut out: String = first.to_uppercase().chain(chars).collect();
    if !out.ends_with(['.', '!', '?', ')', '"']) {
        out.push('.');
    }
    out
}

fn greeting(name: &Option<String>) -> String {
    match name
        .as_deref()
        .map(one_line)
        .filter(|n| !n.is_empty() && !n.contains('@'))
    {
        Some(n) => format!("Hello {},", n.chars().take(60).collect::<String>()),
        None => "Hello,".to_string(),
    }
}

fn case(org: &Org, id: CaseId) -> String {
    id.display(&org.case_prefix)
}

fn opt_line(s: &Option<String>) -> String {
    s.as_deref().map(one_line).unwrap_or_default()
}

fn lines(list: &[String]) -> Vec<String> {
    list.iter()
        .map(|s| one_line(s))
        .filter(|s| !s.is_empty())
        .collect()
}

fn subject_or_default(s: &str) -> String {
    let s = one_line(s);
    if s.is_empty() {
        "(no subject)".to_string()
    } else {
        s
    }
}

/// The line without control characters other than tabs; borrowed when it
/// has none (a byte below space other than tab, DEL, or a C1 control's 0xC2).
fn without_controls(line: &str) -> std::borrow::Cow<'_, str> {
    let suspect = |b: &u8| (*b < 0x20 && *b != b'\t') || *b == 0x7F || *b == 0xC2;
    if !line.as_bytes().iter().any(suspect) {
        return std::borrow::Cow::Borrowed(line);
    }
    std::borrow::Cow::Owned(drop_controls(line))
}

/// [`without_controls`] character by character.
fn drop_controls(line: &str) -> String {
    line.chars()
        .filter(|c| !c.is_control() || *c == '\t')
        .collect()
}

/// Splits an already redacted excerpt into at most [`EXCERPT_LINES`] lines for quoting.
fn excerpt(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut used = 0;
    for line in text.lines() {
        let clean = without_controls(line).trim_end().to_string();
        if out.len() == EXCERPT_LINES || used + clean.len() > EXCERPT_CHARS {
            out.push("[…]".to_string());
            break;
        }
        used += clean.len();
        out.push(clean);
    }
    while out.last().is_some_and(|l| l.is_empty()) {
        out.pop();
    }
    out
}

#[derive(Template, Serialize)]
#[template(path = "ack.txt", escape = "none", whitespace = "preserve")]
pub struct AckView {
    pub case: String,
    pub greeting: String,
    pub subject: String,
    pub reported_on: String,
    pub others: usize,
    pub artifacts: Vec<ArtifactView>,
    pub artifacts_more: usize,
    pub org_name: String,
}

impl AckView {
    pub fn new(org: &Org, c: &AckCtx) -> Self {
        let (artifacts, artifacts_more) = artifacts(&c.masked_artifacts);
        AckView {
            case: case(org, c.case_id),
            greeting: greeting(&c.reporter_name),
            subject: subject_or_default(&c.reported_subject),
            reported_on: one_line(&c.reported_on),
            others: c.others_reported,
            artifacts,
            artifacts_more,
            org_name: one_line(&org.name),
        }
    }
}

#[derive(Template, Serialize)]
#[template(path = "notify.txt", escape = "none", whitespace = "preserve")]
pub struct NotifyView {
    pub case: String,
    pub from: String,
    pub subject: String,
    pub received: String,
    pub has_original: bool,
    pub original_from: String,
    pub original_subject: String,
    pub original_date: String,
    pub artifacts: Vec<ArtifactView>,
    pub artifacts_more: usize,
    pub joined: bool,
    pub report_count: usize,
    pub reporters: Vec<String>,
    pub excerpt: Vec<String>,
    pub warnings: Vec<String>,
    pub answered_from: String,
    pub reopened: bool,
    pub classify_within: String,
    pub org_name: String,
}

impl NotifyView {
    pub fn new(org: &Org, c: &NotifyCtx) -> Self {
        let original = c.original.clone().unwrap_or_default();
        let (artifacts, artifacts_more) = artifacts(&c.masked_artifacts);
        NotifyView {
            case: case(org, c.case_id),
            from: one_line(&c.from),
            subject: subject_or_default(&c.subject),
            received: one_line(&c.received),
            has_original: c.original.is_some(),
            original_from: one_line(&original.from),
            original_subject: one_line(&original.subject),
            original_date: one_line(&original.date),
            artifacts,
            artifacts_more,
            joined: c.joined_existing,
            report_count: c.report_count.max(1),
            reporters: lines(&c.reporters),
            excerpt: excerpt(&c.redacted_excerpt),
            warnings: lines(&c.warnings),
            answered_from: c.answered_from.map(|id| case(org, id)).unwrap_or_default(),
            reopened: c.reopened,
            classify_within: opt_line(&c.classify_within),
            org_name: one_line(&org.name),
        }
    }
}

#[derive(Template, Serialize)]
#[template(path = "confirm.txt", escape = "none", whitespace = "preserve")]
pub struct ConfirmView {
    pub case: String,
    pub applied: Vec<String>,
    pub status: String,
    pub letters_queued: Vec<String>,
    pub org_name: String,
}

impl ConfirmView {
    pub fn new(org: &Org, c: &ConfirmCtx) -> Self {
        ConfirmView {
            case: case(org, c.case_id),
            applied: lines(&c.applied),
            status: one_line(&c.status),
            letters_queued: lines(&c.letters_queued),
            org_name: one_line(&org.name),
        }
    }
}

#[derive(Template, Serialize)]
#[template(path = "reject.txt", escape = "none", whitespace = "preserve")]
pub struct RejectView {
    pub case: String,
    pub has_case: bool,
    pub errors: Vec<String>,
    pub org_name: String,
}

impl RejectView {
    pub fn new(org: &Org, c: &RejectCtx) -> Self {
        let mut errors = lines(&c.errors);
        if errors.is_empty() {
            errors.push("the message held no command".to_string());
        }
        RejectView {
            case: c.case_id.map(|id| case(org, id)).unwrap_or_default(),
            has_case: c.case_id.is_some(),
            errors,
            org_name: one_line(&org.name),
        }
    }
}

#[derive(Template, Serialize)]
#[template(path = "question.txt", escape = "none", whitespace = "preserve")]
pub struct QuestionView {
    pub case: String,
    pub greeting: String,
    pub subject: String,
    pub reported_on: String,
    pub question: String,
    pub org_name: String,
}

impl QuestionView {
    pub fn new(org: &Org, c: &QuestionCtx) -> Self {
        QuestionView {
            case: case(org, c.case_id),
            greeting: greeting(&c.reporter_name),
            subject: subject_or_default(&c.reported_subject),
            reported_on: one_line(&c.reported_on),
            question: one_line(&c.question),
            org_name: one_line(&org.name),
        }
    }
}

/// Declares the outcome and recent views: the same fields (they share the
/// `_outcome_details.txt` partial), different templates.
macro_rules! outcome_view {
    ($(#[$attr:meta])* $name:ident) => {
        #[derive(Template, Serialize)]
        $(#[$attr])*
        pub struct $name {
            pub case: String,
            pub greeting: String,
            pub subject: String,
            pub reported_on: String,
            /// The category in plain words (`Category::plain`).
            pub found: String,
            /// The outcome slug, for template branching only; never printed.
            pub outcome: &'static str,
            /// benign or false-positive: the letter must thank without blame.
            pub false_alarm: bool,
            pub actions: Vec<String>,
            pub resolution_text: String,
            pub until: String,
            pub advice: String,
            pub position: usize,
            pub reporters_total: usize,
            pub artifacts: Vec<ArtifactView>,
            pub artifacts_more: usize,
            /// The case this reporter reported, when merged into `case`; else "".
            pub merged_from: String,
            /// When the case was resolved (recent letters); else "".
            pub resolved_on: String,
            pub org_name: String,
        }

        impl $name {
            pub fn new(org: &Org, c: &OutcomeCtx, resolved_on: &str) -> Self {
                let (artifacts, artifacts_more) = artifacts(&c.masked_artifacts);
                $name {
                    case: case(org, c.case_id),
                    greeting: greeting(&c.reporter_name),
                    subject: subject_or_default(&c.reported_subject),
                    reported_on: one_line(&c.reported_on),
                    found: c.category.plain().to_string(),
                    outcome: c.outcome.slug(),
                    false_alarm: c.outcome.is_false_alarm(),
                    actions: lines(&c.actions),
                    resolution_text: if c.outcome == Outcome::AcceptedRisk {
                        // Quoted mid-sentence ("under <policy>."): no closing stop of its own.
                        opt_line(&c.resolution_text).trim_end_matches('.').to_string()
                    } else {
                        sentence(&opt_line(&c.resolution_text))
                    },
                    until: opt_line(&c.until),
                    advice: opt_line(&c.advice),
                    position: c.position.max(1),
                    reporters_total: c.reporters_total.max(c.position).max(1),
                    artifacts,
                    artifacts_more,
                    merged_from: c
                        .merged_from
                        .filter(|m| *m != c.case_id)
                        .map(|id| case(org, id))
                        .unwrap_or_default(),
                    resolved_on: one_line(resolved_on),
                    org_name: one_line(&org.name),
                }
            }
        }
    };
}

outcome_view!(
    #[template(path = "outcome.txt", escape = "none", whitespace = "preserve")]
    OutcomeView
);
outcome_view!(
    #[template(path = "recent.txt", escape = "none", whitespace = "preserve")]
    RecentView
);

#[derive(Template, Serialize)]
#[template(path = "reminder.txt", escape = "none", whitespace = "preserve")]
pub struct ReminderView {
    pub case: String,
    /// "classify", "outcome" or "risk-review".
    pub reason: &'static str,
    pub policy: String,
    pub until: String,
    pub subject: String,
    pub opened_at: String,
    pub open_for: String,
    pub sla: String,
    pub category: String,
    pub severity: String,
    pub report_count: usize,
    pub waiting_reporters: usize,
    pub org_name: String,
}

impl ReminderView {
    pub fn new(org: &Org, c: &ReminderCtx) -> Self {
        let (reason, policy, until) = match &c.reason {
            ReminderReason::Classify => ("classify", String::new(), String::new()),
            ReminderReason::Outcome => ("outcome", String::new(), String::new()),
            ReminderReason::RiskReview { policy, until } => {
                ("risk-review", one_line(policy), one_line(until))
            }
        };
        ReminderView {
            case: case(org, c.case_id),
            reason,
            policy,
            until,
            subject: subject_or_default(&c.subject),
            opened_at: one_line(&c.opened_at),
            open_for: one_line(&c.open_for),
            sla: opt_line(&c.sla),
            // Responders speak slugs: they type them back in commands.
            category: c.category.map(|c| c.slug().to_string()).unwrap_or_default(),
            severity: c.severity.map(|s| s.slug().to_string()).unwrap_or_default(),
            report_count: c.report_count,
            waiting_reporters: c.waiting_reporters,
            org_name: one_line(&org.name),
        }
    }
}

#[derive(Template, Serialize)]
#[template(path = "update.txt", escape = "none", whitespace = "preserve")]
pub struct UpdateView {
    pub case: String,
    pub greeting: String,
    pub subject: String,
    pub reported_on: String,
    /// The category in plain words, or "" while unclassified.
    pub found: String,
    pub actions: Vec<String>,
    pub org_name: String,
}

impl UpdateView {
    pub fn new(org: &Org, c: &UpdateCtx) -> Self {
        UpdateView {
            case: case(org, c.case_id),
            greeting: greeting(&c.reporter_name),
            subject: subject_or_default(&c.reported_subject),
            reported_on: one_line(&c.reported_on),
            found: c
                .category
                .map(|c| c.plain().to_string())
                .unwrap_or_default(),
            actions: lines(&c.actions_so_far),
            org_name: one_line(&org.name),
        }
    }
}

#[derive(Template, Serialize)]
#[template(path = "failure.txt", escape = "none", whitespace = "preserve")]
pub struct FailureView {
    pub case: String,
    pub has_case: bool,
    /// "outcome letter", "acknowledgement" …
    pub letter: &'static str,
    /// True when the failed letter was one that closes a reporter's loop.
    pub loop_open: bool,
    pub failed_to: String,
    pub attempts: u32,
    pub first_tried: String,
    pub last_error: String,
    pub org_name: String,
}

/// A letter kind in words, for responders.
pub fn kind_words(kind: LetterKind) -> &'static str {
    match kind {
        LetterKind::Ack => "acknowledgement",
        LetterKind::Notify => "case notification",
        LetterKind::Confirm => "command confirmation",
        LetterKind::Reject => "command rejection",
        LetterKind::Question => "question",
        LetterKind::Outcome => "outcome letter",
        LetterKind::Recent => "outcome letter (recent case)",
        LetterKind::Reminder => "reminder",
        LetterKind::Update => "progress update",
        LetterKind::Failure => "delivery failure notice",
    }
}

impl FailureView {
    pub fn new(org: &Org, c: &FailureCtx) -> Self {
        FailureView {
            case: c.case_id.map(|id| case(org, id)).unwrap_or_default(),
            has_case: c.case_id.is_some(),
            letter: kind_words(c.letter_kind),
            loop_open: matches!(c.letter_kind, LetterKind::Outcome | LetterKind::Recent),
            failed_to: one_line(&c.failed_to),
            attempts: c.attempts,
            first_tried: one_line(&c.first_tried),
            last_error: one_line(&c.last_error).chars().take(300).collect(),
            org_name: one_line(&org.name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{drop_controls, excerpt, sentence, without_controls};

    /// Strings from an alphabet of the cases the byte checks tell apart.
    fn strings() -> Vec<String> {
        let alphabet = [
            "a", "Z", " ", "  ", "\t", "\r", "\u{0}", "\u{7f}", "\u{85}", "\u{9f}", "\u{a0}", "©",
            "é", "\u{200b}", "\u{feff}", "…",
        ];
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        (0..20_000)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let n = (seed % 7) as usize;
                (0..n)
                    .map(|i| alphabet[((seed >> (8 * i)) % alphabet.len() as u64) as usize])
                    .collect()
            })
            .collect()
    }

    #[test]
    fn controls_are_dropped_from_excerpt_lines_as_char_by_char() {
        for s in strings() {
            assert_eq!(without_controls(&s), drop_controls(&s), "{s:?}");
        }
        assert_eq!(
            excerpt("key\u{7}=1 \r\nnext\u{85}line\n\n"),
            vec!["key=1".to_string(), "nextline".to_string()]
        );
    }

    #[test]
    fn one_line_fast_path_matches_char_by_char() {
        for s in strings() {
            assert_eq!(super::one_line(&s), crate::letters::squeeze(&s), "{s:?}");
        }
        assert_eq!(super::one_line(" a  b\t\u{200b}c "), "a b c");
    }

    #[test]
    fn responder_words_become_sentences() {
        assert_eq!(
            sentence("the old key no longer works"),
            "The old key no longer works."
        );
        assert_eq!(sentence("Done!"), "Done!");
        assert_eq!(sentence("  "), "");
        assert_eq!(sentence("ärger behoben"), "Ärger behoben.");
    }
}
