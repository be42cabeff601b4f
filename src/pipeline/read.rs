//! The pure first step of ingest: hash, parse and extract each message. It
//! needs no database, so an intake runs it for the next batch on a blocking
//! thread (`ReadAhead`) while the current batch's transaction runs: the two
//! halves of the work then share the machine's cores instead of taking turns.

use super::marks::{self, Marks};
use super::*;
use hmac::{Hmac, Mac};
use std::io::{self, Read as _};
use std::ops::Range;
use std::path::Path;

/// One message to ingest and where it came from (`file:…`, `imap:INBOX/42`, `stdin`).
pub struct Item {
    pub raw: Vec<u8>,
    pub source: String,
    /// The message's real size when `raw` is only its head (an IMAP intake
    /// fetches just the head of a message over `intake.max_message_bytes`).
    pub truncated_from: Option<usize>,
}

impl Item {
    /// One message from a file: all of it up to `max` bytes
    /// (`intake.max_message_bytes`), only its head when longer (the real size is
    /// then `truncated_from`), so a huge file costs the memory of its head.
    pub fn from_file(path: &Path, source: String, max: usize) -> io::Result<Item> {
        let mut file = std::fs::File::open(path)?;
        let size = file.metadata()?.len();
        if size > max as u64 {
            let mut raw = Vec::new();
            (&mut file)
                .take(OVERSIZE_HEAD as u64)
                .read_to_end(&mut raw)?;
            return Ok(Item {
                raw,
                source,
                truncated_from: Some(usize::try_from(size).unwrap_or(usize::MAX)),
            });
        }
        // A file still being written may have grown since: read it as a stream.
        Item::from_reader(file, source, max)
    }

    /// One message from a stream (stdin), as `from_file`: the rest of a message
    /// over `max` bytes is counted, not kept.
    pub fn from_reader(mut r: impl io::Read, source: String, max: usize) -> io::Result<Item> {
        let mut raw = Vec::new();
        (&mut r).take(max as u64 + 1).read_to_end(&mut raw)?;
        let mut truncated_from = None;
        if raw.len() > max {
            let rest = io::copy(&mut r, &mut io::sink())?;
            truncated_from = Some(
                raw.len()
                    .saturating_add(usize::try_from(rest).unwrap_or(usize::MAX)),
            );
            raw.truncate(OVERSIZE_HEAD);
            raw.shrink_to_fit();
        }
        Ok(Item {
            raw,
            source,
            truncated_from,
        })
    }
}

/// Splits messages of the given sizes, in order, into batches (ranges of their
/// indices) of at most `max_count` whose bytes stay under `max_bytes`; a message
/// over `max_message` counts as the `head` read of it. A single message larger
/// than `max_bytes` gets a batch of its own. An intake holds a batch being stored
/// and the next being read, so this bounds its memory whatever the mail.
pub fn batches(
    sizes: impl IntoIterator<Item = u64>,
    max_count: usize,
    max_bytes: u64,
    max_message: u64,
    head: u64,
) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let (mut start, mut bytes) = (0, 0u64);
    let mut end = 0;
    for size in sizes {
        let cost = if size > max_message { head } else { size };
        if end > start && (end - start >= max_count || bytes.saturating_add(cost) > max_bytes) {
            out.push(start..end);
            (start, bytes) = (end, 0);
        }
        bytes = bytes.saturating_add(cost);
        end += 1;
    }
    if end > start {
        out.push(start..end);
    }
    out
}

/// A message once read: what the transaction needs of it, and no longer its
/// raw bytes.
pub struct Read {
    pub(super) source: String,
    pub(super) sha: String,
    /// Its body's keyed hash ([`body_hash`]); `None` when only its head was read.
    pub(super) body_hash: Option<String>,
    pub(super) parsed: Inbound,
    pub(super) size: usize,
    /// Why the message is quarantined without being read (oversized, or it killed its
    /// readers); an oversized one's headers are read.
    pub(super) unread: Option<String>,
    /// Extraction, should it be a report (pure, so done up front for the
    /// batch's dedup lookup).
    pub(super) prepared: Prepared,
}

impl Read {
    pub(super) fn message_id(&self) -> Option<&str> {
        self.parsed.message_id.as_deref().filter(|m| !m.is_empty())
    }
}

