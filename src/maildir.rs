//! Maildir intake (`intake.kind = "maildir"`): messages in `new/` (and unseen
//! ones in `cur/`) are ingested in batches; a file moves, with the `S` flag, to
//! the processed folder (`intake.processed_mailbox` as a Maildir++ folder:
//! `.Processed/cur/`) only after its batch committed (commit, then acknowledge).
//! Processed mail leaves `cur/`, so the listing that looks for unseen mail
//! there costs the same whatever the history.
//!
//! Must not parse or judge messages: that is the pipeline's job.

#[cfg(unix)]
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::context::Context;
use crate::domain::Millis;
use crate::pipeline::{self, Ingested, Item, ReadAhead, ReadAheads};
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

/// Messages ingested per transaction. With the next batch read while one
/// commits, 200 was ~20 % faster on two cores but cost ~11 MB more peak
/// memory (the loop bench's 100,000-report run would pass 100 MB).
pub const BATCH: usize = 100;

/// The error of an I/O call on `path`, for `map_err`.
fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> MaildirError {
    let path = path.to_path_buf();
    move |source| MaildirError::Io { path, source }
}

/// The Maildir++ folder for mailbox `name` under the Maildir `dir`: `.Name`, the
/// hierarchy written with dots (`Archive/Processed` is `.Archive.Processed`), as Dovecot
/// lays out folders, so an IMAP client of the same mailbox sees it as a folder.
pub fn folder(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!(".{}", name.replace('/', ".")))
}

/// Creates the Maildir++ folder `folder` of the Maildir `dir` if missing, owned and
/// permitted like `dir` itself, so that a mail server serving the same Maildir (Dovecot
/// as its mail user) can keep its index files there. A new owner is set only where
/// closeloop may (as root); elsewhere the folder is closeloop's, as the Maildir is.
pub fn ensure_folder(folder: &Path, dir: &Path) -> Result<(), MaildirError> {
    if folder.join("cur").is_dir() {
        return Ok(());
    }
    ensure(folder)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let like = std::fs::metadata(dir).map_err(io_error(dir))?;
        for d in ["", "new", "cur", "tmp"] {
            let p = folder.join(d);
            let mode = std::fs::Permissions::from_mode(like.mode() & 0o7777);
            std::fs::set_permissions(&p, mode).map_err(io_error(&p))?;
            if let Err(e) = std::os::unix::fs::chown(&p, Some(like.uid()), Some(like.gid())) {
                if e.kind() != std::io::ErrorKind::PermissionDenied {
                    return Err(io_error(&p)(e));
                }
            }
        }
    }
    Ok(())
}

/// Messages flagged seen in `cur/`: processed mail that versions before 2026-11-30 left
/// there instead of in the processed folder, or mail a reader opened before closeloop ran.
/// Each look at `cur/` lists them.
fn seen_in_cur(dir: &Path) -> Result<usize, MaildirError> {
    let cur = dir.join("cur");
    let entries = match std::fs::read_dir(&cur) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(io_error(&cur)(e)),
    };
    Ok(entries
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .rsplit_once(":2,")
                .is_some_and(|(_, flags)| flags.contains('S'))
        })
        .count())
}

/// When `cur/` holds messages flagged seen (see `seen_in_cur`): what to tell the user,
/// with the shell command that moves them to the processed folder `processed_mailbox`.
/// For `check-config` and the daemon's start.
pub fn left_in_cur(dir: &Path, processed_mailbox: &str) -> Option<String> {
    let n = seen_in_cur(dir).ok().filter(|n| *n > 0)?;
    Some(format!(
        "{n} message(s) flagged seen lie in {0}/cur (processed by closeloop before 2026-11-30, \
         or read before it ran); every look lists them: move them to the processed folder \
         with: mv {0}/cur/*:2,*S* {1}/cur/",
        dir.display(),
        folder(dir, processed_mailbox).display()
    ))
}

