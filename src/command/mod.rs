//! Responder commands (SPEC §5): the pure layer between a reply's text and the
//! changes a responder asked for. `block` finds the command lines at the top of a
//! reply, `grammar` turns one line into a [`Command`], `rules` checks a whole block
//! against the case's state, all-or-nothing.
//!
//! Architecture invariant: no IO, no clock, no database. Today's date and the case
//! state are parameters; whether a `duplicate` target exists, who may command and
//! how the mail was authenticated are the caller's business. Rejections are values
//! (`Vec<String>`, one plain sentence each) rendered into the rejection letter.

use chrono::NaiveDate;

use crate::domain::{CaseId, Category, Outcome, Severity};

mod block;
mod grammar;
mod rules;
#[cfg(test)]
mod tests;

pub use block::extract_block;
pub use grammar::{parse_block, parse_line};
pub use rules::{check, CaseState};

/// Longest free text (`action`, `ask`, `note`, `resolve … :`, `reopen :`) one line may
/// carry, in characters. Longer text belongs in a ticket; letters stay readable.
pub const MAX_TEXT_CHARS: usize = 2000;

/// Most commands one reply may carry; a bigger block is a paste accident.
pub const MAX_COMMANDS: usize = 100;

/// Every command word, in the order the reference card lists them.
pub const COMMAND_WORDS: &[&str] = &[
    "classify",
    "severity",
    "owasp",
    "assign",
    "action",
    "ask",
    "note",
    "resolve",
    "duplicate",
    "reopen",
];

/// One responder command, already validated for shape (not yet against the case).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    Classify(Category),
    Severity(Severity),
    /// OWASP Non-Human Identities Top 10 tag, 1..=10 (`NHI3` is `Owasp(3)`).
    Owasp(u8),
    /// Lowercased address of the responder who takes the case.
    Assign(String),
    /// What was done, in the responder's own words; quoted in the outcome letter.
    Action(String),
    /// A question sent to the reporters.
    Ask(String),
    /// Internal remark; never sent to a reporter.
    Note(String),
    Resolve {
        outcome: Outcome,
        /// Review date; only for `accepted-risk`, where it is required.
        until: Option<NaiveDate>,
        /// The explanation after the first `:`.
        text: Option<String>,
    },
    /// Merge this case into the named one.
    Duplicate(CaseId),
    Reopen(Option<String>),
}

/// One line of a reply body that belongs to the command block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    /// 1-based line number in the reply body, so errors point where the responder looks.
    pub number: usize,
    /// The line with non-breaking spaces made plain and surrounding space trimmed.
    pub text: String,
}

impl Command {
    /// The command word, as written in the reference card.
    pub fn word(&self) -> &'static str {
        match self {
            Command::Classify(_) => "classify",
            Command::Severity(_) => "severity",
            Command::Owasp(_) => "owasp",
            Command::Assign(_) => "assign",
            Command::Action(_) => "action",
            Command::Ask(_) => "ask",
            Command::Note(_) => "note",
            Command::Resolve { .. } => "resolve",
            Command::Duplicate(_) => "duplicate",
            Command::Reopen(_) => "reopen",
        }
    }

    /// The free text the command carries, if any.
    pub fn text(&self) -> Option<&str> {
        match self {
            Command::Action(t) | Command::Ask(t) | Command::Note(t) => Some(t),
            Command::Resolve { text, .. } | Command::Reopen(text) => text.as_deref(),
            _ => None,
        }
    }

    /// One plain line for the confirmation letter, e.g. "classified as secret-leak".
    /// Case IDs use the default `CL` prefix; see [`Command::describe_with_prefix`].
    pub fn describe(&self) -> String {
        self.describe_with_prefix("CL")
    }

    /// [`Command::describe`] with the deployment's case prefix (`letters.case_prefix`).
    pub fn describe_with_prefix(&self, prefix: &str) -> String {
        match self {
            Command::Classify(c) => format!("classified as {c}"),
            Command::Severity(s) => format!("severity set to {s}"),
            Command::Owasp(n) => format!("tagged OWASP NHI{n}"),
            Command::Assign(who) => format!("assigned to {who}"),
            Command::Action(t) => format!("action recorded: {t}"),
            Command::Ask(t) => format!("question sent to the reporters: {t}"),
            Command::Note(t) => format!("internal note added: {t}"),
            Command::Resolve {
                outcome,
                until,
                text,
            } => {
                let mut s = format!("resolved as {outcome}");
                if let Some(d) = until {
                    s.push_str(&format!(" until {}", d.format("%Y-%m-%d")));
                }
                if let Some(t) = text {
                    s.push_str(": ");
                    s.push_str(t);
                }
                s
            }
            Command::Duplicate(id) => format!("merged into {}", id.display(prefix)),
            Command::Reopen(None) => "reopened".to_string(),
            Command::Reopen(Some(t)) => format!("reopened: {t}"),
        }
    }
}

/// The closest of `choices` to `word` when it is a plausible typo (edit distance at
/// most 1 for short words, 2 otherwise), for "did you mean …?" hints.
pub(crate) fn suggest<'a>(
    word: &str,
    choices: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let word = word.to_ascii_lowercase();
    let limit = if word.chars().count() <= 4 { 1 } else { 2 };
    choices
        .into_iter()
        .map(|c| (edit_distance(&word, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance over chars, with adjacent transpositions counted as one edit
/// ("clasify", "calssify" are both one slip away from "classify").
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev2: Vec<usize> = vec![0; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut cur = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                cur[j] = cur[j].min(prev2[j - 2] + 1);
            }
        }
        prev2 = std::mem::replace(&mut prev, cur);
    }
    prev[b.len()]
}
