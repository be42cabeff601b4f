//! The MIME body of an inbound message: body text (plain preferred, HTML rendered), text-like
//! attachments, the attached `message/rfc822` original (an Outlook `.msg` one is read by
//! `msg`), delivery-report detection, and the
//! damage report for broken MIME (unterminated multiparts, bad transfer encodings, unknown or
//! lying charsets).
//!
//! Works on what mail-parser built; must not parse top-level headers (see `headers`) nor
//! look for inline forwards (see `forward`).

use std::collections::HashSet;
use std::sync::OnceLock;

use mail_parser::decoders::base64::base64_decode;
use mail_parser::decoders::charsets::map::charset_decoder;
use mail_parser::decoders::quoted_printable::quoted_printable_decode;
use mail_parser::{Encoding, Message, MessagePart, MimeHeaders, PartType};

use super::archive::archive_texts;
use super::headers::{clean_id, cp1252, raw_values, single_line};
use super::html::html_to_text;
use super::msg::attached_msg;
use super::office::office_texts;
use super::{ForwardStyle, Inbound, Original, TextAttachment};

/// Attachments larger than this are not decoded as text (a log excerpt is enough).
pub(super) const MAX_ATTACHMENT_BYTES: usize = 4 << 20;
/// How deep to look into attached messages for damage.
const MAX_DEPTH: usize = 3;

pub(super) fn read_body(message: &Message<'_>, inbound: &mut Inbound, problems: &mut Vec<String>) {
    inbound.is_delivery_report = message.parts.iter().any(|p| {
        p.is_content_type("multipart", "report") || p.is_content_type("message", "delivery-status")
    });
    check_structure(message, "", 0, problems);

    let (text, html_only) = body_text(message, problems);
    inbound.text = text;
    inbound.html_only = html_only;

    for &id in &message.attachments {
        let Some(part) = message.parts.get(id as usize) else {
            continue;
        };
        let name = attachment_name(part, id as usize, problems);
        match attached_message(part, &name, 1, problems) {
            Some(Attached {
                original,
                attachments,
            }) if inbound.original.is_none() => {
                inbound.original = Some(original);
                // The original's own attachments are part of what was reported.
                inbound.attachments.extend(under(&name, attachments));
            }
            Some(attached) => {
                // Only one original is recorded; the others are read as attachments.
                problems.push(format!(
                    "several attached messages; {name:?} read as an attachment"
                ));
                inbound.attachments.extend(as_attachments(&name, attached));
            }
            None => {
                let texts = part_texts(message, part, id as usize, name, problems);
                inbound.attachments.extend(texts);
            }
        }
    }
}

/// The message an attachment part carries (message/rfc822, `.eml`, Outlook `.msg`), read
/// as an original `depth` levels down; None when the part is no message.
fn attached_message(
    part: &MessagePart<'_>,
    name: &str,
    depth: usize,
    problems: &mut Vec<String>,
) -> Option<Attached> {
    attached_original(part, name, depth, problems).or_else(|| attached_msg(part, name, problems))
}

/// An attached message read as attachments: its text under its own name, then what it
/// carries under it (`Build failed.eml / creds.env`).
fn as_attachments(name: &str, attached: Attached) -> Vec<TextAttachment> {
    let text = (!attached.original.text.is_empty()).then(|| TextAttachment {
        name: name.to_string(),
        text: attached.original.text,
    });
    text.into_iter()
        .chain(under(name, attached.attachments))
        .collect()
}

/// Attachments renamed under `name`.
fn under(
    name: &str,
    attachments: Vec<TextAttachment>,
) -> impl Iterator<Item = TextAttachment> + '_ {
    attachments.into_iter().map(move |a| TextAttachment {
        name: format!("{name} / {}", a.name),
        text: a.text,
    })
}

/// The text an attachment part gives: its own, or its files' when it is an archive.
fn part_texts(
    message: &Message<'_>,
    part: &MessagePart<'_>,
    id: usize,
    name: String,
    problems: &mut Vec<String>,
) -> Vec<TextAttachment> {
    let text = match &part.body {
        PartType::Text(_) => part_text(message, part, id, problems),
        PartType::Html(_) => part_text(message, part, id, problems).map(|h| html_to_text(&h)),
        PartType::Binary(bytes) | PartType::InlineBinary(bytes) => {
            let mime = part.content_type().map_or(String::new(), |ct| {
                format!("{}/{}", ct.ctype(), ct.subtype().unwrap_or(""))
            });
            return file_texts(bytes, name, &mime, problems);
        }
        _ => None,
    };
    text.map(|text| TextAttachment { name, text })
        .into_iter()
        .collect()
}