/// Reads a batch, in order, keeping reading marks (`marks`) as it goes.
pub(super) fn read_all(ctx: &Context, items: Vec<Item>) -> Vec<Read> {
    let mut marks = Marks::begin(ctx.cfg.reading_marks_dir().as_deref());
    items
        .into_iter()
        .map(|item| read(ctx, item, &mut marks))
        .collect()
}

/// Reads one message (never fails: damage becomes a recorded problem). One that
/// killed its readers before is not read (`marks`).
fn read(ctx: &Context, item: Item, marks: &mut Marks) -> Read {
    let raw = &item.raw;
    let sha = hex::encode(Sha256::digest(raw));
    let max = ctx.cfg.intake.max_message_bytes;
    let size = item.truncated_from.unwrap_or(raw.len()).max(raw.len());
    let body_hash = (item.truncated_from.is_none()).then(|| body_hash(ctx.key.bytes(), raw));
    let deaths = marks.deaths(&sha);
    let killer = deaths >= marks::DEATHS_TO_QUARANTINE;
    let mut unread = if killer {
        tracing::error!(
            source = item.source,
            deaths,
            "this message stopped closeloop each time it was read; quarantined unread"
        );
        Some(marks::reason(deaths))
    } else if size > max || item.truncated_from.is_some() {
        Some(format!(
            "message is {size} bytes, over intake.max_message_bytes ({max}); kept in the mailbox, not read"
        ))
    } else {
        None
    };
    let (mut parsed, prepared) = if killer {
        (glanced(raw), Prepared::default())
    } else {
        marks.reading(&sha, &item.source, raw);
        // An oversized message is read for its headers only (as the parser reads one
        // more complex than it is given: `too_complex`, below).
        let oversized = unread.is_some();
        let text = if oversized {
            parse::head(raw, OVERSIZE_HEAD)
        } else {
            raw
        };
        let reading = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            crate::fault::panic_at(crate::fault::Stage::Reading, raw);
            let mut parsed = parse::parse(text);
            hide_secret_message_id(ctx, &mut parsed);
            // Only a sender who may report makes a report (commands and reporters'
            // answers do not use this): a stranger's text is not scanned, so a 25 MB
            // dump of keys from anyone costs a parse, not seconds and 280 MB. Nor is
            // the head of a message quarantined unread.
            let whole = !oversized && parsed.too_complex.is_none();
            let prepared = if whole && may_report(ctx, &parsed) {
                Prepared::new(ctx, &mut parsed)
            } else {
                Prepared::default()
            };
            (parsed, prepared)
        }));
        reading.unwrap_or_else(|_| {
            // A bug that this message reaches (parsing keeps its own panics: this is
            // extraction's). Set aside, so that it does not stop intake at every start.
            tracing::error!(
                source = item.source,
                "reading this message hit a bug; quarantined"
            );
            unread = Some(PANICKED_READING.to_string());
            (glanced(raw), Prepared::default())
        })
    };
    if unread.is_none() {
        unread = parsed
            .too_complex
            .as_ref()
            .map(|what| format!("message has {what}; kept in the mailbox, not read"));
    }
    // Extraction has the attachments and the attached original's text (the
    // stored body carries them, redacted): the read batch need not.
    parsed.attachments = Vec::new();
    if let Some(o) = &mut parsed.original {
        o.text = String::new();
    }
    Read {
        sha,
        body_hash,
        prepared,
        parsed,
        size,
        unread,
        source: item.source,
    }
}

/// A keyed hash (HMAC-SHA256, as fingerprints are: a short body must not be
/// checkable against a guess) of a message's body — all after the first empty
/// line — with each line's end and trailing blanks left out, and empty lines at
/// its end: what two deliveries of one message share, whatever header fields
/// were added on the way and whether the mail store keeps CRLF or LF.
pub(super) fn body_hash(key: &[u8], raw: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC accepts any key length");
    mac.update(b"body\0");
    let trim = |line: &[u8]| -> usize {
        line.iter()
            .rposition(|b| !matches!(b, b' ' | b'\t' | b'\r'))
            .map_or(0, |i| i + 1)
    };
    let mut lines = raw.split(|b| *b == b'\n');
    // The header section ends at its first empty line.
    for line in lines.by_ref() {
        if line.iter().all(|b| *b == b'\r') {
            break;
        }
    }
    let mut blank = 0usize;
    for line in lines {
        let line = &line[..trim(line)];
        if line.is_empty() {
            blank += 1;
            continue;
        }
        for _ in 0..blank {
            mac.update(b"\n");
        }
        blank = 0;
        mac.update(line);
        mac.update(b"\n");
    }
    hex::encode(mac.finalize().into_bytes())
}

