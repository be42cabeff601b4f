//! The outbox: letters leave exactly once, with their stored Message-ID; a
//! transient failure is retried with backoff; a permanent one is marked
//! failed and reported to the responders; the per-recipient rate limit holds.
//! The SMTP tests run against the real Postfix/Dovecot lab when CLOSELOOP_E2E=1.

mod common;
mod harness;

use closeloop::compose::RATE_LIMIT_PER_HOUR;
use closeloop::context::Context;
use closeloop::domain::CaseId;
use closeloop::mailer::Mailer;
use closeloop::outbox;
use closeloop::pipeline;
use closeloop::store::{cases, outbox as rows};
use common::*;

on_both_backends!(
    file_letters_leave_once_with_their_stored_headers,
    a_permanent_failure_is_marked_and_the_responders_are_told,
    one_address_cannot_be_flooded,
    a_copy_of_a_letter_in_doubt_settles_it_as_sent,
);

async fn count(ctx: &Context, status: &str) -> i64 {
    let mut c = ctx.store.conn().await.unwrap();
    rows::count_status(&mut c, status).await.unwrap()
}

async fn file_letters_leave_once_with_their_stored_headers(backend: Backend) {
    let d = Deployment::on(backend, "dmarc", "");
    let ctx = d.ctx().await;
    pipeline::ingest(
        &ctx,
        &email(
            "Zoë <zoe@example.org>",
            "Schlüssel im Build-Log",
            "z1@example.org",
            &[],
            "AKIA? maybe",
        ),
        "t",
        T0,
    )
    .await
    .unwrap();
    let pending = count(&ctx, "pending").await;
    assert_eq!(pending, 3, "ack + two notifications");
    let mailer = Mailer::from_config(&ctx.cfg).unwrap();
    let pass = outbox::send_due(&ctx, &mailer, T0 + 1).await.unwrap();
    assert_eq!((pass.sent, pass.retried, pass.failed), (3, 0, 0));
    assert_eq!(count(&ctx, "sent").await, 3);
    let again = outbox::send_due(&ctx, &mailer, T0 + 2).await.unwrap();
    assert_eq!(again.sent, 0, "nothing is sent twice");

    let files = all_files(&d.dir.path().join("letters"));
    assert_eq!(files.len(), 3);
    let ack = files
        .iter()
        .find(|p| p.to_string_lossy().contains("-ack-"))
        .unwrap();
    let raw = std::fs::read(ack).unwrap();
    let text = String::from_utf8_lossy(&raw);
    let mut c = ctx.store.conn().await.unwrap();
    let stored = rows::of_case(&mut c, CaseId(1))
        .await
        .unwrap()
        .into_iter()
        .find(|l| l.kind == "ack")
        .unwrap();
    assert!(
        text.contains(&format!("Message-ID: <{}>", stored.message_id)),
        "{text}"
    );
    assert!(text.contains("In-Reply-To: <z1@example.org>"));
    assert!(text.contains("Auto-Submitted: auto-replied"));
    assert_eq!(
        text.matches("\nTo: ").count() + usize::from(text.starts_with("To: ")),
        1
    );
    // The non-ASCII subject is encoded, and names the case.
    let parsed = mail_parser::MessageParser::default().parse(&raw).unwrap();
    assert!(
        parsed
            .subject()
            .unwrap()
            .contains("Schlüssel im Build-Log [CL-1]"),
        "{:?}",
        parsed.subject()
    );
}

