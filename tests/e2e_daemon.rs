//! End-to-end tests of `closeloop run` on real mail servers: each test starts its own
//! Dovecot + Postfix lab, a temp dir with a real SQLite file, and the real binary.
//! Run with CLOSELOOP_E2E=1 (tests/run.sh sets it); skipped otherwise.

mod harness;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use closeloop::outbox;
use harness::MailLab;

const SEC: (&str, &str) = ("security@example.org", "sec-pass");
const ALICE: (&str, &str) = ("alice@example.org", "alice-pass");
const BOB: (&str, &str) = ("bob@example.org", "bob-pass");
const LEAD: (&str, &str) = ("lead@example.org", "lead-pass");
const USERS: &[(&str, &str)] = &[SEC, ALICE, BOB, LEAD];
/// The env var the daemon reads the IMAP password from (not `CLOSELOOP_…`: those are config keys).
const PASSWORD_ENV: &str = "E2E_IMAP_PASSWORD";
const WAIT: Duration = Duration::from_secs(30);
const KEY: &str = "AKIAZ5Q3XH7PLMN4RT2W";

macro_rules! e2e_gate {
    () => {
        if !harness::e2e_enabled() {
            eprintln!("skipping: CLOSELOOP_E2E not set");
            return;
        }
    };
}

// ---- fixtures ----------------------------------------------------------------------------------

/// A lab, a temp dir with the config and the SQLite file.
struct Setup {
    lab: MailLab,
    dir: tempfile::TempDir,
    config: PathBuf,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Outbound {
    Smtp,
    /// SMTP, with a copy of every letter to the security mailbox (`outbound.journal`).
    SmtpWithCopies,
    /// Letters as files: for tests about intake only (no SMTP load).
    File,
}

impl Setup {
    fn new(outbound: Outbound) -> Setup {
        Setup::on(MailLab::start(USERS), outbound)
    }

    fn on(lab: MailLab, outbound: Outbound) -> Setup {
        let dir = tempfile::Builder::new()
            .prefix("cl-e2e-")
            .tempdir()
            .unwrap();
        let smtp = format!(
            "kind = \"smtp\"\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\nretry_after = \"1s\"\n",
            lab.smtp_port
        );
        let outbound = match outbound {
            Outbound::Smtp => smtp,
            Outbound::SmtpWithCopies => format!("{smtp}journal = \"{}\"\n", SEC.0),
            Outbound::File => format!(
                "kind = \"file\"\ndir = \"{}\"\n",
                dir.path().join("outbox").display()
            ),
        };
        let text = format!(
            r#"[database]
url = "sqlite://{db}"

[intake]
kind = "imap"
host = "127.0.0.1"
port = {imap}
tls = "none"
username = "{user}"
password_env = "{PASSWORD_ENV}"
mailbox = "INBOX"
processed_mailbox = "Processed"
poll_interval = "10m"
allowed_domains = ["example.org"]

[outbound]
from = "security@example.org"
{outbound}
[responders]
addresses = ["lead@example.org"]
auth = "dmarc"
trusted_authserv_id = "mx.example.org"

[http]
listen = ""
"#,
            db = dir.path().join("closeloop.db").display(),
            imap = lab.imap_port,
            user = SEC.0,
        );
        let config = dir.path().join("closeloop.toml");
        std::fs::write(&config, text).unwrap();
        Setup { lab, dir, config }
    }

    /// Replaces `from` with `to` in the config file; `from` must be there.
    fn edit_config(&self, from: &str, to: &str) {
        let text = std::fs::read_to_string(&self.config).unwrap();
        assert!(text.contains(from), "{from:?} not in the config:\n{text}");
        std::fs::write(&self.config, text.replacen(from, to, 1)).unwrap();
    }

