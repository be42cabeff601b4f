//! The real server on port 0: `/metrics` parsed as strict Prometheus text,
//! `/healthz` healthy and not.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;
use crate::pipeline;
use crate::testkit::{self, mail, KEYS};

/// Starts `serve` on an ephemeral port; returns its address, token and task.
async fn start(
    ctx: Context,
) -> (
    SocketAddr,
    CancellationToken,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let token = CancellationToken::new();
    let task = tokio::spawn(serve(ctx, listener, token.clone()));
    (addr, token, task)
}

/// A minimal HTTP/1.1 GET: (status, headers lowercased, body).
async fn get(addr: SocketAddr, path: &str) -> (u16, String, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8(raw).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").expect("a full response");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    let head = head.to_ascii_lowercase();
    assert!(!head.contains("transfer-encoding: chunked"), "{head}");
    (status, head, body.to_string())
}

/// One parsed sample.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

fn valid_name(n: &str) -> bool {
    let mut chars = n.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn parse_labels(s: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut rest = s;
    while !rest.is_empty() {
        let (key, after) = rest.split_once("=\"").expect("label key=\"value\"");
        assert!(valid_name(key), "label name {key:?}");
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next().expect("closed label value") {
                (_, '\\') => match chars.next().expect("escape").1 {
                    'n' => value.push('\n'),
                    c @ ('\\' | '"') => value.push(c),
                    c => panic!("bad escape \\{c}"),
                },
                (i, '"') => break i,
                (_, c) => value.push(c),
            }
        };
        assert!(
            out.insert(key.to_string(), value).is_none(),
            "repeated label"
        );
        rest = &after[end + 1..];
        rest = rest.strip_prefix(',').unwrap_or(rest);
    }
    out
}

/// A strict reader of the text exposition format: every line is `# HELP`,
/// `# TYPE` or a sample; every sample belongs to a family TYPE'd before it;
/// histogram buckets rise and end with `+Inf` equal to `_count`.
fn parse_exposition(text: &str) -> Vec<Sample> {
    assert!(text.ends_with('\n'), "ends with a newline");
    let mut types: BTreeMap<String, String> = BTreeMap::new();
    let mut helps: BTreeSet<String> = BTreeSet::new();
    let mut samples = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# ") {
            let mut parts = rest.splitn(3, ' ');
            let (word, name, tail) = (
                parts.next().unwrap(),
                parts.next().expect("metric name"),
                parts.next().unwrap_or(""),
            );
            assert!(valid_name(name), "{line}");
            match word {
                "HELP" => assert!(helps.insert(name.into()), "second HELP: {line}"),
                "TYPE" => {
                    assert!(
                        ["counter", "gauge", "histogram", "summary", "untyped"].contains(&tail),
                        "{line}"
                    );
                    assert!(
                        types.insert(name.into(), tail.into()).is_none(),
                        "second TYPE: {line}"
                    );
                }
                _ => panic!("not HELP or TYPE: {line}"),
            }
            continue;
        }
        assert!(!line.starts_with('#') && !line.is_empty(), "{line:?}");
        let (series, value) = line.rsplit_once(' ').expect("name and value");
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("value in {line}")),
        };
        let (name, labels) = match series.split_once('{') {
            Some((n, l)) => (n, parse_labels(l.strip_suffix('}').expect("closing brace"))),
            None => (series, BTreeMap::new()),
        };
        assert!(valid_name(name), "{line}");
        assert!(name.starts_with("closeloop_"), "{line}");
        let family = types
            .keys()
            .find(|f| {
                *f == name
                    || (types[*f] == "histogram"
                        && ["_bucket", "_sum", "_count"]
                            .iter()
                            .any(|s| name == format!("{f}{s}")))
            })
            .unwrap_or_else(|| panic!("sample without TYPE: {line}"));
        if types[family] == "counter" {
            assert!(family.ends_with("_total") && value >= 0.0, "{line}");
        }
        samples.push(Sample {
            name: name.to_string(),
            labels,
            value,
        });
    }
    for (family, kind) in &types {
        assert!(helps.contains(family), "{family} has no HELP");
        assert!(
            samples.iter().any(|s| s.name.starts_with(family.as_str())),
            "{family} has no sample"
        );
        if kind == "histogram" {
            let buckets: Vec<(f64, f64)> = samples
                .iter()
                .filter(|s| s.name == format!("{family}_bucket"))
                .map(|s| {
                    let le = &s.labels["le"];
                    let le = if le == "+Inf" {
                        f64::INFINITY
                    } else {
                        le.parse().unwrap()
                    };
                    (le, s.value)
                })
                .collect();
            assert!(buckets
                .windows(2)
                .all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1));
            let last = buckets.last().expect("buckets");
            assert_eq!(last.0, f64::INFINITY, "{family} ends with +Inf");
            let count = samples
                .iter()
                .find(|s| s.name == format!("{family}_count"))
                .expect("_count");
            assert_eq!(last.1, count.value, "{family}: +Inf bucket == _count");
            assert!(samples.iter().any(|s| s.name == format!("{family}_sum")));
        }
    }
    samples
}

fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    let want: BTreeMap<String, String> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    samples
        .iter()
        .find(|s| s.name == format!("closeloop_{name}") && s.labels == want)
        .unwrap_or_else(|| panic!("no sample {name} {labels:?}"))
        .value
}

#[tokio::test]
async fn metrics_scrape_parses_and_matches_the_history() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = testkit::context(dir.path()).await;
    crate::stats::tests::story(&ctx).await;
    let (addr, token, task) = start(ctx).await;

    let (status, head, body) = get(addr, "/metrics").await;
    assert_eq!(status, 200, "{body}");
    assert!(
        head.contains("content-type: text/plain; version=0.0.4"),
        "{head}"
    );
    let s = parse_exposition(&body);
    let check = |name: &str, labels: &[(&str, &str)], want: f64| {
        assert_eq!(value(&s, name, labels), want, "{name} {labels:?}");
    };
    check("reports_received_total", &[], 8.0);
    check("cases_opened_total", &[], 4.0);
    check("messages_quarantined_total", &[], 1.0);
    check("messages_ignored_total", &[], 1.0);
    check("repeat_reports_after_resolution_total", &[], 2.0);
    check("duplicate_reports", &[], 5.0);
    check("reports_closed", &[], 5.0);
    check("loop_closure_ratio", &[], 0.625);
    check("letters_pending", &[], 1.0);
    check("letters_failed", &[], 2.0);
    check("cases_by_outcome", &[("outcome", "remediated")], 1.0);
    check("cases_by_outcome", &[("outcome", "false-positive")], 1.0);
    check("cases_by_outcome", &[("outcome", "duplicate")], 1.0);
    check("reports_by_finding", &[("finding", "real")], 3.0);
    check("reports_by_finding", &[("finding", "false_alarm")], 4.0);
    // Outcome letters after 1, 3, 7, 9 and 10 hours.
    check("time_to_outcome_seconds_count", &[], 5.0);
    check("time_to_outcome_seconds_sum", &[], 30.0 * 3600.0);
    check("time_to_outcome_seconds_bucket", &[("le", "3600")], 1.0);
    check("time_to_outcome_seconds_bucket", &[("le", "14400")], 2.0);
    check("time_to_outcome_seconds_bucket", &[("le", "43200")], 5.0);
    check("time_to_outcome_seconds_bucket", &[("le", "+Inf")], 5.0);
    // Classified after 4 and 5 hours.
    check("time_to_classification_seconds_count", &[], 2.0);
    check(
        "time_to_classification_seconds_bucket",
        &[("le", "3600")],
        0.0,
    );
    check(
        "time_to_classification_seconds_bucket",
        &[("le", "14400")],
        1.0,
    );
    check(
        "time_to_classification_seconds_bucket",
        &[("le", "43200")],
        2.0,
    );
    // Open past SLA depends on today's date; it is there and counts CL-4 at least.
    assert!(value(&s, "open_cases_past_sla", &[]) >= 1.0);
    assert!(!body.contains("@example.org"), "no addresses in metrics");
    assert!(!body.contains("AKIA"), "no secrets in metrics");

    let (status, _, _) = get(addr, "/nothing-here").await;
    assert_eq!(status, 404);

    token.cancel();
    task.await.unwrap().unwrap();
}