async fn a_permanent_failure_is_marked_and_the_responders_are_told(backend: Backend) {
    let d = Deployment::on(backend, "dmarc", "");
    let ctx = d.ctx().await;
    pipeline::ingest(
        &ctx,
        &email(
            "alice@example.org",
            "odd bot",
            "p1@example.org",
            &[],
            "bot account",
        ),
        "t",
        T0,
    )
    .await
    .unwrap();
    // Make the outbox folder unusable for one letter's recipient by corrupting its address.
    {
        let mut c = ctx.store.begin().await.unwrap();
        sqlx::query("UPDATE letters SET recipient = 'not an address' WHERE kind = 'ack'")
            .execute(&mut *c)
            .await
            .unwrap();
        c.commit().await.unwrap();
    }
    let mailer = Mailer::from_config(&ctx.cfg).unwrap();
    let pass = outbox::send_due(&ctx, &mailer, T0 + 1).await.unwrap();
    assert_eq!(pass.failed, 1);
    let mut c = ctx.store.conn().await.unwrap();
    let letters = rows::of_case(&mut c, CaseId(1)).await.unwrap();
    let failed = letters.iter().find(|l| l.status == "failed").unwrap();
    assert!(
        failed
            .last_error
            .as_deref()
            .unwrap_or("")
            .contains("address"),
        "{:?}",
        failed.last_error
    );
    assert!(letters
        .iter()
        .any(|l| l.kind == "failure" && l.recipient == "lead@example.org"));
    let events = cases::events(&mut c, CaseId(1)).await.unwrap();
    assert!(events.iter().any(|e| e.kind == "letter-failed"));
}

/// A deployment that sends by plain SMTP to 127.0.0.1:`port`, with one report's letters
/// (case CL-1) waiting.
async fn letters_for_smtp_on(port: u16) -> (Deployment, closeloop::config::Config, Context) {
    let d = Deployment::on(Backend::Sqlite, "dmarc", "");
    let mut cfg = d.cfg.clone();
    cfg.outbound.kind = closeloop::config::OutboundKind::Smtp;
    cfg.outbound.host = "127.0.0.1".into();
    cfg.outbound.port = port;
    cfg.outbound.tls = closeloop::config::TlsMode::None;
    let ctx = closeloop::cli::open(&cfg).await.unwrap();
    pipeline::ingest(
        &ctx,
        &email("alice@example.org", "odd bot", "r1@example.org", &[], "bot"),
        "t",
        T0,
    )
    .await
    .unwrap();
    (d, cfg, ctx)
}

/// A server that refuses service at its greeting (554) is a server problem, not a letter
/// problem: the letters wait for a retry and none fails. The peer is a bare TCP listener
/// speaking that one SMTP line, since no lab server can be told to refuse everyone.
#[tokio::test]
async fn a_server_refusing_service_leaves_letters_waiting() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        while let Ok((mut sock, _)) = listener.accept().await {
            let _ = sock
                .write_all(b"554 5.3.2 mx.example.org no service today\r\n")
                .await;
        }
    });
    let (_d, cfg, ctx) = letters_for_smtp_on(port).await;
    let waiting = count(&ctx, "pending").await;
    assert!(waiting > 0);
    let mailer = Mailer::from_config(&cfg).unwrap();
    let pass = outbox::send_due(&ctx, &mailer, T0 + 1).await.unwrap();
    assert_eq!((pass.sent, pass.failed), (0, 0), "{pass:?}");
    assert_eq!(pass.retried, waiting as usize, "{pass:?}");
    assert_eq!(count(&ctx, "pending").await, waiting);
    let mut c = ctx.store.conn().await.unwrap();
    let letters = rows::of_case(&mut c, CaseId(1)).await.unwrap();
    assert!(
        letters.iter().all(|l| l
            .last_error
            .as_deref()
            .unwrap_or("")
            .contains("no service today")),
        "{:?}",
        letters.iter().map(|l| &l.last_error).collect::<Vec<_>>()
    );
    server.abort();
}

/// An SMTP server without enhanced status codes (as Exim is by default) that answers
/// every RCPT with `rcpt_reply`; it speaks just enough SMTP for lettre.
async fn server_refusing_rcpt(rcpt_reply: &'static str) -> (u16, tokio::task::JoinHandle<()>) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (read, mut write) = sock.into_split();
                let mut lines = BufReader::new(read).lines();
                let _ = write
                    .write_all(b"220 mx.example.org ESMTP Exim 4.96\r\n")
                    .await;
                while let Ok(Some(line)) = lines.next_line().await {
                    let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
                    let reply = match verb.as_str() {
                        "EHLO" => "250-mx.example.org Hello\r\n250 HELP\r\n".to_string(),
                        "RCPT" => format!("{rcpt_reply}\r\n"),
                        "QUIT" => "221 mx.example.org closing connection\r\n".to_string(),
                        _ => "250 OK\r\n".to_string(),
                    };
                    if write.write_all(reply.as_bytes()).await.is_err() || verb == "QUIT" {
                        break;
                    }
                }
            });
        }
    });
    (port, server)
}

