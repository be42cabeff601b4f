//! Two `closeloop run` instances on one PostgreSQL database and one real
//! Dovecot + Postfix lab. 500 reports (100 secrets, five reporters each)
//! arrive while the instance reading the mailbox is killed with SIGKILL; the
//! other takes the mailbox over when the lease runs out. Afterwards every
//! report is stored once, every case holds exactly the reports of its secret,
//! and every letter was delivered exactly once (read back over IMAP), even a
//! letter the killed instance handed to SMTP without living to record it:
//! its copy (`outbound.journal`) comes back and settles it.
//! Needs CLOSELOOP_E2E=1 and CLOSELOOP_TEST_POSTGRES (tests/run.sh sets both).

mod common;
mod harness;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::pg::TestDb;
use common::{planted_github_pat, Backend};
use harness::MailLab;

const SEC: (&str, &str) = ("security@example.org", "sec-pass");
const LEAD: (&str, &str) = ("lead@example.org", "lead-pass");
const PASSWORD_ENV: &str = "E2E_IMAP_PASSWORD";
const REPORTERS: usize = 50;
const SECRETS: usize = 100;
const REPORTS: usize = 500;
/// Messages stored as reports (the mailbox also receives a copy of every letter).
const REPORTS_STORED: &str = "SELECT COUNT(*) FROM messages WHERE disposition = 'report'";
/// Long enough for a stranded outbox claim (2 min) to run out.
const WAIT: Duration = Duration::from_secs(240);

fn reporter(i: usize) -> String {
    format!("r{i}@example.org")
}

struct Instance {
    child: Child,
    log: PathBuf,
}

impl Instance {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Setup {
    lab: MailLab,
    dir: tempfile::TempDir,
    config: PathBuf,
    db: TestDb,
    passwords: BTreeMap<String, String>,
}

impl Setup {
    fn new() -> Setup {
        let mut users: Vec<(String, String)> =
            vec![(SEC.0.into(), SEC.1.into()), (LEAD.0.into(), LEAD.1.into())];
        users.extend((0..REPORTERS).map(|i| (reporter(i), format!("pw-{i}"))));
        let refs: Vec<(&str, &str)> = users
            .iter()
            .map(|(a, p)| (a.as_str(), p.as_str()))
            .collect();
        let lab = MailLab::start(&refs);
        let db = TestDb::create();
        let dir = tempfile::Builder::new()
            .prefix("cl-e2e-pg-")
            .tempdir()
            .unwrap();
        let text = format!(
            r#"[database]
url = "{url}"

[intake]
kind = "imap"
host = "127.0.0.1"
port = {imap}
tls = "none"
username = "{user}"
password_env = "{PASSWORD_ENV}"
mailbox = "INBOX"
processed_mailbox = "Processed"
poll_interval = "2s"
allowed_domains = ["example.org"]
lease_timeout = "3s"

[outbound]
from = "security@example.org"
kind = "smtp"
host = "127.0.0.1"
port = {smtp}
tls = "none"
journal = "security@example.org"

[responders]
addresses = ["lead@example.org"]
auth = "dmarc"
trusted_authserv_id = "mx.example.org"

[secrets]
key_file = "{dir}/closeloop.key"

[http]
listen = ""
"#,
            url = db.url,
            imap = lab.imap_port,
            smtp = lab.smtp_port,
            user = SEC.0,
            dir = dir.path().display(),
        );
        let config = dir.path().join("closeloop.toml");
        std::fs::write(&config, text).unwrap();
        Setup {
            lab,
            dir,
            config,
            db,
            passwords: users.into_iter().collect(),
        }
    }

    fn start(&self, name: &str) -> Instance {
        let log = self.dir.path().join(format!("{name}.log"));
        let file = std::fs::File::create(&log).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_closeloop"))
            .arg("--config")
            .arg(&self.config)
            .arg("run")
            .env(PASSWORD_ENV, SEC.1)
            .env_remove("CLOSELOOP_CONFIG")
            .env("CLOSELOOP_LOG", "info")
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .expect("cannot start closeloop");
        Instance { child, log }
    }

    async fn store(&self) -> closeloop::store::Store {
        closeloop::store::Store::connect(&self.db.url)
            .await
            .expect("open database")
    }

