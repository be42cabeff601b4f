//! The HTTP endpoint (`http.listen`): `/metrics` in Prometheus text format
//! and `/healthz` for a load balancer or a supervisor.
//!
//! Entry layer: reads figures through `stats`, never writes, never shows a
//! report's content, a secret or a reporter's address (per-reporter figures
//! stay in `closeloop stats`).

use std::fmt::Write as _;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::context::{Context, IntakeState};
use crate::daemon::now_ms;
use crate::domain::{Millis, Outcome};
use crate::stats::{self, cumulative_buckets, Measured, SlaMs, Window};
use crate::store::stats as rows;
use crate::store::StoreError;

/// A pending letter this far past its due time means the sender is stuck.
pub const OUTBOX_STUCK_AFTER: Millis = 3_600_000;
/// How long `/healthz` waits for the database.
const DB_TIMEOUT: Duration = Duration::from_secs(5);
/// Histogram bounds for both durations, in seconds: 1 min … 30 days.
pub const DURATION_BUCKETS: &[f64] = &[
    60.0,
    300.0,
    900.0,
    3_600.0,
    4.0 * 3_600.0,
    12.0 * 3_600.0,
    86_400.0,
    3.0 * 86_400.0,
    7.0 * 86_400.0,
    14.0 * 86_400.0,
    30.0 * 86_400.0,
];

/// Serves until `shutdown` is cancelled, then finishes the requests in hand.
pub async fn serve(
    ctx: Context,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    axum::serve(listener, router(ctx))
        .with_graceful_shutdown(async move { shutdown.cancelled_owned().await })
        .await
}

pub fn router(ctx: Context) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .with_state(ctx)
}

fn sla_ms(ctx: &Context) -> SlaMs {
    SlaMs {
        classify_within: ctx.cfg.sla.classify_within.millis(),
        outcome_within: ctx.cfg.sla.outcome_within.millis(),
    }
}

async fn metrics(State(ctx): State<Context>) -> axum::response::Response {
    let window = Window {
        since: None,
        now: now_ms(),
    };
    let measured = match ctx.store.conn().await {
        Ok(mut conn) => stats::collect(&mut conn, window, sla_ms(&ctx)).await,
        Err(e) => Err(e),
    };
    match measured {
        Ok(m) => (
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            render_metrics(&m),
        )
            .into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "metrics: database read failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "database unavailable\n".to_string(),
            )
                .into_response()
        }
    }
}

async fn healthz(State(ctx): State<Context>) -> (StatusCode, String) {
    match health(&ctx, now_ms()).await {
        Ok(()) => (StatusCode::OK, "ok\n".into()),
        Err(why) => (StatusCode::SERVICE_UNAVAILABLE, format!("{why}\n")),
    }
}

/// Ok, or the reason the daemon is not healthy (one line, no secrets).
pub async fn health(ctx: &Context, now: Millis) -> Result<(), String> {
    let check = async {
        let mut conn = ctx.store.conn().await?;
        rows::ping(&mut conn).await?;
        let overdue = rows::overdue_letters(&mut conn, now - OUTBOX_STUCK_AFTER).await?;
        let failing = rows::failing_letters(&mut conn, now - OUTBOX_STUCK_AFTER).await?;
        Ok::<_, StoreError>((overdue, failing))
    };
    let (overdue, failing) = match tokio::time::timeout(DB_TIMEOUT, check).await {
        Err(_) => return Err("database unreachable: no answer within 5 s".into()),
        Ok(Err(e)) => return Err(format!("database unreachable: {}", short(&e))),
        Ok(Ok(n)) => n,
    };
    if overdue > 0 {
        return Err(format!(
            "outbox stuck: {overdue} letter(s) pending more than 1 h past their due time"
        ));
    }
    if failing > 0 {
        // Counts only: a server's reply can name a reporter's address.
        return Err(format!(
            "outbox failing: {failing} letter(s) refused or undelivered for more than 1 h, \
             still retried (`closeloop case show` gives each one's last error)"
        ));
    }
    if let IntakeState::Down(why) = ctx.intake.get() {
        return Err(format!(
            "intake not connected: {}",
            why.lines().next().unwrap_or_default()
        ));
    }
    Ok(())
}

fn short(e: &StoreError) -> String {
    e.to_string().lines().next().unwrap_or_default().to_string()
}

/// One metric family being written: HELP, TYPE, then its samples.
struct Family<'a> {
    out: &'a mut String,
    name: String,
}

