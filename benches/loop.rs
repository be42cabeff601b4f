//! End-to-end benchmark of the loop, printing a table and writing JSON:
//!
//!   cargo bench --bench loop                      # 20,000 reports
//!   cargo bench --bench loop -- --reports 100000  # the 100k figures
//!
//! Measures, in one run: Maildir ingest (reports/s, peak RSS) into a fresh
//! SQLite file; dedup cost as the database grows (rate of the last 5,000
//! reports against the first 5,000); outbox letters/s (file sink, and the test
//! Postfix when the mail servers are installed). Durability is not traded:
//! every batch is committed with synchronous=FULL before its files move.
//! It reports; it does not gate CI.

#[path = "common/ceiling.rs"]
mod ceiling;
#[path = "../tests/harness/mod.rs"]
mod harness;
#[path = "common/mailbench.rs"]
mod mailbench;
#[path = "common/synth.rs"]
mod synth;

use std::path::Path;
use std::time::Instant;

use closeloop::config::Config;
use closeloop::{maildir, mailer::Mailer, outbox};

pub struct Row {
    name: String,
    value: f64,
    unit: &'static str,
    target: String,
}

impl Row {
    pub fn new(name: String, value: f64, unit: &'static str, target: &str) -> Row {
        Row {
            name,
            value,
            unit,
            target: target.to_string(),
        }
    }
}

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

fn reset_peak_rss() {
    // Linux: writing 5 resets VmHWM to the current RSS.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn config(dir: &Path) -> Config {
    let text = format!(
        "[database]\nurl = \"sqlite://{d}/bench.db\"\n[intake]\nkind = \"maildir\"\ndir = \"{d}/maildir\"\n\
         allowed_domains = [\"example.org\"]\n[outbound]\nkind = \"file\"\ndir = \"{d}/letters\"\nfrom = \"security@example.org\"\n\
         [responders]\naddresses = [\"lead@example.org\"]\nauth = \"none\"\n[secrets]\nkey_file = \"{d}/bench.key\"\n[http]\nlisten = \"\"\n",
        d = dir.display()
    );
    Config::from_toml(&dir.join("bench.toml"), &text, std::iter::empty()).expect("bench config")
}

static NAMED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Writes the next `n` generated messages into the Maildir; returns (duplicates, bytes).
fn write_maildir(dir: &Path, gen: &mut synth::Generator, n: usize) -> (usize, usize) {
    maildir::ensure(dir).unwrap();
    let (mut dups, mut bytes) = (0, 0);
    for _ in 0..n {
        let (kind, raw) = gen.next().unwrap();
        dups += usize::from(matches!(
            kind,
            synth::Kind::DuplicateSecret | synth::Kind::DuplicateOriginal
        ));
        bytes += raw.len();
        // Unique across calls, as Maildir names are: a reused name would make the
        // move to cur/ replace an earlier message there (ext4 then writes the
        // file's data back and frees the old one inside the timed rename).
        let name = format!(
            "{:08}.bench",
            NAMED.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        std::fs::write(dir.join("new").join(name), raw).unwrap();
    }
    // A delivering MTA fsyncs each message before it appears in new/; without
    // this the kernel would write the generator's files back during the timed
    // ingest.
    // SAFETY: sync(2) takes no arguments and cannot fail.
    unsafe { libc::sync() };
    (dups, bytes)
}

/// Ingests the next `n` generated messages; returns (reports/s of the ingest alone, duplicates, bytes).
async fn ingest_rate(
    ctx: &closeloop::context::Context,
    dir: &Path,
    gen: &mut synth::Generator,
    n: usize,
) -> (f64, usize, usize) {
    let (dups, bytes) = write_maildir(dir, gen, n);
    perf_control("enable");
    let cpu = cpu_seconds();
    let start = Instant::now();
    let done = maildir::drain(
        ctx,
        dir,
        &mut maildir::CurState::default(),
        || chrono::Utc::now().timestamp_millis(),
        |_, _| {},
    )
    .await
    .unwrap();
    let elapsed = start.elapsed();
    perf_control("disable");
    eprintln!(
        "bench: ingested {n} in {:.2} s wall, {:.2} s CPU (all threads)",
        elapsed.as_secs_f64(),
        cpu_seconds() - cpu
    );
    assert_eq!(done, n, "every message ingested");
    (n as f64 / elapsed.as_secs_f64(), dups, bytes)
}

/// User + system CPU time of the whole process so far, in seconds.
fn cpu_seconds() -> f64 {
    // SAFETY: getrusage only writes the struct it is given.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) } != 0 {
        return f64::NAN;
    }
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(u.ru_utime) + secs(u.ru_stime)
}

