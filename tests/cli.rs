//! Command-line behaviour a user relies on: output commands end quietly when
//! their reader goes away, and usage errors exit 2 naming the problem.

mod common;

use std::io::Read;
use std::process::{Command, Output, Stdio};

use common::*;

#[test]
fn output_commands_end_quietly_on_a_closed_pipe() {
    let d = Deployment::new("none");
    let files: Vec<Vec<u8>> = (0..300)
        .map(|i| {
            email(
                &format!("u{i}@example.org"),
                &format!("report {i}"),
                &format!("m{i}@x"),
                &[],
                "odd bot",
            )
        })
        .collect();
    assert!(ingest(&d, &files, &[]).status.success());

    let mut child = Command::new(env!("CARGO_BIN_EXE_closeloop"))
        .arg("--config")
        .arg(&d.config_path)
        .args(["cases", "--status", "all", "--json"]) // well over a pipe buffer
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 16];
    child
        .stdout
        .as_mut()
        .unwrap()
        .read_exact(&mut first)
        .unwrap();
    drop(child.stdout.take()); // the reader goes away, like `| head -1`
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// A variable that is not UTF-8 in the environment is no panic: someone else's is
/// left alone, one of ours is a config error that names it.
#[test]
fn an_environment_variable_that_is_not_utf8_is_no_panic() {
    use std::os::unix::ffi::OsStrExt;
    let d = Deployment::new("none");
    let run = |name: &str| {
        Command::new(env!("CARGO_BIN_EXE_closeloop"))
            .arg("--config")
            .arg(&d.config_path)
            .arg("cases")
            .env_remove("CLOSELOOP_CONFIG")
            .env(name, std::ffi::OsStr::from_bytes(b"caf\xe9"))
            .output()
            .unwrap()
    };
    let out = run("LEGACY_LATIN1");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let out = run("CLOSELOOP_DATABASE_URL");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("environment variable CLOSELOOP_DATABASE_URL is not UTF-8 text"),
        "{stderr}"
    );
}

