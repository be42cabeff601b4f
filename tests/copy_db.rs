//! `closeloop copy-db`: a deployment with every kind of row goes SQLite →
//! PostgreSQL → SQLite (SQLite → SQLite → SQLite without PostgreSQL) and
//! comes back equal, ids included; the copy keeps working afterwards.

mod common;

use closeloop::context::Context;
use closeloop::domain::CaseId;
use closeloop::mailer::Mailer;
use closeloop::pipeline::{self, Ingested, Joined};
use closeloop::store::copy;
use common::*;

async fn ingest(ctx: &Context, raw: &[u8], at: i64) -> Ingested {
    pipeline::ingest(ctx, raw, "test", at).await.unwrap()
}

/// Cases open, resolved and merged; duplicates; quarantine; letters sent and pending.
async fn fill(ctx: &Context) {
    let secrets: Vec<Planted> = planted(77);
    for (i, p) in secrets.iter().take(5).enumerate() {
        let raw = email(
            "alice@example.org",
            &format!("finding {i}"),
            &format!("a{i}@example.org"),
            &[],
            &p.line,
        );
        ingest(ctx, &raw, T0 + i as i64).await;
        // A duplicate of each.
        let raw = email(
            "bob@example.org",
            "same thing",
            &format!("b{i}@example.org"),
            &[],
            &p.line,
        );
        ingest(ctx, &raw, T0 + 100 + i as i64).await;
    }
    ingest(
        ctx,
        &email("eve@elsewhere.test", "hi", "q@elsewhere.test", &[], "x"),
        T0 + 200,
    )
    .await;
    // Case 1 is merged into case 2: the self-reference points to a later row.
    let merge = reply(
        "lead@example.org",
        "CL-1",
        "m1@example.org",
        "duplicate CL-2\n",
    );
    assert_eq!(
        ingest(ctx, &merge, T0 + 300).await,
        Ingested::Command {
            case: CaseId(1),
            applied: true
        }
    );
    let resolve = reply(
        "lead@example.org",
        "CL-3",
        "m2@example.org",
        "classify secret-leak\naction revoked the key\nresolve remediated\n",
    );
    ingest(ctx, &resolve, T0 + 400).await;
    // Send what is due; later letters stay pending.
    let mailer = Mailer::from_config(&ctx.cfg).unwrap();
    closeloop::outbox::send_due(ctx, &mailer, T0 + 500)
        .await
        .unwrap();
    let later = email(
        "carol@example.org",
        "again",
        "c1@example.org",
        &[],
        &planted(77)[4].line,
    );
    ingest(ctx, &later, T0 + 600).await;
    let mut c = ctx.store.conn().await.unwrap();
    sqlx::query(
        "INSERT INTO mailbox_state (mailbox, uidvalidity, last_uid) VALUES ('INBOX', 42, 17)",
    )
    .execute(&mut *c)
    .await
    .unwrap();
}

fn copy_db(d: &Deployment, from: &str, to: &str) -> std::process::Output {
    d.run(&["copy-db", "--from", from, "--to", to], None)
}

#[tokio::test]
async fn a_deployment_survives_a_round_trip_through_another_database() {
    let d = Deployment::new("dmarc");
    let ctx = d.ctx().await;
    fill(&ctx).await;
    let before = copy::snapshot(&ctx.store).await.unwrap();
    assert!(before["cases"].len() >= 5 && !before["letters"].is_empty());

    let middle = if Backend::postgres_enabled() {
        Deployment::on(Backend::Postgres, "dmarc", "")
    } else {
        Deployment::new("dmarc")
    };
    let back = Deployment::new("dmarc");
    let (src, mid, dst) = (
        d.cfg.database.url.clone(),
        middle.cfg.database.url.clone(),
        back.cfg.database.url.clone(),
    );

    let out = copy_db(&d, &src, &mid);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}{}",
        stdout,
        String::from_utf8_lossy(&out.stderr)
    );
    for table in [
        "cases",
        "messages",
        "reports",
        "artifacts",
        "events",
        "letters",
        "mailbox_state",
        "case_keys",
    ] {
        let rows = before[table].len();
        assert!(
            stdout
                .lines()
                .any(|l| l.split_whitespace().collect::<Vec<_>>() == [table, &rows.to_string()]),
            "{table} {rows}: {stdout}"
        );
    }
    assert!(stdout.contains("verified"), "{stdout}");

    let out = copy_db(&d, &mid, &dst);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Fingerprints are keyed: the deployment keeps its key file.
    std::fs::copy(d.cfg.key_file(), middle.cfg.key_file()).unwrap();
    let mid_ctx = middle.ctx().await;
    let back_ctx = back.ctx().await;
    assert_eq!(copy::snapshot(&mid_ctx.store).await.unwrap(), before);
    assert_eq!(copy::snapshot(&back_ctx.store).await.unwrap(), before);

    // The read side works on the copy (whichever backend it is).
    for args in [
        &["stats", "--json"][..],
        &["cases", "--status", "all", "--json"][..],
        &["case", "show", "CL-2", "--json"][..],
    ] {
        let out = middle.run(args, None);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let _: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    }

    // A full target is refused, and left as it was.
    let again = copy_db(&d, &src, &mid);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("not empty"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert_eq!(copy::snapshot(&mid_ctx.store).await.unwrap(), before);

    // The copy works on: new rows get fresh ids, dedup still finds the old cases.
    let max_case = before["cases"].len() as i64;
    let fresh = email(
        "dave@example.org",
        "new finding",
        "d1@example.org",
        &[],
        &planted(99)[0].line,
    );
    assert_eq!(
        ingest(&mid_ctx, &fresh, T0 + 700).await,
        Ingested::Report {
            case: CaseId(max_case + 1),
            how: Joined::NewCase
        }
    );
    let dup = email(
        "dave@example.org",
        "old finding",
        "d2@example.org",
        &[],
        &planted(77)[0].line,
    );
    assert!(matches!(
        ingest(&mid_ctx, &dup, T0 + 800).await,
        Ingested::Report {
            how: Joined::Duplicate(_),
            ..
        }
    ));
}