/// Creates `new/`, `cur/` and `tmp/` if missing.
pub fn ensure(dir: &Path) -> Result<(), MaildirError> {
    for sub in ["new", "cur", "tmp"] {
        let p = dir.join(sub);
        std::fs::create_dir_all(&p).map_err(io_error(&p))?;
    }
    Ok(())
}

/// How old `cur/`'s modification time must be before a listing that found
/// nothing waiting there is trusted: a file renamed into `cur/` within the same
/// timestamp tick as the listing (a few milliseconds on ext4, a second or
/// two on some file systems) would leave the time unchanged.
const CUR_SETTLED: Duration = Duration::from_secs(3);

/// What intake last saw of `cur/`, where mail clients leave what they have
/// looked at (and where closeloop before 0.1 left processed mail, so an old
/// Maildir may hold a lot there: ~70 ms a listing at 100,000 files), and the
/// daemon looks every second. When a listing
/// found nothing waiting in `cur/` and `cur/` had not changed for a while, its
/// modification time is kept; while `cur/` keeps that time, nothing can have
/// arrived there, and only `new/` is listed.
#[derive(Debug, Default)]
pub struct CurState {
    quiet_at: Option<SystemTime>,
}

/// Files waiting: everything in `new/`, and files in `cur/` not yet flagged
/// seen (`cur/` is not listed again while unchanged since a listing that found
/// none there, see [`CurState`]).
pub fn waiting(dir: &Path, cur: &mut CurState) -> Result<Vec<PathBuf>, MaildirError> {
    let cur_dir = dir.join("cur");
    let cur_time = std::fs::metadata(&cur_dir)
        .and_then(|m| m.modified())
        .map_err(io_error(&cur_dir))?;
    let list_cur = cur.quiet_at != Some(cur_time);
    let subs: &[&str] = if list_cur { &["new", "cur"] } else { &["new"] };
    let mut out = Vec::new();
    let mut in_cur = 0;
    for sub in subs {
        let d = dir.join(sub);
        let entries = std::fs::read_dir(&d).map_err(io_error(&d))?;
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if name.starts_with('.') {
                continue;
            }
            let seen = name
                .rsplit_once(":2,")
                .is_some_and(|(_, flags)| flags.contains('S'));
            if *sub == "new" {
                out.push(e.path());
            } else if !seen {
                out.push(e.path());
                in_cur += 1;
            }
        }
    }
    if list_cur {
        let settled = SystemTime::now()
            .duration_since(cur_time)
            .is_ok_and(|age| age >= CUR_SETTLED);
        cur.quiet_at = (in_cur == 0 && settled).then_some(cur_time);
    }
    out.sort();
    Ok(out)
}

/// Moves a committed file into the processed folder's `cur/`, flagged seen.
fn mark_seen(path: &Path, processed: &Path) -> std::io::Result<()> {
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
    let target = processed.join("cur").join(format!(
        "{base}:2,{}",
        flags.into_iter().collect::<String>()
    ));
    std::fs::rename(path, target)
}

