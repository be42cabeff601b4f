//! `closeloop ingest`: messages from files or stdin through the same pipeline
//! as the daemon. One line per message saying what happened.

use std::path::PathBuf;

use anyhow::Context as _;

use super::{open, Failure, Outcome};
use crate::config::Config;
use crate::pipeline::{self, Item};

pub async fn run(cfg: &Config, files: &[PathBuf]) -> Outcome {
    let ctx = open(cfg).await?;
    let now = chrono::Utc::now().timestamp_millis();
    // Of a message over `intake.max_message_bytes` only the head is read (it is
    // quarantined for its size), so a huge file cannot take the memory.
    let max = cfg.intake.max_message_bytes;
    let mut failures = 0;
    if files.is_empty() {
        let item = Item::from_reader(std::io::stdin().lock(), "stdin".into(), max)
            .context("cannot read a message from stdin")?;
        if blank(&item.raw) {
            ctx.store.close().await;
            return Err(Failure::from(anyhow::anyhow!(
                "stdin is empty: nothing ingested (name message files, or pipe one message in)"
            )));
        }
        let r = pipeline::ingest_item(&ctx, item, now).await?;
        println!("stdin: {}", r.describe(ctx.prefix()));
    }
    for path in files {
        let shown = pipeline::shown_path(path);
        let source = format!("file:{shown}");
        let item = match Item::from_file(path, source, max) {
            Ok(item) => item,
            Err(e) => {
                eprintln!("{shown}: cannot read: {e}");
                failures += 1;
                continue;
            }
        };
        if blank(&item.raw) {
            eprintln!("{shown}: empty, not a message");
            failures += 1;
            continue;
        }
        match pipeline::ingest_item(&ctx, item, now).await {
            Ok(r) => println!("{shown}: {}", r.describe(ctx.prefix())),
            Err(e) => {
                eprintln!("{shown}: not stored: {e}");
                failures += 1;
            }
        }
    }
    ctx.store.close().await;
    if failures > 0 {
        return Err(Failure::from(anyhow::anyhow!(
            "{failures} message(s) could not be ingested"
        )));
    }
    Ok(())
}

/// Nothing but white space: a mistake (a command waiting on stdin ended with Ctrl-D,
/// an empty file), not a message to quarantine.
fn blank(raw: &[u8]) -> bool {
    raw.iter().all(u8::is_ascii_whitespace)
}