    /// `closeloop run --once` with these environment overrides; it must succeed.
    fn run_once(&self, env: &[(&str, &str)]) {
        let out = self
            .command(&["run", "--once"])
            .envs(env.iter().copied())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn db_url(&self) -> String {
        format!(
            "sqlite://{}",
            self.dir.path().join("closeloop.db").display()
        )
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_closeloop"));
        c.arg("--config")
            .arg(&self.config)
            .args(args)
            .env(PASSWORD_ENV, SEC.1)
            .env_remove("CLOSELOOP_CONFIG")
            .env("CLOSELOOP_LOG", "info")
            .stdin(Stdio::null());
        c
    }

    fn start_daemon(&self, name: &str) -> Daemon {
        self.start_daemon_with(name, &[])
    }

    fn start_daemon_with(&self, name: &str, env: &[(&str, &str)]) -> Daemon {
        let log = self.dir.path().join(format!("{name}.log"));
        let file = std::fs::File::create(&log).unwrap();
        let child = self
            .command(&["run"])
            .envs(env.iter().copied())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .expect("cannot start closeloop");
        Daemon { child, log }
    }

    /// One number from the database (read while the daemon runs: WAL allows it).
    async fn count(&self, sql: &'static str) -> i64 {
        let store = closeloop::store::Store::connect(&self.db_url())
            .await
            .expect("open database");
        let n: i64 = sqlx::query_scalar(sql)
            .fetch_one(store.pool())
            .await
            .unwrap_or(-1);
        store.close().await;
        n
    }

    /// Waits until Postfix holds no message (everything delivered and recorded).
    async fn wait_postfix_queue_empty(&self) {
        let spool = self.lab.dir.join("postfix/spool");
        let deadline = Instant::now() + WAIT;
        loop {
            let queued: usize = ["maildrop", "incoming", "active", "deferred", "hold"]
                .iter()
                .map(|q| count_files(&spool.join(q)))
                .sum();
            if queued == 0 {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "Postfix still holds {queued} message(s) after {WAIT:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn execute(&self, sql: &'static str) {
        let store = closeloop::store::Store::connect(&self.db_url())
            .await
            .expect("open database");
        sqlx::query(sql).execute(store.pool()).await.expect(sql);
        store.close().await;
    }

    async fn wait_count(&self, sql: &'static str, want: impl Fn(i64) -> bool, what: &str) -> i64 {
        let deadline = Instant::now() + WAIT;
        loop {
            let n = if self.dir.path().join("closeloop.db").exists() {
                self.count(sql).await
            } else {
                -1
            };
            if want(n) {
                return n;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: `{sql}` is {n} after {WAIT:?}\n{}",
                self.lab.log_tail(20)
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn send(&self, from: &str, raw: &[u8]) {
        harness::smtp_send(self.lab.smtp_port, from, &[SEC.0], raw).await;
    }

    async fn mailbox(&self, user: (&str, &str), mailbox: &str) -> Vec<Vec<u8>> {
        harness::imap_fetch_all(self.lab.imap_port, user.0, user.1, mailbox).await
    }

    async fn wait_mail(&self, user: (&str, &str), mailbox: &str, n: usize) -> Vec<Vec<u8>> {
        harness::wait_for_count(self.lab.imap_port, user.0, user.1, mailbox, n, WAIT).await
    }

    /// APPENDs messages straight into the security mailbox (no SMTP needed).
    /// Each of `n` distinct messages is stored exactly once, as a report.
    async fn assert_each_stored_once(&self, n: usize) {
        let n = n as i64;
        assert_eq!(
            self.count("SELECT COUNT(*) FROM messages").await,
            n,
            "messages"
        );
        assert_eq!(
            self.count("SELECT COUNT(DISTINCT message_id) FROM messages")
                .await,
            n,
            "distinct Message-IDs"
        );
        assert_eq!(
            self.count("SELECT COUNT(*) FROM reports").await,
            n,
            "reports"
        );
    }

    async fn append(&self, raws: &[Vec<u8>]) {
        let mut s = harness::imap_login(self.lab.imap_port, SEC.0, SEC.1)
            .await
            .unwrap();
        for raw in raws {
            tokio::time::timeout(WAIT, s.append("INBOX", None, None, raw))
                .await
                .expect("APPEND timed out")
                .expect("APPEND");
        }
        s.logout().await.ok();
    }
}

struct Daemon {
    child: Child,
    log: PathBuf,
}

impl Daemon {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    async fn wait_log(&mut self, needle: &str) {
        let deadline = Instant::now() + WAIT;
        while !self.log().contains(needle) {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "daemon exited ({status}) before logging {needle:?}:\n{}",
                    self.log()
                );
            }
            assert!(
                Instant::now() < deadline,
                "daemon did not log {needle:?} within {WAIT:?}:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args(["-s", sig, &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -s {sig} failed");
    }

    /// Waits for the exit; returns its status and how long it took.
    async fn exit_within(&mut self, limit: Duration) -> (ExitStatus, Duration) {
        let began = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status, began.elapsed());
            }
            assert!(
                began.elapsed() < limit,
                "daemon still running {limit:?} after the signal:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn count_files(dir: &std::path::Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| {
            let p = e.path();
            if p.is_dir() {
                count_files(&p)
            } else {
                1
            }
        })
        .sum()
}

fn report(from: &str, n: usize, subject: &str, body: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: security@example.org\r\nSubject: {subject}\r\n\
         Message-ID: {}\r\nDate: Sun, 29 Nov 2026 01:00:00 +0000\r\n\
         Authentication-Results: mx.example.org; dmarc=pass header.from=example.org\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{}\r\n",
        message_id_of(from, n),
        body.replace('\n', "\r\n")
    )
    .into_bytes()
}

fn message_id_of(from: &str, n: usize) -> String {
    format!("<report-{n}-{from}>")
}

fn ids(msgs: &[Vec<u8>]) -> Vec<String> {
    msgs.iter()
        .map(|m| harness::header(m, "Message-ID"))
        .collect()
}

fn unique(msgs: &[Vec<u8>]) -> usize {
    ids(msgs).into_iter().collect::<BTreeSet<_>>().len()
}

fn subjects(msgs: &[Vec<u8>]) -> Vec<String> {
    msgs.iter().map(|m| harness::header(m, "Subject")).collect()
}

/// Alice and Bob report the same leaked key; the running daemon takes both in
/// through IDLE, acknowledges each and notifies the lead once per report.
async fn two_reports_acknowledged(s: &Setup, d: &mut Daemon) {
    d.wait_log("IMAP connected").await;
    d.wait_log("mailbox selected").await;
    let body = format!("I found this key in a public repo:\n{KEY}\nPlease check.");
    s.send(
        ALICE.0,
        &report(ALICE.0, 1, "Leaked key in repo foo", &body),
    )
    .await;
    s.send(BOB.0, &report(BOB.0, 2, "AWS key in a gist", &body))
        .await;
    // Polling is every 10 minutes: only IDLE can bring them in this fast.
    s.wait_count("SELECT COUNT(*) FROM reports", |n| n == 2, "reports")
        .await;
    assert_eq!(s.count("SELECT COUNT(*) FROM cases").await, 1, "one case");

    let alice = s.wait_mail(ALICE, "INBOX", 1).await;
    let bob = s.wait_mail(BOB, "INBOX", 1).await;
    for (got, who, n) in [(&alice, ALICE.0, 1), (&bob, BOB.0, 2)] {
        assert_eq!(got.len(), 1, "{who}: {:?}", subjects(got));
        let m = &got[0];
        assert!(harness::header(m, "Subject").contains("[CL-1]"), "{who}");
        assert_eq!(harness::header(m, "In-Reply-To"), message_id_of(who, n));
        let auto = harness::header(m, "Auto-Submitted");
        assert!(auto.starts_with("auto-"), "{who}: Auto-Submitted {auto:?}");
        assert!(!String::from_utf8_lossy(m).contains(KEY), "plaintext key");
    }
    let lead = s.wait_mail(LEAD, "INBOX", 1).await;
    assert!(subjects(&lead).iter().all(|s| s.contains("[CL-1]")));
    assert!(lead
        .iter()
        .all(|m| !String::from_utf8_lossy(m).contains(KEY)));
    // Both reports left the inbox for the processed folder.
    s.wait_mail(SEC, "Processed", 2).await;
    assert!(s.mailbox(SEC, "INBOX").await.is_empty());
}

// ---- the tests ---------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2e_reports_arrive_by_idle_and_are_acknowledged() {
    e2e_gate!();
    let s = Setup::new(Outbound::Smtp);
    // The most verbose level: no library's trace of the wire may carry a secret either.
    let mut d = s.start_daemon_with("daemon", &[("CLOSELOOP_LOG", "trace")]);
    two_reports_acknowledged(&s, &mut d).await;
    let log = d.log();
    assert!(
        log.contains("waiting=\"IDLE\"") || log.contains("waiting=IDLE"),
        "{log}"
    );
    assert!(log.contains("DEBUG"), "not logged at the level asked");
    assert!(!log.contains(SEC.1), "password in the log");
    assert!(!log.contains(KEY), "plaintext key in the log");
    // SIGTERM while idling: IDLE is interrupted, the exit is clean and quick.
    d.signal("TERM");
    let (status, took) = d.exit_within(Duration::from_secs(5)).await;
    assert!(status.success(), "exit status {status}:\n{}", d.log());
    eprintln!("stopped from IDLE in {took:?}");
}

/// `intake.auth`: SASL PLAIN with the password, XOAUTH2 and OAUTHBEARER with an access
/// token the identity provider signed; a forged, expired or someone else's token, or the password where a token
/// belongs, is refused with an error naming the user and the mechanism, never the token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2e_imap_signs_in_with_sasl_plain_or_an_oauth2_token() {
    e2e_gate!();
    let s = Setup::new(Outbound::File);
    let run_once = |auth: &str, secret: &str| {
        s.command(&["run", "--once"])
            .env("CLOSELOOP_INTAKE_AUTH", auth)
            .env(PASSWORD_ENV, secret)
            .output()
            .unwrap()
    };
    let refused = |auth: &str, secret: &str| {
        let out = run_once(auth, secret);
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(1), "{auth}: {err}");
        let want = format!("login as {} (intake.auth = \"{auth}\") refused", SEC.0);
        assert!(err.contains(&want), "{auth}: {err}");
        assert!(
            !err.contains(secret),
            "{auth}: the secret in the output: {err}"
        );
    };
    let provider = harness::OAUTH2_KEY;
    refused(
        "xoauth2",
        &harness::oauth2_token(SEC.0, 3600, b"not the provider's key"),
    );
    refused("xoauth2", &harness::oauth2_token(SEC.0, -120, provider));
    refused("xoauth2", &harness::oauth2_token(ALICE.0, 3600, provider));
    refused("xoauth2", SEC.1);
    refused(
        "oauthbearer",
        &harness::oauth2_token(SEC.0, 3600, b"not the provider's key"),
    );
    refused("oauthbearer", &harness::oauth2_token(SEC.0, -120, provider));
    refused("plain", "not-the-password");

    s.append(&[report(
        ALICE.0,
        1,
        "Key in a wiki page",
        &format!("Found {KEY} there."),
    )])
    .await;
    let token = harness::oauth2_token(SEC.0, 3600, provider);
    let out = run_once("xoauth2", &token);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(s.count("SELECT COUNT(*) FROM reports").await, 1);
    assert_eq!(s.mailbox(SEC, "Processed").await.len(), 1);