/// Ingests everything waiting, telling `each` what became of every file as
/// its batch commits (nothing is kept per file, so a backlog of any size
/// costs the memory of two batches). Returns how many files were ingested.
///
/// Three things overlap: while a batch's transaction runs, the next batch is
/// read from disk and parsed on a blocking thread, and the batch before it
/// moves to the processed folder (it committed) on another. All have moved (or
/// failed to, and said so) before this returns.
pub async fn drain(
    ctx: &Context,
    dir: &Path,
    cur: &mut CurState,
    now: impl Fn() -> Millis,
    mut each: impl FnMut(&Path, Ingested),
) -> Result<usize, MaildirError> {
    ensure(dir)?;
    let files = waiting(dir, cur)?;
    if files.is_empty() {
        return Ok(0);
    }
    let processed = folder(dir, &ctx.cfg.intake.processed_mailbox);
    ensure_folder(&processed, dir)?;
    // Batches by count and by bytes (a file that cannot be sized counts as
    // none: `load` says what became of it).
    let max = ctx.cfg.intake.max_message_bytes;
    let sizes = files
        .iter()
        .map(|f| std::fs::metadata(f).map_or(0, |m| m.len()));
    let planned = pipeline::batches(
        sizes,
        BATCH,
        pipeline::BATCH_BYTES,
        max as u64,
        pipeline::OVERSIZE_HEAD as u64,
    );
    let mut batches = ReadAheads::new(planned.into_iter().map(|r| {
        let chunk = files[r].to_vec();
        ReadAhead::start(ctx, move || load(chunk, max))
    }));
    let mut conn = ctx.store.conn().await?;
    let mut count = 0;
    let mut moving: Option<tokio::task::JoinHandle<()>> = None;
    let mut ingested = Ok(());
    while let Some(read) = batches.next().await {
        let stored = async {
            let (paths, reads) = read?;
            let outcomes = pipeline::store(ctx, &mut conn, &reads, now()).await?;
            Ok::<_, StoreError>((paths, outcomes))
        }
        .await;
        match stored {
            Ok((paths, outcomes)) => {
                // Committed: now acknowledge.
                count += outcomes.len();
                for (path, outcome) in paths.iter().zip(outcomes) {
                    each(path, outcome);
                }
                // The previous batch's moves ran while this one was ingested.
                if let Some(m) = moving.take() {
                    moved(m).await;
                }
                let processed = processed.clone();
                moving = Some(tokio::task::spawn_blocking(move || {
                    for path in paths {
                        if let Err(e) = mark_seen(&path, &processed) {
                            tracing::warn!(file = pipeline::shown_path(&path), error = %e, "committed, but could not move to the processed folder; dedup will absorb a re-read");
                        }
                    }
                }));
            }
            Err(e) => {
                ingested = Err(e.into());
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
        tracing::warn!(error = %e, "moving committed files to the processed folder stopped; dedup will absorb a re-read");
    }
}

/// Reads one batch of files into items (of a file over `max` bytes only its
/// head); a file that vanished or cannot be read is left where it is, with a
/// warning. Returns the files read, in the items' order.
fn load(chunk: Vec<PathBuf>, max: usize) -> (Vec<PathBuf>, Vec<Item>) {
    let mut items = Vec::with_capacity(chunk.len());
    let mut kept = Vec::with_capacity(chunk.len());
    for path in chunk {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let source = format!("maildir:{}", pipeline::redact_all(&name));
        match Item::from_file(&path, source, max) {
            Ok(item) => {
                items.push(item);
                kept.push(path);
            }
            // Vanished (another reader) or unreadable: leave it, say so, go on.
            Err(e) => {
                tracing::warn!(file = pipeline::shown_path(&path), error = %e, "cannot read maildir file; left in place")
            }
        }
    }
    (kept, items)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{context, mail, T0};

    /// A backlog of several batches: every file's outcome is told once, in
    /// the files' order, each committed file ends in the processed folder's `cur/`
    /// flagged seen (the inbox's `cur/` stays empty), an
    /// entry that cannot be read is left where it is, and a second drain
    /// finds nothing.
    #[tokio::test]
    async fn a_backlog_of_several_batches_is_stored_once_in_order_and_moved() {
        let tmp = tempfile::tempdir().unwrap();
        let ctx = context(tmp.path()).await;
        let dir = tmp.path().join("maildir");
        ensure(&dir).unwrap();
        let n = BATCH * 2 + BATCH / 2;
        for i in 0..n {
            // Every fifth message repeats the one before it byte for byte.
            let k = if i % 5 == 4 { i - 1 } else { i };
            let raw = mail(
                &format!("p{k}@example.org"),
                &format!("m{k}@x"),
                &format!("finding {k}"),
                &format!("odd token use {k}"),
            );
            std::fs::write(dir.join("new").join(format!("{i:05}.test")), raw).unwrap();
        }
        // Listed as waiting, but cannot be read as a file.
        std::fs::create_dir(dir.join("new").join("00000x.test")).unwrap();

        let mut told: Vec<(String, Ingested)> = Vec::new();
        let count = drain(
            &ctx,
            &dir,
            &mut CurState::default(),
            || T0,
            |p, o| told.push((p.file_name().unwrap().to_string_lossy().into(), o)),
        )
        .await
        .unwrap();

        assert_eq!(count, n);
        let names: Vec<String> = told.iter().map(|(p, _)| p.clone()).collect();
        let expected: Vec<String> = (0..n).map(|i| format!("{i:05}.test")).collect();
        assert_eq!(names, expected, "each file told once, in order");
        for (i, (_, outcome)) in told.iter().enumerate() {
            if i % 5 == 4 {
                assert!(
                    matches!(outcome, Ingested::AlreadySeen { .. }),
                    "{i}: {outcome:?}"
                );
            } else {
                assert!(
                    matches!(outcome, Ingested::Report { .. }),
                    "{i}: {outcome:?}"
                );
            }
        }
        let done: Vec<String> = std::fs::read_dir(dir.join(".Processed").join("cur"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(done.len(), n);
        assert!(done.iter().all(|c| c.ends_with(":2,S")), "{done:?}");
        assert_eq!(std::fs::read_dir(dir.join("cur")).unwrap().count(), 0);
        let left: Vec<PathBuf> = waiting(&dir, &mut CurState::default()).unwrap();
        assert_eq!(left, vec![dir.join("new").join("00000x.test")]);

        let again = drain(&ctx, &dir, &mut CurState::default(), || T0 + 1, |_, _| {})
            .await
            .unwrap();
        assert_eq!(again, 0);
    }

    /// A file over `intake.max_message_bytes` is read only to its head, and
    /// quarantined for its real size; the mail beside it is read as usual.
    #[tokio::test]
    async fn a_file_over_the_size_limit_is_quarantined_for_its_real_size() {
        let tmp = tempfile::tempdir().unwrap();
        let mut cfg =
            crate::testkit::config(&format!("sqlite://{}/closeloop.db", tmp.path().display()));
        cfg.intake.max_message_bytes = 100_000;
        let ctx = crate::testkit::context_with(cfg).await;
        let dir = tmp.path().join("maildir");
        ensure(&dir).unwrap();
        let big = mail(
            "a@example.org",
            "big@x",
            "big",
            &"odd use\r\n".repeat(30_000),
        );
        std::fs::write(dir.join("new").join("1.big"), &big).unwrap();
        let small = mail("b@example.org", "small@x", "small", "odd token use");
        std::fs::write(dir.join("new").join("2.small"), small).unwrap();

        let mut told = Vec::new();
        drain(
            &ctx,
            &dir,
            &mut CurState::default(),
            || T0,
            |_, o| told.push(o),
        )
        .await
        .unwrap();
        match &told[..] {
            [Ingested::Quarantined { reason }, Ingested::Report { .. }] => assert!(
                reason.starts_with(&format!("message is {} bytes, over", big.len())),
                "{reason}"
            ),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            std::fs::read_dir(dir.join(".Processed").join("cur"))
                .unwrap()
                .count(),
            2
        );
    }

    #[test]
    fn seen_mail_left_in_cur_is_counted() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("maildir");
        assert_eq!(seen_in_cur(&dir).unwrap(), 0, "no Maildir yet");
        assert_eq!(left_in_cur(&dir, "Processed"), None);
        ensure(&dir).unwrap();
        for name in ["1.a:2,S", "2.b:2,RS", "3.c:2,", "4.d", "5.e:2,F"] {
            std::fs::write(dir.join("cur").join(name), "x").unwrap();
        }
        assert_eq!(seen_in_cur(&dir).unwrap(), 2);
        let hint = left_in_cur(&dir, "Processed").unwrap();
        assert!(hint.starts_with("2 message(s) flagged seen"), "{hint}");
        assert!(
            hint.ends_with(&format!(
                "mv {0}/cur/*:2,*S* {0}/.Processed/cur/",
                dir.display()
            )),
            "{hint}"
        );
    }

    /// The processed folder is made like the Maildir: same mode (and owner, which a test
    /// not run as root cannot change, so only the mode is checked here; the e2e test with
    /// Dovecot checks the owner).
    #[cfg(unix)]
    #[test]
    fn the_processed_folder_is_made_like_the_maildir() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("maildir");
        ensure(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o750)).unwrap();
        let processed = folder(&dir, "Processed");
        ensure_folder(&processed, &dir).unwrap();
        for d in ["", "new", "cur", "tmp"] {
            let mode = std::fs::metadata(processed.join(d))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o7777, 0o750, "{d}");
        }
    }

    #[test]
    fn folders_are_named_as_maildir_plus_plus_names_them() {
        let d = Path::new("/m");
        assert_eq!(folder(d, "Processed"), Path::new("/m/.Processed"));
        assert_eq!(
            folder(d, "Archive/Processed"),
            Path::new("/m/.Archive.Processed")
        );
    }

    fn set_mtime(dir: &Path, at: SystemTime) {
        std::fs::File::open(dir).unwrap().set_modified(at).unwrap();
    }

    /// `cur/` is listed again only when it changed since a settled listing
    /// that found nothing waiting there; `new/` is always listed.
    #[test]
    fn cur_is_listed_again_only_when_it_changed() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("maildir");
        ensure(&dir).unwrap();
        let cur_dir = dir.join("cur");
        std::fs::write(cur_dir.join("1.done:2,S"), "x").unwrap();
        let old = SystemTime::now() - Duration::from_secs(60);
        set_mtime(&cur_dir, old);
        let mut cur = CurState::default();
        assert!(waiting(&dir, &mut cur).unwrap().is_empty());
        assert_eq!(
            cur.quiet_at,
            Some(old),
            "a settled, quiet cur/ is remembered"
        );

        // Unseen mail lands in cur/ (a client moved it there): cur/ changed.
        std::fs::write(cur_dir.join("2.unseen:2,"), "x").unwrap();
        assert_eq!(
            waiting(&dir, &mut cur).unwrap(),
            vec![cur_dir.join("2.unseen:2,")]
        );
        assert_eq!(cur.quiet_at, None, "something waits in cur/: list it again");
        assert_eq!(waiting(&dir, &mut cur).unwrap().len(), 1);

        // Without a change of cur/'s time nothing is looked for there: the
        // file planted behind its back (time set back) stays unseen, while
        // new/ is still read.
        std::fs::remove_file(cur_dir.join("2.unseen:2,")).unwrap();
        set_mtime(&cur_dir, old);
        assert!(waiting(&dir, &mut cur).unwrap().is_empty());
        std::fs::write(cur_dir.join("3.planted:2,"), "x").unwrap();
        set_mtime(&cur_dir, old);
        std::fs::write(dir.join("new").join("4.new"), "x").unwrap();
        assert_eq!(
            waiting(&dir, &mut cur).unwrap(),
            vec![dir.join("new").join("4.new")]
        );
        // A fresh state (a restart) lists cur/ and finds it.
        assert_eq!(waiting(&dir, &mut CurState::default()).unwrap().len(), 2);
    }

    /// A cur/ that changed just now is not trusted to stay as listed: a file
    /// renamed into it within the same timestamp tick would not change its time.
    #[test]
    fn a_recently_changed_cur_is_listed_every_time() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("maildir");
        ensure(&dir).unwrap();
        std::fs::write(dir.join("cur").join("1.done:2,S"), "x").unwrap();
        let mut cur = CurState::default();
        assert!(waiting(&dir, &mut cur).unwrap().is_empty());
        assert_eq!(cur.quiet_at, None);
    }
}