/// A relay refusal from a server without enhanced status codes ("550 relay not
/// permitted", Exim's default) is about how closeloop sends, like a 5.7.x refusal: the
/// letters wait for the fix. A refused recipient ("550 No such user") fails its letter.
#[tokio::test]
async fn a_relay_refusal_without_enhanced_codes_leaves_letters_waiting() {
    for (reply, waits) in [
        ("550 relay not permitted", true),
        ("550 No such user here", false),
    ] {
        let (port, server) = server_refusing_rcpt(reply).await;
        let (_d, cfg, ctx) = letters_for_smtp_on(port).await;
        let waiting = count(&ctx, "pending").await as usize;
        assert!(waiting > 0);
        let mailer = Mailer::from_config(&cfg).unwrap();
        let pass = outbox::send_due(&ctx, &mailer, T0 + 1).await.unwrap();
        let mut c = ctx.store.conn().await.unwrap();
        let letters = rows::of_case(&mut c, CaseId(1)).await.unwrap();
        let errors: Vec<&str> = letters
            .iter()
            .filter_map(|l| l.last_error.as_deref())
            .collect();
        if waits {
            assert_eq!(
                (pass.sent, pass.failed, pass.retried),
                (0, 0, waiting),
                "{pass:?}"
            );
            assert!(letters.iter().all(|l| l.status == "pending"), "{errors:?}");
        } else {
            // Every letter fails, and so do the failure notices it queues.
            assert_eq!(pass.sent + pass.retried, 0, "{reply}: {pass:?}");
            assert!(pass.failed > waiting, "{reply}: {pass:?}");
            assert!(letters.iter().all(|l| l.status == "failed"), "{errors:?}");
        }
        assert!(
            errors.len() >= waiting && errors.iter().all(|e| e.contains(&reply[4..])),
            "{reply}: {errors:?}"
        );
        server.abort();
    }
}

/// A copy of one of our letters coming back into the intake (`outbound.journal`).
fn copy_of(letter: &rows::LetterRow, from: &str) -> Vec<u8> {
    email(
        from,
        &letter.subject,
        &letter.message_id,
        &["Auto-Submitted: auto-replied"],
        &letter.body,
    )
}

async fn letter(ctx: &Context, id: i64) -> rows::LetterRow {
    let mut c = ctx.store.conn().await.unwrap();
    rows::of_case(&mut c, CaseId(1))
        .await
        .unwrap()
        .into_iter()
        .find(|l| l.id == id)
        .unwrap()
}

