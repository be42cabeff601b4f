//! Mutated mail across every format closeloop reads: the demo's messages and forwards
//! carrying Office documents, Outlook messages, 7-Zip archives, zips, tars and compressed
//! files (the fixtures, and files built here), each garbled a few ways (bit flips, cut,
//! spliced tokens such as boundaries and encodings, repeated runs, pieces of the others).
//!
//! The first test takes each input through what ingest does to it before the database:
//! parse, scan, redact, and the responder command grammar. None may panic, and parse
//! never returns nothing without a problem saying why. The second takes such mail, and
//! garbled responder replies, through the whole ingest into a real database (SQLite, and
//! PostgreSQL when `CLOSELOOP_TEST_POSTGRES` is set) and the outbox: nothing lost.
//!
//! 1,000 and 300 inputs by default, fixed seed; `CLOSELOOP_FUZZ_SECONDS=N` runs each for
//! N seconds from a seed taken from the clock, to look further (a failure prints the seed
//! and round to replay it with `CLOSELOOP_FUZZ_SEED`).

mod common;

use std::io::{Cursor, Write};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

const DEMO: &[&[u8]] = &[
    include_bytes!("../src/demo/01-gmail-build-log.eml"),
    include_bytes!("../src/demo/02-outlook-jira.eml"),
    include_bytes!("../src/demo/03-typed-slack.eml"),
    include_bytes!("../src/demo/04-typed-github.eml"),
    include_bytes!("../src/demo/05-typed-gcp-sa.eml"),
    include_bytes!("../src/demo/07-out-of-office.eml"),
    include_bytes!("../src/demo/reply.eml"),
];

const FILES: &[(&str, &[u8])] = &[
    (
        "runbook.docx",
        include_bytes!("fixtures/office/runbook.docx"),
    ),
    (
        "accounts.xlsx",
        include_bytes!("fixtures/office/accounts.xlsx"),
    ),
    ("review.pptx", include_bytes!("fixtures/office/review.pptx")),
    ("notes.odt", include_bytes!("fixtures/office/notes.odt")),
    ("configs.7z", include_bytes!("fixtures/7z/configs.7z")),
    ("encrypted.7z", include_bytes!("fixtures/7z/encrypted.7z")),
    ("ppmd.7z", include_bytes!("fixtures/7z/ppmd.7z")),
];

const TOKENS: &[&[u8]] = &[
    b"\r\n",
    b"\n\n",
    b"--",
    b"--b\r\n",
    b"=?utf-8?b?",
    b"=?iso-8859-1?q?",
    b"?=",
    b"Content-Type: multipart/mixed; boundary=\"b\"\r\n",
    b"Content-Type: message/rfc822\r\n\r\n",
    b"Content-Transfer-Encoding: base64\r\n",
    b"Content-Transfer-Encoding: quoted-printable\r\n",
    b"charset=\"utf-7\"",
    b"\0",
    b"PK\x03\x04",
    b"7z\xbc\xaf\x27\x1c",
    b"---------- Forwarded message ---------\r\nFrom: ",
    b"-----Original Message-----\r\n",
    b"=E9=\r\n",
    b"<html><body><p>",
    b"<a href=\"https://x.example/?k=",
    b"https://urldefense.com/v3/__https://x.example/?k=",
    b"__;Kw!!",
    b"https://urldefense.proofpoint.com/v2/url?u=https-3A__x.example_-3Fk-3D",
    b"\">",
    b"</a>",
    b"<pre>\r\n  ",
    b"&#x10FFFF;",
    b"\xff\xfe",
    b"\xc3",
    b"\xe2\x80\xae",
    b"AKIA",
    b"-----BEGIN RSA PRIVATE KEY-----\n",
    b"classify secret-leak\nresolve remediated\n",
];

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 as usize
    }

    fn below(&mut self, n: usize) -> usize {
        self.next() % n.max(1)
    }
}

/// A forward carrying `bytes` as the attachment `name` (MIME by lettre); inside the
/// forwarded original when `nested`.
fn forward(name: &str, bytes: &[u8], nested: bool) -> Vec<u8> {
    use lettre::message::header::ContentType;
    use lettre::message::{Attachment, MultiPart, SinglePart};
    let octets = ContentType::parse("application/octet-stream").unwrap();
    let mail = |from: &str, subject: &str, text: &str, part: SinglePart| {
        lettre::Message::builder()
            .from(from.parse().unwrap())
            .to("security@corp.example".parse().unwrap())
            .subject(subject)
            .multipart(
                MultiPart::mixed()
                    .singlepart(SinglePart::plain(text.to_string()))
                    .singlepart(part),
            )
            .unwrap()
            .formatted()
    };
    let file = Attachment::new(name.to_string()).body(bytes.to_vec(), octets);
    let inner = mail("dev@example.org", "creds", "see attached", file);
    if !nested {
        return inner;
    }
    let original = SinglePart::builder()
        .header(ContentType::parse("message/rfc822").unwrap())
        .body(inner);
    mail("a@example.org", "Fwd: creds", "found this", original)
}