/// A Message-ID is stored, and quoted in the letters that answer it, as it is: one
/// holding text that scans as a secret is replaced by a keyed fingerprint of it, by
/// which the message still finds itself when it comes again (the letters then thread
/// on nothing of the reporter's).
fn hide_secret_message_id(ctx: &Context, parsed: &mut Inbound) {
    let Some(mid) = parsed.message_id.as_deref() else {
        return;
    };
    let findings = extract::scanner().scan(mid);
    if !findings.iter().any(|f| f.class == ArtifactClass::Secret) {
        return;
    }
    let fingerprint = extract::fingerprint(ctx.key.bytes(), "message-id", mid);
    parsed.message_id = Some(format!("{}@redacted.invalid", &fingerprint[..32]));
    parsed
        .problems
        .push("the Message-ID holds text that looks like a secret: kept as a fingerprint".into());
}

/// Why a message whose reading panicked is quarantined.
const PANICKED_READING: &str = "closeloop hit a bug reading it (a panic; the log names the place \
     in the code); kept in the mailbox: look at it yourself";

/// A message not read: its sender and subject by a glance at the bytes, for the
/// quarantine list.
fn glanced(raw: &[u8]) -> Inbound {
    let (from, subject) = parse::glance(raw);
    Inbound {
        from: from.map(|address| parse::Mailbox {
            name: None,
            address,
        }),
        subject,
        ..Inbound::default()
    }
}

/// A forwarded report touching every pattern reading compiles on first use: the
/// scanner's rules and its placeholder markers (AWS's documentation key), an inline
/// forward (separator, fields, `mailto:` copies), quoted-printable, a `Delivered-To`.
/// Holds no secret, only an identity.
const WARM_UP_SAMPLE: &str = "Delivered-To: security@example.org\r\n\
From: Staff <staff@example.org>\r\nTo: security@example.org\r\nSubject: Fwd: nightly job\r\n\
Date: Mon, 30 Nov 2026 09:00:00 +0000\r\nMessage-ID: <warm-up@closeloop.invalid>\r\n\
MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\r\n\
Odd run at night=3D see below.\r\n\r\n---------- Forwarded message ---------\r\n\
From: CI [mailto:ci@example.org]\r\nDate: Mon, 30 Nov 2026 03:12:00 +0000\r\n\
Subject: nightly job\r\nTo: <team@example.org>\r\n\r\n\
deploy-bot@ci-prod.iam.gserviceaccount.com ran from https://build.example.org/jobs/42\r\n\
with the example key AKIAIOSFODNN7EXAMPLE\r\n";

/// Compiles what reading needs (the scanner's rules, the parser's patterns) by
/// reading a built-in sample. A daemon calls it at start on a blocking thread, so
/// that its first report does not wait for them (a tenth of a second or more on a
/// slow core); a message read meanwhile waits for the same compilation, never
/// repeats it. Returns what the sample's text scanned as.
pub fn warm_up() -> Vec<extract::Finding> {
    let parsed = parse::parse(WARM_UP_SAMPLE.as_bytes());
    extract::scanner().scan(&parsed.text)
}

/// Reads a batch on a blocking thread, started before the batch is needed.
pub struct ReadAhead<T>(tokio::task::JoinHandle<(T, Vec<Read>)>);

impl<T: Send + 'static> ReadAhead<T> {
    /// Runs `load` (which gathers a batch, e.g. from files, and names it with
    /// a `T` of the caller's) and reads what it gathered, on a blocking thread.
    pub fn start(ctx: &Context, load: impl FnOnce() -> (T, Vec<Item>) + Send + 'static) -> Self {
        let ctx = ctx.clone();
        ReadAhead(tokio::task::spawn_blocking(move || {
            let (tag, items) = load();
            (tag, read_all(&ctx, items))
        }))
    }

    /// The batch, once read. Nothing of it is stored yet.
    pub async fn finish(self) -> Result<(T, Vec<Read>), StoreError> {
        match self.0.await {
            Ok(done) => Ok(done),
            // A panic in reading is a bug; it surfaces here as it would have inline.
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => Err(StoreError::ShuttingDown),
        }
    }
}