async fn a_copy_of_a_letter_in_doubt_settles_it_as_sent(backend: Backend) {
    let d = Deployment::on(backend, "dmarc", "");
    let ctx = d.ctx().await;
    let report = email(
        "alice@example.org",
        "odd bot",
        "j1@example.org",
        &[],
        "bot account",
    );
    pipeline::ingest(&ctx, &report, "t", T0).await.unwrap();
    let ids: Vec<i64> = {
        let mut c = ctx.store.conn().await.unwrap();
        let all = rows::of_case(&mut c, CaseId(1)).await.unwrap();
        all.iter().map(|l| l.id).collect()
    };
    assert_eq!(ids.len(), 3, "ack + two notifications");
    let own = ctx.cfg.outbound.from.clone();

    // No sender has touched the letter: a "copy" of it cannot be real.
    let third = letter(&ctx, ids[2]).await;
    let r = pipeline::ingest(&ctx, &copy_of(&third, &own), "t", T0 + 1)
        .await
        .unwrap();
    assert!(
        matches!(&r, pipeline::Ingested::LetterCopy { reason } if reason.contains("left as it is")),
        "{r:?}"
    );
    let third = letter(&ctx, ids[2]).await;
    assert_eq!((third.status.as_str(), third.sent_at), ("pending", None));

    // A sender claims the letters, hands the first to SMTP and dies before recording it.
    let mut tx = ctx.store.begin().await.unwrap();
    let claimed = rows::claim_due(&mut tx, T0 + 2, 120_000, 10).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(claimed.len(), 3);
    // The copy comes back: the server took it.
    let first = letter(&ctx, ids[0]).await;
    let r = pipeline::ingest(&ctx, &copy_of(&first, &own), "t", T0 + 3)
        .await
        .unwrap();
    assert!(
        matches!(&r, pipeline::Ingested::LetterCopy { reason } if reason.contains("did not record it")),
        "{r:?}"
    );
    let first = letter(&ctx, ids[0]).await;
    assert_eq!(first.status, "sent");
    assert_eq!(first.sent_at, Some(T0 + 3));
    assert_eq!(first.attempts, 1);
    // A message from someone else naming a letter's Message-ID proves nothing.
    let second = letter(&ctx, ids[1]).await;
    let r = pipeline::ingest(&ctx, &copy_of(&second, "mallory@example.org"), "t", T0 + 4)
        .await
        .unwrap();
    assert!(!format!("{r:?}").contains("copy of letter"), "{r:?}");
    assert_eq!(letter(&ctx, ids[1]).await.status, "pending");

    // When the claim has run out, only the two letters never handed over are sent.
    let mailer = Mailer::from_config(&ctx.cfg).unwrap();
    let pass = outbox::send_due(&ctx, &mailer, T0 + 200_000).await.unwrap();
    assert_eq!((pass.sent, pass.failed), (2, 0));
    let files = all_files(&d.dir.path().join("letters"));
    assert_eq!(files.len(), 2, "{files:?}");
    let name = |id: i64| format!("{id:06}-");
    assert!(files
        .iter()
        .all(|f| !f.to_string_lossy().contains(&name(ids[0]))));
    let mut c = ctx.store.conn().await.unwrap();
    let confirmed: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM letters WHERE confirmed_at IS NOT NULL")
            .fetch_one(&mut *c)
            .await
            .unwrap();
    assert_eq!(confirmed, 1);
    // No case, report or letter came of the copies.
    assert_eq!(rows::of_case(&mut c, CaseId(1)).await.unwrap().len(), 3);
    assert!(cases::get(&mut c, CaseId(2)).await.unwrap().is_none());
}

async fn one_address_cannot_be_flooded(backend: Backend) {
    let d = Deployment::on(backend, "dmarc", "");
    let ctx = d.ctx().await;
    for i in 0..(RATE_LIMIT_PER_HOUR + 10) {
        let raw = email(
            "loop@example.org",
            &format!("report {i}"),
            &format!("flood-{i}@example.org"),
            &[],
            &format!("thing {i}"),
        );
        pipeline::ingest(&ctx, &raw, "t", T0 + i).await.unwrap();
    }
    let acks: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM letters WHERE recipient = 'loop@example.org'")
            .fetch_one(ctx.store.pool())
            .await
            .unwrap();
    assert_eq!(acks, RATE_LIMIT_PER_HOUR);
    let held: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM events WHERE kind = 'rate-limited'")
        .fetch_one(ctx.store.pool())
        .await
        .unwrap();
    assert!(held >= 10, "{held}");
    // An outcome letter is never dropped by the limit: it is delayed by an hour.
    let now = T0 + 1_000;
    let a = closeloop::lifecycle::cli_command(
        &ctx,
        CaseId(1),
        "lead@example.org",
        "classify other\nresolve no-action: a test",
        now,
    )
    .await
    .unwrap();
    assert!(a.ok, "{:?}", a.lines);
    let due: i64 = sqlx::query_scalar("SELECT next_attempt_at FROM letters WHERE kind = 'outcome' AND recipient = 'loop@example.org'")
        .fetch_one(ctx.store.pool())
        .await
        .unwrap();
    assert_eq!(due, now + 3_600_000);
}

