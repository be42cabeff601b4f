//! `closeloop ingest`: messages from files or stdin through the same pipeline
//! as the daemon. One line per message saying what happened.

use std::io::Read;
use std::path::PathBuf;

use anyhow::Context as _;

use super::{open, Failure, Outcome};
use crate::config::Config;
use crate::pipeline;

pub async fn run(cfg: &Config, files: &[PathBuf]) -> Outcome {
    let ctx = open(cfg).await?;
    let now = chrono::Utc::now().timestamp_millis();
    let mut failures = 0;
    if files.is_empty() {
        let mut raw = Vec::new();
        std::io::stdin()
            .read_to_end(&mut raw)
            .context("cannot read a message from stdin")?;
        if blank(&raw) {
            ctx.store.close().await;
            return Err(Failure::from(anyhow::anyhow!(
                "stdin is empty: nothing ingested (name message files, or pipe one message in)"
            )));
        }
        let r = pipeline::ingest(&ctx, &raw, "stdin", now).await?;
        println!("stdin: {}", r.describe(ctx.prefix()));
    }
    for path in files {
        let shown = pipeline::shown_path(path);
        let raw = match std::fs::read(path) {
            Ok(raw) => raw,
            Err(e) => {
                eprintln!("{shown}: cannot read: {e}");
                failures += 1;
                continue;
            }
        };
        if blank(&raw) {
            eprintln!("{shown}: empty, not a message");
            failures += 1;
            continue;
        }
        let source = format!("file:{shown}");
        match pipeline::ingest(&ctx, &raw, &source, now).await {
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
