//! The measures of the loop (SPEC §8): reads the facts from the store once,
//! then computes every figure with pure functions (windows, merges,
//! percentiles), so `closeloop stats`, `stats --json` and `/metrics` agree.
//!
//! Definitions (the honest ones):
//! - a report is *closed* when its reporter was SENT (not merely queued) an
//!   outcome or recent-case letter for its case, or for the case it was merged
//!   into, created at or after the report arrived;
//! - *duplicates joined*: reports that did not open their case (dedup joined
//!   them, or they matched a resolved case) plus every report of a case merged
//!   into another with `duplicate`;
//! - *repeat reports after resolution*: reports arriving on a case that had
//!   already been resolved once (the same secret or identity reported again);
//! - event figures count what happened inside the window (`--since`); state
//!   figures (`open_past_sla`, `letters_pending`) describe now.
//!
//! Must not write anything, nor speak SQL (that is `store::stats`).

mod table;
#[cfg(test)]
pub(crate) mod tests;

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::domain::{rfc3339, CaseId, Millis};
use crate::store::stats::{self as rows, CaseFact, ReportFact, SentOutcome};
use crate::store::{Conn, StoreError};

pub use table::render_table;

/// The time window and the clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// Only what happened at or after this instant; `None` = all time.
    pub since: Option<Millis>,
    pub now: Millis,
}

impl Window {
    fn contains(&self, at: Millis) -> bool {
        self.since.is_none_or(|s| at >= s)
    }
}

/// The configured service levels, in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlaMs {
    pub classify_within: Millis,
    pub outcome_within: Millis,
}

/// Everything the figures are computed from.
#[derive(Clone, Debug, Default)]
pub struct Facts {
    /// Every report (unwindowed: "did it open its case?" needs the earlier ones).
    pub reports: Vec<ReportFact>,
    pub cases: Vec<CaseFact>,
    pub sent_outcomes: Vec<SentOutcome>,
    /// Counted in the window by the store.
    pub quarantined: u64,
    pub ignored: u64,
    pub letters_failed: u64,
    /// Pending now, whatever the window.
    pub letters_pending: u64,
}

/// `stats --json` (SPEC §8 keys; more may be added).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Stats {
    /// Start of the window (RFC 3339), or null for all time.
    pub since: Option<String>,
    pub reports_received: u64,
    pub cases_opened: u64,
    pub duplicates_joined: u64,
    pub quarantined: u64,
    pub ignored: u64,
    /// Closed reports / reports received; null when no report was received.
    pub loop_closure_rate: Option<f64>,
    /// The numerator of `loop_closure_rate`.
    pub reports_closed: u64,
    pub time_to_classification_p50_s: Option<f64>,
    pub time_to_classification_p90_s: Option<f64>,
    pub time_to_outcome_p50_s: Option<f64>,
    pub time_to_outcome_p90_s: Option<f64>,
    pub open_past_sla: u64,
    /// Cases resolved in the window, by outcome (merged cases count as `duplicate`).
    pub outcomes: BTreeMap<String, u64>,
    pub letters_pending: u64,
    pub letters_failed: u64,
    /// Most reports first.
    pub reporters: Vec<ReporterStats>,
    pub repeat_reports_after_resolution: u64,
}

/// One reporter's signal quality.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReporterStats {
    pub address: String,
    pub reports: u64,
    /// Reports whose case turned out real: `remediated` or `accepted-risk`.
    pub real: u64,
    /// Reports whose case was `false-positive` or `benign`.
    pub false_alarms: u64,
}

/// The figures plus the raw durations behind the percentiles (for histograms).
#[derive(Clone, Debug, PartialEq)]
pub struct Measured {
    pub stats: Stats,
    /// Seconds from a case opening to its first classification, ascending.
    pub classification_s: Vec<f64>,
    /// Seconds from a report arriving to its outcome letter being sent, ascending.
    pub outcome_s: Vec<f64>,
}

/// Reads the facts for `window` in one read transaction's worth of queries.
pub async fn load(conn: &mut Conn, window: Window) -> Result<Facts, StoreError> {
    let since = window.since.unwrap_or(i64::MIN);
    let count = |n: i64| u64::try_from(n).unwrap_or(0);
    Ok(Facts {
        reports: rows::reports(conn).await?,
        cases: rows::cases(conn).await?,
        sent_outcomes: rows::sent_outcomes(conn).await?,
        quarantined: count(rows::messages_since(conn, "quarantined", since).await?),
        ignored: count(rows::messages_since(conn, "ignored", since).await?),
        letters_failed: count(rows::letters_since(conn, "failed", since).await?),
        letters_pending: count(rows::letters_since(conn, "pending", i64::MIN).await?),
    })
}

/// Loads and measures in one go.
pub async fn collect(conn: &mut Conn, window: Window, sla: SlaMs) -> Result<Measured, StoreError> {
    let facts = load(conn, window).await?;
    Ok(measure(&facts, window, sla))
}