/// Profiles the ingest alone: with `BENCH_PERF_CTL=FIFO` and
/// `perf record --control=fifo:FIFO -D -1 …`, perf samples only while ingesting
/// (only the `BENCH_PERF_PHASE`-th ingest, counting from 1, when set;
/// the IMAP `run --once` comes after the four Maildir ingests). Not `CLOSELOOP_`
/// variables: the daemon the IDLE phase starts refuses unknown ones.
fn perf_control(command: &str) {
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed) / 2 + 1;
    let phase = std::env::var("BENCH_PERF_PHASE").ok();
    if phase.is_some_and(|p| p != call.to_string()) {
        return;
    }
    if let Some(fifo) = std::env::var_os("BENCH_PERF_CTL") {
        if let Err(e) = std::fs::write(&fifo, format!("{command}\n")) {
            eprintln!("bench: perf control {}: {e}", Path::new(&fifo).display());
        }
    }
}

fn main() {
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .init();
    }
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args
        .iter()
        .position(|a| a == "--reports")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut rows: Vec<Row> = Vec::new();
    let tmp = tempfile::tempdir().unwrap();

    rt.block_on(async {
        // 1. Maildir ingest into a fresh SQLite database, size mix, with duplicates.
        let cfg = config(tmp.path());
        let ctx = closeloop::cli::open(&cfg).await.unwrap();
        let mut gen = synth::Generator::new(1, true);
        let first = 5_000.min(n / 2);
        let mid_end = n - first;
        reset_peak_rss();
        let (early, d1, b1) = ingest_rate(&ctx, &cfg.intake.dir, &mut gen, first).await;
        let (_, d2, b2) = ingest_rate(&ctx, &cfg.intake.dir, &mut gen, mid_end - first).await;
        let (late, d3, b3) = ingest_rate(&ctx, &cfg.intake.dir, &mut gen, first).await;
        let rss = peak_rss_mb();
        eprintln!(
            "bench: {n} reports, average {} bytes, {} duplicates",
            (b1 + b2 + b3) / n.max(1),
            d1 + d2 + d3
        );
        rows.push(Row::new(
            format!("maildir ingest, first {first} (empty db)"),
            early,
            "reports/s",
            ">= 5000",
        ));
        rows.push(Row::new(
            format!("maildir ingest, last {first} ({mid_end} stored)"),
            late,
            "reports/s",
            "",
        ));
        rows.push(Row::new(
            "dedup growth: late rate / early rate".into(),
            late / early * 100.0,
            "%",
            ">= 80",
        ));
        rows.push(Row::new(
            format!("peak RSS while ingesting {n} (bench process)"),
            rss,
            "MB",
            "<= 100",
        ));

        // 4 KB plain messages only, fresh database: the headline target's exact shape.
        let tmp2 = tempfile::tempdir().unwrap();
        let cfg2 = config(tmp2.path());
        let ctx2 = closeloop::cli::open(&cfg2).await.unwrap();
        let mut plain = synth::Generator::new(2, false);
        let (rate, _, _) = ingest_rate(&ctx2, &cfg2.intake.dir, &mut plain, first).await;
        rows.push(Row::new(
            format!("maildir ingest, {first} x ~4 KB plain"),
            rate,
            "reports/s",
            ">= 5000",
        ));

        // 5. Outbox: letters/s into the file sink (acks + notifications queued above).
        let mailer = Mailer::from_config(&cfg).unwrap();
        let start = Instant::now();
        let pass = outbox::send_due(&ctx, &mailer, chrono::Utc::now().timestamp_millis())
            .await
            .unwrap();
        rows.push(Row {
            name: format!("outbox to .eml files ({} letters)", pass.sent),
            value: pass.sent as f64 / start.elapsed().as_secs_f64(),
            unit: "letters/s",
            target: "".into(),
        });

        // 3–5 on the real mail servers, when they are installed (tests/run.sh installs them).
        let have_servers =
            Path::new("/usr/sbin/dovecot").exists() && Path::new("/usr/sbin/postfix").exists();
        if have_servers && !args.iter().any(|a| a == "--no-mail") {
            mailbench::figures(n, &mut rows).await;
        } else {
            eprintln!(
                "bench: mail-server figures skipped (Dovecot/Postfix not installed, or --no-mail)"
            );
        }
    });

    println!("\n{:<52} {:>12}  {:<10} target", "measure", "value", "unit");
    for r in &rows {
        println!(
            "{:<52} {:>12.1}  {:<10} {}",
            r.name, r.value, r.unit, r.target
        );
    }
    let json: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| serde_json::json!({"measure": r.name, "value": r.value, "unit": r.unit, "target": r.target}))
        .collect();
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    std::fs::create_dir_all(&dir).ok();
    let out = dir.join("bench-loop.json");
    std::fs::write(&out, serde_json::to_string_pretty(&json).unwrap()).unwrap();
    println!("\nJSON: {}", out.display());
}
