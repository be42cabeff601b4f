//! Tests of the real-mail-server harness itself (Dovecot + Postfix on loopback).
//! Run with CLOSELOOP_E2E=1 (tests/run.sh sets it); skipped otherwise.

mod harness;

use harness::MailLab;
use std::time::Duration;

const USERS: &[(&str, &str)] = &[
    ("security@example.org", "sec-pass"),
    ("alice@example.org", "alice-pass"),
];
const WAIT: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2e_lab_smtp_to_imap_roundtrip() {
    if !harness::e2e_enabled() {
        eprintln!("skipping: CLOSELOOP_E2E not set");
        return;
    }
    let lab = MailLab::start(USERS);
    assert_eq!(lab.domain, "example.org");
    let msg = harness::simple_message(
        "alice@example.org",
        "security@example.org",
        "Leaked key in repo foo",
        "Hello,\nI found a key.\n",
    );
    harness::smtp_send(
        lab.smtp_port,
        "alice@example.org",
        &["security@example.org"],
        &msg,
    )
    .await;
    let got = harness::wait_for_count(
        lab.imap_port,
        "security@example.org",
        "sec-pass",
        "INBOX",
        1,
        WAIT,
    )
    .await;
    assert_eq!(got.len(), 1);
    assert_eq!(
        harness::header(&got[0], "Subject"),
        "Leaked key in repo foo"
    );
    let text = String::from_utf8_lossy(&got[0]);
    assert!(text.contains("I found a key."), "body missing: {text}");
    // Parsed by a real MIME parser too.
    let parsed = mail_parser::MessageParser::default()
        .parse(&got[0])
        .expect("parse");
    assert_eq!(parsed.subject(), Some("Leaked key in repo foo"));

    // Delivered into the expected maildir; other mailboxes exist and are empty.
    let new = lab.maildir("security@example.org").join("new");
    assert_eq!(
        std::fs::read_dir(&new).unwrap().count(),
        1,
        "{}",
        new.display()
    );
    let processed = harness::imap_fetch_all(
        lab.imap_port,
        "security@example.org",
        "sec-pass",
        "Processed",
    )
    .await;
    assert!(processed.is_empty());
    let alice =
        harness::imap_fetch_all(lab.imap_port, "alice@example.org", "alice-pass", "INBOX").await;
    assert!(alice.is_empty());

    // Unknown recipients and foreign domains are refused at RCPT; wrong passwords fail.
    let err = harness::try_smtp_send(
        lab.smtp_port,
        "alice@example.org",
        &["nobody@example.org"],
        &msg,
    )
    .await
    .expect_err("unknown recipient accepted");
    assert!(err.contains("55"), "{err}");
    let err = harness::try_smtp_send(
        lab.smtp_port,
        "alice@example.org",
        &["x@elsewhere.test"],
        &msg,
    )
    .await
    .expect_err("relay accepted");
    assert!(err.contains("55"), "{err}");
    assert!(
        harness::imap_login(lab.imap_port, "security@example.org", "wrong")
            .await
            .is_err()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2e_lab_imap_capabilities() {
    if !harness::e2e_enabled() {
        eprintln!("skipping: CLOSELOOP_E2E not set");
        return;
    }
    let lab = MailLab::start(USERS);
    let caps = harness::imap_capabilities(lab.imap_port, "security@example.org", "sec-pass").await;
    for want in ["IDLE", "MOVE", "UIDPLUS"] {
        assert!(
            caps.iter().any(|c| c == want),
            "{want} missing from {caps:?}"
        );
    }
    // Processed exists and MOVE into it works.
    let mut s = harness::imap_login(lab.imap_port, "security@example.org", "sec-pass")
        .await
        .unwrap();
    let processed = s.examine("Processed").await.expect("Processed mailbox");
    assert_eq!(processed.exists, 0);
    s.logout().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2e_lab_stop_and_restart_servers() {
    if !harness::e2e_enabled() {
        eprintln!("skipping: CLOSELOOP_E2E not set");
        return;
    }
    let lab = MailLab::start(USERS);
    let sec = ("security@example.org", "sec-pass");
    let send = |subject: &str| {
        harness::simple_message("alice@example.org", "security@example.org", subject, "body")
    };

    // SMTP down: sending fails; back up: it works.
    lab.stop_smtp();
    let err = harness::try_smtp_send(
        lab.smtp_port,
        "alice@example.org",
        &["security@example.org"],
        &send("while down"),
    )
    .await
    .expect_err("SMTP send succeeded while Postfix was stopped");
    eprintln!("expected SMTP error while stopped: {err}");
    lab.start_smtp();
    harness::smtp_send(
        lab.smtp_port,
        "alice@example.org",
        &["security@example.org"],
        &send("first"),
    )
    .await;
    harness::wait_for_count(lab.imap_port, sec.0, sec.1, "INBOX", 1, WAIT).await;

    // IMAP down: login fails, mail sent meanwhile waits in Postfix's queue; back up: all there.
    lab.stop_imap();
    assert!(harness::imap_login(lab.imap_port, sec.0, sec.1)
        .await
        .is_err());
    harness::smtp_send(
        lab.smtp_port,
        "alice@example.org",
        &["security@example.org"],
        &send("queued"),
    )
    .await;
    lab.start_imap();
    let got = harness::wait_for_count(lab.imap_port, sec.0, sec.1, "INBOX", 2, WAIT).await;
    let subjects: Vec<String> = got.iter().map(|m| harness::header(m, "Subject")).collect();
    assert_eq!(subjects, ["first", "queued"]);

    // Stopping twice / starting twice is harmless.
    lab.stop_imap();
    lab.stop_imap();
    lab.start_imap();
    lab.start_imap();
    assert_eq!(
        harness::imap_fetch_all(lab.imap_port, sec.0, sec.1, "INBOX")
            .await
            .len(),
        2
    );
}

#[test]
fn e2e_lab_parallel_labs_are_isolated() {
    if !harness::e2e_enabled() {
        eprintln!("skipping: CLOSELOOP_E2E not set");
        return;
    }
    let a = MailLab::start(&[("security@example.org", "a")]);
    let b = MailLab::start(&[("security@example.org", "b")]);
    assert_ne!(a.dir, b.dir);
    assert_ne!(a.instance_name, b.instance_name);
    let ports_a = [a.imap_port, a.lmtp_port, a.smtp_port];
    for p in [b.imap_port, b.lmtp_port, b.smtp_port] {
        assert!(!ports_a.contains(&p));
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let m = harness::simple_message("x@example.org", "security@example.org", "to-a", "a");
        harness::smtp_send(a.smtp_port, "x@example.org", &["security@example.org"], &m).await;
        harness::wait_for_count(a.imap_port, "security@example.org", "a", "INBOX", 1, WAIT).await;
        let in_b = harness::imap_fetch_all(b.imap_port, "security@example.org", "b", "INBOX").await;
        assert!(in_b.is_empty());
    });
    let dir = a.dir.clone();
    drop(a);
    assert!(!dir.exists(), "lab dir not removed on drop");
}
