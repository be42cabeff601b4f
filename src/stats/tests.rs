//! The measures on a constructed history with known answers, plus the pure
//! arithmetic (percentiles, buckets, SLA) table by table.

use std::collections::BTreeMap;

use super::*;
use crate::context::Context;
use crate::domain::CaseId;
use crate::lifecycle;
use crate::pipeline::{self, Ingested, Joined};
use crate::store::outbox::{self, LetterRow};
use crate::testkit::{self, mail, DAY, HOUR, KEYS, LEAD, T0};

#[test]
fn percentiles_use_the_nearest_rank() {
    let check = |values: &[f64], p: f64, want: Option<f64>| {
        assert_eq!(percentile(values, p), want, "{values:?} p{p}");
    };
    check(&[], 0.5, None);
    check(&[7.0], 0.5, Some(7.0));
    check(&[7.0], 0.9, Some(7.0));
    check(&[1.0, 2.0], 0.5, Some(1.0));
    check(&[1.0, 2.0], 0.9, Some(2.0));
    check(&[1.0, 2.0, 3.0, 4.0], 0.5, Some(2.0));
    check(&[1.0, 2.0, 3.0, 4.0, 5.0], 0.5, Some(3.0));
    let ten: Vec<f64> = (1..=10).map(f64::from).collect();
    check(&ten, 0.9, Some(9.0));
    check(&ten, 1.0, Some(10.0));
    check(&ten, 0.0, Some(1.0));
}

#[test]
fn buckets_are_cumulative() {
    let check = |values: &[f64], bounds: &[f64], want: &[u64]| {
        assert_eq!(cumulative_buckets(values, bounds), want, "{values:?}");
    };
    check(&[], &[1.0, 2.0], &[0, 0]);
    check(&[1.0], &[1.0, 2.0], &[1, 1]);
    check(&[0.5, 1.5, 2.5, 9.0], &[1.0, 2.0, 3.0], &[1, 2, 3]);
}

fn case(id: i64, opened: Millis) -> CaseFact {
    CaseFact {
        id: CaseId(id),
        status: "open".into(),
        outcome: None,
        merged_into: None,
        opened_at: opened,
        classified_at: None,
        resolved_at: None,
        last_reopen_at: None,
        first_resolve_at: None,
    }
}

#[test]
fn sla_counts_from_the_last_reopening() {
    let sla = SlaMs {
        classify_within: 4 * HOUR,
        outcome_within: 7 * DAY,
    };
    let check = |c: CaseFact, now: Millis, want: bool| {
        assert_eq!(past_sla(&c, now, sla), want, "{c:?} at {now}");
    };
    check(case(1, 0), 4 * HOUR, false);
    check(case(1, 0), 4 * HOUR + 1, true);
    let classified = CaseFact {
        classified_at: Some(HOUR),
        ..case(1, 0)
    };
    check(classified.clone(), 6 * DAY, false);
    check(classified.clone(), 7 * DAY + 1, true);
    let reopened = CaseFact {
        last_reopen_at: Some(10 * DAY),
        ..classified
    };
    check(reopened.clone(), 11 * DAY, false);
    check(reopened, 17 * DAY + 1, true);
}

#[test]
fn no_reports_means_no_rate_rather_than_a_made_up_one() {
    let m = measure(
        &Facts::default(),
        Window {
            since: None,
            now: 0,
        },
        SlaMs {
            classify_within: 1,
            outcome_within: 1,
        },
    );
    assert_eq!(m.stats.loop_closure_rate, None);
    assert_eq!(m.stats.time_to_outcome_p50_s, None);
    let json = serde_json::to_value(&m.stats).unwrap();
    assert!(json["loop_closure_rate"].is_null());
}

/// What the outbox does with one letter in `deliver`.
enum Fate {
    Send,
    Fail,
    Hold,
}

/// Claims every due letter at `at` and sends, fails or holds each.
async fn deliver(ctx: &Context, at: Millis, fate: impl Fn(&LetterRow) -> Fate) {
    let mut tx = ctx.store.begin().await.unwrap();
    for l in outbox::claim_due(&mut tx, at, 60_000, 10_000)
        .await
        .unwrap()
    {
        match fate(&l) {
            Fate::Send => outbox::mark_sent(&mut tx, l.id, at).await.unwrap(),
            Fate::Fail => outbox::mark_failed(&mut tx, l.id, "550 mailbox unavailable")
                .await
                .unwrap(),
            Fate::Hold => {}
        }
    }
    tx.commit().await.unwrap();
}

async fn report(ctx: &Context, who: &str, mid: &str, key: &str, at: Millis) -> Ingested {
    let raw = mail(
        &format!("{who}@example.org"),
        mid,
        "Found a key in a build log",
        &format!("Hi, this was in the CI log:\n\naws_access_key_id = {key}\n"),
    );
    pipeline::ingest(ctx, &raw, "test", at).await.unwrap()
}

async fn respond(ctx: &Context, case: i64, body: &str, at: Millis) {
    let applied = lifecycle::cli_command(ctx, CaseId(case), LEAD, body, at)
        .await
        .unwrap();
    assert!(applied.ok, "{body}: {:?}", applied.lines);
}