    s.append(&[report(
        BOB.0,
        2,
        "Key in a ticket",
        &format!("Found {KEY} again."),
    )])
    .await;
    let out = run_once("plain", SEC.1);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(s.count("SELECT COUNT(*) FROM reports").await, 2);
    assert!(s.mailbox(SEC, "INBOX").await.is_empty());

    s.append(&[report(
        ALICE.0,
        3,
        "Key in a chat",
        &format!("Found {KEY} in a chat."),
    )])
    .await;
    let out = run_once("oauthbearer", &token);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(s.count("SELECT COUNT(*) FROM reports").await, 3);
    assert!(s.mailbox(SEC, "INBOX").await.is_empty());
}

/// The daemon reads `password_file` again at each connection: when the access token there
/// has expired, it keeps retrying, and signs in once a refresher has written a fresh one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2e_the_daemon_signs_in_once_an_expired_token_is_replaced() {
    e2e_gate!();
    let s = Setup::new(Outbound::File);
    let token_file = s.dir.path().join("imap-token");
    let provider = harness::OAUTH2_KEY;
    let expired = harness::oauth2_token(SEC.0, -120, provider);
    std::fs::write(&token_file, format!("{expired}\n")).unwrap();
    s.edit_config(
        &format!("password_env = \"{PASSWORD_ENV}\""),
        &format!(
            "auth = \"xoauth2\"\npassword_file = \"{}\"",
            token_file.display()
        ),
    );
    s.append(&[report(
        ALICE.0,
        1,
        "Key in a wiki page",
        &format!("Found {KEY} there."),
    )])
    .await;

    let mut d = s.start_daemon("daemon");
    d.wait_log("refused").await;
    d.wait_log("reconnecting").await;
    assert_eq!(s.count("SELECT COUNT(*) FROM reports").await, 0);
    let fresh = harness::oauth2_token(SEC.0, 3600, provider);
    std::fs::write(&token_file, format!("{fresh}\n")).unwrap();
    d.wait_log("IMAP connected").await;
    s.wait_count("SELECT COUNT(*) FROM reports", |n| n == 1, "reports")
        .await;
    let log = d.log();
    assert!(
        log.contains("auth=\"xoauth2\"") || log.contains("auth=xoauth2"),
        "{log}"
    );
    for secret in [expired.as_str(), fresh.as_str(), KEY] {
        assert!(!log.contains(secret), "a secret in the log: {log}");
    }
}

/// Letters through an SMTP server that relays only after AUTH: with `outbound.auth =
/// "xoauth2"` a refused (expired) token keeps the acknowledgement pending, with the reason,
/// instead of failing it; once the token file holds a fresh token the retry sends it. With
/// `auth = "password"` the user's password signs in. No secret reaches the output.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2e_letters_go_out_through_smtp_auth_with_a_token_or_a_password() {
    e2e_gate!();
    let s = Setup::new(Outbound::Smtp);
    let token_file = s.dir.path().join("smtp-token");
    let password_file = s.dir.path().join("smtp-password");
    std::fs::write(&password_file, format!("{}\n", SEC.1)).unwrap();
    // Without AUTH the submission port relays nothing.
    let m = harness::simple_message(SEC.0, ALICE.0, "no auth", "x");
    let err = harness::try_smtp_send(s.lab.submission_port, SEC.0, &[ALICE.0], &m).await;
    assert!(err.is_err(), "relayed without AUTH");
    let provider = harness::OAUTH2_KEY;
    let expired = harness::oauth2_token(SEC.0, -120, provider);
    std::fs::write(&token_file, &expired).unwrap();
    s.edit_config(
        &format!("port = {}\n", s.lab.smtp_port),
        &format!(
            "port = {}\nusername = \"{}\"\nauth = \"xoauth2\"\npassword_file = \"{}\"\n",
            s.lab.submission_port,
            SEC.0,
            token_file.display()
        ),
    );
    let run_once = |env: &[(&str, &str)]| {
        let out = s
            .command(&["run", "--once"])
            .envs(env.iter().copied())
            .output()
            .unwrap();
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "{all}");
        all
    };

    s.append(&[report(
        ALICE.0,
        1,
        "Key in a wiki page",
        &format!("Found {KEY} there."),
    )])
    .await;
    let out = run_once(&[]);
    assert!(!out.contains(&expired), "the token in the output: {out}");
    assert!(
        out.contains("AUTH as security@example.org with an OAuth2 token"),
        "{out}"
    );
    let waiting = "SELECT COUNT(*) FROM letters WHERE status = 'pending' AND last_error \
                   LIKE '%AUTH as security@example.org (outbound.auth = \"xoauth2\") refused%'";
    assert!(s.count(waiting).await >= 1, "{out}");
    assert_eq!(
        s.count("SELECT COUNT(*) FROM letters WHERE status = 'failed'")
            .await,
        0
    );

    // check-config says the same, naming the part.
    let check = |want: &str, secret: &str| {
        let out = s.command(&["check-config"]).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            text.lines()
                .any(|l| l.contains(" smtp ") && l.contains(want)),
            "no smtp line with {want:?}:\n{text}"
        );
        assert!(!text.contains(secret), "a secret printed:\n{text}");
    };
    check("refused", &expired);

    let fresh = harness::oauth2_token(SEC.0, 3600, provider);
    std::fs::write(&token_file, &fresh).unwrap();
    check("login accepted", &fresh);
    tokio::time::sleep(Duration::from_millis(1500)).await; // outbound.retry_after = 1s
    let out = run_once(&[]);
    assert!(!out.contains(&fresh), "the token in the output: {out}");
    let ack = s.wait_mail(ALICE, "INBOX", 1).await;
    assert!(harness::header(&ack[0], "Subject").contains("[CL-1]"));

    s.append(&[report(
        BOB.0,
        2,
        "Key in a ticket",
        &format!("Found {KEY} again."),
    )])
    .await;
    let password_file = password_file.display().to_string();
    let out = run_once(&[
        ("CLOSELOOP_OUTBOUND_AUTH", "password"),
        ("CLOSELOOP_OUTBOUND_PASSWORD_FILE", &password_file),
    ]);
    assert!(!out.contains(SEC.1), "the password in the output: {out}");
    s.wait_mail(BOB, "INBOX", 1).await;

    // AUTH OAUTHBEARER with the same token; a refused one waits like XOAUTH2's.
    s.append(&[report(
        ALICE.0,
        3,
        "A bot token",
        "A bot token is in the wiki.",
    )])
    .await;
    std::fs::write(&token_file, &expired).unwrap();
    let out = run_once(&[("CLOSELOOP_OUTBOUND_AUTH", "oauthbearer")]);
    let refused = "SELECT COUNT(*) FROM letters WHERE status = 'pending' AND last_error \
                   LIKE '%(outbound.auth = \"oauthbearer\") refused%'";
    assert!(s.count(refused).await >= 1, "{out}");
    std::fs::write(&token_file, &fresh).unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await; // outbound.retry_after = 1s
    let out = run_once(&[("CLOSELOOP_OUTBOUND_AUTH", "oauthbearer")]);
    assert!(!out.contains(&fresh), "the token in the output: {out}");
    s.wait_mail(ALICE, "INBOX", 2).await;
    assert_eq!(
        s.count("SELECT COUNT(*) FROM letters WHERE status = 'failed'")
            .await,
        0
    );
}

