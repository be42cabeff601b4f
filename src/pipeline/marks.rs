//! Messages that kill the process reading them. Reading runs in-process, and a reader
//! that aborts instead of panicking (a stack overflow, a failed allocation, a fault in a
//! crate) ends closeloop with no chance to record anything: the restarted daemon would
//! fetch the same message, die again, and nothing after it would get through.
//!
//! So each batch being read keeps a small file of its own in the reading-marks directory
//! (`Config::reading_marks_dir`, beside the database), locked while it lives, holding the
//! digest of the message in hand and how many readers have died on it before. The file is
//! emptied and removed once the batch is read. A file whose lock is free and that still
//! names a message was left by a process that died reading it; the next reader of that
//! message counts one death more. A message that was in hand at [`DEATHS_TO_QUARANTINE`]
//! deaths is not read again: it is quarantined with the reason, and stays in the mailbox.
//! Its marks are kept until they go stale (`STALE_AFTER`), so that a copy of the same
//! bytes (delivered twice, in this batch or a later one) is not read either: the store
//! takes the copy for the message already seen.
//! Two deaths, not one: a process killed for another reason (shut down hard, killed for
//! memory another part took) blames the message it happened to be reading.
//!
//! The marks cost one `pwrite` a message and a file a batch. When the directory cannot be
//! written, reading goes on unguarded (said once in the log).

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::Read as _;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

/// A message in hand when this many readers died is quarantined unread.
pub const DEATHS_TO_QUARANTINE: u32 = 2;

/// Fault injection for the crash tests: with this variable set, a reader aborts the
/// process (as a stack overflow would) when the message it reads contains its value.
pub const FAULT_ABORT_READING_ENV: &str = "CLOSELOOP_FAULT_ABORT_READING";

/// Bytes of one mark: deaths, digest and source, space-padded, so that each mark
/// overwrites the last whole.
const MARK_BYTES: usize = 512;

/// Marks left by dead processes are removed after this long: those of messages
/// quarantined unread, and of messages never seen again (moved away, read by another
/// instance).
const STALE_AFTER: Duration = Duration::from_secs(7 * 24 * 3600);

/// The reason given for a message quarantined unread.
pub fn reason(deaths: u32) -> String {
    format!(
        "closeloop stopped {deaths} times while reading this message (a crash in a reader, \
         not an error it could report); kept in the mailbox, not read again: look at it yourself"
    )
}

/// The marks of one batch being read.
pub struct Marks {
    /// This batch's own file (locked), when the directory is usable.
    own: Option<(PathBuf, File)>,
    /// Digest → (deaths, the dead readers' files naming it) for messages in hand when a
    /// reader died.
    dead: HashMap<String, (u32, Vec<PathBuf>)>,
}

impl Marks {
    /// Starts a batch: makes its own file in `dir` (None: unguarded) and gathers the
    /// marks dead readers left there.
    pub fn begin(dir: Option<&Path>) -> Marks {
        let Some(dir) = dir else {
            return Marks::unguarded();
        };
        match Marks::open(dir) {
            Ok(marks) => marks,
            Err(e) => {
                static SAID: AtomicBool = AtomicBool::new(false);
                if !SAID.swap(true, Ordering::Relaxed) {
                    tracing::warn!(dir = %dir.display(), error = %e,
                        "cannot keep reading marks; a message that crashes its reader would be read again at every restart");
                }
                Marks::unguarded()
            }
        }
    }

    fn unguarded() -> Marks {
        Marks {
            own: None,
            dead: HashMap::new(),
        }
    }

    fn open(dir: &Path) -> std::io::Result<Marks> {
        static BATCH: AtomicU64 = AtomicU64::new(0);
        fs::create_dir_all(dir)?;
        let started = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        let name = format!(
            "{}-{started}-{}.mark",
            std::process::id(),
            BATCH.fetch_add(1, Ordering::Relaxed)
        );
        let path = dir.join(name);
        let file = File::options()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)?;
        file.lock()?;
        let mut dead: HashMap<String, (u32, Vec<PathBuf>)> = HashMap::new();
        for entry in fs::read_dir(dir)? {
            let other = entry?.path();
            if other != path && other.extension().is_some_and(|e| e == "mark") {
                if let Some((sha, deaths)) = left_by_dead_reader(&other) {
                    let known = dead.entry(sha).or_default();
                    known.0 = known.0.max(deaths);
                    known.1.push(other);
                }
            }
        }
        Ok(Marks {
            own: Some((path, file)),
            dead,
        })
    }

    /// How many readers died with the message `sha` in hand.
    pub fn deaths(&self, sha: &str) -> u32 {
        self.dead.get(sha).map_or(0, |d| d.0)
    }

    /// Notes that the message `sha` (from `source`) is about to be read; a dead reader's
    /// mark for it is taken over (this one counts its deaths). Then the fault injection.
    pub fn reading(&mut self, sha: &str, source: &str, raw: &[u8]) {
        let deaths = self.deaths(sha);
        if let Some((_, file)) = &self.own {
            let mut mark = format!("{deaths} {sha} {source}");
            mark.truncate(mark.floor_char_boundary(MARK_BYTES - 1));
            let mut bytes = mark.into_bytes();
            bytes.resize(MARK_BYTES - 1, b' ');
            bytes.push(b'\n');
            if let Err(e) = file.write_at(&bytes, 0) {
                tracing::warn!(error = %e, "cannot write a reading mark");
            }
        }
        if let Some((_, left)) = self.dead.remove(sha) {
            tracing::warn!(
                source,
                deaths,
                "a reader died with this message in hand before; reading it again"
            );
            for file in left {
                let _ = fs::remove_file(file);
            }
        }
        fault_abort(raw);
    }
}