    async fn count(&self, sql: &str) -> i64 {
        let store = self.store().await;
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
            .fetch_one(store.pool())
            .await
            .unwrap_or(-1);
        store.close().await;
        n
    }

    async fn wait_count(&self, sql: &str, want: i64, instances: &[&Instance]) {
        let deadline = Instant::now() + WAIT;
        loop {
            let n = self.count(sql).await;
            if n == want {
                return;
            }
            if Instant::now() > deadline {
                let logs: Vec<String> = instances.iter().map(|i| i.log()).collect();
                panic!(
                    "`{sql}` is {n}, wanted {want}, after {WAIT:?}\n{}",
                    logs.join("\n----\n")
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn append(&self, raws: &[Vec<u8>]) {
        let mut s = harness::imap_login(self.lab.imap_port, SEC.0, SEC.1)
            .await
            .unwrap();
        for raw in raws {
            tokio::time::timeout(Duration::from_secs(30), s.append("INBOX", None, None, raw))
                .await
                .expect("APPEND timed out")
                .expect("APPEND");
        }
        s.logout().await.ok();
    }

    async fn inbox(&self, address: &str) -> Vec<Vec<u8>> {
        let pass = &self.passwords[address];
        harness::imap_fetch_all(self.lab.imap_port, address, pass, "INBOX").await
    }

    /// The pid in the intake lease holder's name (`host/pid/tag`).
    async fn lease_holder_pid(&self) -> Option<u32> {
        let store = self.store().await;
        let holder = closeloop::store::lease::current(&store, closeloop::lease::INTAKE)
            .await
            .ok()
            .flatten();
        store.close().await;
        holder.and_then(|(h, _)| h.split('/').nth(1).and_then(|p| p.parse().ok()))
    }
}

fn report(i: usize) -> Vec<u8> {
    let who = reporter(i % REPORTERS);
    let secret = planted_github_pat(9000 + (i % SECRETS) as u64);
    format!(
        "From: {who}\r\nTo: security@example.org\r\nSubject: Finding {i}\r\n\
         Message-ID: <report-{i}@example.org>\r\nDate: Sun, 29 Nov 2026 01:00:00 +0000\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         I found a token in build log {i}:\r\n{}\r\n",
        secret.line
    )
    .into_bytes()
}

fn unbracket(s: &str) -> String {
    s.trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2e_two_daemons_on_postgres_lose_and_double_nothing_when_one_is_killed() {
    if !harness::e2e_enabled() || !Backend::postgres_enabled() {
        eprintln!("skipping: needs CLOSELOOP_E2E=1 and CLOSELOOP_TEST_POSTGRES");
        return;
    }
    let s = Setup::new();
    let raws: Vec<Vec<u8>> = (0..REPORTS).map(report).collect();
    // The first half waits in the mailbox; the rest arrives while the instances run.
    s.append(&raws[..REPORTS / 2]).await;
    let mut a = s.start("a");
    let mut b = s.start("b");

    // Kill whichever instance reads the mailbox once it is well into the work.
    let deadline = Instant::now() + WAIT;
    let victim_pid = loop {
        let stored = s.count(REPORTS_STORED).await;
        if stored >= 100 {
            if let Some(pid) = s.lease_holder_pid().await {
                break pid;
            }
        }
        assert!(
            Instant::now() < deadline,
            "no progress:\n{}\n----\n{}",
            a.log(),
            b.log()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let (victim, survivor) = if a.child.id() == victim_pid {
        (&mut a, &b)
    } else {
        assert_eq!(b.child.id(), victim_pid, "the lease names neither instance");
        (&mut b, &a)
    };
    victim.child.kill().unwrap(); // SIGKILL
    victim.child.wait().unwrap();
    // Letters the victim may have handed to SMTP without recording it: pending under a
    // live claim at the moment of the kill. SMTP has no two-phase commit; the copy of each
    // letter (`outbound.journal`) coming back into the mailbox settles those the server took.
    let in_doubt = s
        .count(
            "SELECT COUNT(*) FROM letters WHERE status = 'pending' AND claimed_until IS NOT NULL",
        )
        .await;
    let at_kill = s.count(REPORTS_STORED).await;
    eprintln!(
        "killed the mailbox reader with {at_kill} of {REPORTS} reports stored, {in_doubt} letters claimed"
    );
    s.append(&raws[REPORTS / 2..]).await;

    // The survivor takes the mailbox over and finishes.
    s.wait_count(REPORTS_STORED, REPORTS as i64, &[survivor])
        .await;
    assert_eq!(
        s.count("SELECT COUNT(*) FROM reports").await,
        REPORTS as i64
    );
    assert_eq!(
        s.count("SELECT COUNT(DISTINCT message_id) FROM reports")
            .await,
        REPORTS as i64,
        "a report stored twice"
    );
    // One case per secret, holding exactly that secret's five reports.
    assert_eq!(s.count("SELECT COUNT(*) FROM cases").await, SECRETS as i64);
    let per_case = "SELECT COUNT(*) FROM (SELECT case_id FROM reports GROUP BY case_id \
                    HAVING COUNT(*) = 5) x";
    assert_eq!(s.count(per_case).await, SECRETS as i64);
    let one_secret_per_case =
        "SELECT COUNT(*) FROM (SELECT case_id FROM artifacts WHERE class = 'secret' \
                               GROUP BY case_id HAVING COUNT(DISTINCT fingerprint) = 1) x";
    assert_eq!(s.count(one_secret_per_case).await, SECRETS as i64);
    let store = s.store().await;
    let rows: Vec<(i64, String)> =
        sqlx::query_as("SELECT case_id, subject FROM reports ORDER BY case_id")
            .fetch_all(store.pool())
            .await
            .unwrap();
    let mut by_case: BTreeMap<i64, BTreeSet<usize>> = BTreeMap::new();
    for (case, subject) in rows {
        let n: usize = subject.trim_start_matches("Finding ").parse().unwrap();
        by_case.entry(case).or_default().insert(n % SECRETS);
    }
    assert!(
        by_case.values().all(|secrets| secrets.len() == 1),
        "{by_case:?}"
    );

    // Every queued letter is sent (a claim stranded by the kill runs out first), and the
    // copy of every letter has come back.
    s.wait_count(
        "SELECT COUNT(*) FROM letters WHERE status <> 'sent' OR confirmed_at IS NULL",
        0,
        &[survivor],
    )
    .await;
    let n_letters = s.count("SELECT COUNT(*) FROM letters").await as usize;

    // Every report and every copy left the inbox, each once: one copy per letter means
    // the SMTP server took each letter exactly once.
    let processed = harness::wait_for_count(
        s.lab.imap_port,
        SEC.0,
        SEC.1,
        "Processed",
        REPORTS + n_letters,
        WAIT,
    )
    .await;
    let moved: BTreeSet<String> = processed
        .iter()
        .map(|m| harness::header(m, "Message-ID"))
        .collect();
    assert_eq!(
        (processed.len(), moved.len()),
        (REPORTS + n_letters, REPORTS + n_letters),
        "each report and each letter's copy is in Processed once"
    );
    let deadline = Instant::now() + WAIT;
    while !s.inbox(SEC.0).await.is_empty() {
        assert!(Instant::now() < deadline, "INBOX not empty");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let letters: Vec<(String, String)> =
        sqlx::query_as("SELECT recipient, message_id FROM letters ORDER BY id")
            .fetch_all(store.pool())
            .await
            .unwrap();
    store.close().await;
    let mut want: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (to, mid) in &letters {
        want.entry(to.clone()).or_default().insert(unbracket(mid));
    }
    // ... and arrived exactly once.
    for (to, mids) in &want {
        let deadline = Instant::now() + WAIT;
        let got = loop {
            let got = s.inbox(to).await;
            if got.len() >= mids.len() || Instant::now() > deadline {
                break got;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        let ids: Vec<String> = got
            .iter()
            .map(|m| unbracket(&harness::header(m, "Message-ID")))
            .collect();
        let distinct: BTreeSet<String> = ids.iter().cloned().collect();
        assert_eq!(
            ids.len(),
            distinct.len(),
            "{to} got a letter twice: {ids:?}"
        );
        assert_eq!(
            &distinct, mids,
            "{to}: letters delivered differ from letters sent"
        );
    }
    eprintln!(
        "{} letters to {} addresses delivered once each",
        letters.len(),
        want.len()
    );
}
