//! The rules that make the honest loop the only loop (SPEC §5): a case is resolved
//! only with a classification and a record of what was done or why nothing needed
//! doing; closed cases take only `note` and `reopen`. A block is checked in order on
//! a simulated copy of the case, and every violation is reported.
//!
//! It must not touch the database or the clock: the caller supplies the case state
//! and today's date, and decides whether a `duplicate` target exists.

use chrono::NaiveDate;

use super::grammar::RESOLVE_DUPLICATE;
use super::{Command, MAX_TEXT_CHARS};
use crate::domain::{CaseId, CaseStatus, Category, Outcome};

/// What the rules need to know about a case before the block runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaseState {
    pub id: CaseId,
    pub status: CaseStatus,
    /// The current classification; `resolve` needs one.
    pub category: Option<Category>,
    /// How many `action` lines the case already records; `remediated` needs one.
    pub actions: usize,
}

/// Checks the numbered commands of one block against `state`, in order, as if each
/// earlier command had been applied. `Ok` means the whole block may be applied;
/// otherwise every problem, each "line N: …", and nothing may be applied.
pub fn check(
    state: &CaseState,
    cmds: &[(usize, Command)],
    today: NaiveDate,
) -> Result<(), Vec<String>> {
    let mut sim = state.clone();
    let mut errors = Vec::new();
    for (k, (line, cmd)) in cmds.iter().enumerate() {
        let mut fail = |msg: String| errors.push(format!("line {line}: {msg}"));
        if let Some(t) = cmd.text() {
            let n = t.chars().count();
            if n > MAX_TEXT_CHARS {
                fail(format!(
                    "the text is too long ({n} characters; at most {MAX_TEXT_CHARS})"
                ));
            }
        }
        let closed = sim.status != CaseStatus::Open;
        match cmd {
            Command::Note(_) => {}
            Command::Reopen(_) if !closed => {
                fail("the case is open; `reopen` is only for a resolved or merged case".to_string())
            }
            Command::Reopen(_) => sim.status = CaseStatus::Open,
            _ if closed => fail(closed_message(sim.status, cmd)),
            Command::Classify(c) => sim.category = Some(*c),
            Command::Action(_) => sim.actions += 1,
            Command::Severity(_) | Command::Owasp(_) | Command::Assign(_) | Command::Ask(_) => {}
            Command::Duplicate(target) if *target == sim.id => {
                fail("a case cannot be a duplicate of itself; name the other case".to_string())
            }
            Command::Duplicate(_) => sim.status = CaseStatus::Merged,
            Command::Resolve {
                outcome,
                until,
                text,
            } => {
                let later_action = cmds[k + 1..]
                    .iter()
                    .any(|(_, c)| matches!(c, Command::Action(_)));
                for msg in resolve_problems(
                    &sim,
                    *outcome,
                    *until,
                    text.as_deref().filter(|t| !t.trim().is_empty()),
                    today,
                    later_action,
                ) {
                    fail(msg);
                }
                // Judge the lines after it as the responder meant them: on a resolved case.
                sim.status = CaseStatus::Resolved;
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

fn closed_message(status: CaseStatus, cmd: &Command) -> String {
    let state = if status == CaseStatus::Merged {
        "merged into another case"
    } else {
        "resolved"
    };
    match cmd {
        Command::Resolve { .. } => format!(
            "the case is already {state}; write `reopen` on a line before `resolve` to resolve it again"
        ),
        _ => format!(
            "the case is {state}; only `note` and `reopen` work now, so write `reopen` first to `{}`",
            cmd.word()
        ),
    }
}

/// Everything wrong with resolving the simulated case as `outcome` right now.
fn resolve_problems(
    sim: &CaseState,
    outcome: Outcome,
    until: Option<NaiveDate>,
    text: Option<&str>,
    today: NaiveDate,
    later_action: bool,
) -> Vec<String> {
    let mut out = Vec::new();
    if outcome == Outcome::Duplicate {
        out.push(RESOLVE_DUPLICATE.to_string());
        return out;
    }
    if sim.category.is_none() {
        out.push(format!(
            "`resolve` needs a classification first; add a `classify` line before it (one of: {})",
            Category::choices()
        ));
    }
    if until.is_some() && outcome != Outcome::AcceptedRisk {
        out.push(format!(
            "`until` goes only with accepted-risk, not {outcome}"
        ));
    }
    match outcome {
        Outcome::Remediated if sim.actions == 0 => out.push(if later_action {
            "`resolve remediated` needs an `action` line saying what was done; \
             move the `action` line above the `resolve` line"
                .to_string()
        } else {
            "`resolve remediated` needs at least one `action` line saying what was done, \
             e.g. `action rotated the key and revoked the old one`"
                .to_string()
        }),
        Outcome::AcceptedRisk => {
            if text.is_none() {
                out.push(
                    "`resolve accepted-risk` needs text after a colon naming the policy or \
                     exception, e.g. `resolve accepted-risk until 2025-06-30: exception EX-12 \
                     approved by the CISO`"
                        .to_string(),
                );
            }
            match until {
                None => out.push(
                    "`resolve accepted-risk` needs a review date before the colon, \
                     e.g. `resolve accepted-risk until 2025-06-30: …`; the case reopens on that date"
                        .to_string(),
                ),
                Some(d) if d <= today => out.push(format!(
                    "the until date {} must be after today ({})",
                    d.format("%Y-%m-%d"),
                    today.format("%Y-%m-%d")
                )),
                Some(_) => {}
            }
        }
        Outcome::Benign | Outcome::FalsePositive | Outcome::NoAction if text.is_none() => {
            out.push(format!(
                "`resolve {outcome}` needs text after a colon explaining what was checked, \
                 e.g. `resolve {outcome}: the key is a documented test key with no access`"
            ))
        }
        _ => {}
    }
    out
}