impl Drop for Marks {
    /// The batch is read: its file is emptied (so a reader that locks it in between finds
    /// no message) and removed.
    fn drop(&mut self) {
        if let Some((path, file)) = self.own.take() {
            let _ = file.set_len(0);
            let _ = fs::remove_file(path);
        }
    }
}

/// The digest and deaths a mark file names when its writer is gone (its lock is free),
/// counting the death that left it; None for a live or an emptied one (a batch's file is
/// empty from its making to its first mark, and from its end to its removal; only its
/// own batch removes it). A stale one is removed.
fn left_by_dead_reader(path: &Path) -> Option<(String, u32)> {
    let mut file = File::options().read(true).write(true).open(path).ok()?;
    file.try_lock().ok()?;
    let stale = file
        .metadata()
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
        .is_some_and(|age| age > STALE_AFTER);
    if stale {
        let _ = fs::remove_file(path);
        return None;
    }
    let mut text = String::new();
    file.read_to_string(&mut text).ok()?;
    let mut words = text.split_whitespace();
    let deaths = words.next()?.parse::<u32>().ok()?;
    let sha = words.next()?;
    Some((sha.to_string(), deaths.saturating_add(1)))
}

/// Aborts when `FAULT_ABORT_READING_ENV` is set and `raw` contains its value.
fn fault_abort(raw: &[u8]) {
    static NEEDLE: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    if let Some(n) = crate::fault::needle(&NEEDLE, FAULT_ABORT_READING_ENV) {
        if memchr::memmem::find(raw, n.as_bytes()).is_some() {
            tracing::error!("{FAULT_ABORT_READING_ENV}: aborting while reading a message");
            std::process::abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "5f0c6a1e0b9d4c3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f";

    /// A mark as a reader that died would have left it: written, not locked.
    fn leave_mark(dir: &Path, name: &str, deaths: u32, sha: &str) -> PathBuf {
        let path = dir.join(name);
        fs::write(&path, format!("{deaths} {sha} imap:INBOX/7\n")).unwrap();
        path
    }

    #[test]
    fn a_mark_left_unlocked_counts_a_death_and_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let left = leave_mark(dir.path(), "1-1-0.mark", 0, SHA);
        let mut marks = Marks::begin(Some(dir.path()));
        assert_eq!(marks.deaths(SHA), 1);
        assert_eq!(marks.deaths("other"), 0);
        marks.reading(SHA, "imap:INBOX/7", b"raw");
        assert!(!left.exists(), "the dead reader's mark is taken over");
        // This batch's own mark now names the message with one death before.
        let (own, _) = marks.own.as_ref().unwrap();
        let text = fs::read_to_string(own).unwrap();
        assert!(
            text.starts_with(&format!("1 {SHA} imap:INBOX/7 ")),
            "{text}"
        );
        assert_eq!(text.len(), MARK_BYTES);
        // Locked while the batch lives: not a dead reader's.
        assert_eq!(Marks::begin(Some(dir.path())).deaths(SHA), 0);
        let own = own.clone();
        drop(marks);
        assert!(!own.exists());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn deaths_add_up_and_the_highest_count_wins() {
        let dir = tempfile::tempdir().unwrap();
        leave_mark(dir.path(), "1-1-0.mark", 1, SHA);
        leave_mark(dir.path(), "2-1-0.mark", 0, SHA);
        let mut marks = Marks::begin(Some(dir.path()));
        assert_eq!(marks.deaths(SHA), DEATHS_TO_QUARANTINE);
        // A message quarantined unread keeps its marks: the next batch still knows it.
        assert_eq!(
            Marks::begin(Some(dir.path())).deaths(SHA),
            DEATHS_TO_QUARANTINE
        );
        // One read again takes every dead reader's mark for it over.
        marks.reading(SHA, "imap:INBOX/7", b"raw");
        assert!(!dir.path().join("1-1-0.mark").exists());
        assert!(!dir.path().join("2-1-0.mark").exists());
    }

    #[test]
    fn emptied_and_unreadable_marks_blame_nobody() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("1-1-0.mark"), "").unwrap();
        fs::write(dir.path().join("1-1-1.mark"), "garbage\n").unwrap();
        fs::write(dir.path().join("notes.txt"), format!("0 {SHA}\n")).unwrap();
        let marks = Marks::begin(Some(dir.path()));
        assert_eq!(marks.deaths(SHA), 0);
        assert!(marks.dead.is_empty());
    }

    #[test]
    fn an_unusable_directory_reads_unguarded() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("not-a-dir");
        fs::write(&file, "x").unwrap();
        let mut marks = Marks::begin(Some(&file));
        assert!(marks.own.is_none());
        marks.reading(SHA, "stdin", b"raw");
        assert_eq!(Marks::begin(None).deaths(SHA), 0);
    }
}