/// Built here: a zip, a tar.gz, a .bz2 and an .xz of a `.env` with a key, and an
/// Outlook `.msg` carrying the zip.
fn archives() -> Vec<(&'static str, Vec<u8>)> {
    let env =
        b"AWS_ACCESS_KEY_ID=AKIAQ7R4Z2M9X3LPW6KA\nTOKEN=ghp_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8\n";
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    zip.start_file("app/.env", zip::write::SimpleFileOptions::default())
        .unwrap();
    zip.write_all(env).unwrap();
    let zip = zip.finish().unwrap().into_inner();
    let mut tar = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(env.len() as u64);
    h.set_mode(0o644);
    tar.append_data(&mut h, "ci/.env", &env[..]).unwrap();
    let tar = tar.into_inner().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar).unwrap();
    let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
    bz.write_all(env).unwrap();
    let mut xz =
        lzma_rust2::XzWriter::new(Vec::new(), lzma_rust2::XzOptions::with_preset(1)).unwrap();
    xz.write_all(env).unwrap();
    let msg = outlook_msg(&zip);
    vec![
        ("build failed.msg", msg),
        ("logs.zip", zip),
        ("ci.tar.gz", gz.finish().unwrap()),
        ("app.env.bz2", bz.finish().unwrap()),
        ("app.env.xz", xz.finish().unwrap()),
    ]
}

/// An Outlook `.msg` (a compound file, written with cfb as Outlook lays it out): a
/// UTF-16 body with a key, a `.env` attachment, and an embedded message with a compressed
/// RTF body and a zip of its own, so that garbling reaches the property streams, the
/// attachment storages, the compressed RTF and the nesting.
fn outlook_msg(zip: &[u8]) -> Vec<u8> {
    type File = cfb::CompoundFile<Cursor<Vec<u8>>>;
    // (id, type, bytes) of the variable-length properties; (id, type, value) of the fixed.
    fn props(
        f: &mut File,
        dir: &str,
        header: usize,
        var: &[(u16, u16, Vec<u8>)],
        fixed: &[(u16, u16, u64)],
    ) {
        for (id, kind, bytes) in var {
            let path = format!("{dir}/__substg1.0_{id:04X}{kind:04X}");
            f.create_stream(&path).unwrap().write_all(bytes).unwrap();
        }
        let mut stream = vec![0u8; header];
        for (id, kind, value) in fixed {
            stream.extend(kind.to_le_bytes());
            stream.extend(id.to_le_bytes());
            stream.extend(6u32.to_le_bytes());
            stream.extend(value.to_le_bytes());
        }
        let path = format!("{dir}/__properties_version1.0");
        f.create_stream(&path).unwrap().write_all(&stream).unwrap();
    }
    let utf16 = |s: &str| -> Vec<u8> { s.encode_utf16().flat_map(u16::to_le_bytes).collect() };
    let (unicode, binary, long, systime) = (0x001F, 0x0102, 0x0003, 0x0040);
    let sent = (1_793_610_840u64 + 11_644_473_600) * 10_000_000;
    let mut f: File =
        cfb::CompoundFile::create_with_version(cfb::Version::V3, Cursor::new(Vec::new())).unwrap();
    props(
        &mut f,
        "",
        32,
        &[
            (0x0037, unicode, utf16("Build failed")),
            (0x0C1F, unicode, utf16("alice@example.com")),
            (0x1035, unicode, utf16("<orig-7@example.com>")),
            (
                0x1000,
                unicode,
                utf16("deploy key AKIAQ7R4Z2M9X3LPW6KA\r\nsee attached\r\n"),
            ),
        ],
        &[(0x0039, systime, sent), (0x3FFD, long, 1252)],
    );
    let env = b"TOKEN=ghp_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8\n".to_vec();
    let first = "/__attach_version1.0_#00000000";
    f.create_storage(first).unwrap();
    props(
        &mut f,
        first,
        8,
        &[(0x3707, unicode, utf16("creds.env")), (0x3701, binary, env)],
        &[],
    );
    let second = "/__attach_version1.0_#00000001";
    f.create_storage(second).unwrap();
    props(
        &mut f,
        second,
        8,
        &[(0x3707, unicode, utf16("thread.msg"))],
        &[(0x3705, long, 5)],
    );
    let inner = format!("{second}/__substg1.0_3701000D");
    f.create_storage(&inner).unwrap();
    let rtf = compressed_rtf::compress_rtf(r"{\rtf1\ansi key AKIAQ7R4Z2M9X3LPW6KA\par}").unwrap();
    props(
        &mut f,
        &inner,
        24,
        &[(0x0037, unicode, utf16("Inner")), (0x1009, binary, rtf)],
        &[],
    );
    let nested = format!("{inner}/__attach_version1.0_#00000000");
    f.create_storage(&nested).unwrap();
    props(
        &mut f,
        &nested,
        8,
        &[
            (0x3707, unicode, utf16("logs.zip")),
            (0x3701, binary, zip.to_vec()),
        ],
        &[],
    );
    f.flush().unwrap();
    f.into_inner().into_inner()
}

