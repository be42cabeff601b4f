//! The mail-server half of the loop benchmark, on the project's own test lab
//! (real Dovecot + Postfix on loopback): IMAP ingest against the raw
//! `UID FETCH 1:* (BODY.PEEK[])` throughput of the same server, IDLE latency
//! from SMTP acceptance to committed case and to delivered acknowledgement,
//! and outbox letters/s into Postfix.

use std::path::Path;
use std::time::{Duration, Instant};

use closeloop::config::{Config, OutboundKind, TlsMode};

use super::harness::{self, MailLab};
use super::synth;
use super::{percentile, Row};

fn lab_config_text(dir: &Path, lab: &MailLab) -> String {
    format!(
        "[database]\nurl = \"sqlite://{d}/mail.db\"\n[intake]\nkind = \"imap\"\nhost = \"127.0.0.1\"\nport = {imap}\ntls = \"none\"\n\
         username = \"security@example.org\"\npassword = \"pw\"\nallowed_domains = [\"example.org\"]\npoll_interval = \"10m\"\n\
         [outbound]\nkind = \"smtp\"\nhost = \"127.0.0.1\"\nport = {smtp}\ntls = \"none\"\nfrom = \"security@example.org\"\n\
         [responders]\naddresses = [\"lead@example.org\"]\nauth = \"none\"\n[secrets]\nkey_file = \"{d}/mail.key\"\n[http]\nlisten = \"\"\n",
        d = dir.display(),
        imap = lab.imap_port,
        smtp = lab.smtp_port
    )
}

fn lab_config(dir: &Path, lab: &MailLab) -> Config {
    let text = lab_config_text(dir, lab);
    std::fs::write(dir.join("mail.toml"), &text).unwrap();
    Config::from_toml(&dir.join("mail.toml"), &text, std::iter::empty()).expect("bench config")
}

/// Drops messages straight into a user's Maildir (Dovecot indexes them at login),
/// named as Dovecot's own delivery names them: `secs.MusecsPpid.host,S=size`, 20
/// a second. Names that differ only in a counter (`N.MiP1.bench`, as this once
/// wrote) collide in Dovecot's filename hash (its last 8 bytes weigh most), and
/// every maildir sync after a MOVE then compared names in long chains: half of
/// Dovecot's CPU time in this benchmark, a cost real mail never causes.
fn seed_maildir(lab: &MailLab, address: &str, msgs: &[(synth::Kind, Vec<u8>)]) {
    let new = lab.maildir(address).join("new");
    for sub in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(lab.maildir(address).join(sub)).unwrap();
    }
    for (i, (_, raw)) in msgs.iter().enumerate() {
        let name = format!(
            "{}.M{}P4242.lab,S={}",
            1_790_000_000 + i / 20,
            (i * 48_271) % 1_000_000,
            raw.len()
        );
        std::fs::write(new.join(name), raw).unwrap();
    }
    // Dovecot's mail processes run as nobody.
    let _ = std::process::Command::new("chown")
        .args(["-R", "nobody:nogroup"])
        .arg(lab.maildir(address))
        .status();
}

/// CPU time (user + system) of the lab Dovecot's finished child processes.
/// Each IMAP session is served by an `imap` process of its own, which the
/// master reaps when the session ends, so the difference across a phase is
/// what the server spent on that phase's session (and its login process).
fn dovecot_reaped_cpu(lab: &MailLab) -> Duration {
    // Let the session's process exit and be reaped.
    std::thread::sleep(Duration::from_millis(300));
    let pidfile = lab.dir.join("dovecot/run/master.pid");
    let pid =
        std::fs::read_to_string(&pidfile).unwrap_or_else(|e| panic!("{}: {e}", pidfile.display()));
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", pid.trim())).unwrap();
    // Fields from the 3rd on follow the command name's closing parenthesis;
    // cutime and cstime are the 16th and 17th.
    let fields: Vec<u64> = stat[stat.rfind(')').unwrap() + 2..]
        .split_whitespace()
        .skip(13)
        .take(2)
        .map(|f| f.parse().unwrap())
        .collect();
    // SAFETY: sysconf only reads a constant of the system.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Duration::from_micros(fields.iter().sum::<u64>() * 1_000_000 / hz)
}

async fn raw_fetch_rate(lab: &MailLab, n: usize) -> f64 {
    use futures::TryStreamExt;
    let mut s = harness::imap_login(lab.imap_port, "security@example.org", "pw")
        .await
        .unwrap();
    s.examine("INBOX").await.unwrap();
    let start = Instant::now();
    let got: Vec<_> = s
        .uid_fetch("1:*", "BODY.PEEK[]")
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let rate = got.len() as f64 / start.elapsed().as_secs_f64();
    assert_eq!(got.len(), n);
    let _ = s.logout().await;
    rate
}