/// closeloop obtains its own tokens: `[intake.oauth2]` and `[outbound.oauth2]` point at the
/// lab's token endpoint (HTTPS, its CA trusted through SSL_CERT_FILE). A wrong client
/// secret: check-config names the endpoint's refusal. With the right one the daemon signs
/// into Dovecot and the submission port with the tokens it obtained; the first token of each
/// scope has been revoked, and when Dovecot or Postfix refuses it the daemon asks for a
/// fresh one instead of trying the refused one again. No secret and no token reaches any output,
/// the log at trace level included, or the database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2e_the_daemon_obtains_its_own_oauth2_tokens() {
    e2e_gate!();
    const CLIENT_SECRET: &str = "cl-lab~Client.Secret_7f3e9a";
    let s = Setup::on(MailLab::start_with_tls(USERS), Outbound::Smtp);
    let ca = s.lab.tls.clone().unwrap().ca_file.display().to_string();
    let endpoint = harness::TokenEndpoint::start(
        &s.lab,
        harness::OAuth2Client {
            id: "closeloop-app",
            secret: CLIENT_SECRET,
            user: SEC.0,
            revoked_first: 1,
        },
        true,
    )
    .await;
    let secret_file = s.dir.path().join("client-secret");
    std::fs::write(&secret_file, "not-the-secret\n").unwrap();
    s.edit_config(
        &format!("password_env = \"{PASSWORD_ENV}\""),
        "auth = \"xoauth2\"",
    );
    s.edit_config(
        &format!("port = {}\n", s.lab.smtp_port),
        &format!(
            "port = {}\nusername = \"{}\"\nauth = \"xoauth2\"\n",
            s.lab.submission_port, SEC.0
        ),
    );
    const IMAP_SCOPE: &str = "https://outlook.office365.com/IMAP.AccessAsUser.All";
    const SMTP_SCOPE: &str = "https://outlook.office365.com/SMTP.Send";
    let table = |section: &str, scope: &str| {
        format!(
            "\n[{section}.oauth2]\ntoken_url = \"{}\"\nclient_id = \"closeloop-app\"\n\
             scope = \"{scope}\"\nclient_secret_file = \"{}\"\n",
            endpoint.url,
            secret_file.display()
        )
    };
    let mut text = std::fs::read_to_string(&s.config).unwrap();
    text.push_str(&table("intake", IMAP_SCOPE));
    text.push_str(&table("outbound", SMTP_SCOPE));
    std::fs::write(&s.config, text).unwrap();

    let out = s
        .command(&["check-config"])
        .env("SSL_CERT_FILE", &ca)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(out.status.code(), Some(1), "{text}");
    for part in [" imap ", " smtp "] {
        assert!(
            text.lines().any(|l| l.starts_with("FAIL")
                && l.contains(part)
                && l.contains(&format!("oauth2: token endpoint {}", endpoint.url))
                && l.contains("invalid_client: AADSTS7000215")),
            "no FAIL line for{part}naming the endpoint's refusal:\n{text}"
        );
    }
    assert!(endpoint.issued().is_empty());

    std::fs::write(&secret_file, format!("{CLIENT_SECRET}\n")).unwrap();
    s.append(&[report(
        ALICE.0,
        1,
        "Key in a wiki page",
        &format!("Found {KEY} there."),
    )])
    .await;
    let mut d = s.start_daemon_with(
        "daemon",
        &[("SSL_CERT_FILE", ca.as_str()), ("CLOSELOOP_LOG", "trace")],
    );
    d.wait_log("OAuth2 access token obtained").await;
    d.wait_log("IMAP connected").await;
    s.wait_count("SELECT COUNT(*) FROM reports", |n| n == 1, "reports")
        .await;
    let ack = s.wait_mail(ALICE, "INBOX", 1).await;
    assert!(harness::header(&ack[0], "Subject").contains("[CL-1]"));
    d.signal("TERM");
    d.exit_within(Duration::from_secs(10)).await;

    let log = d.log();
    assert!(
        log.contains("refused"),
        "the revoked token was not refused: {log}"
    );
    // For each scope: the revoked token, refused, then one fresh token.
    let issued = endpoint.issued();
    for scope in [IMAP_SCOPE, SMTP_SCOPE] {
        let n = issued.iter().filter(|(s, _)| s == scope).count();
        assert_eq!(n, 2, "{scope}: {n} tokens issued\n{log}");
    }
    assert_eq!(issued.len(), 4, "{issued:?}");
    let issued: Vec<&str> = issued.iter().map(|(_, t)| t.as_str()).collect();
    let mut stored = Vec::new();
    for name in ["closeloop.db", "closeloop.db-wal"] {
        stored.extend(std::fs::read(s.dir.path().join(name)).unwrap_or_default());
    }
    let stored = String::from_utf8_lossy(&stored);
    for secret in issued.into_iter().chain([CLIENT_SECRET]) {
        for (what, text) in [
            ("log", log.as_str()),
            ("check-config", &text),
            ("database", &stored),
        ] {
            assert!(!text.contains(secret), "a secret in the {what}: {secret}");
        }
    }
}

/// `oauth2-login` signs in once by the device code grant against the lab's identity
/// provider (a public client, over HTTPS with the lab's CA) and writes the refresh token;
/// `run --once` then reads the security mailbox on the real Dovecot with access tokens it
/// renews from that refresh token. No token or device code reaches any output.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2e_oauth2_login_gives_the_daemon_a_refresh_token_it_signs_in_with() {
    e2e_gate!();
    let s = Setup::on(MailLab::start_with_tls(USERS), Outbound::File);
    let ca = s.lab.tls.clone().unwrap().ca_file.display().to_string();
    let endpoint = harness::TokenEndpoint::start(
        &s.lab,
        harness::OAuth2Client {
            id: "closeloop-public",
            secret: "",
            user: SEC.0,
            revoked_first: 0,
        },
        true,
    )
    .await;
    let refresh_file = s.dir.path().join("refresh-token");
    s.edit_config(
        &format!("password_env = \"{PASSWORD_ENV}\""),
        "auth = \"xoauth2\"",
    );
    let mut text = std::fs::read_to_string(&s.config).unwrap();
    text.push_str(&format!(
        "\n[intake.oauth2]\ntoken_url = \"{}\"\nclient_id = \"closeloop-public\"\n\
         scope = \"https://outlook.office365.com/IMAP.AccessAsUser.All offline_access\"\n\
         refresh_token_file = \"{}\"\n",
        endpoint.url,
        refresh_file.display()
    ));
    std::fs::write(&s.config, text).unwrap();

    // Before the sign-in the start says what to do.
    let out = s
        .command(&["run", "--once"])
        .env("SSL_CERT_FILE", &ca)
        .output()
        .unwrap();
    let before = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!out.status.success(), "{before}");
    assert!(
        before.contains("closeloop oauth2-login --section intake"),
        "{before}"
    );

    let login = s
        .command(&["oauth2-login", "--section", "intake"])
        .env("SSL_CERT_FILE", &ca)
        .env("CLOSELOOP_LOG", "trace")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&login.stdout).to_string();
    let stderr = String::from_utf8_lossy(&login.stderr).to_string();
    assert!(login.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("  LAB-C0DE\n"), "{stdout}");
    let refresh = endpoint.refresh_tokens.lock().unwrap().clone();
    assert_eq!(refresh.len(), 1);
    assert_eq!(
        std::fs::read_to_string(&refresh_file).unwrap(),
        format!("{}\n", refresh[0])
    );

    s.append(&[report(
        ALICE.0,
        1,
        "Key in a runbook",
        &format!("Found {KEY} there."),
    )])
    .await;
    let once = s
        .command(&["run", "--once"])
        .env("SSL_CERT_FILE", &ca)
        .env("CLOSELOOP_LOG", "trace")
        .output()
        .unwrap();
    let once_log = String::from_utf8_lossy(&once.stderr).to_string();
    assert!(once.status.success(), "{once_log}");
    s.wait_count("SELECT COUNT(*) FROM reports", |n| n == 1, "reports")
        .await;
    // The device grant's token, then one from the refresh token for the mailbox.
    let issued = endpoint.issued();
    assert_eq!(issued.len(), 2, "{issued:?}");

    let mut stored = Vec::new();
    for name in ["closeloop.db", "closeloop.db-wal"] {
        stored.extend(std::fs::read(s.dir.path().join(name)).unwrap_or_default());
    }
    let stored = String::from_utf8_lossy(&stored).to_string();
    let secrets: Vec<&str> = issued
        .iter()
        .map(|(_, t)| t.as_str())
        .chain(refresh.iter().map(String::as_str))
        .chain([harness::DEVICE_CODE])
        .collect();
    for secret in secrets {
        for (what, text) in [
            ("oauth2-login output", &stdout),
            ("oauth2-login log", &stderr),
            ("run --once log", &once_log),
            ("database", &stored),
        ] {
            assert!(!text.contains(secret), "a secret in the {what}: {secret}");
        }
    }
}

