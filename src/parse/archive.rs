//! Text files inside archive attachments (logs, configs, `.env` files bundled by the
//! reporter): `.zip` (the `zip` crate, entries deflated, bzip2- or xz-compressed), `.tar`,
//! `.tar.gz`/`.tgz`, `.tar.bz2`/`.tbz2`, `.tar.xz`/`.txz` (the `tar` crate over
//! `flate2`, `bzip2`, `lzma-rust2`: all Rust), `.7z` (`seven_z`) and a single
//! compressed file (`app.log.gz`, `.bz2`, `.xz`). Each file becomes a
//! [`TextAttachment`] named under the archive (`logs.zip / app/.env`), by the same rules as
//! an attachment of its own (text by name or by content).
//!
//! Which attachments are archives: those whose first bytes are the format's signature and
//! whose name or MIME type says so — or, for an attachment typed only
//! `application/octet-stream` (or not typed), whose name is not that of a format built on
//! zip (Office, OpenDocument, Java, Android …: their XML parts would fill the report; an
//! Office document's text is read by `office`, here too for one inside an archive).
//!
//! An archive is hostile input: one larger than the attachment size limit is not opened
//! (its directory alone could take memory many times its size), at most [`MAX_ENTRIES`]
//! entries are looked at, each file is read only up to the attachment size limit whatever
//! its header claims, and all files of one archive together at most [`MAX_TOTAL`] bytes (a
//! zip or gzip bomb stops there, with a problem; a 7z file is decoded in full to reach
//! the next one, so it stops when the files passed would unpack to more than twice that).
//! Encrypted files are named in a problem
//! and skipped; archives inside the archive are named and not opened. Never panics (the
//! crates' own panics are caught).

use std::io::{Cursor, Read};
use std::panic::{catch_unwind, AssertUnwindSafe};

use bzip2::read::MultiBzDecoder;
use flate2::read::GzDecoder;
use lzma_rust2::XzReader;

use super::body::{binary_attachment_text, unread_note, MAX_ATTACHMENT_BYTES};
use super::office::office_texts;
use super::seven_z::read_7z;
use super::TextAttachment;

/// Entries looked at in one archive.
pub(super) const MAX_ENTRIES: usize = 1_000;
/// Bytes read out of one archive, all its files together.
pub(super) const MAX_TOTAL: u64 = 16 << 20;

/// Formats built on zip that keep their own names: not opened as archives.
const ZIP_BASED: &[&str] = &[
    ".docx", ".docm", ".dotx", ".xlsx", ".xlsm", ".xltx", ".pptx", ".pptm", ".potx", ".vsdx",
    ".odt", ".ods", ".odp", ".odg", ".epub", ".jar", ".war", ".ear", ".apk", ".aab", ".ipa",
    ".xpi", ".vsix", ".nupkg", ".whl", ".msix", ".appx", ".kmz", ".3mf", ".xps", ".oxps",
];

/// Memory an xz stream's decoder may take (KiB): `xz -9`'s 64 MiB dictionary and a
/// little; a stream that asks for more is refused before anything is allocated.
pub(super) const XZ_MEMORY_KIB: u32 = 66 * 1024;

/// The 7z signature.
const SEVEN_Z_MAGIC: &[u8] = b"7z\xbc\xaf\x27\x1c";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Zip,
    Tar,
    SevenZ,
    /// A compressed stream (gzip, bzip2, xz): a tar when a tar header comes out
    /// (`.tar.gz`, `.tar.bz2`, `.tar.xz` …), else one compressed file.
    Compressed(&'static Compressed),
}

/// One compression format: its decoder, signature, names and types.
#[derive(Debug, PartialEq, Eq)]
struct Compressed {
    codec: Codec,
    name: &'static str,
    magic: &'static [u8],
    /// `app.log.gz`: one file, `app.log`.
    suffix: &'static str,
    /// `logs.tgz`: a tar, `logs.tar`.
    tar_suffixes: &'static [&'static str],
    types: &'static [&'static str],
}

