//! The one place for case transitions (invariant 5): applying a responder's
//! command block (by email or `respond`), authenticating responders, adding a
//! reporter's answer, reopening, and expiring accepted risks.
//!
//! Rules are the same on every channel: the block is checked whole by
//! `command::check` and applied all-or-nothing inside the caller's
//! transaction; every change is an event; every block is answered.

use chrono::NaiveDate;

use crate::authres::{self, Verdict};
use crate::command::{self, CaseState, Command};
use crate::compose::{self, TheirMessage};
use crate::config::AuthMode;
use crate::context::Context;
use crate::domain::{CaseId, CaseStatus, Millis};
use crate::letters::ReminderReason;
use crate::parse::Inbound;
use crate::pipeline::redact_all;
use crate::signed_address;
use crate::store::cases::{self, Field};
use crate::store::{Conn, StoreError};

/// The result of one command block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Applied {
    pub ok: bool,
    /// What was applied, or every reason nothing was.
    pub lines: Vec<String>,
}

fn today(now: Millis) -> NaiveDate {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(now)
        .map(|d| d.date_naive())
        .unwrap_or_default()
}

/// Checks that a responder's email really comes from them (`responders.auth`).
pub fn authenticate(
    ctx: &Context,
    case: CaseId,
    m: &Inbound,
    responder: &str,
) -> Result<(), String> {
    match ctx.cfg.responders.auth {
        AuthMode::None => Ok(()),
        AuthMode::Dmarc => {
            let domain = responder.rsplit_once('@').map(|(_, d)| d).unwrap_or("");
            match authres::dmarc_verdict(
                &m.authentication_results,
                &ctx.cfg.responders.trusted_authserv_id,
                domain,
            ) {
                Verdict::Pass => Ok(()),
                Verdict::Fail(why) => Err(format!("DMARC check failed: {why}")),
            }
        }
        AuthMode::Token => {
            let ok = m
                .recipients
                .iter()
                .any(|to| signed_address::verify(ctx.key.bytes(), to, responder) == Some(case));
            if ok {
                Ok(())
            } else {
                Err("the reply was not sent to this case's signed address (responders.auth = \"token\")".into())
            }
        }
    }
}

/// A responder's email naming `case`: authenticate, then apply its command block.
/// Returns whether the block was applied.
pub async fn email_command(
    ctx: &Context,
    conn: &mut Conn,
    case: CaseId,
    m: &Inbound,
    now: Millis,
) -> Result<bool, StoreError> {
    let responder = m
        .from
        .as_ref()
        .map(|f| f.address.clone())
        .unwrap_or_default();
    let their = TheirMessage {
        subject: m.subject.clone(),
        message_id: m.message_id.clone(),
    };
    if let Err(why) = authenticate(ctx, case, m, &responder) {
        tracing::warn!(
            case = case.0,
            "responder authentication failed; nothing changed"
        );
        let text = format!("command from {responder} refused: {why}");
        cases::add_event(conn, case, now, &responder, "auth-failed", &text).await?;
        // Answer only the configured address the message claimed, never a Reply-To.
        let errors = vec![format!("Nothing was changed. {why}.")];
        compose::reject(ctx, conn, Some(case), &responder, errors, &their, now).await?;
        return Ok(false);
    }
    let applied = apply_block(ctx, conn, case, &responder, &m.text, &their, now).await?;
    Ok(applied.ok)
}

/// `closeloop respond`: the same rules from the command line, in its own transaction.
pub async fn cli_command(
    ctx: &Context,
    case: CaseId,
    responder: &str,
    body: &str,
    now: Millis,
) -> Result<Applied, StoreError> {
    let mut tx = ctx.store.begin().await?;
    cases::require(&mut tx, case, ctx.prefix()).await?;
    let their = TheirMessage {
        subject: format!("command line: {}", case.display(ctx.prefix())),
        message_id: None,
    };
    let applied = apply_block(ctx, &mut tx, case, responder, body, &their, now).await?;
    tx.commit().await?;
    Ok(applied)
}