/// The text an attached file gives (`mime` its type, `type/subtype`, empty when none): a
/// document's when it is an Office document, its files' when it is an archive, else its
/// own when it is text (`binary_attachment_text`).
/// For MIME parts and `.msg` attachments alike.
pub(super) fn file_texts(
    bytes: &[u8],
    name: String,
    mime: &str,
    problems: &mut Vec<String>,
) -> Vec<TextAttachment> {
    if let Some(texts) = office_texts(bytes, &name, mime, problems) {
        return texts;
    }
    if let Some(files) = archive_texts(bytes, &name, mime, problems) {
        return files;
    }
    let (ctype, subtype) = mime.split_once('/').unwrap_or((mime, ""));
    let lower = name.to_lowercase();
    let Some(text) = binary_attachment_text(bytes, ctype, subtype, &lower, problems) else {
        problems.extend(unread_note(bytes).map(|n| format!("attachment {lower:?} {n}")));
        return Vec::new();
    };
    vec![TextAttachment { name, text }]
}

/// Images smaller than this are taken for logos and icons (a signature's), not noted.
const NOTED_IMAGE_BYTES: usize = 16 << 10;

/// For a file not read as text that a responder should look at, because keys in it are
/// not found: a PDF, or an image large enough to be a screenshot or a photo (by their
/// signatures), what to tell them ("is a PDF, …"). None for other files.
pub(super) fn unread_note(bytes: &[u8]) -> Option<&'static str> {
    const IMAGES: &[&[u8]] = &[
        b"\x89PNG\r\n\x1a\n",
        b"\xff\xd8\xff",
        b"GIF87a",
        b"GIF89a",
        b"II*\0",
        b"MM\0*",
        b"BM",
    ];
    if contains(&bytes[..bytes.len().min(1024)], b"%PDF-") {
        return Some("is a PDF, which closeloop does not read for keys: look at it yourself");
    }
    let image = IMAGES.iter().any(|m| bytes.starts_with(m))
        || (bytes.starts_with(b"RIFF") && bytes.get(8..12) == Some(b"WEBP"))
        || matches!(
            bytes.get(4..12),
            Some(b"ftypheic" | b"ftypheix" | b"ftypavif" | b"ftypmif1")
        );
    (image && bytes.len() >= NOTED_IMAGE_BYTES).then_some(
        "is an image, which closeloop does not read for keys (a key shown in a screenshot \
         is not found): look at it yourself",
    )
}

/// An attached original and the text-like attachments it carries.
pub(super) struct Attached {
    pub(super) original: Original,
    pub(super) attachments: Vec<TextAttachment>,
}

/// The name an attachment goes by: its file name, else `part-N`.
fn attachment_name(part: &MessagePart<'_>, id: usize, problems: &mut Vec<String>) -> String {
    part.attachment_name()
        .map(|n| single_line(n, "attachment name", problems))
        .unwrap_or_else(|| format!("part-{id}"))
}

/// Body text of a message: text/plain parts joined; HTML rendered only when there is no
/// text/plain. Returns the text and whether it came from HTML.
fn body_text(message: &Message<'_>, problems: &mut Vec<String>) -> (String, bool) {
    let texts = |want_html: bool, problems: &mut Vec<String>| -> Vec<String> {
        let mut out = Vec::new();
        for &id in message.text_body.iter().chain(message.html_body.iter()) {
            let id = id as usize;
            let Some(part) = message.parts.get(id) else {
                continue;
            };
            let is_html = matches!(part.body, PartType::Html(_));
            if is_html != want_html || out.len() > 64 {
                continue;
            }
            if let Some(text) = part_text(message, part, id, problems) {
                let text = if is_html { html_to_text(&text) } else { text };
                if !out.contains(&text) {
                    out.push(text);
                }
            }
        }
        out
    };
    let plain = texts(false, problems);
    if !plain.is_empty() {
        return (plain.join("\n").trim().to_string(), false);
    }
    let html = texts(true, problems);
    if !html.is_empty() {
        return (html.join("\n").trim().to_string(), true);
    }
    // A multipart mail-parser could not split (no boundary): its bytes are the only body.
    let damaged: Vec<String> = message
        .parts
        .iter()
        .filter(|p| {
            p.content_type()
                .is_some_and(|ct| ct.ctype().eq_ignore_ascii_case("multipart"))
        })
        .filter_map(|p| match &p.body {
            PartType::Binary(b) | PartType::InlineBinary(b) => Some(decode_text_bytes(b).0),
            _ => None,
        })
        .collect();
    (damaged.join("\n").trim().to_string(), false)
}