/// Batches read one ahead: the next batch's reading starts as the current
/// one is handed out, so it runs while the caller stores the current one.
pub struct ReadAheads<T, I> {
    rest: I,
    ahead: Option<ReadAhead<T>>,
}

impl<T: Send + 'static, I: Iterator<Item = ReadAhead<T>>> ReadAheads<T, I> {
    /// Starts reading the first batch of `batches` (each started as the
    /// iterator yields it).
    pub fn new(mut batches: I) -> Self {
        let ahead = batches.next();
        ReadAheads {
            rest: batches,
            ahead,
        }
    }

    /// The next batch once read, having started reading the one after it;
    /// `None` when all were handed out.
    pub async fn next(&mut self) -> Option<Result<(T, Vec<Read>), StoreError>> {
        let reading = self.ahead.take()?;
        let done = reading.finish().await;
        self.ahead = self.rest.next();
        Some(done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{self, mail, KEYS};

    /// The warm-up reads its sample as intake would: the quoted-printable is
    /// decoded, the inline forward found (its `mailto:` copy tidied away), and the
    /// scan sees the identity and the link, which it could not if the sample
    /// stopped parsing, and takes the documentation key for the placeholder it is.
    #[test]
    fn the_warm_up_reads_its_sample_like_any_report() {
        let parsed = parse::parse(WARM_UP_SAMPLE.as_bytes());
        assert!(parsed.problems.is_empty(), "{:?}", parsed.problems);
        let original = parsed.original.as_ref().expect("inline forward found");
        assert_eq!(original.from.as_deref(), Some("CI <ci@example.org>"));
        assert!(parsed.text.starts_with("Odd run at night= see below."));
        let kinds: Vec<_> = warm_up().iter().map(|f| f.kind).collect();
        assert_eq!(kinds, ["gcp-service-account", "url"]);
    }

    #[test]
    fn batches_keep_to_count_and_bytes() {
        let lens = |b: Vec<Range<usize>>| b.iter().map(|r| r.len()).collect::<Vec<_>>();
        assert_eq!(lens(batches([100; 5], 2, 10_000, 1_000, 64)), [2, 2, 1]);
        assert_eq!(lens(batches([100; 5], 10, 250, 1_000, 64)), [2, 2, 1]);
        // An oversized message costs only its head; a huge batch-of-one is allowed.
        assert_eq!(
            batches([5_000_000, 100, 900], 10, 1_000, 1_000_000, 64),
            [0..2, 2..3]
        );
        assert_eq!(
            batches([100, 5_000, 100], 10, 1_000, 10_000, 64),
            [0..1, 1..2, 2..3]
        );
        assert!(batches([], 10, 1, 1, 1).is_empty());
    }

    #[test]
    fn a_message_over_the_limit_is_read_to_its_head_and_its_size_kept() {
        let dir = tempfile::tempdir().unwrap();
        let mut raw = b"Subject: big\r\n\r\n".to_vec();
        raw.resize(OVERSIZE_HEAD * 3, b'x');
        let path = dir.path().join("big.eml");
        std::fs::write(&path, &raw).unwrap();
        let both = |max: usize| {
            [
                Item::from_file(&path, "f".into(), max).unwrap(),
                Item::from_reader(&raw[..], "s".into(), max).unwrap(),
            ]
        };
        for item in both(raw.len() - 1) {
            assert!(item.raw == raw[..OVERSIZE_HEAD], "{}", item.source);
            assert_eq!(item.truncated_from, Some(raw.len()), "{}", item.source);
        }
        for item in both(raw.len()) {
            assert!(item.raw == raw, "{}", item.source);
            assert_eq!(item.truncated_from, None, "{}", item.source);
        }
    }

    /// A message of more MIME parts than are read is quarantined, its headers read
    /// (from the quarantine list) and its parts not.
    #[tokio::test]
    async fn a_message_of_too_many_parts_is_quarantined_with_its_headers() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = testkit::context(dir.path()).await;
        let parts = "--b\r\nContent-Type: text/plain\r\n\r\nx\r\n".repeat(parse::MAX_PARTS);
        let raw = format!(
            "From: p1@example.org\r\nSubject: many parts\r\nMessage-ID: <many@x>\r\n\
             Content-Type: multipart/mixed; boundary=b\r\n\r\n{parts}--b--\r\n"
        );
        let item = Item {
            raw: raw.into_bytes(),
            source: "test".into(),
            truncated_from: None,
        };
        let read = read_all(&ctx, vec![item]).remove(0);
        let reason = read.unread.clone().unwrap_or_default();
        assert!(
            reason.starts_with(&format!(
                "message has more than {} MIME parts;",
                parse::MAX_PARTS
            )),
            "{reason}"
        );
        assert_eq!(read.parsed.subject, "many parts");
        assert_eq!(read.message_id(), Some("many@x"));
    }

    #[tokio::test]
    async fn only_a_sender_who_may_report_has_the_text_scanned() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = testkit::context(dir.path()).await;
        let body = format!("found {}", KEYS[0]);
        let item = |from: &str, id: &str| Item {
            raw: mail(from, id, "a key", &body),
            source: "test".into(),
            truncated_from: None,
        };
        // A head kept of a message over intake.max_message_bytes: quarantined unread.
        let oversized = Item {
            truncated_from: Some(100_000_000),
            ..item("bob@example.org", "c@x")
        };
        let reads = read_all(
            &ctx,
            vec![
                item("ann@example.org", "a@x"),
                item("eve@elsewhere.example", "b@x"),
                oversized,
            ],
        );
        assert_eq!(reads[0].prepared.keys.len(), 1);
        assert!(reads[0].prepared.body.contains("[REDACTED"));
        for unread in &reads[1..] {
            assert!(unread.prepared.keys.is_empty() && unread.prepared.artifacts.is_empty());
            assert!(unread.prepared.body.is_empty());
        }
        assert!(reads[2]
            .unread
            .as_deref()
            .unwrap_or_default()
            .contains("over intake.max_message_bytes"));
    }

    /// A secret found in one text of a report (the body, by its name) is redacted in
    /// the others too, where it is written alone: the subject, an attachment.
    #[tokio::test]
    async fn a_secret_found_in_the_body_is_redacted_in_the_subject_too() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = testkit::context(dir.path()).await;
        let pw = "Zq8vLm2Rt5Kp";
        let item = Item {
            raw: mail(
                "ann@example.org",
                "pw@x",
                &format!("Leaked password {pw} in the build log"),
                &format!("The log says:\nDB_PASSWORD={pw}\n"),
            ),
            source: "test".into(),
            truncated_from: None,
        };
        let read = read_all(&ctx, vec![item]).remove(0);
        let p = &read.prepared;
        assert_eq!(p.keys.len(), 1, "one secret, one key");
        assert!(
            p.body.contains("[REDACTED") && !p.body.contains(pw),
            "{}",
            p.body
        );
        assert!(
            p.subject.starts_with("Leaked password [REDACTED") && !p.subject.contains(pw),
            "{}",
            p.subject
        );
    }

    #[test]
    fn a_body_hash_ignores_what_delivery_changes_and_nothing_else() {
        let key = b"k1";
        let h = |raw: &str| body_hash(key, raw.as_bytes());
        let sent = "From: a@x\r\nSubject: s\r\n\r\nline one\r\n\r\nline two\r\n";
        let same = [
            "Received: from mx\r\nFrom: a@x\r\nSubject: s\r\n\r\nline one\r\n\r\nline two\r\n",
            "From: a@x\nSubject: s\n\nline one\n\nline two\n",
            "From: a@x\r\nSubject: s\r\n\r\nline one \t\r\n\r\nline two\r\n\r\n\r\n",
            "From: a@x\r\nSubject: s\r\n\r\nline one\r\n\r\nline two",
        ];
        for raw in same {
            assert_eq!(h(raw), h(sent), "{raw:?}");
        }
        let other = [
            "From: a@x\r\nSubject: s\r\n\r\nline one\r\nline two\r\n",
            "From: a@x\r\nSubject: s\r\n\r\n line one\r\n\r\nline two\r\n",
            "From: a@x\r\nSubject: s\r\n\r\nline one\r\n\r\nline three\r\n",
            "From: a@x\r\nSubject: s\r\n\r\n\r\nline one\r\n\r\nline two\r\n",
            // A line moved up into the header section.
            "From: a@x\r\nSubject: s\r\nline one\r\n\r\nline two\r\n",
        ];
        for raw in other {
            assert_ne!(h(raw), h(sent), "{raw:?}");
        }
        assert_eq!(h("From: a@x\r\n"), h("From: b@x\r\n\r\n\r\n"));
        assert_ne!(body_hash(b"k2", sent.as_bytes()), h(sent), "keyed");
    }
}
