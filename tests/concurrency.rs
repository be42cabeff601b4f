//! Several instances on one database: each instance is its own `Context`
//! with its own pool, as separate `closeloop run` processes would be. On
//! PostgreSQL the races are real (separate connections, READ COMMITTED); on
//! SQLite the same tests check that the single-writer path stays correct.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use closeloop::context::Context;
use closeloop::dedup::KeyKind;
use closeloop::mailer::Mailer;
use closeloop::pipeline::{self, Ingested, Joined};
use closeloop::store::lease;
use closeloop::{lease as leases, outbox, sla};
use common::*;
use tokio_util::sync::CancellationToken;

on_both_backends!(
    the_same_secret_reported_at_once_by_two_instances_ends_on_one_case,
    two_outbox_senders_send_each_letter_once,
    concurrent_claims_never_take_a_letter_twice,
    a_lease_has_one_holder_and_expires,
    another_instance_takes_the_mailbox_over_when_the_holder_dies,
    two_instances_send_each_sla_reminder_once,
);

/// A second instance: its own pool on the same database.
async fn instance(d: &Deployment) -> Context {
    closeloop::cli::open(&d.cfg).await.unwrap()
}

async fn count(ctx: &Context, sql: &str) -> i64 {
    let mut c = ctx.store.conn().await.unwrap();
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_one(&mut *c)
        .await
        .unwrap()
}

async fn the_same_secret_reported_at_once_by_two_instances_ends_on_one_case(backend: Backend) {
    const ROUNDS: u64 = 40;
    let d = Deployment::on(backend, "dmarc", "");
    let (a, b) = (instance(&d).await, instance(&d).await);
    for round in 0..ROUNDS {
        let p = planted_github_pat(1000 + round);
        let m1 = email(
            "alice@example.org",
            "token in a log",
            &format!("a{round}@example.org"),
            &[],
            &format!("found:\n{}\n", p.line),
        );
        let m2 = email(
            "bob@example.org",
            "leaked token",
            &format!("b{round}@example.org"),
            &[],
            &format!("see {}\n", p.line),
        );
        let at = T0 + round as i64 * 1000;
        let (r1, r2) = tokio::join!(
            pipeline::ingest(&a, &m1, "test", at),
            pipeline::ingest(&b, &m2, "test", at)
        );
        let (r1, r2) = (r1.unwrap(), r2.unwrap());
        let case_of = |r: &Ingested| match r {
            Ingested::Report { case, .. } => *case,
            other => panic!("round {round}: not a report: {other:?}"),
        };
        assert_eq!(case_of(&r1), case_of(&r2), "round {round}: {r1:?} / {r2:?}");
        let hows: Vec<&Joined> = [&r1, &r2]
            .into_iter()
            .map(|r| match r {
                Ingested::Report { how, .. } => how,
                _ => unreachable!(),
            })
            .collect();
        assert!(
            hows.contains(&&Joined::NewCase) && hows.contains(&&Joined::Duplicate(KeyKind::Secret)),
            "round {round}: {hows:?}"
        );
    }
    assert_eq!(count(&a, "SELECT COUNT(*) FROM cases").await, ROUNDS as i64);
    assert_eq!(
        count(&a, "SELECT COUNT(*) FROM reports").await,
        2 * ROUNDS as i64
    );
    // Every case has both reports, and its key is held once.
    assert_eq!(
        count(
            &a,
            "SELECT COUNT(*) FROM (SELECT case_id FROM reports GROUP BY case_id HAVING COUNT(*) = 2) x"
        )
        .await,
        ROUNDS as i64
    );
    assert_eq!(
        count(&a, "SELECT COUNT(DISTINCT case_id) FROM case_keys").await,
        ROUNDS as i64
    );
}