/// Parses, checks and applies one command block; answers the responder either way.
pub async fn apply_block(
    ctx: &Context,
    conn: &mut Conn,
    case: CaseId,
    responder: &str,
    body: &str,
    their: &TheirMessage,
    now: Millis,
) -> Result<Applied, StoreError> {
    // Free text is stored and quoted in letters: redact before anything else sees it.
    let body = redact_all(body);
    let case = cases::surviving(conn, case).await?;
    let errors = match plan(ctx, conn, case, &body, now).await? {
        Ok(cmds) => {
            let (lines, status, letters) = execute(ctx, conn, case, responder, &cmds, now).await?;
            compose::confirm(
                ctx,
                conn,
                case,
                responder,
                lines.clone(),
                status,
                letters,
                their,
                now,
            )
            .await?;
            tracing::info!(
                case = case.0,
                commands = cmds.len(),
                "command block applied"
            );
            return Ok(Applied { ok: true, lines });
        }
        Err(errors) => errors,
    };
    let text = format!(
        "command block from {responder} rejected: {}",
        errors.join(" | ")
    );
    cases::add_event(conn, case, now, responder, "rejected", &text).await?;
    compose::reject(ctx, conn, Some(case), responder, errors.clone(), their, now).await?;
    tracing::info!(
        case = case.0,
        errors = errors.len(),
        "command block rejected"
    );
    Ok(Applied {
        ok: false,
        lines: errors,
    })
}

/// Parses and checks a block against the case; Err holds every reason to refuse it.
async fn plan(
    ctx: &Context,
    conn: &mut Conn,
    case: CaseId,
    body: &str,
    now: Millis,
) -> Result<Result<Vec<(usize, Command)>, Vec<String>>, StoreError> {
    let lines = command::extract_block(body);
    if lines.is_empty() {
        return Ok(Err(vec![format!(
            "No commands found at the top of your message. Put commands first, one per line, e.g. \
             'classify secret-leak' (words: {}).",
            command::COMMAND_WORDS.join(", ")
        )]));
    }
    let cmds = match command::parse_block(&lines) {
        Ok(c) => c,
        Err(e) => return Ok(Err(e)),
    };
    let row = cases::require(conn, case, ctx.prefix()).await?;
    let state = CaseState {
        id: case,
        status: row.status(),
        category: row.category.as_deref().and_then(|c| c.parse().ok()),
        actions: cases::action_count(conn, case).await?,
    };
    let mut errors = command::check(&state, &cmds, today(now))
        .err()
        .unwrap_or_default();
    for (line, cmd) in &cmds {
        if let Command::Duplicate(target) = cmd {
            let p = ctx.prefix();
            match cases::get(conn, *target).await? {
                None => errors.push(format!(
                    "line {line}: there is no case {}",
                    target.display(p)
                )),
                Some(t) if t.status() != CaseStatus::Open => errors.push(format!(
                    "line {line}: {} is {}; merge into an open case (reopen it first)",
                    target.display(p),
                    t.status
                )),
                Some(t) if cases::surviving(conn, t.id).await? == case => errors.push(format!(
                    "line {line}: {} is already merged into this case",
                    target.display(p)
                )),
                Some(_) => {}
            }
        }
    }
    Ok(if errors.is_empty() {
        Ok(cmds)
    } else {
        Err(errors)
    })
}

