//! `closeloop stats` as a readable table. Pure: figures in, text out.

use std::fmt::Write as _;

use super::Stats;

/// How many reporters the table lists (JSON lists them all).
const TOP_REPORTERS: usize = 10;

/// "3d 4h", "2h 5m", "40s"; "-" when there is nothing to measure.
pub fn duration_words(seconds: Option<f64>) -> String {
    let Some(s) = seconds else {
        return "-".into();
    };
    let s = s.round() as u64;
    let (d, h, m) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, m) => format!("{m}m {}s", s % 60),
        (0, h, m) => format!("{h}h {m}m"),
        (d, h, _) => format!("{d}d {h}h"),
    }
}

fn percent(part: u64, whole: u64) -> String {
    if whole == 0 {
        "-".into()
    } else {
        format!("{:.0}%", part as f64 * 100.0 / whole as f64)
    }
}

pub fn render_table(s: &Stats, window: &str) -> String {
    let mut out = String::new();
    let w = &mut out;
    let _ = writeln!(w, "closeloop stats ({window})");
    let _ = writeln!(w);
    let row = |w: &mut String, label: &str, value: String| {
        let _ = writeln!(w, "  {label:<34} {value}");
    };
    row(w, "reports received", s.reports_received.to_string());
    row(w, "cases opened", s.cases_opened.to_string());
    row(w, "duplicates joined", s.duplicates_joined.to_string());
    row(w, "quarantined messages", s.quarantined.to_string());
    row(w, "ignored messages", s.ignored.to_string());
    row(
        w,
        "loop closed (outcome letter sent)",
        match s.loop_closure_rate {
            Some(_) => format!(
                "{} ({} of {} reports)",
                percent(s.reports_closed, s.reports_received),
                s.reports_closed,
                s.reports_received
            ),
            None => "- (no reports)".into(),
        },
    );
    row(
        w,
        "time to classification p50 / p90",
        format!(
            "{} / {}",
            duration_words(s.time_to_classification_p50_s),
            duration_words(s.time_to_classification_p90_s)
        ),
    );
    row(
        w,
        "time to outcome letter p50 / p90",
        format!(
            "{} / {}",
            duration_words(s.time_to_outcome_p50_s),
            duration_words(s.time_to_outcome_p90_s)
        ),
    );
    row(
        w,
        "repeat reports after resolution",
        s.repeat_reports_after_resolution.to_string(),
    );
    row(w, "open cases past SLA (now)", s.open_past_sla.to_string());
    row(w, "letters pending (now)", s.letters_pending.to_string());
    row(w, "letters failed", s.letters_failed.to_string());

    let _ = writeln!(w);
    if s.outcomes.is_empty() {
        let _ = writeln!(w, "outcomes: none yet");
    } else {
        let _ = writeln!(w, "outcomes");
        for (outcome, n) in &s.outcomes {
            let _ = writeln!(w, "  {outcome:<34} {n}");
        }
    }

    let _ = writeln!(w);
    if s.reporters.is_empty() {
        let _ = writeln!(w, "reporters: none yet");
    } else {
        let _ = writeln!(
            w,
            "reporters (top {}; real = remediated or accepted-risk)",
            TOP_REPORTERS.min(s.reporters.len())
        );
        let _ = writeln!(
            w,
            "  {:<34} {:>7} {:>5} {:>12} {:>7}",
            "address", "reports", "real", "false alarms", "real %"
        );
        for r in s.reporters.iter().take(TOP_REPORTERS) {
            let _ = writeln!(
                w,
                "  {:<34} {:>7} {:>5} {:>12} {:>7}",
                r.address,
                r.reports,
                r.real,
                r.false_alarms,
                percent(r.real, r.real + r.false_alarms)
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_words() {
        let check = |s: Option<f64>, want: &str| assert_eq!(duration_words(s), want, "{s:?}");
        check(None, "-");
        check(Some(0.0), "0s");
        check(Some(40.4), "40s");
        check(Some(125.0), "2m 5s");
        check(Some(7_500.0), "2h 5m");
        check(Some(3.0 * 86_400.0 + 4.0 * 3600.0 + 59.0), "3d 4h");
    }

    #[test]
    fn percents_say_dash_when_nothing_to_divide() {
        assert_eq!(percent(1, 0), "-");
        assert_eq!(percent(1, 3), "33%");
        assert_eq!(percent(2, 2), "100%");
    }
}