/// Every figure of SPEC §8 from the facts. Pure.
pub fn measure(f: &Facts, w: Window, sla: SlaMs) -> Measured {
    let cases: HashMap<CaseId, &CaseFact> = f.cases.iter().map(|c| (c.id, c)).collect();
    let mut first_report: HashMap<CaseId, i64> = HashMap::new();
    for r in &f.reports {
        let e = first_report.entry(r.case_id).or_insert(r.id);
        *e = (*e).min(r.id);
    }

    let in_window: Vec<&ReportFact> = f
        .reports
        .iter()
        .filter(|r| w.contains(r.received_at))
        .collect();

    let mut duplicates = 0;
    let mut closed = 0;
    let mut repeats = 0;
    let mut outcome_s = Vec::new();
    let mut by_reporter: BTreeMap<&str, ReporterStats> = BTreeMap::new();
    for r in &in_window {
        let own = cases.get(&r.case_id);
        let merged = own.is_some_and(|c| c.merged_into.is_some());
        if merged || first_report.get(&r.case_id) != Some(&r.id) {
            duplicates += 1;
        }
        if own
            .and_then(|c| c.first_resolve_at)
            .is_some_and(|t| t < r.received_at)
        {
            repeats += 1;
        }
        let chain = merge_chain(&cases, r.case_id);
        let sent = f
            .sent_outcomes
            .iter()
            .filter(|l| {
                l.recipient.eq_ignore_ascii_case(&r.reporter)
                    && chain.contains(&l.case_id)
                    && l.created_at >= r.received_at
            })
            .map(|l| l.sent_at)
            .min();
        if let Some(sent_at) = sent {
            closed += 1;
            outcome_s.push(seconds(sent_at - r.received_at));
        }
        let who = by_reporter
            .entry(r.reporter.as_str())
            .or_insert_with(|| ReporterStats {
                address: r.reporter.clone(),
                reports: 0,
                real: 0,
                false_alarms: 0,
            });
        who.reports += 1;
        let last = chain.last().and_then(|id| cases.get(id));
        match last
            .filter(|c| c.status == "resolved")
            .and_then(|c| c.outcome.as_deref())
        {
            Some("remediated" | "accepted-risk") => who.real += 1,
            Some("false-positive" | "benign") => who.false_alarms += 1,
            _ => {}
        }
    }

    let mut classification_s: Vec<f64> = f
        .cases
        .iter()
        .filter(|c| w.contains(c.opened_at))
        .filter_map(|c| c.classified_at.map(|t| seconds(t - c.opened_at)))
        .collect();
    classification_s.sort_by(f64::total_cmp);
    outcome_s.sort_by(f64::total_cmp);

    let mut outcomes = BTreeMap::new();
    for c in &f.cases {
        if let (Some(o), Some(at)) = (&c.outcome, c.resolved_at) {
            if w.contains(at) {
                *outcomes.entry(o.clone()).or_insert(0) += 1;
            }
        }
    }

    let mut reporters: Vec<ReporterStats> = by_reporter.into_values().collect();
    reporters.sort_by(|a, b| b.reports.cmp(&a.reports).then(a.address.cmp(&b.address)));

    let received = in_window.len() as u64;
    let stats = Stats {
        since: w.since.map(rfc3339),
        reports_received: received,
        cases_opened: f.cases.iter().filter(|c| w.contains(c.opened_at)).count() as u64,
        duplicates_joined: duplicates,
        quarantined: f.quarantined,
        ignored: f.ignored,
        loop_closure_rate: ratio(closed, received),
        reports_closed: closed,
        time_to_classification_p50_s: percentile(&classification_s, 0.5),
        time_to_classification_p90_s: percentile(&classification_s, 0.9),
        time_to_outcome_p50_s: percentile(&outcome_s, 0.5),
        time_to_outcome_p90_s: percentile(&outcome_s, 0.9),
        open_past_sla: f
            .cases
            .iter()
            .filter(|c| c.status == "open" && past_sla(c, w.now, sla))
            .count() as u64,
        outcomes,
        letters_pending: f.letters_pending,
        letters_failed: f.letters_failed,
        reporters,
        repeat_reports_after_resolution: repeats,
    };
    Measured {
        stats,
        classification_s,
        outcome_s,
    }
}

/// The case and every case it was merged into, in order (the last one carries the work).
fn merge_chain(cases: &HashMap<CaseId, &CaseFact>, start: CaseId) -> Vec<CaseId> {
    let mut chain = vec![start];
    let mut at = start;
    while let Some(next) = cases.get(&at).and_then(|c| c.merged_into) {
        if chain.contains(&next) || chain.len() > 32 {
            break;
        }
        chain.push(next);
        at = next;
    }
    chain
}

/// When the SLA clock of an open case started: its opening, or its last reopening.
pub fn clock_start(opened_at: Millis, last_reopen_at: Option<Millis>) -> Millis {
    last_reopen_at.map_or(opened_at, |r| r.max(opened_at))
}

/// Is an open case past either SLA at `now`?
pub fn past_sla(c: &CaseFact, now: Millis, sla: SlaMs) -> bool {
    let waited = now - clock_start(c.opened_at, c.last_reopen_at);
    (c.classified_at.is_none() && waited > sla.classify_within) || waited > sla.outcome_within
}

fn seconds(ms: Millis) -> f64 {
    ms.max(0) as f64 / 1000.0
}

fn ratio(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// Nearest-rank percentile of ascending `sorted` (`p` in 0..=1); `None` when empty.
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let n = sorted.len();
    let rank = (p * n as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, n) - 1])
}

/// Cumulative counts of `values` at or below each bound (Prometheus `le` buckets).
pub fn cumulative_buckets(values: &[f64], bounds: &[f64]) -> Vec<u64> {
    bounds
        .iter()
        .map(|b| values.iter().filter(|v| **v <= *b).count() as u64)
        .collect()
}
