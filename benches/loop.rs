//! End-to-end benchmark of the loop, printing a table and writing JSON:
//!
//!   cargo bench --bench loop                      # 20,000 reports
//!   cargo bench --bench loop -- --reports 100000  # the 100k figures
//!
//! Measures, in one run: Maildir ingest (reports/s, peak RSS) into a fresh
//! SQLite file; dedup cost as the database grows (rate of the last 5,000
//! reports against the first 5,000, each the median of three windows: the
//! run's own and two repeats on an empty database / a copy of the grown one);
//! 4 KB plain messages into a fresh database (median of three); outbox
//! letters/s (file sink, and the test Postfix when the mail servers are
//! installed). Durability is not traded:
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
        // Unique across calls, as Maildir names are: a reused name would make the move
        // to the processed folder replace an earlier message there (ext4 then writes the
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
    (drain_rate(ctx, dir, n).await, dups, bytes)
}

/// Ingests the `n` messages waiting in the Maildir; returns reports/s of the ingest alone.
async fn drain_rate(ctx: &closeloop::context::Context, dir: &Path, n: usize) -> f64 {
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
    n as f64 / elapsed.as_secs_f64()
}

/// How many times each Maildir window (first, last, 4 KB plain) is measured.
const REPEATS: usize = 3;

/// The processed folder of the benchmark's Maildir (`intake.processed_mailbox`'s default).
const PROCESSED: &str = "Processed";

/// Ingests the first `n` messages of generator `seed` into a database of its own.
async fn fresh_rate(seed: u64, size_mix: bool, n: usize) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let (cfg, ctx) = open_bench(dir.path()).await;
    let mut gen = synth::Generator::new(seed, size_mix);
    ingest_rate(&ctx, &cfg.intake.dir, &mut gen, n).await.0
}

/// A database and Maildir of its own in `dir` (empty, or from `copy_bench_dirs`).
async fn open_bench(dir: &Path) -> (Config, closeloop::context::Context) {
    let cfg = config(dir);
    let ctx = closeloop::cli::open(&cfg).await.unwrap();
    (cfg, ctx)
}

/// `count` new directories, each holding a copy of the benchmark's database
/// (with its write-ahead log, between commits) and key file in `dir`, and
/// its Maildir's processed folder, where the ingested mail lies (each drain
/// renames into it).
fn copy_bench_dirs(dir: &Path, count: usize) -> Vec<tempfile::TempDir> {
    let copies: Vec<tempfile::TempDir> = (0..count)
        .map(|_| {
            let to = tempfile::tempdir().unwrap();
            for name in ["bench.db", "bench.db-wal", "bench.key"] {
                let from = dir.join(name);
                if from.exists() {
                    std::fs::copy(&from, to.path().join(name)).unwrap();
                }
            }
            let copy = to.path().join("maildir");
            maildir::ensure(&copy).unwrap();
            maildir::ensure(&maildir::folder(&copy, PROCESSED)).unwrap();
            to
        })
        .collect();
    link_mail(&dir.join("maildir"), &format!(".{PROCESSED}/cur"), &copies);
    copies
}

/// The files in `maildir`'s `sub` lie in each of `copies`' Maildirs too
/// (hard links: the same bytes, no memory held).
fn link_mail(maildir: &Path, sub: &str, copies: &[tempfile::TempDir]) {
    for entry in std::fs::read_dir(maildir.join(sub)).unwrap() {
        let entry = entry.unwrap();
        for to in copies {
            let link = to.path().join("maildir").join(sub).join(entry.file_name());
            std::fs::hard_link(entry.path(), link).unwrap();
        }
    }
}

/// The value at fraction `p` (0–1) of `sorted`, by nearest rank.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

/// The middle value (the upper one of the middle two for an even count).
fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    percentile(&v, 0.5)
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
/// (only the `BENCH_PERF_PHASE`-th ingest, counting from 1, when set: first,
/// middle, last, the repeats of the first and then of the last window, the
/// three 4 KB plain ones, and the IMAP `run --once` after them). Not `CLOSELOOP_`
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
    // As the daemon does at start: the windows measure reading, not compiling.
    let warm = Instant::now();
    closeloop::pipeline::warm_up();
    eprintln!(
        "bench: warm-up (compiling the scanner's and parser's patterns) {:.0} ms",
        warm.elapsed().as_secs_f64() * 1e3
    );

    rt.block_on(async {
        // 1. Maildir ingest into a fresh SQLite database, size mix, with duplicates.
        let (cfg, ctx) = open_bench(tmp.path()).await;
        let mut gen = synth::Generator::new(1, true);
        let first = 5_000.min(n / 2);
        let mid_end = n - first;
        reset_peak_rss();
        let (early, d1, b1) = ingest_rate(&ctx, &cfg.intake.dir, &mut gen, first).await;
        let (_, d2, b2) = ingest_rate(&ctx, &cfg.intake.dir, &mut gen, mid_end - first).await;
        // The same last messages go again, later, into copies of the database as it is now.
        let late_dirs = copy_bench_dirs(tmp.path(), REPEATS - 1);
        let (d3, b3) = write_maildir(&cfg.intake.dir, &mut gen, first);
        link_mail(&cfg.intake.dir, "new", &late_dirs);
        let late = drain_rate(&ctx, &cfg.intake.dir, first).await;
        let rss = peak_rss_mb();
        eprintln!(
            "bench: {n} reports, average {} bytes, {} duplicates",
            (b1 + b2 + b3) / n.max(1),
            d1 + d2 + d3
        );

        // 2. Repeats of the first and the last window: on this kind of machine two
        // identical runs differ by up to ±20 %, so one window each says little
        // about the growth. Each repeat ingests the same messages as its window:
        // the first ones into another empty database, the last ones into a copy
        // of the database as it was before the last window.
        let mut earlies = vec![early];
        let mut lates = vec![late];
        for _ in 1..REPEATS {
            earlies.push(fresh_rate(1, true, first).await);
        }
        for dir in late_dirs {
            let (cfg, ctx) = open_bench(dir.path()).await;
            lates.push(drain_rate(&ctx, &cfg.intake.dir, first).await);
        }
        // 4 KB plain messages only, fresh databases: the headline target's exact shape.
        let mut plains = Vec::new();
        for _ in 0..REPEATS {
            plains.push(fresh_rate(2, false, first).await);
        }
        let (early, late) = (median(&earlies), median(&lates));
        let each = |v: &[f64]| {
            v.iter()
                .map(|r| format!("{r:.0}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        eprintln!(
            "bench: first {first}: {} reports/s; last {first}: {} reports/s; 4 KB plain: {} reports/s",
            each(&earlies),
            each(&lates),
            each(&plains)
        );
        rows.push(Row::new(
            format!("maildir ingest, first {first} (empty db), median of {REPEATS}"),
            early,
            "reports/s",
            ">= 5000",
        ));
        rows.push(Row::new(
            format!("maildir ingest, last {first} ({mid_end} stored), median of {REPEATS}"),
            late,
            "reports/s",
            "",
        ));
        rows.push(Row::new(
            "dedup growth: late rate / early rate (medians)".into(),
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
        rows.push(Row::new(
            format!("maildir ingest, {first} x ~4 KB plain, median of {REPEATS}"),
            median(&plains),
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