async fn two_outbox_senders_send_each_letter_once(backend: Backend) {
    let d = Deployment::on(backend, "dmarc", "");
    let ctx = d.ctx().await;
    // 30 reports of different secrets: an acknowledgement and two notifications each.
    for i in 0..30u64 {
        let p = planted(5000 + i)
            .into_iter()
            .find(|p| p.kind == "stripe-secret-key")
            .unwrap();
        let raw = email(
            "alice@example.org",
            "key",
            &format!("m{i}@example.org"),
            &[],
            &p.line,
        );
        pipeline::ingest(&ctx, &raw, "test", T0).await.unwrap();
    }
    let queued = count(&ctx, "SELECT COUNT(*) FROM letters").await;
    assert_eq!(queued, 90);

    // Two instances, each with its own pool and its own file sink.
    let sink = |name: &str| {
        let mut cfg = d.cfg.clone();
        cfg.outbound.dir = d.dir.path().join(name);
        std::fs::create_dir_all(&cfg.outbound.dir).unwrap();
        (Mailer::from_config(&cfg).unwrap(), cfg.outbound.dir)
    };
    let (m1, dir1) = sink("sender-1");
    let (m2, dir2) = sink("sender-2");
    let (a, b) = (instance(&d).await, instance(&d).await);
    let now = T0 + 1000;
    let (p1, p2) = tokio::join!(
        outbox::send_due(&a, &m1, now),
        outbox::send_due(&b, &m2, now)
    );
    let (p1, p2) = (p1.unwrap(), p2.unwrap());
    assert_eq!(p1.sent + p2.sent, queued as usize, "{p1:?} {p2:?}");

    let mut files = all_files(&dir1);
    files.extend(all_files(&dir2));
    assert_eq!(files.len(), queued as usize);
    let mut ids = HashSet::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let mid = text
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("message-id:"))
            .unwrap_or_else(|| panic!("no Message-ID in {}", f.display()))
            .to_string();
        assert!(ids.insert(mid.clone()), "sent twice: {mid}");
    }
    assert_eq!(
        count(&ctx, "SELECT COUNT(*) FROM letters WHERE status = 'sent'").await,
        queued
    );
    // Nothing is left for a third pass.
    let again = outbox::send_due(&a, &m1, now + 1000).await.unwrap();
    assert_eq!(again.sent, 0);
}

/// The claim itself under pressure: four instances claiming small batches in
/// a tight loop; every letter is claimed by exactly one of them.
async fn concurrent_claims_never_take_a_letter_twice(backend: Backend) {
    let d = Deployment::on(backend, "dmarc", "");
    let ctx = d.ctx().await;
    for i in 0..40u64 {
        let raw = email(
            "alice@example.org",
            "odd token use",
            &format!("c{i}@example.org"),
            &[],
            &format!("token used from a new country, case {i}"),
        );
        pipeline::ingest(&ctx, &raw, "test", T0).await.unwrap();
    }
    let queued = count(&ctx, "SELECT COUNT(*) FROM letters").await;
    let mut claimers = Vec::new();
    for _ in 0..4 {
        let inst = instance(&d).await;
        claimers.push(tokio::spawn(async move {
            let mut got = Vec::new();
            loop {
                let mut tx = inst.store.begin().await.unwrap();
                let batch = closeloop::store::outbox::claim_due(&mut tx, T0 + 1, 60_000, 3)
                    .await
                    .unwrap();
                tx.commit().await.unwrap();
                if batch.is_empty() {
                    return got;
                }
                got.extend(batch.into_iter().map(|l| l.id));
            }
        }));
    }
    let mut all = Vec::new();
    for c in claimers {
        all.extend(c.await.unwrap());
    }
    let distinct: HashSet<i64> = all.iter().copied().collect();
    assert_eq!(distinct.len(), all.len(), "a letter was claimed twice");
    assert_eq!(all.len() as i64, queued);
}

async fn a_lease_has_one_holder_and_expires(backend: Backend) {
    let d = Deployment::on(backend, "dmarc", "");
    let (a, b) = (instance(&d).await, instance(&d).await);
    let (sa, sb) = (&a.store, &b.store);
    const TTL: i64 = 30_000;
    // Both try at once: exactly one wins.
    let (ha, hb) = tokio::join!(
        lease::hold(sa, "intake", "A", T0, TTL),
        lease::hold(sb, "intake", "B", T0, TTL)
    );
    let (ha, hb) = (ha.unwrap(), hb.unwrap());
    assert!(ha ^ hb, "exactly one holder: A={ha} B={hb}");
    let (winner, loser, ws, ls) = if ha {
        ("A", "B", sa, sb)
    } else {
        ("B", "A", sb, sa)
    };
    // The holder renews; the other cannot take it while it is live.
    assert!(lease::hold(ws, "intake", winner, T0 + 10_000, TTL)
        .await
        .unwrap());
    assert!(!lease::hold(ls, "intake", loser, T0 + 39_000, TTL)
        .await
        .unwrap());
    // The holder died (stopped renewing): after the timeout the other takes over.
    assert!(lease::hold(ls, "intake", loser, T0 + 40_001, TTL)
        .await
        .unwrap());
    assert!(!lease::hold(ws, "intake", winner, T0 + 40_002, TTL)
        .await
        .unwrap());
    assert_eq!(
        lease::current(sa, "intake").await.unwrap().unwrap().0,
        loser
    );
    // A clean release hands it over at once.
    lease::release(ls, "intake", loser).await.unwrap();
    assert!(lease::hold(ws, "intake", winner, T0 + 40_003, TTL)
        .await
        .unwrap());
    // Another lease name is independent.
    assert!(lease::hold(ls, "other", loser, T0, TTL).await.unwrap());
}