#[derive(Debug, PartialEq, Eq)]
enum Codec {
    Gzip,
    Bzip2,
    Xz,
}

const COMPRESSED: &[Compressed] = &[
    Compressed {
        codec: Codec::Gzip,
        name: "gzip",
        magic: &[0x1f, 0x8b],
        suffix: ".gz",
        tar_suffixes: &[".tgz"],
        types: &[
            "application/gzip",
            "application/x-gzip",
            "application/x-gtar",
            "application/x-tgz",
            "application/x-compressed-tar",
        ],
    },
    Compressed {
        codec: Codec::Bzip2,
        name: "bzip2",
        magic: b"BZh",
        suffix: ".bz2",
        tar_suffixes: &[".tbz2", ".tbz"],
        types: &[
            "application/x-bzip2",
            "application/x-bzip",
            "application/x-bzip-compressed-tar",
            "application/x-bzip2-compressed-tar",
        ],
    },
    Compressed {
        codec: Codec::Xz,
        name: "xz",
        magic: &[0xfd, b'7', b'z', b'X', b'Z', 0],
        suffix: ".xz",
        tar_suffixes: &[".txz"],
        types: &["application/x-xz", "application/x-xz-compressed-tar"],
    },
];

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Zip => "zip",
            Kind::Tar => "tar",
            Kind::SevenZ => "7z",
            Kind::Compressed(c) => c.name,
        }
    }

    /// The archive format of an attachment, by signature and name or type (module doc).
    fn of(bytes: &[u8], name: &str, mime: &str) -> Option<Kind> {
        let mime = mime.to_ascii_lowercase();
        let name = name.to_lowercase();
        let untyped = matches!(mime.as_str(), "" | "application/octet-stream");
        let zip_based = ZIP_BASED.iter().any(|e| name.ends_with(e));
        if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06") {
            let said = name.ends_with(".zip")
                || matches!(
                    mime.as_str(),
                    "application/zip" | "application/x-zip-compressed" | "application/x-zip"
                );
            return (said || (untyped && !zip_based)).then_some(Kind::Zip);
        }
        if let Some(c) = COMPRESSED.iter().find(|c| bytes.starts_with(c.magic)) {
            let said = name.ends_with(c.suffix)
                || c.tar_suffixes.iter().any(|s| name.ends_with(s))
                || c.types.contains(&mime.as_str());
            return (said || untyped).then_some(Kind::Compressed(c));
        }
        if bytes.starts_with(SEVEN_Z_MAGIC) {
            let said = name.ends_with(".7z") || mime == "application/x-7z-compressed";
            return (said || untyped).then_some(Kind::SevenZ);
        }
        if is_tar(bytes) {
            let said = name.ends_with(".tar") || mime == "application/x-tar";
            return (said || untyped).then_some(Kind::Tar);
        }
        None
    }
}

/// A POSIX or GNU tar header: `ustar` at offset 257.
fn is_tar(bytes: &[u8]) -> bool {
    bytes.get(257..262) == Some(b"ustar")
}

/// The text files of an attachment that is an archive (see the module doc), else None.
/// `name` (the attachment's, as shown) prefixes the files' names; problems say what was
/// skipped and why.
pub(super) fn archive_texts(
    bytes: &[u8],
    name: &str,
    mime: &str,
    problems: &mut Vec<String>,
) -> Option<Vec<TextAttachment>> {
    let kind = Kind::of(bytes, name, mime)?;
    let texts = open_guarded(kind.name(), name, bytes, problems, |problems| {
        let mut files = Files {
            name,
            problems,
            out: Vec::new(),
            budget: MAX_TOTAL,
        };
        match kind {
            Kind::Zip => read_zip(bytes, &mut files),
            Kind::Tar => read_tar(bytes, &mut files),
            Kind::SevenZ => read_7z(bytes, &mut files),
            Kind::Compressed(c) => match c.codec {
                Codec::Gzip => read_compressed(c, GzDecoder::new(bytes), &mut files),
                Codec::Bzip2 => read_compressed(c, MultiBzDecoder::new(bytes), &mut files),
                Codec::Xz => read_compressed(
                    c,
                    XzReader::new_mem_limit(bytes, true, XZ_MEMORY_KIB),
                    &mut files,
                ),
            },
        }
        files.out
    });
    Some(texts.unwrap_or_default())
}