#[test]
fn usage_errors_exit_2_and_name_the_problem() {
    let d = Deployment::new("none");
    let out = d.run(&["case", "show", "CL-x"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("'CL-x' is not a case id"));
    let out = run_bin(
        std::path::Path::new("/nonexistent/closeloop.toml"),
        &["cases"],
        None,
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/closeloop.toml"));
    let bad = d.dir.path().join("bad.toml");
    std::fs::write(&bad, "[intake]\nallowed_domains = []\nkind = \"imap\"\n").unwrap();
    let out = run_bin(&bad, &["check-config"], None, &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.toml")
            && err.contains("intake.host")
            && err.contains("intake.allowed_domains"),
        "{err}"
    );
}

#[test]
fn ingest_refuses_empty_input_and_stores_nothing() {
    let d = Deployment::new("none");
    let out = d.run(&["ingest"], Some(b"\r\n"));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("stdin is empty: nothing ingested"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let empty = d.dir.path().join("empty.eml");
    std::fs::write(&empty, b"").unwrap();
    let good = d.dir.path().join("good.eml");
    std::fs::write(
        &good,
        email(
            "u@example.org",
            "odd bot",
            "good@x",
            &[],
            "the deploy bot did odd things",
        ),
    )
    .unwrap();
    let out = d.run(
        &["ingest", empty.to_str().unwrap(), good.to_str().unwrap()],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("empty.eml: empty, not a message"),
        "{stderr}"
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("good.eml: report: opened case CL-1"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = d.run(&["quarantine", "--json"], None);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "[]");
}

#[test]
fn scan_gives_byte_offsets_into_the_input_even_after_bytes_that_are_not_utf8() {
    let d = Deployment::new("none");
    let key = planted_github_pat(11).secret;
    let mut input = b"log \xff\xfe\x80 caf\xc3\xa9 token=".to_vec();
    let start = input.len();
    input.extend_from_slice(key.as_bytes());
    input.extend_from_slice(b"\n\xc3");
    let out = d.run(&["scan"], Some(&input));
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(line["kind"], "github-pat", "{stdout}");
    assert_eq!(line["start"], start, "{stdout}");
    assert_eq!(line["end"], start + key.len(), "{stdout}");
    assert!(!stdout.contains(&key));
}

#[test]
fn quarantine_lists_what_was_set_aside_with_the_reason_and_no_secret() {
    let d = Deployment::new("none");
    let secret = planted_github_pat(4242);
    let files = [
        // An outsider: quarantined, the token in the subject stays masked.
        email(
            "mallory@elsewhere.test",
            &format!("token {}", secret.secret),
            "q1@elsewhere.test",
            &[],
            "hello",
        ),
        // Automatic mail: ignored.
        email(
            "alice@example.org",
            "Out of office",
            "ooo@example.org",
            &["Auto-Submitted: auto-replied"],
            "away",
        ),
        // A report: neither.
        email(
            "bob@example.org",
            "odd bot",
            "r1@example.org",
            &[],
            "bot account",
        ),
    ];
    assert!(ingest(&d, &files, &[]).status.success());

    let out = d.run(&["quarantine"], None);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("mallory@elsewhere.test"), "{text}");
    assert!(text.contains("intake.allowed_domains"), "{text}");
    assert!(
        !text.contains("Out of office") && !text.contains("odd bot"),
        "{text}"
    );
    assert!(
        !text.contains(&secret.secret),
        "plaintext secret listed:\n{text}"
    );

    let out = d.run(&["quarantine", "--json"], None);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let arr = v.as_array().unwrap();
    assert_eq!(arr.len(), 1, "{v}");
    assert_eq!(arr[0]["from"], "mallory@elsewhere.test");
    assert_eq!(arr[0]["message_id"], "q1@elsewhere.test");
    assert!(arr[0]["reason"]
        .as_str()
        .unwrap()
        .contains("allowed_domains"));
    assert!(!out
        .stdout
        .windows(secret.secret.len())
        .any(|w| w == secret.secret.as_bytes()));

    let out = d.run(&["quarantine", "--ignored", "--json"], None);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let arr = v.as_array().unwrap();
    assert_eq!(arr.len(), 1, "{v}");
    assert_eq!(arr[0]["subject"], "Out of office");
    assert!(arr[0]["reason"]
        .as_str()
        .unwrap()
        .contains("Auto-Submitted"));

    // A window that ends before anything arrived lists nothing; a bad one is a usage error.
    let out = d.run(&["quarantine", "--since", "0s"], None);
    assert!(String::from_utf8_lossy(&out.stdout).contains("no quarantined messages"));
    let out = d.run(&["quarantine", "--since", "soon"], None);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_message_id_reused_with_another_body_is_quarantined_and_named_in_the_log() {
    let d = Deployment::new("none");
    let report = email(
        "bob@example.org",
        "odd bot",
        "r1@example.org",
        &[],
        "bot account",
    );
    let mut redelivered =
        b"Received: from relay by mx; Mon, 2 Nov 2026 10:00:09 +0000\r\n".to_vec();
    redelivered.extend_from_slice(&report);
    let files = [
        report.clone(),
        // The same bytes again: a plain re-read, nothing to look at.
        report,
        // Delivered again with a header field more: the same message, named.
        redelivered,
        // Another message under the same Message-ID: set aside, and named.
        email("eve@example.org", "nothing", "r1@example.org", &[], "hello"),
    ];
    // Info, as the daemon logs by default (one-shot commands log warnings only).
    let out = ingest(&d, &files, &[("CLOSELOOP_LOG", "info")]);
    assert!(out.status.success());
    let log = String::from_utf8_lossy(&out.stderr);
    let lines = |what: &str| -> Vec<String> {
        log.lines()
            .filter(|l| l.contains(what))
            .map(str::to_string)
            .collect()
    };
    let same = lines("has this Message-ID and body; taken as already ingested");
    assert_eq!(same.len(), 1, "{log}");
    assert!(same[0].contains("2.eml"), "{log}");
    let other = lines("has this Message-ID and another body; quarantined");
    assert_eq!(other.len(), 1, "{log}");
    assert!(other[0].contains("3.eml"), "{log}");
    let listed = d.run(&["quarantine", "--json"], None);
    assert!(listed.status.success());
    let listed: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["from"], "eve@example.org");
    assert!(listed[0]["reason"]
        .as_str()
        .unwrap()
        .contains("Message-ID <r1@example.org> names a stored message with another body"));
}

/// A message that kills closeloop while it is read (by the fault injection here, aborting
/// as a stack overflow in a reader would) is read again once, then quarantined unread,
/// named by its file, sender and subject; the reports before and after it get through.
#[test]
fn a_message_that_killed_its_reader_twice_is_quarantined_unread() {
    use std::os::unix::process::ExitStatusExt;
    let d = Deployment::new("none");
    let secret = planted_github_pat(4242);
    let deadly = email(
        "carol@example.org",
        &format!("deadly {}", secret.secret),
        "k1@example.org",
        &[],
        "DEADLY-7f3a",
    );
    let files = [
        email(
            "bob@example.org",
            "odd bot",
            "r1@example.org",
            &[],
            "bot account",
        ),
        deadly.clone(),
        email(
            "dave@example.org",
            "old token",
            "r2@example.org",
            &[],
            "a token",
        ),
        // Delivered twice: the copy is not read either.
        deadly,
    ];
    let fault = [(
        closeloop::pipeline::marks::FAULT_ABORT_READING_ENV,
        "DEADLY-7f3a",
    )];
    let marks = d.dir.path().join("closeloop.reading");
    for death in 1..=2 {
        let out = ingest(&d, &files, &fault);
        assert_eq!(
            out.status.signal(),
            Some(libc::SIGABRT),
            "death {death}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let left: Vec<String> = std::fs::read_dir(&marks)
            .unwrap()
            .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
            .collect();
        assert_eq!(left.len(), 1, "death {death}: {left:?}");
        assert!(left[0].starts_with(&format!("{} ", death - 1)), "{left:?}");
        assert!(left[0].contains("1.eml"), "{left:?}");
    }
    let out = ingest(&d, &files, &fault);
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{log}");
    assert!(
        log.contains("stopped closeloop each time it was read"),
        "{log}"
    );
    assert!(!log.contains(&secret.secret), "{log}");
    // Its marks stay, so that a copy is quarantined too; they name no content.
    let left: Vec<String> = std::fs::read_dir(&marks)
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    assert_eq!(left.len(), 1, "{left:?}");
    assert!(left[0].starts_with("1 ") && !left[0].contains(&secret.secret));

    let out = d.run(&["quarantine", "--json"], None);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let arr = v.as_array().unwrap();
    assert_eq!(arr.len(), 1, "{v}");
    assert!(arr[0]["source"].as_str().unwrap().ends_with("1.eml"), "{v}");
    // Not parsed, but its sender and subject are shown, read from the bytes.
    assert_eq!(arr[0]["from"], "carol@example.org", "{v}");
    let subject = arr[0]["subject"].as_str().unwrap();
    assert!(subject.starts_with("deadly [REDACTED github-pat"), "{v}");
    assert!(!out
        .stdout
        .windows(secret.secret.len())
        .any(|w| w == secret.secret.as_bytes()));
    assert!(
        arr[0]["reason"]
            .as_str()
            .unwrap()
            .contains("stopped 2 times while reading this message"),
        "{v}"
    );
    assert_eq!(reporters(&d), ["bob@example.org", "dave@example.org"]);
}

/// The reporters of every case, sorted (`cases --json`).
fn reporters(d: &Deployment) -> Vec<String> {
    let out = d.run(&["cases", "--json"], None);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut reporters: Vec<String> = v
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["reporters"].as_array().unwrap())
        .map(|r| r.as_str().unwrap().to_string())
        .collect();
    reporters.sort();
    reporters
}

/// A bug that one message reaches (a panic) while it is read or stored does not stop
/// intake: that message is quarantined with the reason (a store's batch goes on one message
/// at a time), the others are stored. The store's panic quotes the subject, which holds a
/// key: the log names where the panic was, not what it said; nothing stored holds the key.
#[test]
fn a_message_that_panics_its_reader_or_the_store_is_quarantined_and_the_others_stored() {
    let d = Deployment::new("none");
    let dir = d.dir.path().join("in");
    let secret = planted_github_pat(4343);
    let files = [
        email(
            "bob@example.org",
            "odd bot",
            "p1@example.org",
            &[],
            "bot account",
        ),
        email(
            "carol@example.org",
            &format!("BUG-5d2e {}", secret.secret),
            "p2@example.org",
            &[],
            "a key",
        ),
        email(
            "dave@example.org",
            "old token",
            "p3@example.org",
            &[],
            "a token",
        ),
        email(
            "erin@example.org",
            "odd logs",
            "p4@example.org",
            &[],
            "BUG-READ-1f7c",
        ),
    ];
    let fault = [
        (closeloop::fault::Stage::Storing.env(), "BUG-5d2e"),
        (closeloop::fault::Stage::Reading.env(), "BUG-READ-1f7c"),
    ];
    let out = ingest(&d, &files, &fault);
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{log}");
    assert!(log.contains("closeloop panicked (a bug"), "{log}");
    // Where: the injected panics are in src/fault.rs.
    assert!(log.contains("at=\"src/fault.rs:"), "{log}");
    assert!(!log.contains(&secret.secret), "{log}");
    assert!(!log.contains("panicking while storing"), "{log}");

    let out = d.run(&["quarantine", "--json"], None);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let arr = v.as_array().unwrap();
    assert_eq!(arr.len(), 2, "{v}");
    let quarantined = |file: &str| {
        arr.iter()
            .find(|q| q["source"].as_str().unwrap().ends_with(file))
            .unwrap_or_else(|| panic!("{file} not quarantined: {v}"))
    };
    let storing = quarantined("1.eml");
    let reason = storing["reason"].as_str().unwrap();
    assert!(reason.contains("closeloop hit a bug storing it"), "{v}");
    // The reading stage's panic: set aside with its sender and subject.
    let reading = quarantined("3.eml");
    let reason = reading["reason"].as_str().unwrap();
    assert!(reason.contains("closeloop hit a bug reading it"), "{v}");
    assert_eq!(reading["from"], "erin@example.org", "{v}");
    assert_eq!(reading["subject"], "odd logs", "{v}");
    assert_eq!(reporters(&d), ["bob@example.org", "dave@example.org"]);
    for file in all_files(d.dir.path()) {
        if file.starts_with(&dir) {
            continue;
        }
        let bytes = std::fs::read(&file).unwrap();
        assert!(!contains(&bytes, &secret.secret), "{}", file.display());
    }
    // Read again, all four are known (the reading panic is caught again, before the store
    // finds the message already quarantined).
    let out = ingest(&d, &files, &fault);
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{log}");
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        said.lines()
            .filter(|l| l.contains(": already ingested"))
            .count(),
        4,
        "{said}"
    );
}

/// A bug that one letter's text reaches while it is built (a panic) fails that letter
/// (the responders are told, as for any letter that cannot be delivered); the sender goes
/// on with the others.
#[test]
fn a_letter_that_panics_its_builder_fails_and_the_others_go_out() {
    let d = Deployment::new("none");
    let files = [
        email(
            "bob@example.org",
            "odd bot",
            "s1@example.org",
            &[],
            "bot account",
        ),
        email(
            "dave@example.org",
            "old token",
            "s2@example.org",
            &[],
            "a token",
        ),
    ];
    assert!(ingest(&d, &files, &[]).status.success());
    let fault = [(closeloop::fault::Stage::Sending.env(), "odd bot")];
    let out = run_bin(&d.config_path, &["run", "--once"], None, &fault);
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{log}");
    assert!(log.contains("closeloop panicked (a bug"), "{log}");
    let letters = |case: &str| {
        let out = d.run(&["case", "show", case, "--json"], None);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["letters"].as_array().unwrap().clone()
    };
    let first = letters("CL-1");
    let ack = first.iter().find(|l| l["kind"] == "ack").unwrap();
    assert_eq!(ack["status"], "failed", "{first:?}");
    let error = ack["last_error"].as_str().unwrap();
    assert!(error.contains("closeloop hit a bug building it"), "{error}");
    assert!(
        first
            .iter()
            .any(|l| l["kind"] == "failure" && l["status"] == "sent"),
        "the responders are told: {first:?}"
    );
    let second = letters("CL-2");
    assert!(!second.is_empty());
    assert!(second.iter().all(|l| l["status"] == "sent"), "{second:?}");
}

/// A daemon task that panics (a bug outside the per-message catches) stops closeloop
/// with an error, after the other tasks finish their work in hand, so that a supervisor
/// restarts it: a daemon without its timers, its sender or its intake would look alive
/// while the loop stood still.
#[test]
fn a_daemon_task_that_panics_stops_closeloop_with_an_error() {
    let d = Deployment::new("none");
    for task in ["timers", "outbox"] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_closeloop"))
            .arg("--config")
            .arg(&d.config_path)
            .arg("run")
            .env_remove("CLOSELOOP_CONFIG")
            .env(closeloop::fault::Stage::Task.env(), task)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let started = std::time::Instant::now();
        while child.try_wait().unwrap().is_none() {
            if started.elapsed() > std::time::Duration::from_secs(60) {
                child.kill().unwrap();
                let out = child.wait_with_output().unwrap();
                panic!(
                    "{task}: still running a minute after its task panicked:\n{}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let out = child.wait_with_output().unwrap();
        let log = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{task}: {log}");
        let stopped = log
            .lines()
            .find(|l| l.contains("a task stopped on a bug (a panic)"))
            .unwrap_or_else(|| panic!("{task}: {log}"));
        assert!(stopped.contains(task), "{stopped}");
        assert!(
            log.contains("exiting so that a supervisor restarts closeloop"),
            "{log}"
        );
        // The other tasks stopped as at a SIGTERM, their work in hand finished.
        assert!(
            log.lines().any(|l| l.trim_end().ends_with("INFO stopped")),
            "{log}"
        );
    }
}

/// Runs `ingest` (with `env`) on `files`, written as `N.eml` into the deployment's `in/`.
fn ingest(d: &Deployment, files: &[Vec<u8>], env: &[(&str, &str)]) -> Output {
    let dir = d.dir.path().join("in");
    std::fs::create_dir_all(&dir).unwrap();
    let mut args = vec!["ingest".to_string()];
    for (i, raw) in files.iter().enumerate() {
        let f = dir.join(format!("{i}.eml"));
        std::fs::write(&f, raw).unwrap();
        args.push(f.display().to_string());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run_bin(&d.config_path, &args, None, env)
}

/// A Maildir holding processed mail where earlier versions left it (in `cur/`, flagged
/// seen): check-config says so, with the command that moves it to the processed folder.
#[test]
fn check_config_tells_how_to_move_processed_mail_out_of_cur() {
    let d = Deployment::new("none");
    let quiet = d.run(&["check-config"], None);
    assert!(quiet.status.success());
    assert!(!String::from_utf8_lossy(&quiet.stdout).contains("flagged seen"));
    let cur = d.dir.path().join("maildir").join("cur");
    std::fs::create_dir_all(&cur).unwrap();
    for i in 0..3 {
        std::fs::write(cur.join(format!("{i}.old:2,S")), "x").unwrap();
    }
    let out = d.run(&["check-config"], None);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    let maildir = d.dir.path().join("maildir");
    let want = format!(
        "warn  3 message(s) flagged seen lie in {0}/cur (processed by closeloop before \
         2026-11-30, or read before it ran); every look lists them: move them to the \
         processed folder with: mv {0}/cur/*:2,*S* {0}/.Processed/cur/",
        maildir.display()
    );
    assert!(text.lines().any(|l| l == want), "{text}");
}

/// check-config names the reading-marks directory, and warns (without failing) when it
/// cannot be written.
#[test]
fn check_config_names_the_reading_marks_directory() {
    let d = Deployment::new("none");
    let marks = d.dir.path().join("closeloop.reading");
    let out = d.run(&["check-config"], None);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    let want = format!(
        "ok    reading marks {}: exists and is writable",
        marks.display()
    );
    assert!(text.lines().any(|l| l == want), "{text}");
    assert!(marks.is_dir());
    std::fs::remove_dir(&marks).unwrap();
    std::fs::write(&marks, "in the way").unwrap();
    let out = d.run(&["check-config"], None);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    let warned = format!("warn  reading marks {}: cannot create", marks.display());
    assert!(text.lines().any(|l| l.starts_with(&warned)), "{text}");
}

/// An identity provider on 127.0.0.1 answering each request with the next of
/// `answers` (status, JSON); also the paths asked, in order. Runs while the runtime lives.
struct Provider {
    _rt: tokio::runtime::Runtime,
    port: u16,
    paths: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Provider {
    fn start(answers: Vec<(u16, String)>) -> Provider {
        use std::collections::VecDeque;
        use std::sync::{Arc, Mutex};
        let script: Arc<Mutex<VecDeque<(u16, String)>>> = Arc::new(Mutex::new(answers.into()));
        let paths = Arc::new(Mutex::new(Vec::<String>::new()));
        let rt = tokio::runtime::Runtime::new().unwrap();
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = paths.clone();
        let app = axum::Router::new().fallback(move |uri: axum::http::Uri| {
            let (script, seen) = (script.clone(), seen.clone());
            async move {
                seen.lock().unwrap().push(uri.path().to_string());
                let (status, body) = script
                    .lock()
                    .unwrap()
                    .pop_front()
                    .unwrap_or((500, "{}".into()));
                (
                    axum::http::StatusCode::from_u16(status).unwrap(),
                    [("content-type", "application/json")],
                    body,
                )
            }
        });
        rt.spawn(async move { axum::serve(listener, app).await });
        Provider {
            _rt: rt,
            port,
            paths,
        }
    }

    /// A config whose `[intake.oauth2]` uses this provider (Microsoft's layout) and keeps
    /// the refresh token in `dir`/refresh-token.
    fn config(&self, dir: &std::path::Path) -> std::path::PathBuf {
        let d = dir.display();
        let port = self.port;
        let config = dir.join("closeloop.toml");
        std::fs::write(
            &config,
            format!(
                r#"[database]
url = "sqlite://{d}/closeloop.db"
[intake]
kind = "imap"
host = "imap.example.org"
username = "security@example.org"
auth = "xoauth2"
allowed_domains = ["example.org"]
[intake.oauth2]
token_url = "http://127.0.0.1:{port}/tenant/oauth2/v2.0/token"
client_id = "app-cli"
scope = "https://outlook.office365.com/IMAP.AccessAsUser.All offline_access"
refresh_token_file = "{d}/refresh-token"
[outbound]
kind = "file"
dir = "{d}/letters"
from = "security@example.org"
[responders]
addresses = ["lead@example.org"]
auth = "none"
[secrets]
key_file = "{d}/closeloop.key"
"#
            ),
        )
        .unwrap();
        config
    }

    fn paths(&self) -> Vec<String> {
        self.paths.lock().unwrap().clone()
    }
}

const REFRESH: &str = "rt-cli-from-the-sign-in-5151";
const ACCESS: &str = "at-cli-access-6161";

fn token_answer() -> (u16, String) {
    (
        200,
        format!(
            r#"{{"token_type":"Bearer","expires_in":3599,"access_token":"{ACCESS}","refresh_token":"{REFRESH}"}}"#
        ),
    )
}

/// `oauth2-login` against a scripted identity provider: it prints where to sign in and
/// the code, waits while the sign-in is pending, writes the refresh token owner-only,
/// and prints no token or device code.
#[test]
fn oauth2_login_prints_where_to_sign_in_and_keeps_the_refresh_token() {
    const DEVICE_CODE: &str = "dc-cli-Secret-Device-Code-4242";
    let provider = Provider::start(vec![
        (
            200,
            format!(
                r#"{{"device_code":"{DEVICE_CODE}","user_code":"WXYZ-1234","verification_uri":"https://microsoft.com/devicelogin","expires_in":600,"interval":0}}"#
            ),
        ),
        (400, r#"{"error":"authorization_pending"}"#.to_string()),
        token_answer(),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let config = provider.config(dir.path());
    let out = run_bin(
        &config,
        &["oauth2-login", "--section", "intake"],
        None,
        &[("CLOSELOOP_LOG", "debug")],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("  https://microsoft.com/devicelogin\n"),
        "{stdout}"
    );
    assert!(stdout.contains("  WXYZ-1234\n"), "{stdout}");
    assert!(stdout.contains("the code is valid for 10 min"), "{stdout}");
    let file = dir.path().join("refresh-token");
    assert!(
        stdout.contains(&format!("The refresh token is in {}", file.display())),
        "{stdout}"
    );
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        format!("{REFRESH}\n")
    );
    // Written by root (as a sudo sign-in is): the output says whose the file should be.
    {
        use std::os::unix::fs::MetadataExt;
        let by_root = std::fs::metadata(&file).unwrap().uid() == 0;
        assert_eq!(
            stdout.contains("The file belongs to root"),
            by_root,
            "{stdout}"
        );
    }
    assert_eq!(
        provider.paths(),
        [
            "/tenant/oauth2/v2.0/devicecode",
            "/tenant/oauth2/v2.0/token",
            "/tenant/oauth2/v2.0/token"
        ]
    );
    for secret in [DEVICE_CODE, REFRESH, ACCESS] {
        assert!(
            !stdout.contains(secret) && !stderr.contains(secret),
            "{secret}"
        );
    }
    // Without the table: a usage error that says what is missing.
    let out = run_bin(
        &config,
        &["oauth2-login", "--section", "outbound"],
        None,
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("[outbound.oauth2] is not in the config"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `oauth2-login --browser`: the binary prints the provider's sign-in page; a browser
/// (this test) that comes back to the loopback address in it with the code ends the
/// sign-in, and the refresh token is kept.
#[test]
fn oauth2_login_with_a_browser_takes_the_code_on_a_loopback_port() {
    use std::io::{BufRead, BufReader, Write};
    let provider = Provider::start(vec![token_answer()]);
    let dir = tempfile::tempdir().unwrap();
    let config = provider.config(dir.path());
    let mut child = Command::new(env!("CARGO_BIN_EXE_closeloop"))
        .arg("--config")
        .arg(&config)
        .args(["oauth2-login", "--browser"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut shown = String::new();
    let page = loop {
        let mut line = String::new();
        assert!(
            stdout.read_line(&mut line).unwrap() > 0,
            "no page in: {shown}"
        );
        shown.push_str(&line);
        if let Some(page) = line.trim().strip_prefix("http://127.0.0.1:") {
            break format!("http://127.0.0.1:{page}");
        }
    };
    let authorize = format!(
        "http://127.0.0.1:{}/tenant/oauth2/v2.0/authorize?",
        provider.port
    );
    assert!(page.starts_with(&authorize), "{page}");
    let query: std::collections::HashMap<String, String> =
        form_urlencoded::parse(page.split_once('?').unwrap().1.as_bytes())
            .into_owned()
            .collect();
    let redirect = query["redirect_uri"]
        .trim_start_matches("http://")
        .trim_end_matches('/');
    // The browser comes back with the code.
    let mut tcp = std::net::TcpStream::connect(redirect).unwrap();
    write!(
        tcp,
        "GET /?code=cli-auth-code-77&state={} HTTP/1.1\r\nHost: {redirect}\r\nConnection: close\r\n\r\n",
        query["state"]
    )
    .unwrap();
    let mut answer = String::new();
    tcp.read_to_string(&mut answer).unwrap();
    assert!(answer.contains("You can close this tab"), "{answer}");
    let status = child.wait().unwrap();
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(status.success(), "{shown}{rest}\n{stderr}");
    assert!(rest.contains("The refresh token is in"), "{rest}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("refresh-token")).unwrap(),
        format!("{REFRESH}\n")
    );
    assert_eq!(provider.paths(), ["/tenant/oauth2/v2.0/token"]);
    for secret in [REFRESH, ACCESS, "cli-auth-code-77"] {
        let all = format!("{shown}{rest}{stderr}");
        assert!(!all.contains(secret), "{secret}");
    }
}
