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

#[path = "common/synth.rs"]
mod synth;

use std::path::Path;
use std::time::Instant;

use closeloop::config::Config;
use closeloop::{maildir, mailer::Mailer, outbox};

struct Row {
    name: String,
    value: f64,
    unit: &'static str,
    target: String,
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

fn write_maildir(dir: &Path, msgs: &[(synth::Kind, Vec<u8>)]) {
    maildir::ensure(dir).unwrap();
    for (i, (_, raw)) in msgs.iter().enumerate() {
        std::fs::write(dir.join("new").join(format!("{i:08}.bench")), raw).unwrap();
    }
}

async fn ingest_rate(
    ctx: &closeloop::context::Context,
    dir: &Path,
    msgs: &[(synth::Kind, Vec<u8>)],
) -> f64 {
    write_maildir(dir, msgs);
    let start = Instant::now();
    let n = maildir::drain(ctx, dir, || chrono::Utc::now().timestamp_millis())
        .await
        .unwrap()
        .len();
    assert_eq!(n, msgs.len(), "every message ingested");
    n as f64 / start.elapsed().as_secs_f64()
}

fn main() {
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
        let mailbox = synth::mailbox(n, 1, true);
        let avg = mailbox.messages.iter().map(|(_, m)| m.len()).sum::<usize>() / n.max(1);
        let dups = mailbox
            .messages
            .iter()
            .filter(|(k, _)| {
                matches!(
                    k,
                    synth::Kind::DuplicateSecret | synth::Kind::DuplicateOriginal
                )
            })
            .count();
        eprintln!("bench: {n} reports, average {avg} bytes, {dups} duplicates");
        let first = 5_000.min(n / 2);
        reset_peak_rss();
        let early = ingest_rate(&ctx, &cfg.intake.dir, &mailbox.messages[..first]).await;
        let mid_end = n - first;
        let _ = ingest_rate(&ctx, &cfg.intake.dir, &mailbox.messages[first..mid_end]).await;
        let late = ingest_rate(&ctx, &cfg.intake.dir, &mailbox.messages[mid_end..]).await;
        let rss = peak_rss_mb();
        rows.push(Row {
            name: format!("maildir ingest, first {first} (empty db)"),
            value: early,
            unit: "reports/s",
            target: ">= 5000".into(),
        });
        rows.push(Row {
            name: format!("maildir ingest, last {first} ({mid_end} stored)"),
            value: late,
            unit: "reports/s",
            target: "".into(),
        });
        rows.push(Row {
            name: "dedup growth: late rate / early rate".into(),
            value: late / early * 100.0,
            unit: "%",
            target: ">= 80".into(),
        });
        rows.push(Row {
            name: format!("peak RSS during ingest of {n}"),
            value: rss,
            unit: "MB",
            target: "<= 100".into(),
        });

        // 4 KB plain messages only, fresh database: the headline target's exact shape.
        let tmp2 = tempfile::tempdir().unwrap();
        let cfg2 = config(tmp2.path());
        let ctx2 = closeloop::cli::open(&cfg2).await.unwrap();
        let plain = synth::mailbox(first, 2, false);
        let rate = ingest_rate(&ctx2, &cfg2.intake.dir, &plain.messages).await;
        rows.push(Row {
            name: format!("maildir ingest, {first} x ~4 KB plain"),
            value: rate,
            unit: "reports/s",
            target: ">= 5000".into(),
        });

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
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-loop.json");
    std::fs::write(&out, serde_json::to_string_pretty(&json).unwrap()).unwrap();
    println!("\nJSON: {}", out.display());
}