/// Reads the container `name` (an archive or a document; `what` says which) with `read`,
/// guarded: one larger than the attachment limit is not opened, and a panic of the
/// crates ends the reading. Problems (`read`'s too) are named under the container.
/// None when not opened or when the reader crashed.
pub(super) fn open_guarded<T>(
    what: &str,
    name: &str,
    bytes: &[u8],
    problems: &mut Vec<String>,
    read: impl FnOnce(&mut Vec<String>) -> T,
) -> Option<T> {
    if bytes.len() > MAX_ATTACHMENT_BYTES {
        problems.push(format!(
            "{what} {name:?} of {} bytes is larger than {MAX_ATTACHMENT_BYTES}; not opened",
            bytes.len()
        ));
        return None;
    }
    let mut local = Vec::new();
    let read = catch_unwind(AssertUnwindSafe(|| read(&mut local)));
    if read.is_err() {
        local.push(format!("the {what} reader crashed; the rest not read"));
    }
    problems.extend(local.into_iter().map(|p| format!("{what} {name:?}: {p}")));
    read.ok()
}

/// What one archive gives, as its files are read.
pub(super) struct Files<'a> {
    /// The archive's own name.
    name: &'a str,
    pub(super) problems: &'a mut Vec<String>,
    out: Vec<TextAttachment>,
    /// Bytes left to read out of this archive.
    budget: u64,
}

impl Files<'_> {
    /// Reads the file `entry` from `reader`, up to the attachment limit and the budget, and
    /// keeps its text. False when the budget is spent (read no more).
    pub(super) fn read(&mut self, entry: &str, reader: impl Read) -> bool {
        if self.budget == 0 {
            self.problems.push(format!(
                "more than {MAX_TOTAL} bytes unpacked; {entry:?} and the rest not read"
            ));
            return false;
        }
        let mut data = Vec::new();
        let limit = (MAX_ATTACHMENT_BYTES as u64 + 1).min(self.budget);
        let read = reader.take(limit).read_to_end(&mut data);
        self.budget -= data.len() as u64;
        if let Err(e) = read {
            self.problems
                .push(format!("{entry:?} unreadable ({e}); skipped"));
            return true;
        }
        if data.len() as u64 == limit && limit <= MAX_ATTACHMENT_BYTES as u64 {
            // Cut by the archive's budget, not its own size: what was read is kept.
            self.problems
                .push(format!("{entry:?} cut at the archive's unpacked limit"));
        }
        self.keep(entry, &data);
        true
    }

    /// Keeps the text of the file `entry` (an Office document's text too); an archive
    /// inside is named, not opened.
    fn keep(&mut self, entry: &str, data: &[u8]) {
        let name = format!("{} / {entry}", self.name);
        if let Some(texts) = office_texts(data, &name, "", self.problems) {
            self.out.extend(texts);
            return;
        }
        let lower = entry.to_lowercase();
        if Kind::of(data, &lower, "").is_some() {
            self.problems.push(format!(
                "{entry:?} is an archive inside the archive; not opened"
            ));
            return;
        }
        match binary_attachment_text(data, "", "", &lower, self.problems) {
            Some(text) => self.out.push(TextAttachment { name, text }),
            None => self
                .problems
                .extend(unread_note(data).map(|n| format!("{entry:?} {n}"))),
        }
    }
}