/// A relay that refuses letters by policy (here 554 5.7.1: closeloop did not sign in)
/// refuses every letter alike: they wait with the reason instead of failing for good, and
/// go out once the setup is fixed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2e_a_policy_refusal_keeps_letters_until_the_setup_is_fixed() {
    e2e_gate!();
    let s = Setup::new(Outbound::Smtp);
    let submission = format!("port = {}\n", s.lab.submission_port);
    s.edit_config(&format!("port = {}\n", s.lab.smtp_port), &submission);
    s.append(&[report(
        ALICE.0,
        1,
        "Key in a wiki page",
        &format!("Found {KEY} there."),
    )])
    .await;
    s.run_once(&[]);
    assert_eq!(
        s.count("SELECT COUNT(*) FROM letters WHERE status = 'failed'")
            .await,
        0
    );
    assert!(
        s.count(
            "SELECT COUNT(*) FROM letters WHERE status = 'pending' AND last_error LIKE '%5.7.1%'"
        )
        .await
            >= 1
    );
    // `case show` says why they wait.
    let out = s.command(&["case", "show", "CL-1"]).output().unwrap();
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        shown.contains("pending") && shown.contains("last try: permanent error (554): 5.7.1"),
        "{shown}"
    );
    let out = s
        .command(&["case", "show", "CL-1", "--json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        v["letters"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["status"] == "pending"
                && l["last_error"]
                    .as_str()
                    .is_some_and(|e| e.contains("5.7.1"))),
        "{v}"
    );
    // The fix: sign in. The waiting letters go out on their next try.
    let password_file = s.dir.path().join("smtp-password");
    std::fs::write(&password_file, SEC.1).unwrap();
    s.edit_config(
        &submission,
        &format!(
            "{submission}username = \"{}\"\npassword_file = \"{}\"\n",
            SEC.0,
            password_file.display()
        ),
    );
    tokio::time::sleep(Duration::from_millis(1500)).await; // outbound.retry_after = 1s
    s.run_once(&[]);
    let ack = s.wait_mail(ALICE, "INBOX", 1).await;
    assert!(harness::header(&ack[0], "Subject").contains("[CL-1]"));
    s.wait_mail(LEAD, "INBOX", 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2e_responder_reply_resolves_and_every_reporter_gets_the_outcome() {
    e2e_gate!();
    let s = Setup::new(Outbound::Smtp);
    let mut d = s.start_daemon("daemon");
    two_reports_acknowledged(&s, &mut d).await;
    let lead = s.mailbox(LEAD, "INBOX").await;
    let notify_id = harness::header(&lead[0], "Message-ID");
    let reply = format!(
        "From: lead@example.org\r\nTo: security@example.org\r\n\
         Subject: Re: Leaked key in repo foo [CL-1]\r\nMessage-ID: <reply-1.lead@example.org>\r\n\
         In-Reply-To: {notify_id}\r\nDate: Sun, 29 Nov 2026 01:05:00 +0000\r\n\
         Authentication-Results: mx.example.org; dmarc=pass header.from=example.org\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         classify secret-leak\r\naction revoked the key\r\nresolve remediated\r\n"
    );
    s.send(LEAD.0, reply.as_bytes()).await;
    s.wait_count(
        "SELECT COUNT(*) FROM cases WHERE status = 'resolved'",
        |n| n == 1,
        "resolved case",
    )
    .await;
    for (who, n) in [(ALICE, 1), (BOB, 2)] {
        let got = s.wait_mail(who, "INBOX", 2).await;
        assert_eq!(
            got.len(),
            2,
            "{}: ack + outcome: {:?}",
            who.0,
            subjects(&got)
        );
        assert!(
            got.iter()
                .all(|m| harness::header(m, "In-Reply-To") == message_id_of(who.0, n)),
            "{}: not threaded under the report",
            who.0
        );
        let outcome = got
            .iter()
            .find(|m| String::from_utf8_lossy(m).contains("revoked the key"))
            .unwrap_or_else(|| panic!("{}: no outcome letter: {:?}", who.0, subjects(&got)));
        assert!(harness::header(outcome, "References").contains(&message_id_of(who.0, n)));
        assert!(!String::from_utf8_lossy(outcome).contains(KEY));
    }
    // The lead got a confirmation of the applied block.
    s.wait_mail(LEAD, "INBOX", 2).await;
    // Recorded as sent: Postfix can deliver a letter before the sender has written down
    // that the server took it, so this is waited for, not read once.
    s.wait_count(
        "SELECT COUNT(*) FROM letters WHERE kind = 'outcome' AND status = 'sent'",
        |n| n == 2,
        "both outcome letters recorded as sent",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2e_sigkill_mid_batch_loses_and_duplicates_nothing() {
    e2e_gate!();
    const N: usize = 200;
    let s = Setup::new(Outbound::File);
    let raws: Vec<Vec<u8>> = (0..N)
        .map(|i| {
            report(
                ALICE.0,
                i,
                &format!("Finding {i}"),
                &format!("Suspicious token use number {i} on host build-{i}."),
            )
        })
        .collect();
    s.append(&raws).await;
    let mut d = s.start_daemon("first");
    // Kill as soon as the first batch is committed: the next one is in hand.
    let seen = s
        .wait_count("SELECT COUNT(*) FROM messages", |n| n > 0, "first batch")
        .await;
    d.signal("KILL");
    let (status, _) = d.exit_within(Duration::from_secs(5)).await;
    assert!(!status.success());
    let at_kill = s.count("SELECT COUNT(*) FROM messages").await;
    eprintln!("killed with {seen}..{at_kill} of {N} messages committed");

    let _d = s.start_daemon("second");
    s.wait_count(
        "SELECT COUNT(*) FROM messages",
        |n| n >= N as i64,
        "all messages",
    )
    .await;
    let processed = s.wait_mail(SEC, "Processed", N).await;
    // Give a duplicate move or ingest the chance to show up.
    tokio::time::sleep(Duration::from_millis(500)).await;
    s.assert_each_stored_once(N).await;
    let processed_now = s.mailbox(SEC, "Processed").await;
    assert_eq!(processed_now.len(), N, "processed folder holds each once");
    assert_eq!(unique(&processed), N);
    let want: BTreeSet<String> = (0..N).map(|i| message_id_of(ALICE.0, i)).collect();
    assert_eq!(
        ids(&processed_now).into_iter().collect::<BTreeSet<_>>(),
        want
    );
    assert!(s.mailbox(SEC, "INBOX").await.is_empty(), "INBOX not empty");
}

/// The worst moment for a crash: the SMTP server has taken a letter and the daemon dies
/// before recording it. The copy of that letter (`outbound.journal`) comes back into the
/// security mailbox and settles it: marked sent, not sent again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2e_a_letter_taken_by_smtp_just_before_a_crash_is_not_sent_twice() {
    e2e_gate!();
    let s = Setup::new(Outbound::SmtpWithCopies);
    s.send(
        ALICE.0,
        &report(
            ALICE.0,
            1,
            "Key in a build log",
            &format!("Found {KEY} in the log."),
        ),
    )
    .await;
    // Two letters (ack to Alice, notification to the lead); the daemon dies right after
    // the server took the second, before recording it.
    let mut d = s.start_daemon_with("crash", &[(outbox::FAULT_KILL_AFTER_SEND_ENV, "2")]);
    let (status, _) = d.exit_within(WAIT).await;
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        status.signal(),
        Some(9),
        "not killed by the fault:\n{}",
        d.log()
    );
    assert_eq!(s.count("SELECT COUNT(*) FROM letters").await, 2);
    assert_eq!(
        s.count("SELECT COUNT(*) FROM letters WHERE status = 'sent'")
            .await,
        1,
        "the first send is recorded"
    );
    assert_eq!(
        s.count(
            "SELECT COUNT(*) FROM letters WHERE status = 'pending' AND claimed_until IS NOT NULL"
        )
        .await,
        1,
        "the second is in doubt: handed over, not recorded"
    );

    // Its claim lasts two minutes, so nobody may send it again before then: within
    // WAIT it can only become `sent` through its copy.
    let mut d = s.start_daemon("after");
    s.wait_count(
        "SELECT COUNT(*) FROM letters WHERE status = 'sent' AND confirmed_at IS NOT NULL",
        |n| n == 2,
        "both letters confirmed by their copies",
    )
    .await;
    d.wait_log("marked sent, not sent again").await;
    assert_eq!(
        s.count("SELECT COUNT(*) FROM messages WHERE disposition = 'letter-copy'")
            .await,
        2
    );
    s.wait_postfix_queue_empty().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let acks = s.mailbox(ALICE, "INBOX").await;
    let notes = s.mailbox(LEAD, "INBOX").await;
    assert_eq!(
        (acks.len(), notes.len()),
        (1, 1),
        "each letter arrives once"
    );
    // The copies are filed with the processed mail; no report or case came of them.
    assert!(s.mailbox(SEC, "INBOX").await.is_empty());
    assert_eq!(s.mailbox(SEC, "Processed").await.len(), 3);
    assert_eq!(s.count("SELECT COUNT(*) FROM cases").await, 1);
    assert_eq!(s.count("SELECT COUNT(*) FROM reports").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2e_recovers_from_imap_restart_and_smtp_outage() {
    e2e_gate!();
    let s = Setup::new(Outbound::Smtp);
    let mut d = s.start_daemon("daemon");
    d.wait_log("mailbox selected").await;

    // IMAP goes away while the daemon idles; a report arrives meanwhile (queued by Postfix).
    s.lab.stop_imap();
    d.wait_log("reconnecting").await;
    s.send(
        ALICE.0,
        &report(
            ALICE.0,
            1,
            "Key in CI log",
            &format!("Found {KEY} in a CI log."),
        ),
    )
    .await;
    s.lab.start_imap();
    let alice = s.wait_mail(ALICE, "INBOX", 1).await;
    assert_eq!(
        harness::header(&alice[0], "In-Reply-To"),
        message_id_of(ALICE.0, 1)
    );
    s.wait_mail(LEAD, "INBOX", 1).await;

    // SMTP is down while the next letters are due. Stop it only once its queue
    // is empty: Postfix stopped mid-delivery would deliver a message twice itself.
    s.wait_postfix_queue_empty().await;
    s.lab.stop_smtp();
    s.append(&[report(
        BOB.0,
        2,
        "Bot account misbehaving",
        "The deploy bot account pushed to main at 3am.",
    )])
    .await;
    s.wait_count(
        "SELECT COUNT(*) FROM letters WHERE status = 'pending' AND attempts > 0",
        |n| n >= 2,
        "letters retried while SMTP is down",
    )
    .await;
    s.lab.start_smtp();
    let bob = s.wait_mail(BOB, "INBOX", 1).await;
    assert_eq!(
        harness::header(&bob[0], "In-Reply-To"),
        message_id_of(BOB.0, 2)
    );
    s.wait_mail(LEAD, "INBOX", 2).await;
    s.wait_count(
        "SELECT COUNT(*) FROM letters WHERE status <> 'sent'",
        |n| n == 0,
        "every letter sent",
    )
    .await;

    // Exactly once, counted by Message-ID in each mailbox, after the next outbox passes.
    tokio::time::sleep(Duration::from_secs(3)).await;
    s.lab.flush_smtp_queue();
    let letters = s.count("SELECT COUNT(*) FROM letters").await as usize;
    let mut delivered = 0;
    for who in [ALICE, BOB, LEAD] {
        let got = s.mailbox(who, "INBOX").await;
        assert_eq!(
            unique(&got),
            got.len(),
            "{}: duplicates {:?}",
            who.0,
            ids(&got)
        );
        delivered += got.len();
    }
    assert_eq!(delivered, letters, "every letter arrived exactly once");
    assert_eq!(s.mailbox(SEC, "Processed").await.len(), 2);
    assert!(s.mailbox(SEC, "INBOX").await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2e_sigterm_during_work_exits_cleanly() {
    e2e_gate!();
    let s = Setup::new(Outbound::File);
    let raws: Vec<Vec<u8>> = (0..150)
        .map(|i| {
            report(
                ALICE.0,
                i,
                &format!("Finding {i}"),
                "A token was seen in a log.",
            )
        })
        .collect();
    s.append(&raws).await;
    let mut d = s.start_daemon("daemon");
    s.wait_count("SELECT COUNT(*) FROM messages", |n| n > 0, "work started")
        .await;
    d.signal("TERM");
    let (status, took) = d.exit_within(Duration::from_secs(5)).await;
    assert!(status.success(), "exit status {status}:\n{}", d.log());
    eprintln!("stopped in {took:?}");
    assert!(d.log().contains("stopped"), "{}", d.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2e_check_config_reports_each_part() {
    e2e_gate!();
    let s = Setup::new(Outbound::Smtp);
    let out = s.command(&["check-config"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for part in ["database", "imap", "smtp"] {
        assert!(
            text.lines()
                .any(|l| l.starts_with("ok") && l.contains(&format!(" {part} "))),
            "no ok line for {part}:\n{text}"
        );
    }
    assert!(!text.contains(SEC.1), "password printed");

    s.lab.stop_imap();
    let out = s.command(&["check-config"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("FAIL") && l.contains(" imap ")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("ok") && l.contains(" smtp ")),
        "{text}"
    );
}

/// The Maildir intake on a mailbox Dovecot serves: reports delivered by Postfix into the
/// security mailbox's Maildir are ingested from it, and their files move to the Maildir++
/// folder `.Processed`, which an IMAP client of the same mailbox sees as "Processed";
/// INBOX is left empty.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2e_maildir_intake_files_processed_mail_where_imap_clients_see_it() {
    e2e_gate!();
    let s = Setup::new(Outbound::File);
    for n in 1..=2 {
        s.send(
            ALICE.0,
            &report(
                ALICE.0,
                n,
                &format!("Key {n}"),
                &format!("Found {KEY} ({n})."),
            ),
        )
        .await;
    }
    s.wait_mail(SEC, "INBOX", 2).await;
    let maildir = s.lab.maildir(SEC.0).display().to_string();
    s.run_once(&[
        ("CLOSELOOP_INTAKE_KIND", "maildir"),
        ("CLOSELOOP_INTAKE_DIR", &maildir),
    ]);
    assert_eq!(s.count("SELECT COUNT(*) FROM reports").await, 2);
    let processed = s.mailbox(SEC, "Processed").await;
    assert_eq!(ids(&processed).len(), 2, "{:?}", subjects(&processed));
    assert!(s.mailbox(SEC, "INBOX").await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2e_run_once_drains_and_quarantines_oversized_messages() {
    e2e_gate!();
    let s = Setup::new(Outbound::File);
    let big = "A line of a very long log that was pasted into the report.\n".repeat(2_000);
    s.append(&[
        report(ALICE.0, 1, "Small one", "A token was seen in a log."),
        report(ALICE.0, 2, "Huge paste", &big),
        report(
            BOB.0,
            3,
            "Another small one",
            "The deploy bot did odd things.",
        ),
    ])
    .await;
    s.run_once(&[("CLOSELOOP_INTAKE_MAX_MESSAGE_BYTES", "8192")]);
    assert_eq!(s.count("SELECT COUNT(*) FROM messages").await, 3);
    assert_eq!(s.count("SELECT COUNT(*) FROM reports").await, 2);
    assert_eq!(
        s.count(
            "SELECT COUNT(*) FROM messages WHERE disposition = 'quarantined' \
             AND reason LIKE '%over intake.max_message_bytes%' AND size > 100000"
        )
        .await,
        1,
        "the oversized message is quarantined with its real size and the reason"
    );
    assert_eq!(s.mailbox(SEC, "Processed").await.len(), 3);
    assert!(s.mailbox(SEC, "INBOX").await.is_empty());
    // A second drain finds nothing new and changes nothing.
    s.run_once(&[]);
    assert_eq!(s.count("SELECT COUNT(*) FROM messages").await, 3);
    assert_eq!(s.count("SELECT MAX(last_uid) FROM mailbox_state").await, 3);

    // A message at or below the remembered UID was committed before a crash:
    // it is moved, not read again.
    s.append(&[report(ALICE.0, 4, "Committed before a crash", "x")])
        .await;
    s.execute("UPDATE mailbox_state SET last_uid = 4").await;
    s.run_once(&[]);
    assert_eq!(s.count("SELECT COUNT(*) FROM messages").await, 3);
    assert_eq!(s.mailbox(SEC, "Processed").await.len(), 4);
    assert!(s.mailbox(SEC, "INBOX").await.is_empty());

    // A changed UIDVALIDITY makes the next drain start again from UID 1.
    s.append(&[report(BOB.0, 5, "After a UIDVALIDITY change", "y")])
        .await;
    s.execute("UPDATE mailbox_state SET uidvalidity = 1, last_uid = 99")
        .await;
    s.run_once(&[]);
    assert_eq!(s.count("SELECT COUNT(*) FROM messages").await, 4);
    assert_eq!(s.mailbox(SEC, "Processed").await.len(), 5);
    assert!(s.mailbox(SEC, "INBOX").await.is_empty());
}

/// Servers without MOVE (the contract: "flagged `\\Seen` + keyword where MOVE is
/// missing"). With UIDPLUS, committed mail is copied to the processed folder and exactly
/// those messages are expunged (UID EXPUNGE). Without UIDPLUS a plain EXPUNGE would also
/// remove mail someone else marked `\\Deleted`, possibly not yet read: each message is
/// copied and left in place flagged `\\Seen` and `$Closeloop-Processed`, and a restart
/// neither reads it again nor copies it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2e_without_move_committed_mail_is_copied_and_nothing_else_expunged() {
    e2e_gate!();
    let s = Setup::new(Outbound::File);
    let plain = "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ NAMESPACE";
    s.lab.offer_imap_capabilities(&format!("{plain} UIDPLUS"));
    let caps = harness::imap_capabilities(s.lab.imap_port, SEC.0, SEC.1).await;
    assert!(
        !caps.iter().any(|c| c == "MOVE") && caps.iter().any(|c| c == "UIDPLUS"),
        "{caps:?}"
    );
    s.append(&[
        report(ALICE.0, 1, "First", "A token was seen in a log."),
        report(BOB.0, 2, "Second", "The deploy bot did odd things."),
    ])
    .await;
    s.run_once(&[]);
    assert_eq!(s.count("SELECT COUNT(*) FROM reports").await, 2);
    assert_eq!(
        subjects(&s.mailbox(SEC, "Processed").await),
        ["First", "Second"]
    );
    assert!(s.mailbox(SEC, "INBOX").await.is_empty());

    s.lab.offer_imap_capabilities(plain);
    let caps = harness::imap_capabilities(s.lab.imap_port, SEC.0, SEC.1).await;
    assert!(
        !caps.iter().any(|c| c == "MOVE" || c == "UIDPLUS"),
        "{caps:?}"
    );
    s.append(&[report(
        ALICE.0,
        3,
        "Third",
        "A service account signed in at 3 am.",
    )])
    .await;
    s.run_once(&[]);
    let processed = ["First", "Second", "Third"];
    assert_eq!(s.count("SELECT COUNT(*) FROM reports").await, 3);
    assert_eq!(subjects(&s.mailbox(SEC, "Processed").await), processed);
    let inbox = harness::imap_subjects_and_flags(s.lab.imap_port, SEC.0, SEC.1, "INBOX").await;
    assert_eq!(inbox.len(), 1, "{inbox:?}");
    assert_eq!(inbox[0].0, "Third");
    for flag in ["\\Seen", "$Closeloop-Processed"] {
        assert!(inbox[0].1.iter().any(|f| f == flag), "{inbox:?}");
    }
    assert!(!inbox[0].1.iter().any(|f| f == "\\Deleted"), "{inbox:?}");
    // Committed mail left in place is neither read nor copied again.
    s.run_once(&[]);
    assert_eq!(s.count("SELECT COUNT(*) FROM messages").await, 3);
    assert_eq!(subjects(&s.mailbox(SEC, "Processed").await), processed);
}

/// A message that kills the daemon while it is read (the fault injection aborts as a
/// stack overflow in a reader would) does not lock the mailbox up: the restarted daemon
/// reads it once more, and after its second death quarantines it unread. The reports
/// around it are stored and every message ends in the processed folder.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2e_a_message_that_kills_the_daemon_is_quarantined_after_two_restarts() {
    e2e_gate!();
    let s = Setup::new(Outbound::File);
    s.append(&[
        report(ALICE.0, 1, "Before it", "A token was seen in a log."),
        report(ALICE.0, 2, "The deadly one", "DEADLY-91c4"),
        report(BOB.0, 3, "After it", "The deploy bot did odd things."),
    ])
    .await;
    let fault = [(
        closeloop::pipeline::marks::FAULT_ABORT_READING_ENV,
        "DEADLY-91c4",
    )];
    use std::os::unix::process::ExitStatusExt;
    for death in 1..=2 {
        let mut d = s.start_daemon_with(&format!("death{death}"), &fault);
        let (status, _) = d.exit_within(WAIT).await;
        assert_eq!(status.signal(), Some(libc::SIGABRT), "{}", d.log());
        assert_eq!(s.count("SELECT COUNT(*) FROM messages").await, 0);
    }
    let mut d = s.start_daemon_with("after", &fault);
    d.wait_log("quarantined unread").await;
    s.wait_mail(SEC, "Processed", 3).await;
    assert_eq!(s.count("SELECT COUNT(*) FROM reports").await, 2);
    assert_eq!(
        s.count(
            "SELECT COUNT(*) FROM messages WHERE disposition = 'quarantined' \
             AND reason LIKE '%stopped 2 times while reading this message%' \
             AND source LIKE '%/2' AND subject = 'The deadly one' AND sender = 'alice@example.org'"
        )
        .await,
        1
    );
    assert!(s.mailbox(SEC, "INBOX").await.is_empty());
    d.signal("TERM");
    let (status, _) = d.exit_within(WAIT).await;
    assert!(status.success(), "{}", d.log());
}

/// More mail than one MOVE takes (1,000): the server moves committed messages
/// while the batches fetched ahead are ingested. Every message is committed
/// once, every one is moved, and the frontier stands at the last UID.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2e_run_once_moves_while_ingesting_a_large_backlog() {
    e2e_gate!();
    let s = Setup::new(Outbound::File);
    const N: usize = 1_500;
    let raws: Vec<Vec<u8>> = (1..=N)
        .map(|n| {
            let who = if n % 2 == 0 { ALICE.0 } else { BOB.0 };
            report(
                who,
                n,
                &format!("Backlog {n}"),
                &format!("Bot token {n} seen."),
            )
        })
        .collect();
    s.append(&raws).await;
    s.run_once(&[]);
    s.assert_each_stored_once(N).await;
    assert_eq!(
        s.count("SELECT MAX(last_uid) FROM mailbox_state").await,
        N as i64
    );
    assert_eq!(s.mailbox(SEC, "Processed").await.len(), N);
    assert!(s.mailbox(SEC, "INBOX").await.is_empty());
    s.run_once(&[]);
    assert_eq!(s.count("SELECT COUNT(*) FROM messages").await, N as i64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2e_polls_when_idle_is_off() {
    e2e_gate!();
    let s = Setup::new(Outbound::File);
    let log = s.dir.path().join("poll.log");
    let file = std::fs::File::create(&log).unwrap();
    let child = s
        .command(&["run"])
        .env("CLOSELOOP_INTAKE_IDLE", "false")
        .env("CLOSELOOP_INTAKE_POLL_INTERVAL", "1s")
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .spawn()
        .unwrap();
    let mut d = Daemon { child, log };
    d.wait_log("mailbox selected").await;
    assert!(d.log().contains("waiting=\"polling\""), "{}", d.log());
    s.append(&[report(ALICE.0, 1, "Found while polling", "z")])
        .await;
    s.wait_count(
        "SELECT COUNT(*) FROM messages",
        |n| n == 1,
        "polled message",
    )
    .await;
    s.wait_mail(SEC, "Processed", 1).await;
    d.signal("TERM");
    let (status, _) = d.exit_within(Duration::from_secs(5)).await;
    assert!(status.success(), "{}", d.log());
}

/// Reports come in bursts, and servers announce new mail to an IDLE client late, so
/// after new mail the intake looks again every 100 ms for a while. With IDLE off and a
/// ten-minute poll, a report arriving right after another is still taken at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2e_mail_right_after_mail_does_not_wait_for_the_next_poll() {
    e2e_gate!();
    let s = Setup::new(Outbound::File);
    s.append(&[report(ALICE.0, 1, "First of a burst", "one")])
        .await;
    let mut d = s.start_daemon_with(
        "burst",
        &[
            ("CLOSELOOP_INTAKE_IDLE", "false"),
            ("CLOSELOOP_INTAKE_POLL_INTERVAL", "10m"),
        ],
    );
    s.wait_count("SELECT COUNT(*) FROM messages", |n| n == 1, "first report")
        .await;
    s.append(&[report(BOB.0, 2, "Second of a burst", "two")])
        .await;
    s.wait_count(
        "SELECT COUNT(*) FROM messages",
        |n| n == 2,
        "second report, long before the ten-minute poll",
    )
    .await;
    d.signal("TERM");
    let (status, _) = d.exit_within(Duration::from_secs(5)).await;
    assert!(status.success(), "{}", d.log());
}

/// TLS end to end, with certificate checks: the lab's servers present a certificate from a
/// throwaway CA. Trusted through SSL_CERT_FILE (as an internal CA installed on the host
/// would be), the daemon reads by IMAPS and sends by STARTTLS, then reads by STARTTLS and
/// sends by implicit TLS; untrusted, check-config names the certificate problem.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2e_tls_and_starttls_with_a_verified_certificate() {
    e2e_gate!();
    let s = Setup::on(MailLab::start_with_tls(USERS), Outbound::Smtp);
    let tls = s.lab.tls.clone().unwrap();
    let ca = tls.ca_file.display().to_string();
    let imaps = tls.imaps_port.to_string();
    let smtps = tls.smtps_port.to_string();
    let imap = s.lab.imap_port.to_string();
    let smtp = s.lab.smtp_port.to_string();
    let modes: [[(&str, &str); 6]; 2] = [
        [
            ("CLOSELOOP_INTAKE_HOST", "localhost"),
            ("CLOSELOOP_INTAKE_PORT", &imaps),
            ("CLOSELOOP_INTAKE_TLS", "tls"),
            ("CLOSELOOP_OUTBOUND_HOST", "localhost"),
            ("CLOSELOOP_OUTBOUND_PORT", &smtp),
            ("CLOSELOOP_OUTBOUND_TLS", "starttls"),
        ],
        [
            ("CLOSELOOP_INTAKE_HOST", "localhost"),
            ("CLOSELOOP_INTAKE_PORT", &imap),
            ("CLOSELOOP_INTAKE_TLS", "starttls"),
            ("CLOSELOOP_OUTBOUND_HOST", "localhost"),
            ("CLOSELOOP_OUTBOUND_PORT", &smtps),
            ("CLOSELOOP_OUTBOUND_TLS", "tls"),
        ],
    ];

    // Not trusted: the servers' certificate is refused, and check-config says why.
    let out = s
        .command(&["check-config"])
        .envs(modes[0])
        .env("SSL_CERT_FILE", "/dev/null")
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.to_lowercase().contains("certificate"), "{text}");

    for (round, env) in modes.iter().enumerate() {
        let out = s
            .command(&["check-config"])
            .envs(env.iter().copied())
            .env("SSL_CERT_FILE", &ca)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "round {round}: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );

        let mut env = env.to_vec();
        env.push(("SSL_CERT_FILE", &ca));
        let mut d = s.start_daemon_with(&format!("tls-{round}"), &env);
        d.wait_log("mailbox selected").await;
        s.send(
            ALICE.0,
            &report(
                ALICE.0,
                10 + round,
                &format!("Over TLS {round}"),
                &format!("{KEY} seen"),
            ),
        )
        .await;
        // Each round's report reaches the case, and its acknowledgement Alice's inbox.
        s.wait_count(
            "SELECT COUNT(*) FROM letters WHERE status = 'sent' AND kind = 'ack'",
            |n| n == round as i64 + 1,
            "acknowledgement sent over TLS",
        )
        .await;
        s.wait_mail(ALICE, "INBOX", round + 1).await;
        d.signal("TERM");
        let (status, _) = d.exit_within(Duration::from_secs(5)).await;
        assert!(status.success(), "{}", d.log());
    }
}