/// Decoded text of a text or HTML part, with the charset checked against the bytes.
fn part_text(
    message: &Message<'_>,
    part: &MessagePart<'_>,
    id: usize,
    problems: &mut Vec<String>,
) -> Option<String> {
    let text = match &part.body {
        PartType::Text(t) | PartType::Html(t) => t.as_ref(),
        _ => return None,
    };
    let charset = part
        .content_type()
        .and_then(|ct| ct.attribute("charset"))
        .map(|c| c.trim().to_lowercase());
    let is_utf8 = |c: &str| matches!(c, "utf-8" | "utf8" | "unicode-1-1-utf-8");
    if let Some(c) = charset.as_deref() {
        if !is_utf8(c) && charset_decoder(c.as_bytes()).is_none() {
            problems.push(format!("unknown charset {c:?} in part {id}"));
        }
    }
    if text.contains('\u{FFFD}') {
        let bytes = transfer_decoded(message, part)?;
        if std::str::from_utf8(&bytes).is_err() {
            let declared = charset.as_deref().unwrap_or("no charset");
            problems.push(format!(
                "8-bit text in part {id} does not match {declared}; read as windows-1252"
            ));
            return Some(cp1252(&bytes));
        }
    } else if !text.is_ascii() && charset.as_deref().is_some_and(is_western_single_byte) {
        let bytes = transfer_decoded(message, part)?;
        if !bytes.is_ascii() {
            if let Ok(utf8) = String::from_utf8(bytes) {
                problems.push(format!(
                    "part {id} declares {} but holds UTF-8; read as UTF-8",
                    charset.unwrap_or_default()
                ));
                return Some(utf8);
            }
        }
    }
    Some(text.to_string())
}

fn is_western_single_byte(charset: &str) -> bool {
    matches!(
        charset,
        "us-ascii"
            | "ascii"
            | "iso-8859-1"
            | "iso8859-1"
            | "latin1"
            | "iso-8859-15"
            | "windows-1252"
            | "cp1252"
    )
}

/// The part's body bytes after undoing the transfer encoding (before any charset decoding).
fn transfer_decoded(message: &Message<'_>, part: &MessagePart<'_>) -> Option<Vec<u8>> {
    let raw = message
        .raw_message
        .get(part.offset_body as usize..part.offset_end as usize)?;
    match part.encoding {
        Encoding::Base64 => base64_decode(raw),
        Encoding::QuotedPrintable => quoted_printable_decode(raw),
        Encoding::None => Some(raw.to_vec()),
    }
}

/// UTF-8 if valid, else windows-1252 with a note saying so.
pub(super) fn decode_text_bytes(bytes: &[u8]) -> (String, Option<String>) {
    match std::str::from_utf8(bytes) {
        Ok(s) => (s.to_string(), None),
        Err(_) => (
            cp1252(bytes),
            Some("undeclared 8-bit text; read as windows-1252".into()),
        ),
    }
}

/// Records MIME damage: multiparts without boundary or closing delimiter, undecodable
/// transfer encodings, unparseable attached messages. Recurses into attached messages.
fn check_structure(message: &Message<'_>, prefix: &str, depth: usize, problems: &mut Vec<String>) {
    let raw = message.raw_message.as_ref();
    // Read once, when a multipart names a boundary: a message may hold thousands.
    let mut delimiters: Option<Delimiters<'_>> = None;
    for (id, part) in message.parts.iter().enumerate() {
        if let Some(ct) = part
            .content_type()
            .filter(|ct| ct.ctype().eq_ignore_ascii_case("multipart"))
        {
            match ct.attribute("boundary") {
                None => problems.push(format!("{prefix}multipart without boundary in part {id}")),
                Some(b) => {
                    let lines = delimiters.get_or_insert_with(|| Delimiters::of(raw));
                    if !lines.opened.contains(b.as_bytes()) {
                        problems.push(format!(
                            "{prefix}multipart boundary never used in part {id}"
                        ))
                    } else if !lines.closed.contains(b.as_bytes()) {
                        problems.push(format!("{prefix}unterminated multipart in part {id}"))
                    }
                }
            }
        }
        if part.is_encoding_problem && !(id == 0 && part.offset_body as usize >= raw.len()) {
            let cte = part
                .content_transfer_encoding()
                .unwrap_or("")
                .to_lowercase();
            let what = match cte.as_str() {
                "base64" => format!("undecodable base64 in part {id}; kept raw"),
                "quoted-printable" => {
                    format!("undecodable quoted-printable in part {id}; kept raw")
                }
                _ if matches!(part.body, PartType::Binary(_) | PartType::Text(_))
                    && part.is_content_type("message", "rfc822") =>
                {
                    format!("unparseable attached message in part {id}")
                }
                _ => format!("damaged MIME part {id}"),
            };
            problems.push(format!("{prefix}{what}"));
        }
        if part.encoding == Encoding::QuotedPrintable && bad_qp_escape(raw, part) {
            problems.push(format!(
                "{prefix}invalid quoted-printable escape in part {id}; kept as is"
            ));
        }
        if let PartType::Message(inner) = &part.body {
            if depth < MAX_DEPTH {
                check_structure(
                    inner,
                    &format!("{prefix}attached message (part {id}): "),
                    depth + 1,
                    problems,
                );
            }
        }
    }
}