/// A few mutations of `b`, some with pieces of `others`.
fn garble(b: &mut Vec<u8>, rng: &mut Rng, others: &[Vec<u8>]) {
    for _ in 0..1 + rng.below(8) {
        let at = rng.below(b.len() + 1);
        match rng.below(8) {
            0 | 1 if !b.is_empty() => {
                let at = at.min(b.len() - 1);
                b[at] ^= 1 << rng.below(8);
            }
            2 => b
                .splice(at..at, TOKENS[rng.below(TOKENS.len())].iter().copied())
                .for_each(drop),
            3 => {
                let end = (at + rng.below(64)).min(b.len());
                b.drain(at..end);
            }
            4 => b.truncate(at),
            5 => {
                let end = (at + rng.below(256)).min(b.len());
                let piece = b[at..end].repeat(1 + rng.below(4));
                let to = rng.below(b.len() + 1);
                b.splice(to..to, piece).for_each(drop);
            }
            6 => {
                let o = &others[rng.below(others.len())];
                let from = rng.below(o.len());
                let end = (from + rng.below(512)).min(o.len());
                b.splice(at..at, o[from..end].iter().copied())
                    .for_each(drop);
            }
            _ if rng.below(10) == 0 => {
                let run = TOKENS[rng.below(TOKENS.len())].repeat(1 + rng.below(3_000));
                b.splice(at..at, run).for_each(drop);
            }
            _ => {}
        }
    }
}

/// What ingest does to a message before the database; panics on a broken promise.
fn read(raw: &[u8]) {
    let i = closeloop::parse::parse(raw);
    assert!(
        !i.is_empty() || !i.problems.is_empty(),
        "an empty result without a problem"
    );
    let scanner = closeloop::extract::scanner();
    let mut texts = vec![i.text.as_str(), i.subject.as_str()];
    texts.extend(i.attachments.iter().map(|a| a.text.as_str()));
    texts.extend(i.original.as_ref().map(|o| o.text.as_str()));
    for text in texts {
        let _ = closeloop::extract::redact(text, &scanner.scan(text));
    }
    let _ = closeloop::command::parse_block(&closeloop::command::extract_block(&i.text));
}

/// `CLOSELOOP_FUZZ_SECONDS` (a campaign) and the seed: `CLOSELOOP_FUZZ_SEED`, else taken
/// from the clock in a campaign, else fixed.
fn campaign() -> (Option<u64>, u64) {
    let seconds: Option<u64> = std::env::var("CLOSELOOP_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok());
    let seed = std::env::var("CLOSELOOP_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| match seconds {
            Some(_) => std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64),
            None => 0x9e37_79b9_7f4a_7c15,
        });
    (seconds, seed)
}

/// A carried file: its name and bytes.
type Named = (String, Vec<u8>);

/// Whether a run is over: a campaign's `seconds` have passed, or else `rounds` are done.
fn over(seconds: Option<u64>, start: Instant, round: u64, rounds: u64) -> bool {
    match seconds {
        Some(s) => start.elapsed() >= Duration::from_secs(s),
        None => round == rounds,
    }
}

/// The carried files (fixtures and those built here), and every base input as bytes to
/// splice pieces of.
fn bases() -> (Vec<Named>, Vec<Vec<u8>>) {
    let mut files: Vec<Named> = FILES
        .iter()
        .map(|(n, b)| (n.to_string(), b.to_vec()))
        .collect();
    files.extend(archives().into_iter().map(|(n, b)| (n.to_string(), b)));
    let others: Vec<Vec<u8>> = DEMO
        .iter()
        .map(|m| m.to_vec())
        .chain(files.iter().map(|f| f.1.clone()))
        .collect();
    (files, others)
}