#[test]
fn an_empty_database_still_exposes_every_family() {
    let m = crate::stats::measure(
        &crate::stats::Facts::default(),
        Window {
            since: None,
            now: 0,
        },
        SlaMs {
            classify_within: 1,
            outcome_within: 1,
        },
    );
    let text = render_metrics(&m);
    let s = parse_exposition(&text);
    assert!(value(&s, "loop_closure_ratio", &[]).is_nan());
    assert_eq!(value(&s, "time_to_outcome_seconds_count", &[]), 0.0);
}

#[tokio::test]
async fn healthz_is_ok_then_names_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = testkit::context(dir.path()).await;
    let (addr, token, task) = start(ctx.clone()).await;

    let (status, _, body) = get(addr, "/healthz").await;
    assert_eq!((status, body.as_str()), (200, "ok\n"));

    // The intake loop says its server went away, then that it is back.
    ctx.intake.set(crate::context::IntakeState::Down(
        "IMAP 127.0.0.1:1: connection refused".into(),
    ));
    let (status, _, body) = get(addr, "/healthz").await;
    assert_eq!(status, 503);
    assert!(
        body.starts_with("intake not connected: IMAP 127.0.0.1:1"),
        "{body}"
    );
    ctx.intake.set(crate::context::IntakeState::Standby);
    let (status, _, _) = get(addr, "/healthz").await;
    assert_eq!(status, 200, "a standby instance is healthy");

    // A report whose letters were due two hours ago and never went out.
    let raw = mail(
        "alice@example.org",
        "a1@x",
        "key",
        &format!("aws_access_key_id = {}\n", KEYS[0]),
    );
    let two_hours_ago = now_ms() - 2 * OUTBOX_STUCK_AFTER;
    pipeline::ingest(&ctx, &raw, "test", two_hours_ago)
        .await
        .unwrap();
    let (status, _, body) = get(addr, "/healthz").await;
    assert_eq!(status, 503);
    assert!(body.starts_with("outbox stuck: 2 letter(s)"), "{body}");

    // Tried and refused, rescheduled (so not overdue): failing once they are 1 h old.
    let retried = |created_at: i64| {
        let ctx = ctx.clone();
        async move {
            let mut c = ctx.store.begin().await.unwrap();
            sqlx::query(
                "UPDATE letters SET attempts = 3, next_attempt_at = $1, created_at = $2, \
                 last_error = 'permanent error (554): 5.7.1 <alice@example.org>: Relay access denied'",
            )
            .bind(now_ms() + OUTBOX_STUCK_AFTER)
            .bind(created_at)
            .execute(&mut *c)
            .await
            .unwrap();
            c.commit().await.unwrap();
        }
    };
    retried(now_ms() - 60_000).await;
    let (status, _, body) = get(addr, "/healthz").await;
    assert_eq!((status, body.as_str()), (200, "ok\n"), "younger than 1 h");
    retried(two_hours_ago).await;
    let (status, _, body) = get(addr, "/healthz").await;
    assert_eq!(status, 503);
    assert!(body.starts_with("outbox failing: 2 letter(s)"), "{body}");
    assert!(!body.contains("alice@"), "an address in /healthz: {body}");

    ctx.store.close().await;
    let (status, _, body) = get(addr, "/healthz").await;
    assert_eq!(status, 503);
    assert!(body.starts_with("database unreachable"), "{body}");

    token.cancel();
    task.await.unwrap().unwrap();
}