/// The boundaries a message's delimiter lines (`--boundary`, and `--boundary--` to
/// close) name, gathered in one pass over the message.
struct Delimiters<'a> {
    opened: HashSet<&'a [u8]>,
    closed: HashSet<&'a [u8]>,
}

impl<'a> Delimiters<'a> {
    fn of(raw: &'a [u8]) -> Self {
        let mut d = Delimiters {
            opened: HashSet::new(),
            closed: HashSet::new(),
        };
        for line in raw.split(|b| *b == b'\n') {
            let Some(rest) = line.strip_prefix(b"--") else {
                continue;
            };
            // Transport padding (white space) may follow a delimiter.
            let end = rest
                .iter()
                .rposition(|b| !matches!(b, b' ' | b'\t' | b'\r'))
                .map_or(0, |i| i + 1);
            let rest = &rest[..end];
            d.opened.insert(rest);
            if let Some(boundary) = rest.strip_suffix(b"--") {
                d.opened.insert(boundary);
                d.closed.insert(boundary);
            }
        }
        d
    }
}

/// An `=` followed by neither two hex digits nor a line break (a soft break).
fn bad_qp_escape(raw: &[u8], part: &MessagePart<'_>) -> bool {
    static RE: OnceLock<regex::bytes::Regex> = OnceLock::new();
    let re = RE.get_or_init(|| {
        regex::bytes::Regex::new(r"=(?:[^0-9A-Fa-f\r\n \t]|[0-9A-Fa-f][^0-9A-Fa-f])").unwrap()
    });
    raw.get(part.offset_body as usize..part.offset_end as usize)
        .is_some_and(|body| re.is_match(body))
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && memchr::memmem::find(haystack, needle).is_some()
}

/// The original, when this attachment is a message/rfc822 part or an `.eml` file, read
/// `depth` levels down (1: attached to the forward).
fn attached_original(
    part: &MessagePart<'_>,
    name: &str,
    depth: usize,
    problems: &mut Vec<String>,
) -> Option<Attached> {
    let parsed;
    let message = match &part.body {
        PartType::Message(m) => m,
        PartType::Binary(b) | PartType::InlineBinary(b)
            if name.to_lowercase().ends_with(".eml") =>
        {
            parsed = super::mime::parse_mime(b.as_ref(), problems)?;
            &*parsed
        }
        PartType::Text(t) if name.to_lowercase().ends_with(".eml") => {
            parsed = super::mime::parse_mime(t.as_bytes(), problems)?;
            &*parsed
        }
        _ => return None,
    };
    let heads = original_heads(message, "attached original's", problems);
    let mut local = Vec::new();
    let (text, _) = body_text(message, &mut local);
    // Its text-like attachments, and messages attached to it in turn (their text and
    // attachments), down to MAX_DEPTH.
    let mut attachments = Vec::new();
    for &id in &message.attachments {
        let id = id as usize;
        let Some(part) = message.parts.get(id) else {
            continue;
        };
        let name = attachment_name(part, id, &mut local);
        if depth < MAX_DEPTH {
            if let Some(attached) = attached_message(part, &name, depth + 1, &mut local) {
                attachments.extend(as_attachments(&name, attached));
                continue;
            }
        } else if matches!(part.body, PartType::Message(_)) {
            local.push(format!(
                "{name:?} is a message {} levels down; not opened",
                depth + 1
            ));
            continue;
        }
        attachments.extend(part_texts(message, part, id, name, &mut local));
    }
    let label = if depth == 1 {
        "attached original".to_string()
    } else {
        format!("attached message {name:?}")
    };
    problems.extend(local.into_iter().map(|p| format!("{label}: {p}")));
    Some(Attached {
        original: Original {
            from: heads.from,
            subject: heads.subject,
            date: heads.date,
            message_id: heads.message_id,
            text,
            style: ForwardStyle::Attached,
        },
        attachments,
    })
}