/// One garbled input: a demo message, or a forward carrying a garbled file.
fn garbled(rng: &mut Rng, files: &[Named], others: &[Vec<u8>]) -> Vec<u8> {
    if rng.below(2) == 0 {
        let mut m = DEMO[rng.below(DEMO.len())].to_vec();
        garble(&mut m, rng, others);
        m
    } else {
        let (name, bytes) = &files[rng.below(files.len())];
        let mut bytes = bytes.clone();
        garble(&mut bytes, rng, others);
        forward(name, &bytes, rng.below(2) == 0)
    }
}

#[test]
fn garbled_mail_in_every_format_never_panics() {
    let (seconds, seed) = campaign();
    let mut rng = Rng(seed | 1);
    let (files, others) = bases();
    // Unmutated, each carried file is found, plain and inside the original: the
    // mutations start from inputs that reach the readers.
    for (name, bytes) in &files {
        for nested in [false, true] {
            let i = closeloop::parse::parse(&forward(name, bytes, nested));
            // An attached .msg is itself the forwarded original.
            let msg = name.ends_with(".msg");
            assert_eq!(
                i.original.is_some(),
                nested || msg,
                "{name}: {:?}",
                i.problems
            );
            if msg {
                let deepest = "thread.msg / logs.zip / app/.env";
                assert!(
                    i.attachments.iter().any(|a| a.name.ends_with(deepest)),
                    "{name}: {:?}",
                    i.problems
                );
            }
            let read = i.attachments.iter().any(|a| a.name.contains(name.as_str()));
            let named = i.problems.iter().any(|p| p.contains(name.as_str()));
            assert!(read || named, "{name}: {:?}", i.problems);
        }
    }
    // A campaign keeps each input before reading it, so that one that aborts the process
    // (a stack overflow is not a panic) is left behind, and says its seed up front.
    let last =
        seconds.map(|_| std::env::temp_dir().join(format!("closeloop-garbled-{seed}-last.eml")));
    if let Some(last) = &last {
        eprintln!(
            "garbled input: seed {seed}; each input is kept in {} before it is read",
            last.display()
        );
    }
    // Quiet for the panics caught below, on this thread only: the store test runs beside.
    let quiet = std::thread::current().id();
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if std::thread::current().id() != quiet {
            default(info)
        }
    }));
    let (start, mut round) = (Instant::now(), 0u64);
    while !over(seconds, start, round, 1_000) {
        let raw = garbled(&mut rng, &files, &others);
        if let Some(last) = &last {
            std::fs::write(last, &raw).unwrap();
        }
        let outcome = catch_unwind(AssertUnwindSafe(|| read(&raw)));
        if let Err(e) = outcome {
            let _ = std::panic::take_hook();
            let why = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            let kept = std::env::temp_dir().join(format!("closeloop-garbled-{seed}-{round}.eml"));
            let _ = std::fs::write(&kept, &raw);
            panic!(
                "round {round} (CLOSELOOP_FUZZ_SEED={seed}): {why}; the input is in {}",
                kept.display()
            );
        }
        round += 1;
    }
    let _ = std::panic::take_hook();
    eprintln!("garbled input: {round} messages, seed {seed}");
}

/// `raw` with `tag` put in front of its Message-ID's own, where it has the demo's
/// header: garbled copies of one demo message are different messages, not one seen again.
fn unique_id(mut raw: Vec<u8>, tag: &str) -> Vec<u8> {
    const HEADER: &[u8] = b"Message-ID: <";
    if let Some(at) = memchr::memmem::find(&raw, HEADER) {
        let at = at + HEADER.len();
        raw.splice(at..at, tag.bytes()).for_each(drop);
    }
    raw
}

common::on_both_backends!(garbled_mail_through_the_store_is_never_lost);