fn is(l: &LetterRow, kind: &str, who: &str) -> bool {
    l.kind == kind && l.recipient == format!("{who}@example.org")
}

/// The story behind every figure (hours after T0):
///
/// | h  | what |
/// |----|------|
/// | 0  | alice reports key 0: CL-1 |
/// | 1  | bob reports key 0: joins CL-1 |
/// | 2  | carol reports key 1: CL-2 |
/// | 3  | dave reports key 2: CL-3; a stranger is quarantined; an auto-reply ignored |
/// | 4  | every letter so far is sent |
/// | 5  | CL-1 classified, action, resolved remediated: outcome to alice and bob |
/// | 6  | CL-2 classified; CL-3 merged into CL-2 as a duplicate |
/// | 7  | alice's outcome sent; bob's FAILS |
/// | 8  | erin reports key 1: joins CL-2 |
/// | 9  | dave reports key 3: CL-4 (never touched: past SLA) |
/// | 10 | CL-2 resolved false-positive: outcome to carol, dave (merged CL-3), erin |
/// | 12 | carol's and dave's outcome sent; erin's stays pending to the end |
/// | 20 | bob reports key 1 again: recent case CL-2 answers at once (repeat) |
/// | 21 | bob's recent-case letter sent |
/// | 22 | alice reports key 0 again: CL-1 reopens (repeat) |
/// | 24 | CL-1 resolved remediated again: outcome to alice and bob |
/// | 25 | all sent except erin's (held) and bob's (FAILS again) |
pub(crate) async fn story(ctx: &Context) {
    let h = |n: i64| T0 + n * HOUR;
    assert_eq!(
        report(ctx, "alice", "a1@x", KEYS[0], h(0)).await,
        Ingested::Report {
            case: CaseId(1),
            how: Joined::NewCase
        }
    );
    assert!(matches!(
        report(ctx, "bob", "b1@x", KEYS[0], h(1)).await,
        Ingested::Report {
            case: CaseId(1),
            how: Joined::Duplicate(_)
        }
    ));
    report(ctx, "carol", "c1@x", KEYS[1], h(2)).await;
    report(ctx, "dave", "d1@x", KEYS[2], h(3)).await;
    let stranger = mail("mallory@evil.test", "m1@x", "key", "AKIA");
    let q = pipeline::ingest(ctx, &stranger, "test", h(3))
        .await
        .unwrap();
    assert!(matches!(q, Ingested::Quarantined { .. }), "{q:?}");
    let mut auto = b"Auto-Submitted: auto-replied\r\n".to_vec();
    auto.extend(mail(
        "carol@example.org",
        "auto1@x",
        "Out of office",
        "away",
    ));
    let i = pipeline::ingest(ctx, &auto, "test", h(3)).await.unwrap();
    assert!(matches!(i, Ingested::Ignored { .. }), "{i:?}");
    deliver(ctx, h(4), |_| Fate::Send).await;

    respond(
        ctx,
        1,
        "classify secret-leak\naction revoked the key in AWS IAM\nresolve remediated\n",
        h(5),
    )
    .await;
    respond(ctx, 2, "classify secret-leak\n", h(6)).await;
    respond(ctx, 3, "duplicate CL-2\n", h(6)).await;
    deliver(ctx, h(7), |l| {
        if is(l, "outcome", "bob") {
            Fate::Fail
        } else {
            Fate::Send
        }
    })
    .await;

    report(ctx, "erin", "e1@x", KEYS[1], h(8)).await;
    report(ctx, "dave", "d2@x", KEYS[3], h(9)).await;
    respond(
        ctx,
        2,
        "resolve false-positive: checked the key in IAM, it never existed; a test fixture\n",
        h(10),
    )
    .await;
    let erin = |l: &LetterRow| is(l, "outcome", "erin");
    deliver(
        ctx,
        h(12),
        |l| if erin(l) { Fate::Hold } else { Fate::Send },
    )
    .await;

    assert!(matches!(
        report(ctx, "bob", "b2@x", KEYS[1], h(20)).await,
        Ingested::Report {
            case: CaseId(2),
            how: Joined::Recent(_)
        }
    ));
    deliver(
        ctx,
        h(21),
        |l| if erin(l) { Fate::Hold } else { Fate::Send },
    )
    .await;
    assert_eq!(
        report(ctx, "alice", "a2@x", KEYS[0], h(22)).await,
        Ingested::Report {
            case: CaseId(1),
            how: Joined::Reopened
        }
    );
    respond(
        ctx,
        1,
        "action rotated the second copy too\nresolve remediated\n",
        h(24),
    )
    .await;
    deliver(ctx, h(25), |l| {
        if erin(l) {
            Fate::Hold
        } else if is(l, "outcome", "bob") {
            Fate::Fail
        } else {
            Fate::Send
        }
    })
    .await;
}