/// The header fields of an original that [`Original`] records.
#[derive(Default)]
pub(super) struct Heads {
    pub(super) from: Option<String>,
    pub(super) subject: Option<String>,
    pub(super) date: Option<String>,
    pub(super) message_id: Option<String>,
}

/// From (`Name <addr>` or the bare address), Subject, Date (as written) and Message-ID of an
/// original's header section; `label` names it in problems ("attached original's").
pub(super) fn original_heads(
    message: &Message<'_>,
    label: &str,
    problems: &mut Vec<String>,
) -> Heads {
    let from = message.from().and_then(|a| a.first()).map(|a| {
        let addr = a.address.as_deref().unwrap_or_default().trim();
        match a.name.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
            Some(n) => format!("{n} <{addr}>"),
            None => addr.to_string(),
        }
    });
    Heads {
        from: from.map(|f| single_line(&f, &format!("{label} From"), problems)),
        subject: message
            .subject()
            .map(|s| single_line(s, &format!("{label} Subject"), problems)),
        date: raw_values(message, "Date").into_iter().next(),
        message_id: message.message_id().and_then(clean_id),
    }
}

/// The text of an attachment given as bytes with its MIME type (empty when none): read when
/// its type or name says text, or it has no specific type, and it is small enough and looks
/// like text. Skipping one whose type or name says text is a problem.
pub(super) fn binary_attachment_text(
    bytes: &[u8],
    ctype: &str,
    subtype: &str,
    lower_name: &str,
    problems: &mut Vec<String>,
) -> Option<String> {
    let declared = text_like_type(ctype, subtype) || text_like_name(lower_name);
    let unknown = ctype.is_empty()
        || (ctype.eq_ignore_ascii_case("application")
            && (subtype.is_empty() || subtype.eq_ignore_ascii_case("octet-stream")));
    if !(declared || unknown) {
        return None;
    }
    if bytes.len() > MAX_ATTACHMENT_BYTES {
        if declared {
            problems.push(format!(
                "attachment {lower_name:?} too large to read as text"
            ));
        }
        return None;
    }
    if !looks_textual(bytes) {
        if declared {
            problems.push(format!("attachment {lower_name:?} looks binary; skipped"));
        }
        return None;
    }
    let (text, note) = decode_text_bytes(bytes);
    problems.extend(note.map(|n| format!("attachment {lower_name:?}: {n}")));
    Some(text)
}

fn text_like_type(ctype: &str, subtype: &str) -> bool {
    let sub = subtype.to_lowercase();
    ctype.eq_ignore_ascii_case("text")
        || (ctype.eq_ignore_ascii_case("application")
            && (matches!(
                sub.as_str(),
                "json"
                    | "xml"
                    | "yaml"
                    | "x-yaml"
                    | "toml"
                    | "x-sh"
                    | "javascript"
                    | "x-pem-file"
                    | "csv"
                    | "x-sql"
                    | "sql"
                    | "x-httpd-php"
                    | "x-python"
                    | "x-ndjson"
            ) || sub.ends_with("+json")
                || sub.ends_with("+xml")))
}

fn text_like_name(lower_name: &str) -> bool {
    const EXTS: &[&str] = &[
        "txt",
        "text",
        "log",
        "out",
        "err",
        "env",
        "json",
        "ndjson",
        "har",
        "yaml",
        "yml",
        "csv",
        "tsv",
        "xml",
        "ini",
        "conf",
        "cfg",
        "config",
        "toml",
        "properties",
        "pem",
        "key",
        "crt",
        "cer",
        "pub",
        "sh",
        "bash",
        "zsh",
        "ps1",
        "bat",
        "py",
        "js",
        "ts",
        "rb",
        "go",
        "rs",
        "java",
        "kt",
        "php",
        "tf",
        "tfvars",
        "hcl",
        "md",
        "sql",
        "diff",
        "patch",
        "npmrc",
        "netrc",
        "pgpass",
        "htpasswd",
        "dockerfile",
        "gitconfig",
        "kubeconfig",
    ];
    lower_name.contains('.')
        && lower_name
            .rsplit('.')
            .next()
            .is_some_and(|ext| EXTS.contains(&ext))
}

/// No NULs and at most 2% other control characters in the first 64 KiB.
fn looks_textual(bytes: &[u8]) -> bool {
    let sample = &bytes[..bytes.len().min(64 << 10)];
    if sample.contains(&0) {
        return false;
    }
    let controls = sample
        .iter()
        .filter(|&&b| b < 0x20 && !matches!(b, b'\n' | b'\r' | b'\t' | 0x0c))
        .count();
    controls * 50 <= sample.len()
}