async fn another_instance_takes_the_mailbox_over_when_the_holder_dies(backend: Backend) {
    let d = Deployment::on(backend, "dmarc", "");
    let (a, b) = (instance(&d).await, instance(&d).await);
    let ttl = Duration::from_millis(900);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<&'static str>();

    // Instance A takes the lease and "reads the mailbox" until it dies.
    let (store_a, tx_a) = (a.store.clone(), tx.clone());
    let dying = tokio::spawn(async move {
        leases::run_while_holding(store_a, "intake", "A", ttl, CancellationToken::new(), |t| {
            let tx = tx_a.clone();
            async move {
                tx.send("A").ok();
                t.cancelled().await
            }
        })
        .await
    });
    assert_eq!(rx.recv().await, Some("A"));

    // B stands by while A is alive...
    let shutdown_b = CancellationToken::new();
    let (store_b, token_b) = (b.store.clone(), shutdown_b.clone());
    let standby = tokio::spawn(async move {
        leases::run_while_holding(store_b, "intake", "B", ttl, token_b, move |t| {
            let tx = tx.clone();
            async move {
                tx.send("B").ok();
                t.cancelled().await
            }
        })
        .await
    });
    // ... A dies without releasing (like SIGKILL): B takes over once the lease expires.
    dying.abort();
    let next = tokio::time::timeout(Duration::from_secs(30), rx.recv())
        .await
        .expect("B never took the mailbox over");
    assert_eq!(next, Some("B"));
    let (holder, _) = lease::current(&a.store, "intake").await.unwrap().unwrap();
    assert_eq!(holder, "B");
    // A clean shutdown releases the lease.
    shutdown_b.cancel();
    standby.await.unwrap();
    let (_, expires) = lease::current(&a.store, "intake").await.unwrap().unwrap();
    assert_eq!(expires, 0);
}

async fn two_instances_send_each_sla_reminder_once(backend: Backend) {
    const CASES: u64 = 12;
    let d = Deployment::on(backend, "dmarc", "");
    let (a, b) = (instance(&d).await, instance(&d).await);
    for i in 0..CASES {
        let p = planted_github_pat(7000 + i);
        let raw = email(
            "alice@example.org",
            "token",
            &format!("sla{i}@example.org"),
            &[],
            &p.line,
        );
        pipeline::ingest(&a, &raw, "test", T0).await.unwrap();
    }
    assert_eq!(count(&a, "SELECT COUNT(*) FROM cases").await, CASES as i64);
    let reminders = "SELECT COUNT(*) FROM letters WHERE kind = 'reminder'";
    let events = "SELECT COUNT(*) FROM events WHERE kind = 'sla-reminder'";
    // Nobody has classified them in time: both instances' timers fire at the same moment.
    let late = T0 + a.cfg.sla.classify_within.millis() + 60_000;
    let (ta, tb) = tokio::join!(sla::tick(&a, late), sla::tick(&b, late));
    let (ta, tb) = (ta.unwrap(), tb.unwrap());
    let mut reminded: Vec<i64> = ta
        .reminded
        .iter()
        .chain(&tb.reminded)
        .map(|c| c.0)
        .collect();
    reminded.sort();
    assert_eq!(
        reminded,
        (1..=CASES as i64).collect::<Vec<_>>(),
        "{ta:?} / {tb:?}"
    );
    assert_eq!(count(&a, events).await, CASES as i64);
    let responders = a.cfg.notify_addresses().len() as i64;
    assert!(responders > 0);
    assert_eq!(count(&a, reminders).await, CASES as i64 * responders);
    // A minute later, again on both: nothing new (one reminder a day at most).
    let (ta, tb) = tokio::join!(sla::tick(&a, late + 60_000), sla::tick(&b, late + 60_000));
    assert!(ta.unwrap().reminded.is_empty() && tb.unwrap().reminded.is_empty());
    assert_eq!(count(&a, reminders).await, CASES as i64 * responders);
}
