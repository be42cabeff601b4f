//! Maildir intake (`intake.kind = "maildir"`): messages in `new/` (and unseen
//! ones in `cur/`) are ingested in batches; a file moves to `cur/` with the
//! `S` flag only after its batch committed (commit, then acknowledge).
//!
//! Must not parse or judge messages: that is the pipeline's job.

use std::path::{Path, PathBuf};

use crate::context::Context;
use crate::domain::Millis;
use crate::pipeline::{self, Ingested, Item};
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum MaildirError {
    #[error("maildir {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Messages ingested per transaction.
pub const BATCH: usize = 200;

/// Creates `new/`, `cur/` and `tmp/` if missing.
pub fn ensure(dir: &Path) -> Result<(), MaildirError> {
    for sub in ["new", "cur", "tmp"] {
        let p = dir.join(sub);
        std::fs::create_dir_all(&p).map_err(|source| MaildirError::Io { path: p, source })?;
    }
    Ok(())
}

/// Files waiting: everything in `new/`, and files in `cur/` not yet flagged seen.
pub fn waiting(dir: &Path) -> Result<Vec<PathBuf>, MaildirError> {
    let mut out = Vec::new();
    for sub in ["new", "cur"] {
        let d = dir.join(sub);
        let entries = std::fs::read_dir(&d).map_err(|source| MaildirError::Io {
            path: d.clone(),
            source,
        })?;
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if name.starts_with('.') {
                continue;
            }
            let seen = name
                .rsplit_once(":2,")
                .is_some_and(|(_, flags)| flags.contains('S'));
            if sub == "new" || !seen {
                out.push(e.path());
            }
        }
    }
    out.sort();
    Ok(out)
}

fn mark_seen(path: &Path, dir: &Path) -> std::io::Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let base = name.split(":2,").next().unwrap_or(&name).to_string();
    let flags = name
        .rsplit_once(":2,")
        .map(|(_, f)| f.to_string())
        .unwrap_or_default();
    let mut flags: Vec<char> = flags.chars().filter(|c| *c != 'S').collect();
    flags.push('S');
    flags.sort();
    let target = dir.join("cur").join(format!(
        "{base}:2,{}",
        flags.into_iter().collect::<String>()
    ));
    std::fs::rename(path, target)
}

/// Ingests everything waiting, telling `each` what became of every file as
/// its batch commits (nothing is kept per file, so a backlog of any size
/// costs the memory of one batch). Returns how many files were ingested.
///
/// A batch's files move to `cur/` on a blocking thread once it committed,
/// while the next batch is read and ingested; all have moved (or failed to,
/// and said so) before this returns.
pub async fn drain(
    ctx: &Context,
    dir: &Path,
    now: impl Fn() -> Millis,
    mut each: impl FnMut(&Path, Ingested),
) -> Result<usize, MaildirError> {
    ensure(dir)?;
    let files = waiting(dir)?;
    let mut count = 0;
    let mut moving: Option<tokio::task::JoinHandle<()>> = None;
    let mut ingested = Ok(());
    for chunk in files.chunks(BATCH) {
        match ingest_files(ctx, chunk, now()).await {
            Ok(done) => {
                // Committed: now acknowledge.
                count += done.len();
                let mut paths = Vec::with_capacity(done.len());
                for (path, outcome) in done {
                    each(&path, outcome);
                    paths.push(path);
                }
                // The previous batch's moves ran while this one was ingested.
                if let Some(m) = moving.take() {
                    moved(m).await;
                }
                let dir = dir.to_path_buf();
                moving = Some(tokio::task::spawn_blocking(move || {
                    for path in paths {
                        if let Err(e) = mark_seen(&path, &dir) {
                            tracing::warn!(file = %path.display(), error = %e, "committed, but could not move to cur/; dedup will absorb a re-read");
                        }
                    }
                }));
            }
            Err(e) => {
                ingested = Err(e);
                break;
            }
        }
    }
    if let Some(m) = moving {
        moved(m).await;
    }
    ingested.map(|()| count)
}

async fn moved(m: tokio::task::JoinHandle<()>) {
    if let Err(e) = m.await {
        tracing::warn!(error = %e, "moving committed files to cur/ stopped; dedup will absorb a re-read");
    }
}

/// Reads and ingests one batch of files in one transaction.
async fn ingest_files(
    ctx: &Context,
    chunk: &[PathBuf],
    now: Millis,
) -> Result<Vec<(PathBuf, Ingested)>, MaildirError> {
    let mut raws = Vec::with_capacity(chunk.len());
    let mut kept = Vec::with_capacity(chunk.len());
    for path in chunk {
        match std::fs::read(path) {
            Ok(raw) => {
                raws.push(raw);
                kept.push(path.clone());
            }
            // Vanished (another reader) or unreadable: leave it, say so, go on.
            Err(e) => {
                tracing::warn!(file = %path.display(), error = %e, "cannot read maildir file; left in place")
            }
        }
    }
    let sources: Vec<String> = kept
        .iter()
        .map(|p| {
            format!(
                "maildir:{}",
                p.file_name()
                    .map(|n| n.to_string_lossy().to_string())
                    .unwrap_or_default()
            )
        })
        .collect();
    let items: Vec<Item> = raws
        .iter()
        .zip(&sources)
        .map(|(raw, source)| Item {
            raw,
            source,
            truncated_from: None,
        })
        .collect();
    let outcomes = pipeline::ingest_batch(ctx, &items, now).await?;
    Ok(kept.into_iter().zip(outcomes).collect())
}