impl<'a> Family<'a> {
    fn new(out: &'a mut String, name: &str, kind: &str, help: &str) -> Family<'a> {
        let name = format!("closeloop_{name}");
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        Family { out, name }
    }

    fn sample(&mut self, suffix: &str, labels: &[(&str, &str)], value: f64) {
        let labels = if labels.is_empty() {
            String::new()
        } else {
            let inner: Vec<String> = labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{}\"", escape_label(v)))
                .collect();
            format!("{{{}}}", inner.join(","))
        };
        let _ = writeln!(self.out, "{}{suffix}{labels} {}", self.name, number(value));
    }
}

fn escape_label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        format!("{v}")
    }
}

fn histogram(out: &mut String, name: &str, help: &str, values: &[f64]) {
    let mut f = Family::new(out, name, "histogram", help);
    for (bound, n) in DURATION_BUCKETS
        .iter()
        .zip(cumulative_buckets(values, DURATION_BUCKETS))
    {
        f.sample("_bucket", &[("le", &number(*bound))], n as f64);
    }
    f.sample("_bucket", &[("le", "+Inf")], values.len() as f64);
    f.sample("_sum", &[], values.iter().sum());
    f.sample("_count", &[], values.len() as f64);
}

/// The figures of SPEC §8 in Prometheus text exposition format (all time).
pub fn render_metrics(m: &Measured) -> String {
    let s = &m.stats;
    let mut out = String::new();
    let simple = [
        (
            "reports_received_total",
            "counter",
            "Reports received.",
            s.reports_received,
        ),
        (
            "cases_opened_total",
            "counter",
            "Cases opened.",
            s.cases_opened,
        ),
        (
            "messages_quarantined_total",
            "counter",
            "Messages quarantined (sender not allowed, oversized, unreadable).",
            s.quarantined,
        ),
        (
            "messages_ignored_total",
            "counter",
            "Automatic messages ignored (bounces, auto-replies, lists).",
            s.ignored,
        ),
        (
            "repeat_reports_after_resolution_total",
            "counter",
            "Reports of a case that had already been resolved.",
            s.repeat_reports_after_resolution,
        ),
        (
            "duplicate_reports",
            "gauge",
            "Reports that joined an existing case or whose case was merged as a duplicate.",
            s.duplicates_joined,
        ),
        (
            "reports_closed",
            "gauge",
            "Reports whose reporter was sent an outcome letter.",
            s.reports_closed,
        ),
        (
            "open_cases_past_sla",
            "gauge",
            "Open cases past sla.classify_within or sla.outcome_within.",
            s.open_past_sla,
        ),
        (
            "letters_pending",
            "gauge",
            "Letters waiting in the outbox.",
            s.letters_pending,
        ),
        (
            "letters_failed",
            "gauge",
            "Letters that could not be delivered.",
            s.letters_failed,
        ),
    ];
    for (name, kind, help, value) in simple {
        Family::new(&mut out, name, kind, help).sample("", &[], value as f64);
    }
    Family::new(
        &mut out,
        "loop_closure_ratio",
        "gauge",
        "Share of reports whose reporter was sent an outcome letter (NaN before the first report).",
    )
    .sample("", &[], s.loop_closure_rate.unwrap_or(f64::NAN));
    {
        let mut f = Family::new(
            &mut out,
            "cases_by_outcome",
            "gauge",
            "Resolved cases by outcome.",
        );
        // Every known outcome, zeros included, so dashboards see the whole mix.
        for o in Outcome::ALL {
            let n = s.outcomes.get(o.slug()).copied().unwrap_or(0);
            f.sample("", &[("outcome", o.slug())], n as f64);
        }
        for (outcome, n) in &s.outcomes {
            if outcome.parse::<Outcome>().is_err() {
                f.sample("", &[("outcome", outcome)], *n as f64);
            }
        }
    }
    {
        let real: u64 = s.reporters.iter().map(|r| r.real).sum();
        let false_alarms: u64 = s.reporters.iter().map(|r| r.false_alarms).sum();
        let mut f = Family::new(
            &mut out,
            "reports_by_finding",
            "gauge",
            "Reports by what their case turned out to be: real (remediated, accepted-risk) or false alarm (false-positive, benign).",
        );
        f.sample("", &[("finding", "real")], real as f64);
        f.sample("", &[("finding", "false_alarm")], false_alarms as f64);
    }
    histogram(
        &mut out,
        "time_to_classification_seconds",
        "Time from a case opening to its first classification.",
        &m.classification_s,
    );
    histogram(
        &mut out,
        "time_to_outcome_seconds",
        "Time from a report arriving to its outcome letter being sent.",
        &m.outcome_s,
    );
    out
}

#[cfg(test)]
mod tests;