/// Applies checked commands. Returns (applied lines, status after, letters queued).
async fn execute(
    ctx: &Context,
    conn: &mut Conn,
    case: CaseId,
    responder: &str,
    cmds: &[(usize, Command)],
    now: Millis,
) -> Result<(Vec<String>, String, Vec<String>), StoreError> {
    let p = ctx.prefix().to_string();
    let mut applied = Vec::new();
    let mut letters = Vec::new();
    for (_, cmd) in cmds {
        let describe = cmd.describe_with_prefix(&p);
        match cmd {
            Command::Classify(c) => {
                cases::set_field(conn, case, Field::Category, c.slug(), now).await?
            }
            Command::Severity(s) => {
                cases::set_field(conn, case, Field::Severity, s.slug(), now).await?
            }
            Command::Owasp(n) => {
                cases::set_field(conn, case, Field::Owasp, &format!("NHI{n}"), now).await?
            }
            Command::Assign(who) => cases::set_field(conn, case, Field::Assignee, who, now).await?,
            Command::Action(_) | Command::Note(_) => {}
            Command::Ask(q) => {
                letters.extend(compose::question_letters(ctx, conn, case, q, now).await?)
            }
            Command::Resolve {
                outcome,
                until,
                text,
            } => {
                let until = until.map(|d| d.format("%Y-%m-%d").to_string());
                cases::resolve(
                    conn,
                    case,
                    outcome.slug(),
                    text.as_deref(),
                    until.as_deref(),
                    now,
                )
                .await?;
            }
            Command::Duplicate(target) => {
                cases::merge(conn, case, *target, now).await?;
                let text = format!(
                    "{} was merged into this case by {responder}",
                    case.display(&p)
                );
                cases::add_event(conn, *target, now, responder, "merged-in", &text).await?;
            }
            Command::Reopen(_) => cases::reopen(conn, case, now).await?,
        }
        let (kind, text) = match cmd {
            Command::Action(t) | Command::Note(t) | Command::Ask(t) => (cmd.word(), t.clone()),
            _ => (cmd.word(), describe.clone()),
        };
        cases::add_event(conn, case, now, responder, kind, &text).await?;
        applied.push(describe);
    }
    // Outcome letters go out once the whole block is in: they quote every action.
    if cmds
        .iter()
        .any(|(_, c)| matches!(c, Command::Resolve { .. }))
    {
        letters.extend(compose::outcome_letters(ctx, conn, case, now).await?);
    }
    let row = cases::require(conn, case, &p).await?;
    let status = match row.merged_into {
        Some(into) => format!("merged into {}", into.display(&p)),
        None => row.status.clone(),
    };
    Ok((applied, status, letters))
}

/// Reopens a case (by a rule, not a responder) and records why.
pub async fn reopen(
    conn: &mut Conn,
    case: CaseId,
    now: Millis,
    actor: &str,
    why: &str,
) -> Result<(), StoreError> {
    cases::reopen(conn, case, now).await?;
    cases::add_event(conn, case, now, actor, "reopen", why).await
}

/// A reporter answered a question: their (redacted) words join the case.
pub async fn reporter_reply(
    ctx: &Context,
    conn: &mut Conn,
    case: CaseId,
    from: &str,
    redacted_text: &str,
    now: Millis,
) -> Result<(), StoreError> {
    let text: String = quoted_free(redacted_text).chars().take(4000).collect();
    cases::add_event(conn, case, now, from, "reporter-reply", &text).await?;
    compose::responders_reminder(ctx, conn, case, ReminderReason::Outcome, now).await?;
    Ok(())
}

/// The part of a reply above the quoted original.
fn quoted_free(text: &str) -> String {
    let mut out = Vec::new();
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with('>') || t == "-- " || (t.starts_with("On ") && t.ends_with("wrote:")) {
            break;
        }
        out.push(line);
    }
    out.join("\n").trim().to_string()
}

/// Accepted risks whose `until` date has come reopen by themselves; responders are told.
pub async fn expire_acceptances(ctx: &Context, now: Millis) -> Result<Vec<CaseId>, StoreError> {
    let day = today(now).format("%Y-%m-%d").to_string();
    let mut tx = ctx.store.begin().await?;
    let due = cases::expired_acceptances(&mut tx, &day).await?;
    let mut reopened = Vec::with_capacity(due.len());
    for case in &due {
        // Another instance's timer may have reopened it first: then it is not ours.
        if !cases::lock_if(&mut tx, *case, CaseStatus::Resolved).await? {
            continue;
        }
        reopened.push(*case);
        let row = cases::require(&mut tx, *case, ctx.prefix()).await?;
        let policy = row.resolution.clone().unwrap_or_default();
        let until = row.until_date.clone().unwrap_or_default();
        let why = format!("the accepted risk expired on {until}; the case reopened for review");
        reopen(&mut tx, *case, now, "closeloop", &why).await?;
        compose::responders_reminder(
            ctx,
            &mut tx,
            *case,
            ReminderReason::RiskReview { policy, until },
            now,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(reopened)
}