fn default_sla(ctx: &Context) -> SlaMs {
    SlaMs {
        classify_within: ctx.cfg.sla.classify_within.millis(),
        outcome_within: ctx.cfg.sla.outcome_within.millis(),
    }
}

fn reporter(address: &str, reports: u64, real: u64, false_alarms: u64) -> ReporterStats {
    ReporterStats {
        address: format!("{address}@example.org"),
        reports,
        real,
        false_alarms,
    }
}

#[tokio::test]
async fn every_figure_on_a_known_history() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = testkit::context(dir.path()).await;
    story(&ctx).await;
    let now = T0 + 30 * HOUR;
    let mut conn = ctx.store.conn().await.unwrap();

    let all = collect(&mut conn, Window { since: None, now }, default_sla(&ctx))
        .await
        .unwrap();
    let want = Stats {
        since: None,
        reports_received: 8,
        cases_opened: 4,
        // bob#1 joined, dave#1's case merged, erin joined, bob#2 recent, alice#2 reopened
        duplicates_joined: 5,
        quarantined: 1,
        ignored: 1,
        // alice#1, carol, dave#1 (through CL-2), bob#2 (recent), alice#2 (second outcome);
        // not bob#1 (both letters failed), erin (pending), dave#2 (open).
        loop_closure_rate: Some(5.0 / 8.0),
        reports_closed: 5,
        // CL-1: 5 h, CL-2: 4 h; CL-3 merged unclassified, CL-4 untouched.
        time_to_classification_p50_s: Some(4.0 * 3600.0),
        time_to_classification_p90_s: Some(5.0 * 3600.0),
        // 1 h (bob#2), 3 h (alice#2), 7 h (alice#1), 9 h (dave#1), 10 h (carol)
        time_to_outcome_p50_s: Some(7.0 * 3600.0),
        time_to_outcome_p90_s: Some(10.0 * 3600.0),
        // CL-4 waits 21 h for a classification (target 4 h).
        open_past_sla: 1,
        outcomes: BTreeMap::from([
            ("duplicate".to_string(), 1),
            ("false-positive".to_string(), 1),
            ("remediated".to_string(), 1),
        ]),
        letters_pending: 1,
        letters_failed: 2,
        reporters: vec![
            reporter("alice", 2, 2, 0),
            reporter("bob", 2, 1, 1),
            reporter("dave", 2, 0, 1),
            reporter("carol", 1, 0, 1),
            reporter("erin", 1, 0, 1),
        ],
        repeat_reports_after_resolution: 2,
    };
    assert_eq!(all.stats, want);
    assert_eq!(
        all.outcome_s,
        [1.0, 3.0, 7.0, 9.0, 10.0].map(|h| h * 3600.0).to_vec()
    );

    let since = T0 + 9 * HOUR;
    let recent = collect(
        &mut conn,
        Window {
            since: Some(since),
            now,
        },
        default_sla(&ctx),
    )
    .await
    .unwrap()
    .stats;
    let want = Stats {
        since: Some(rfc3339(since)),
        reports_received: 3,
        cases_opened: 1,
        duplicates_joined: 2,
        quarantined: 0,
        ignored: 0,
        loop_closure_rate: Some(2.0 / 3.0),
        reports_closed: 2,
        time_to_classification_p50_s: None,
        time_to_classification_p90_s: None,
        time_to_outcome_p50_s: Some(3600.0),
        time_to_outcome_p90_s: Some(3.0 * 3600.0),
        open_past_sla: 1,
        outcomes: BTreeMap::from([
            ("false-positive".to_string(), 1),
            ("remediated".to_string(), 1),
        ]),
        letters_pending: 1,
        letters_failed: 1,
        reporters: vec![
            reporter("alice", 1, 1, 0),
            reporter("bob", 1, 0, 1),
            reporter("dave", 1, 0, 0),
        ],
        repeat_reports_after_resolution: 2,
    };
    assert_eq!(recent, want);

    // The JSON carries exactly the SPEC §8 keys (and a few more).
    let json = serde_json::to_value(&all.stats).unwrap();
    for key in [
        "reports_received",
        "cases_opened",
        "duplicates_joined",
        "quarantined",
        "ignored",
        "loop_closure_rate",
        "time_to_classification_p50_s",
        "time_to_classification_p90_s",
        "time_to_outcome_p50_s",
        "time_to_outcome_p90_s",
        "open_past_sla",
        "outcomes",
        "letters_pending",
        "letters_failed",
        "reporters",
        "repeat_reports_after_resolution",
    ] {
        assert!(json.get(key).is_some(), "missing {key}");
    }
    assert_eq!(json["outcomes"]["remediated"], 1);
    assert_eq!(
        json["reporters"][0],
        serde_json::json!({"address": "alice@example.org", "reports": 2, "real": 2, "false_alarms": 0})
    );

    let table = render_table(&all.stats, "all time");
    assert!(table.contains("% (5 of 8 reports)"), "{table}");
    assert!(table.contains("4h 0m / 5h 0m"), "{table}");
    assert!(table.contains("false-positive"), "{table}");
    assert!(!table.contains("AKIA"), "no secret in output: {table}");
}