/// What ingest could reach with no database, no IMAP and no letters at all:
/// hashing, parsing and scanning the same messages on one core. Everything
/// else (SQL, group commit, letters, moves) only adds to this.
fn pure_rate(msgs: &[(synth::Kind, Vec<u8>)]) -> f64 {
    let scanner = closeloop::extract::scanner();
    let start = Instant::now();
    let mut findings = 0;
    for (_, raw) in msgs {
        findings += crate::ceiling::hash_parse_scan(scanner, raw);
    }
    std::hint::black_box(findings);
    msgs.len() as f64 / start.elapsed().as_secs_f64()
}

pub async fn figures(n: usize, rows: &mut Vec<Row>) {
    let reporters: Vec<String> = (0..10).map(|i| format!("staff{i}@example.org")).collect();
    let mut users: Vec<(&str, &str)> =
        vec![("security@example.org", "pw"), ("lead@example.org", "pw")];
    users.extend(reporters.iter().map(|r| (r.as_str(), "pw")));
    let lab = MailLab::start(&users);

    // 3. IMAP ingest vs the server's raw pipelined fetch, same messages, same run.
    let count = n.min(5_000);
    let mailbox = synth::mailbox(count, 5, true);
    seed_maildir(&lab, "security@example.org", &mailbox.messages);
    let before_raw = dovecot_reaped_cpu(&lab);
    let raw = raw_fetch_rate(&lab, count).await;
    let raw_cpu = dovecot_reaped_cpu(&lab) - before_raw;
    let ceiling = pure_rate(&mailbox.messages);
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = lab_config(tmp.path(), &lab);
    let ctx = closeloop::cli::open(&cfg).await.unwrap();
    let before_once = dovecot_reaped_cpu(&lab);
    let our_cpu_before = crate::cpu_seconds();
    let start = Instant::now();
    crate::perf_control("enable");
    let done = closeloop::imap::drain_once(&ctx).await.unwrap();
    crate::perf_control("disable");
    let ours = done as f64 / start.elapsed().as_secs_f64();
    let our_cpu = crate::cpu_seconds() - our_cpu_before;
    let once_cpu = dovecot_reaped_cpu(&lab) - before_once;
    // Dovecot's CPU time a message, in µs: what serving each session cost the server.
    let per_msg = |cpu: Duration| cpu.as_secs_f64() * 1e6 / count as f64;
    rows.push(Row::new(
        format!("IMAP raw UID FETCH 1:* BODY.PEEK[] ({count})"),
        raw,
        "msgs/s",
        "",
    ));
    rows.push(Row::new(
        format!("IMAP ingest, run --once ({done})"),
        ours,
        "reports/s",
        "",
    ));
    rows.push(Row::new(
        "IMAP ingest / raw fetch".into(),
        ours / raw * 100.0,
        "%",
        ">= 50",
    ));
    rows.push(Row::new(
        "Dovecot CPU a message, serving the raw fetch".into(),
        per_msg(raw_cpu),
        "us",
        "",
    ));
    rows.push(Row::new(
        "Dovecot CPU a message, serving run --once (+ MOVE)".into(),
        per_msg(once_cpu),
        "us",
        "",
    ));
    // One session is one single-threaded Dovecot process: at this cost a
    // message it cannot serve more than 1 s / cost messages a second, however
    // fast the client.
    rows.push(Row::new(
        "bound: Dovecot's session alone, / raw fetch".into(),
        1e6 / per_msg(once_cpu).max(1.0) / raw * 100.0,
        "%",
        "",
    ));
    // Both share the machine's two cores: at their summed CPU a report, no
    // schedule of the work passes 2 s / (sum) reports a second.
    let our_us = our_cpu * 1e6 / done.max(1) as f64;
    rows.push(Row::new(
        "closeloop CPU a report, run --once (all threads)".into(),
        our_us,
        "us",
        "",
    ));
    rows.push(Row::new(
        "bound: two cores for closeloop + Dovecot, / raw fetch".into(),
        2e6 / (our_us + per_msg(once_cpu)).max(1.0) / raw * 100.0,
        "%",
        "",
    ));
    rows.push(Row::new(
        format!("ceiling: hash + parse + scan alone, same {count}, one core"),
        ceiling,
        "msgs/s",
        "",
    ));
    rows.push(Row::new(
        "ceiling / raw fetch".into(),
        ceiling / raw * 100.0,
        "%",
        "",
    ));

    // 5. Outbox into Postfix: the acknowledgements and notifications just queued.
    cfg.outbound.kind = OutboundKind::Smtp;
    cfg.outbound.tls = TlsMode::None;
    let mailer = closeloop::mailer::Mailer::from_config(&cfg).unwrap();
    // Only letters to lab users can be accepted; the synthetic reporters are not users.
    sqlx::query("UPDATE letters SET status = 'held' WHERE recipient NOT IN ('lead@example.org')")
        .execute(ctx.store.pool())
        .await
        .unwrap();
    let start = Instant::now();
    let pass = closeloop::outbox::send_due(&ctx, &mailer, chrono::Utc::now().timestamp_millis())
        .await
        .unwrap();
    rows.push(Row::new(
        format!("outbox to Postfix over SMTP ({} letters)", pass.sent),
        pass.sent as f64 / start.elapsed().as_secs_f64(),
        "letters/s",
        "",
    ));
    ctx.store.close().await;

    drop(lab);

    // 4. Latency with IDLE: the real daemon on a fresh lab, reports sent one at a time.
    let lab = MailLab::start(&users);
    let tmp = tempfile::tempdir().unwrap();
    lab_config(tmp.path(), &lab);
    let mut daemon = std::process::Command::new(env!("CARGO_BIN_EXE_closeloop"))
        .arg("--config")
        .arg(tmp.path().join("mail.toml"))
        .arg("run")
        .env("CLOSELOOP_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the daemon has created the database and is idling on the inbox.
    let db = tmp.path().join("mail.db");
    let ready = Instant::now() + Duration::from_secs(30);
    while !db.exists() && Instant::now() < ready {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let store = closeloop::store::Store::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    let rounds = 200;
    let mut to_commit = Vec::with_capacity(rounds);
    let mut to_ack = Vec::with_capacity(rounds);
    let mut r = synth::Rng::new(9);
    for i in 0..rounds {
        let who = &reporters[i % reporters.len()];
        let (commit, ack) = one_report(&lab, &store, who, i, &mut r).await;
        to_commit.push(commit);
        to_ack.push(ack);
    }
    // A report after a quiet spell, when the intake is back in IDLE (no burst
    // polling): Dovecot announces it only after its 0.5 s notification delay.
    let mut isolated = Vec::new();
    for i in 0..ISOLATED {
        tokio::time::sleep(QUIET).await;
        let who = &reporters[i % reporters.len()];
        isolated.push(one_report(&lab, &store, who, rounds + i, &mut r).await.0);
    }
    // A clean stop, as an operator would: SIGTERM.
    let _ = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(daemon.id().to_string())
        .status();
    let _ = daemon.wait();
    to_commit.sort_by(f64::total_cmp);
    to_ack.sort_by(f64::total_cmp);
    rows.push(Row::new(
        format!("IDLE: SMTP accepted -> case committed, p50 ({rounds})"),
        percentile(&to_commit, 0.5),
        "ms",
        "<= 300",
    ));
    rows.push(Row::new(
        "IDLE: SMTP accepted -> case committed, p99".into(),
        percentile(&to_commit, 0.99),
        "ms",
        "<= 1000",
    ));
    rows.push(Row::new(
        format!(
            "IDLE: isolated report (after {} s quiet) -> committed, worst of {ISOLATED}",
            QUIET.as_secs()
        ),
        isolated.iter().copied().fold(0.0, f64::max),
        "ms",
        "<= 1000",
    ));
    rows.push(Row::new(
        "IDLE: SMTP accepted -> ack delivered, p50".into(),
        percentile(&to_ack, 0.5),
        "ms",
        "",
    ));
    rows.push(Row::new(
        "IDLE: SMTP accepted -> ack delivered, p99".into(),
        percentile(&to_ack, 0.99),
        "ms",
        "",
    ));
}

/// Reports sent after a quiet spell longer than the intake's burst window (20 s).
const ISOLATED: usize = 3;
const QUIET: Duration = Duration::from_secs(22);

/// Sends one report by SMTP and waits for its case to be committed and its
/// acknowledgement delivered: both latencies in ms from SMTP acceptance.
async fn one_report(
    lab: &MailLab,
    store: &closeloop::store::Store,
    who: &str,
    i: usize,
    r: &mut synth::Rng,
) -> (f64, f64) {
    let inbox = lab.maildir(who).join("new");
    let before = std::fs::read_dir(&inbox).map(|d| d.count()).unwrap_or(0);
    let mid = format!(
        "lat-{i}-{}@example.org",
        r.s(8, "abcdefghijklmnopqrstuvwxyz0123456789")
    );
    let raw = format!(
        "From: {who}\r\nTo: security@example.org\r\nSubject: latency {i}\r\nMessage-ID: <{mid}>\r\n\r\nkey AKIA{}\r\n",
        r.s(16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
    );
    harness::smtp_send(
        lab.smtp_port,
        who,
        &["security@example.org"],
        raw.as_bytes(),
    )
    .await;
    let t0 = Instant::now();
    let deadline = t0 + Duration::from_secs(20);
    let commit = loop {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM messages WHERE message_id = $1")
            .bind(&mid)
            .fetch_one(store.pool())
            .await
            .unwrap_or(0);
        if n > 0 {
            break t0.elapsed().as_secs_f64() * 1000.0;
        }
        assert!(
            Instant::now() < deadline,
            "report {i} not committed within 20 s"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    };
    let ack = loop {
        let now = std::fs::read_dir(&inbox).map(|d| d.count()).unwrap_or(0);
        if now > before {
            break t0.elapsed().as_secs_f64() * 1000.0;
        }
        assert!(
            Instant::now() < deadline,
            "ack {i} not delivered within 20 s"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    };
    (commit, ack)
}