/// The same garbled mail, and garbled responder replies, through the whole ingest into a
/// real database, in batches as the intakes make them; then the outbox sends every letter
/// they caused. No batch fails, no message is left for the store to refuse (the batch's
/// last resort), every message gets an outcome and is found again when
/// read twice (stored, quarantined or ignored: never lost), and every letter written has
/// well-formed header lines (nothing a garbled subject or sender carried broke out).
/// 300 messages by default; a campaign (`CLOSELOOP_FUZZ_SECONDS`) goes on for its time.
async fn garbled_mail_through_the_store_is_never_lost(backend: common::Backend) {
    let (seconds, seed) = campaign();
    let mut rng = Rng(seed.rotate_left(17) | 1);
    let (files, mut others) = bases();
    let d = common::Deployment::on(backend, "none", "");
    let ctx = d.ctx().await;
    let replies: Vec<Vec<u8>> = (1..=4)
        .map(|case| {
            common::reply(
                "lead@example.org",
                &format!("CL-{case}"),
                &format!("r{case}@example.org"),
                "classify secret-leak\nseverity high\naction rotated the key\nresolve remediated\n",
            )
        })
        .collect();
    others.extend(replies.iter().cloned());
    let (start, mut round) = (Instant::now(), 0u64);
    let mut outcomes = std::collections::BTreeMap::<String, usize>::new();
    while !over(seconds, start, round, 3) {
        let raws: Vec<Vec<u8>> = (0..100)
            .map(|_| match rng.below(10) {
                0 => {
                    let mut r = replies[rng.below(replies.len())].clone();
                    garble(&mut r, &mut rng, &others);
                    r
                }
                _ => garbled(&mut rng, &files, &others),
            })
            .enumerate()
            .map(|(i, raw)| unique_id(raw, &format!("g{round}.{i}.")))
            .collect();
        let items = |raws: &[Vec<u8>]| -> Vec<closeloop::pipeline::Item> {
            raws.iter()
                .enumerate()
                .map(|(i, raw)| closeloop::pipeline::Item {
                    raw: raw.clone(),
                    source: format!("garbled/{round}/{i}"),
                    truncated_from: None,
                })
                .collect()
        };
        let now = 1_793_613_600_000 + round as i64 * 60_000;
        let why = format!("round {round} (CLOSELOOP_FUZZ_SEED={seed})");
        let out = closeloop::pipeline::ingest_batch(&ctx, items(&raws), now)
            .await
            .unwrap_or_else(|e| panic!("{why}: the batch failed: {e}"));
        assert_eq!(out.len(), raws.len(), "{why}");
        for o in &out {
            // Refused by the store is the last resort (the batch failed and was retried
            // one message at a time): what garbling does must be caught before that.
            if let closeloop::pipeline::Ingested::Quarantined { reason } = o {
                assert!(
                    !reason.starts_with("could not be stored"),
                    "{why}: a message failed its batch: {reason}"
                );
            }
            let debug = format!("{o:?}");
            let kind = debug.split([' ', '{', '(']).next().unwrap_or_default();
            *outcomes.entry(kind.to_string()).or_default() += 1;
        }
        let again = closeloop::pipeline::ingest_batch(&ctx, items(&raws), now + 1)
            .await
            .unwrap_or_else(|e| panic!("{why}: the batch failed read again: {e}"));
        for (i, o) in again.iter().enumerate() {
            assert!(
                matches!(o, closeloop::pipeline::Ingested::AlreadySeen { .. }),
                "{why}, message {i}: first {:?}, then {o:?}",
                out[i]
            );
        }
        round += 1;
    }
    let mailer = closeloop::mailer::Mailer::from_config(&d.cfg).unwrap();
    let pass = closeloop::outbox::send_due(&ctx, &mailer, 1_793_613_600_000 + 86_400_000)
        .await
        .unwrap_or_else(|e| panic!("seed {seed}: the outbox failed: {e}"));
    assert!(pass.sent > 0, "seed {seed}: no letter was sent: {pass:?}");
    let mut letters = 0;
    for path in common::all_files(&d.dir.path().join("letters")) {
        let text = std::fs::read(&path).unwrap();
        let end = memchr::memmem::find(&text, b"\r\n\r\n")
            .unwrap_or_else(|| panic!("seed {seed}: {} has no end of header", path.display()));
        // Each header line, with the CRLF that ends the last one.
        let head = &text[..end + 2];
        for line in head[..head.len() - 1].split(|&b| b == b'\n') {
            let line = line.strip_suffix(b"\r").unwrap_or_else(|| {
                panic!(
                    "seed {seed}: {}: a bare line feed in the header",
                    path.display()
                )
            });
            let continued = line.first().is_some_and(|b| *b == b' ' || *b == b'\t');
            let named = line.iter().position(|&b| b == b':').is_some_and(|c| {
                c > 0
                    && line[..c]
                        .iter()
                        .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
            });
            assert!(
                continued || named,
                "seed {seed}: {}: not a header line: {:?}",
                path.display(),
                String::from_utf8_lossy(line)
            );
            assert!(
                !line.contains(&b'\r'),
                "seed {seed}: a bare CR in {}",
                path.display()
            );
        }
        letters += 1;
    }
    assert_eq!(
        letters, pass.sent,
        "seed {seed}: every letter sent is a file"
    );
    eprintln!(
        "garbled through the store ({backend:?}): {round} batches, outcomes {outcomes:?}, \
         {letters} letters, seed {seed}"
    );
}