fn read_zip(bytes: &[u8], files: &mut Files<'_>) {
    let mut archive = match zip::ZipArchive::new(Cursor::new(bytes)) {
        Ok(a) => a,
        Err(e) => {
            files
                .problems
                .push(format!("unreadable archive ({e}); not opened"));
            return;
        }
    };
    if archive.len() > MAX_ENTRIES {
        files.problems.push(format!(
            "{} entries; only the first {MAX_ENTRIES} looked at",
            archive.len()
        ));
    }
    for i in 0..archive.len().min(MAX_ENTRIES) {
        let (entry, encrypted, dir) = match archive.by_index_data(i) {
            Ok(e) => match e.name() {
                Ok(n) => (n.into_owned(), e.encrypted(), e.is_dir()),
                Err(_) => continue,
            },
            Err(_) => continue,
        };
        if dir || entry.ends_with('/') {
            continue;
        }
        if encrypted {
            files
                .problems
                .push(format!("{entry:?} is encrypted; not read"));
            continue;
        }
        let more = match archive.by_index(i) {
            Ok(f) => files.read(&entry, f),
            Err(e) => {
                files
                    .problems
                    .push(format!("{entry:?} unreadable ({e}); skipped"));
                true
            }
        };
        if !more {
            break;
        }
    }
}

/// The regular files of a tar stream (GNU and PAX long names included).
fn read_tar(reader: impl Read, files: &mut Files<'_>) {
    let mut archive = tar::Archive::new(reader);
    let entries = match archive.entries() {
        Ok(e) => e,
        Err(e) => {
            files
                .problems
                .push(format!("unreadable archive ({e}); not opened"));
            return;
        }
    };
    for (i, entry) in entries.enumerate() {
        if i == MAX_ENTRIES {
            files.problems.push(format!(
                "more than {MAX_ENTRIES} entries; only the first {MAX_ENTRIES} looked at"
            ));
            break;
        }
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                files.problems.push(format!(
                    "unreadable after {i} entries ({e}); the rest not read"
                ));
                break;
            }
        };
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let path = match entry.path() {
            Ok(p) => p.to_string_lossy().into_owned(),
            Err(_) => continue,
        };
        if !files.read(&path, entry) {
            break;
        }
    }
}

/// A compressed stream: a tar inside (`.tar.gz`, `.tgz`, `.tar.xz` …), else one file,
/// named as the archive without its suffix (`app.log.gz`: `app.log`). Unpacking stops
/// at twice the archive's budget (a bomb): room for a tar's headers and the files it
/// skips, while the budget itself ends what is read.
fn read_compressed(format: &Compressed, unpacked: impl Read, files: &mut Files<'_>) {
    let mut unpacked = unpacked.take(2 * MAX_TOTAL);
    let mut head = Vec::new();
    if let Err(e) = (&mut unpacked).take(512).read_to_end(&mut head) {
        files.problems.push(format!("unreadable ({e}); not opened"));
        return;
    }
    let tar = is_tar(&head);
    let whole = Cursor::new(head).chain(unpacked);
    if tar {
        read_tar(whole, files);
        return;
    }
    let name = files.name;
    let tar_stem = format
        .tar_suffixes
        .iter()
        .find_map(|s| strip_suffix_ci(name, s));
    let inner = match (strip_suffix_ci(name, format.suffix), tar_stem) {
        (Some(stem), _) if !stem.is_empty() => stem.to_string(),
        (_, Some(stem)) => format!("{stem}.tar"),
        _ => "(the compressed file)".to_string(),
    };
    files.read(&inner, whole);
}

/// `name` without the ASCII `suffix`, matched whatever its case.
fn strip_suffix_ci<'a>(name: &'a str, suffix: &str) -> Option<&'a str> {
    let at = name.len().checked_sub(suffix.len())?;
    let tail = name.get(at..)?;
    tail.eq_ignore_ascii_case(suffix).then(|| &name[..at])
}
