//! SLA timers: a case not classified within `sla.classify_within`, or without
//! an outcome within `sla.outcome_within`, earns the responders a reminder
//! (the first as soon as it is late, then at most one a day); once a case has
//! been open longer than `sla.outcome_within`, its reporters get ONE honest
//! progress letter ("still being worked on; this is what happened so far").
//!
//! Decisions come from the case's events (`sla-reminder`, `sla-update`) read
//! inside one write transaction with the case row locked, so a restart or a
//! second instance never repeats a letter. Time is a parameter.
//!
//! Must not change a case's state: it only tells people about it.

use crate::compose;
use crate::context::Context;
use crate::domain::{CaseId, Millis};
use crate::letters::ReminderReason;
use crate::stats::clock_start;
use crate::store::cases;
use crate::store::stats::{self as rows, CaseClock, REMINDER_EVENT, UPDATE_EVENT};
use crate::store::StoreError;

/// At most one reminder a day per case.
pub const REMINDER_EVERY: Millis = 86_400_000;

/// What one pass did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tick {
    /// Cases whose responders were reminded.
    pub reminded: Vec<CaseId>,
    /// Cases whose reporters got the progress letter.
    pub updated: Vec<CaseId>,
}

/// What a case is owed at `now`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Due {
    pub reminder: Option<ReminderReason>,
    pub update: bool,
}

/// The timer rules for one open case. Pure.
pub fn due(c: &CaseClock, now: Millis, classify_within: Millis, outcome_within: Millis) -> Due {
    let start = clock_start(c.opened_at, c.last_reopen_at);
    let waited = now - start;
    let classify_late = c.classified_at.is_none() && waited > classify_within;
    let outcome_late = waited > outcome_within;
    let reason = if classify_late {
        Some(ReminderReason::Classify)
    } else if outcome_late {
        Some(ReminderReason::Outcome)
    } else {
        None
    };
    let quiet = c
        .last_reminder_at
        .is_none_or(|at| now - at >= REMINDER_EVERY);
    Due {
        reminder: reason.filter(|_| quiet),
        // One per open period: a reopened case may earn another.
        update: outcome_late && c.last_update_at.is_none_or(|at| at < start),
    }
}

/// One timer pass over every open case, in one transaction.
pub async fn tick(ctx: &Context, now: Millis) -> Result<Tick, StoreError> {
    let classify = ctx.cfg.sla.classify_within.millis();
    let outcome = ctx.cfg.sla.outcome_within.millis();
    let mut tx = ctx.store.begin().await?;
    let mut done = Tick::default();
    for clock in rows::open_clocks(&mut tx).await? {
        let first = due(&clock, now, classify, outcome);
        if first.reminder.is_none() && !first.update {
            continue;
        }
        // Decide again under the row lock: another instance may have acted.
        let Some(clock) = rows::lock_clock(&mut tx, clock.id).await? else {
            continue;
        };
        let d = due(&clock, now, classify, outcome);
        if let Some(reason) = d.reminder {
            let (what, sla) = match reason {
                ReminderReason::Classify => ("a classification", ctx.cfg.sla.classify_within),
                _ => ("an outcome", ctx.cfg.sla.outcome_within),
            };
            compose::responders_reminder(ctx, &mut tx, clock.id, reason, now).await?;
            let text = format!("responders reminded: waiting for {what} (target {sla})");
            cases::add_event(&mut tx, clock.id, now, "closeloop", REMINDER_EVENT, &text).await?;
            done.reminded.push(clock.id);
        }
        if d.update {
            let sent = compose::update_letters(ctx, &mut tx, clock.id, now).await?;
            let text = format!(
                "open longer than {}: progress letter to {} reporter(s)",
                ctx.cfg.sla.outcome_within,
                sent.len()
            );
            cases::add_event(&mut tx, clock.id, now, "closeloop", UPDATE_EVENT, &text).await?;
            done.updated.push(clock.id);
        }
    }
    tx.commit().await?;
    if !done.reminded.is_empty() || !done.updated.is_empty() {
        tracing::info!(
            reminded = ?done.reminded.iter().map(|c| c.0).collect::<Vec<_>>(),
            updated = ?done.updated.iter().map(|c| c.0).collect::<Vec<_>>(),
            "SLA timers fired"
        );
    }
    Ok(done)
}

#[cfg(test)]
mod tests;
