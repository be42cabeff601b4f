//! Text files inside `.zip` attachments (logs, configs, `.env` files bundled by the reporter),
//! read with the `zip` crate: each becomes a [`TextAttachment`] named under the archive
//! (`logs.zip / app/.env`), by the same rules as an attachment of its own (text by name
//! or by content).
//!
//! An archive is hostile input: one larger than the attachment size limit is not opened
//! (its directory alone could take memory many times its size), at most [`MAX_ENTRIES`]
//! entries are looked at, each file is read only up to the attachment size limit whatever
//! its header claims, and all files of one archive together at most [`MAX_TOTAL`] bytes
//! (a zip bomb stops there, with a problem). Encrypted files are named in a problem and skipped; archives inside the
//! archive are not opened. Never panics (the crate's own panics are caught).

use std::io::{Cursor, Read};
use std::panic::{catch_unwind, AssertUnwindSafe};

use super::body::{binary_attachment_text, MAX_ATTACHMENT_BYTES};
use super::TextAttachment;

/// Entries looked at in one archive.
pub(super) const MAX_ENTRIES: usize = 1_000;
/// Bytes read out of one archive, all its files together.
pub(super) const MAX_TOTAL: u64 = 16 << 20;

/// The text files of an attachment that is a zip archive — by its name (`*.zip`) or its
/// MIME type (`mime`, e.g. "application/zip"; empty when none) and its first bytes — else
/// None. Office files and other formats built on zip keep their own names and types, so
/// they are not opened here. `name` (the attachment's, as shown) prefixes the files'
/// names; problems say what was skipped and why.
pub(super) fn zip_texts(
    bytes: &[u8],
    name: &str,
    mime: &str,
    problems: &mut Vec<String>,
) -> Option<Vec<TextAttachment>> {
    let zip_type = matches!(
        mime.to_ascii_lowercase().as_str(),
        "application/zip" | "application/x-zip-compressed" | "application/x-zip"
    );
    let signed = bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06");
    if !signed || !(zip_type || name.to_lowercase().ends_with(".zip")) {
        return None;
    }
    if bytes.len() > MAX_ATTACHMENT_BYTES {
        problems.push(format!(
            "zip {name:?} of {} bytes is larger than {MAX_ATTACHMENT_BYTES}; not opened",
            bytes.len()
        ));
        return Some(Vec::new());
    }
    let mut local = Vec::new();
    let texts = catch_unwind(AssertUnwindSafe(|| read_zip(bytes, name, &mut local)))
        .unwrap_or_else(|_| {
            local.push("the zip reader crashed; the rest not read".into());
            Vec::new()
        });
    problems.extend(local.into_iter().map(|p| format!("zip {name:?}: {p}")));
    Some(texts)
}

fn read_zip(bytes: &[u8], name: &str, problems: &mut Vec<String>) -> Vec<TextAttachment> {
    let mut archive = match zip::ZipArchive::new(Cursor::new(bytes)) {
        Ok(a) => a,
        Err(e) => {
            problems.push(format!("unreadable archive ({e}); not opened"));
            return Vec::new();
        }
    };
    if archive.len() > MAX_ENTRIES {
        problems.push(format!(
            "{} entries; only the first {MAX_ENTRIES} looked at",
            archive.len()
        ));
    }
    let mut out = Vec::new();
    let mut budget = MAX_TOTAL;
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
        let lower = entry.to_lowercase();
        if encrypted {
            problems.push(format!("{entry:?} is encrypted; not read"));
            continue;
        }
        if budget == 0 {
            problems.push(format!(
                "more than {MAX_TOTAL} bytes unpacked; {entry:?} and the rest not read"
            ));
            break;
        }
        let mut data = Vec::new();
        let limit = (MAX_ATTACHMENT_BYTES as u64 + 1).min(budget);
        let read = archive
            .by_index(i)
            .map_err(|e| e.to_string())
            .and_then(|f| {
                f.take(limit)
                    .read_to_end(&mut data)
                    .map_err(|e| e.to_string())
            });
        budget -= data.len() as u64;
        if let Err(e) = read {
            problems.push(format!("{entry:?} unreadable ({e}); skipped"));
            continue;
        }
        if data.len() as u64 == limit && limit <= MAX_ATTACHMENT_BYTES as u64 {
            // Cut by the archive's budget, not its own size: what was read is kept.
            problems.push(format!("{entry:?} cut at the archive's unpacked limit"));
        }
        if lower.ends_with(".zip") || data.starts_with(b"PK\x03\x04") {
            continue; // an archive inside: not opened
        }
        if let Some(text) = binary_attachment_text(&data, "", "", &lower, problems) {
            out.push(TextAttachment {
                name: format!("{name} / {entry}"),
                text,
            });
        }
    }
    out
}
