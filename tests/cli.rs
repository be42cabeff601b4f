//! Command-line behaviour a user relies on: output commands end quietly when
//! their reader goes away, and usage errors exit 2 naming the problem.

mod common;

use std::io::Read;
use std::process::{Command, Stdio};

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
    let args = ingest_args(&d.dir.path().join("in"), &files);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    assert!(d.run(&args, None).status.success());

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
fn quarantine_lists_what_was_set_aside_with_the_reason_and_no_secret() {
    let d = Deployment::new("none");
    let secret = planted(4242)
        .into_iter()
        .find(|p| p.kind == "github-pat")
        .unwrap();
    let dir = d.dir.path().join("in");
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
    let args = ingest_args(&dir, &files);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    assert!(d.run(&args, None).status.success());

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
fn a_message_id_reused_with_other_bytes_is_named_in_the_log() {
    let d = Deployment::new("none");
    let dir = d.dir.path().join("in");
    let report = email(
        "bob@example.org",
        "odd bot",
        "r1@example.org",
        &[],
        "bot account",
    );
    let files = [
        report.clone(),
        // The same bytes again: a plain re-read, nothing to look at.
        report,
        // Another message under the same Message-ID: taken as the same, but named.
        email("eve@example.org", "nothing", "r1@example.org", &[], "hello"),
    ];
    let args = ingest_args(&dir, &files);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    // Info, as the daemon logs by default (one-shot commands log warnings only).
    let out = run_bin(&d.config_path, &args, None, &[("CLOSELOOP_LOG", "info")]);
    assert!(out.status.success());
    let log = String::from_utf8_lossy(&out.stderr);
    let named: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("has this Message-ID but other bytes"))
        .collect();
    assert_eq!(named.len(), 1, "{log}");
    assert!(named[0].contains("2.eml"), "{log}");
}

/// `ingest` and the messages written as `N.eml` files into `dir`.
fn ingest_args(dir: &std::path::Path, files: &[Vec<u8>]) -> Vec<String> {
    std::fs::create_dir_all(dir).unwrap();
    let mut args = vec!["ingest".to_string()];
    for (i, raw) in files.iter().enumerate() {
        let f = dir.join(format!("{i}.eml"));
        std::fs::write(&f, raw).unwrap();
        args.push(f.display().to_string());
    }
    args
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