#[tokio::test]
async fn e2e_smtp_down_letters_wait_and_leave_exactly_once() {
    if !harness::e2e_enabled() {
        eprintln!("skipping: CLOSELOOP_E2E not set");
        return;
    }
    let lab = harness::MailLab::start(&[
        ("security@example.org", "pw-sec"),
        ("alice@example.org", "pw-alice"),
        ("bob@example.org", "pw-bob"),
        ("lead@example.org", "pw-lead"),
        ("oncall@example.org", "pw-oncall"),
    ]);
    let d = Deployment::new("dmarc");
    let mut cfg = d.cfg.clone();
    cfg.outbound.kind = closeloop::config::OutboundKind::Smtp;
    cfg.outbound.host = "127.0.0.1".into();
    cfg.outbound.port = lab.smtp_port;
    cfg.outbound.tls = closeloop::config::TlsMode::None;
    let ctx = closeloop::cli::open(&cfg).await.unwrap();
    let mailer = Mailer::from_config(&cfg).unwrap();
    for (who, mid) in [
        ("alice@example.org", "e1@example.org"),
        ("bob@example.org", "e2@example.org"),
    ] {
        pipeline::ingest(
            &ctx,
            &email(who, "leaked token", mid, &[], "token in chat"),
            "t",
            T0,
        )
        .await
        .unwrap();
    }
    let due = count(&ctx, "pending").await;
    assert_eq!(due, 6, "two acks, four notifications");

    lab.stop_smtp();
    let pass = outbox::send_due(&ctx, &mailer, T0 + 1).await.unwrap();
    assert_eq!((pass.sent, pass.retried), (0, 6), "all wait for the server");
    // Not due again before the backoff has passed.
    assert_eq!(
        outbox::send_due(&ctx, &mailer, T0 + 2)
            .await
            .unwrap()
            .retried,
        0
    );
    let attempts: i64 = sqlx::query_scalar("SELECT MIN(attempts) FROM letters")
        .fetch_one(ctx.store.pool())
        .await
        .unwrap();
    assert_eq!(attempts, 1);

    lab.start_smtp();
    let later = T0 + 1 + outbox::backoff_ms(0);
    let pass = outbox::send_due(&ctx, &mailer, later).await.unwrap();
    assert_eq!((pass.sent, pass.failed), (6, 0));
    assert_eq!(
        outbox::send_due(&ctx, &mailer, later + outbox::backoff_ms(5))
            .await
            .unwrap()
            .sent,
        0
    );

    // Each letter arrived once, in the right mailbox, threaded under the report.
    for (who, pw, mid, case) in [
        ("alice@example.org", "pw-alice", "e1@example.org", "[CL-1]"),
        ("bob@example.org", "pw-bob", "e2@example.org", "[CL-2]"),
    ] {
        let got = harness::wait_for_count(
            lab.imap_port,
            who,
            pw,
            "INBOX",
            1,
            std::time::Duration::from_secs(15),
        )
        .await;
        assert_eq!(got.len(), 1, "{who} gets exactly one letter");
        assert!(harness::header(&got[0], "In-Reply-To").contains(mid));
        assert!(harness::header(&got[0], "Subject").contains(case));
    }
    for (who, pw) in [
        ("lead@example.org", "pw-lead"),
        ("oncall@example.org", "pw-oncall"),
    ] {
        let got = harness::wait_for_count(
            lab.imap_port,
            who,
            pw,
            "INBOX",
            2,
            std::time::Duration::from_secs(15),
        )
        .await;
        let mut ids: Vec<String> = got
            .iter()
            .map(|m| harness::header(m, "Message-ID"))
            .collect();
        ids.sort();
        ids.dedup();
        assert_eq!(
            ids.len(),
            2,
            "{who}: two distinct notifications, no duplicates"
        );
    }
}
