//! Outlook `.msg` attachments: an OLE2 compound file (read with the `cfb` crate) that holds
//! the forwarded original as MAPI properties ([MS-OXMSG]). Gives the same [`Original`] an
//! attached `message/rfc822` part gives: from, subject, date and Message-ID, taken from the
//! original's internet headers when the file kept them (PR_TRANSPORT_MESSAGE_HEADERS) and
//! otherwise from the sender, subject, Message-ID and time properties; the body text is
//! PR_BODY, else PR_HTML rendered to text, else PR_RTF_COMPRESSED expanded and read as
//! text (or as the HTML it encapsulates, rendered).
//!
//! Damage never panics and never loses the outer message: what could not be read is said in
//! `problems` and whatever could be read is kept. Reads are bounded by the attachment's own
//! size (itself bounded by the message size limit): the streams read together never exceed
//! it, whatever their directory entries claim. Text-like attachments inside the `.msg` are
//! read as a MIME message's are, and an embedded message gives its body text and its own
//! attachments, down to three levels of messages.

use std::io::{Cursor, Read};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;

use mail_parser::decoders::charsets::map::charset_decoder;
use mail_parser::{DateTime, MessagePart, MimeHeaders, PartType};

use super::body::{decode_text_bytes, file_texts, original_heads, Attached, Heads};
use super::headers::{clean_id, cp1252, single_line};
use super::html::html_to_text;
use super::rtf::{self, RtfText};
use super::{ForwardStyle, Original, TextAttachment};

/// The eight bytes every compound file starts with.
const CFB_MAGIC: [u8; 8] = [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
/// Stream-name prefix of a variable-length property: `__substg1.0_PPPPTTTT`.
const SUBSTG: &str = "__SUBSTG1.0_";
/// Fixed-length properties of the top-level message: a 32-byte header, then 16-byte entries.
const PROPERTIES: &str = "__PROPERTIES_VERSION1.0";
const PROPERTIES_HEADER: usize = 32;
const PROPERTY_ENTRY: usize = 16;
/// A message has a few hundred top-level entries; more means a damaged directory.
const MAX_ENTRIES: usize = 10_000;
/// Storage-name prefix of an attachment: `__attach_version1.0_#XXXXXXXX`.
const ATTACH: &str = "__ATTACH_VERSION1.0_#";
/// Attachments read from one `.msg`; more are noted and skipped.
const MAX_ATTACHMENTS: usize = 64;
/// Levels of messages embedded in one another whose attachments are read (the .msg's own
/// attachments are level 1).
const MAX_EMBEDDED: usize = 3;

/// MAPI property types.
pub(super) const PT_LONG: u16 = 0x0003;
pub(super) const PT_SYSTIME: u16 = 0x0040;
pub(super) const PT_STRING8: u16 = 0x001E;
pub(super) const PT_UNICODE: u16 = 0x001F;
pub(super) const PT_BINARY: u16 = 0x0102;

/// MAPI property ids.
pub(super) const PR_SUBJECT: u16 = 0x0037;
pub(super) const PR_CLIENT_SUBMIT_TIME: u16 = 0x0039;
pub(super) const PR_SENT_REPRESENTING_NAME: u16 = 0x0042;
pub(super) const PR_SENT_REPRESENTING_EMAIL_ADDRESS: u16 = 0x0065;
pub(super) const PR_TRANSPORT_MESSAGE_HEADERS: u16 = 0x007D;
pub(super) const PR_SENDER_NAME: u16 = 0x0C1A;
pub(super) const PR_SENDER_EMAIL_ADDRESS: u16 = 0x0C1F;
pub(super) const PR_MESSAGE_DELIVERY_TIME: u16 = 0x0E06;
pub(super) const PR_BODY: u16 = 0x1000;
pub(super) const PR_RTF_COMPRESSED: u16 = 0x1009;
pub(super) const PR_HTML: u16 = 0x1013;
pub(super) const PR_INTERNET_MESSAGE_ID: u16 = 0x1035;
pub(super) const PR_INTERNET_CPID: u16 = 0x3FDE;
pub(super) const PR_MESSAGE_CODEPAGE: u16 = 0x3FFD;
pub(super) const PR_SENDER_SMTP_ADDRESS: u16 = 0x5D01;
pub(super) const PR_SENT_REPRESENTING_SMTP_ADDRESS: u16 = 0x5D02;
/// Attachment properties: the data (PT_BINARY; a PT_OBJECT storage for an embedded message),
/// the short and long file names, the display name and the MIME type.
pub(super) const PR_ATTACH_DATA: u16 = 0x3701;
pub(super) const PR_ATTACH_FILENAME: u16 = 0x3704;
pub(super) const PR_ATTACH_LONG_FILENAME: u16 = 0x3707;
pub(super) const PR_ATTACH_MIME_TAG: u16 = 0x370E;
pub(super) const PR_DISPLAY_NAME: u16 = 0x3001;
pub(super) const PT_OBJECT: u16 = 0x000D;

/// The original carried by an attached Outlook `.msg` (`application/vnd.ms-outlook` or a
/// `*.msg` name), or None when the part is no `.msg` or nothing could be read from it (a
/// problem then says why). Problems are prefixed with the attachment's name.
pub(super) fn attached_msg(
    part: &MessagePart<'_>,
    name: &str,
    problems: &mut Vec<String>,
) -> Option<Attached> {
    let is_msg = name.to_lowercase().ends_with(".msg")
        || part.is_content_type("application", "vnd.ms-outlook");
    if !is_msg {
        return None;
    }
    let bytes = match &part.body {
        PartType::Binary(b) | PartType::InlineBinary(b) => b.as_ref(),
        PartType::Text(t) => t.as_bytes(),
        _ => return None,
    };
    let mut local = Vec::new();
    let original =
        catch_unwind(AssertUnwindSafe(|| read_msg(bytes, &mut local))).unwrap_or_else(|_| {
            local.push("the .msg reader crashed; not decoded".into());
            None
        });
    problems.extend(
        local
            .into_iter()
            .map(|p| format!("Outlook .msg attachment {name:?}: {p}")),
    );
    original
}

/// Reads a `.msg` file: the original and its text-like attachments (an embedded message
/// among them gives its body). Every damage found is pushed to `problems`.
pub(super) fn read_msg(bytes: &[u8], problems: &mut Vec<String>) -> Option<Attached> {
    if !bytes.starts_with(&CFB_MAGIC) {
        problems.push("not an OLE2 compound file; not decoded".into());
        return None;
    }
    let file = match cfb::CompoundFile::open(Cursor::new(bytes)) {
        Ok(file) => file,
        Err(e) => {
            problems.push(format!("damaged compound file ({e}); not decoded"));
            return None;
        }
    };
    let mut msg = Msg::new(file, bytes.len(), problems);
    let fixed = msg.fixed_properties();
    let long = |id: u16| {
        fixed
            .iter()
            .find(|p| p.id == id && p.kind == PT_LONG)
            .map(|p| u32::from_le_bytes([p.value[0], p.value[1], p.value[2], p.value[3]]))
    };
    msg.codepage = long(PR_MESSAGE_CODEPAGE).or(long(PR_INTERNET_CPID));
    let html_codepage = long(PR_INTERNET_CPID).or(msg.codepage);

    let transport = msg
        .string(PR_TRANSPORT_MESSAGE_HEADERS)
        .map(|h| transport_heads(&h, msg.problems))
        .unwrap_or_default();
    let from = transport.from.or_else(|| msg.sender());
    let subject = transport.subject.or_else(|| {
        msg.string(PR_SUBJECT)
            .map(|s| single_line(&s, prop_name(PR_SUBJECT), msg.problems))
    });
    let date = transport
        .date
        .or_else(|| msg.time(&fixed, PR_CLIENT_SUBMIT_TIME))
        .or_else(|| msg.time(&fixed, PR_MESSAGE_DELIVERY_TIME));
    let message_id = transport.message_id.or_else(|| {
        msg.string(PR_INTERNET_MESSAGE_ID)
            .and_then(|id| clean_id(&id))
    });
    let top = msg.streams.clone();
    let text = msg.body(&top, html_codepage).unwrap_or_default();
    let text = text.trim().to_string();
    if from.is_none()
        && subject.is_none()
        && date.is_none()
        && message_id.is_none()
        && text.is_empty()
    {
        msg.problems
            .push("no message properties found; not decoded".into());
        return None;
    }
    let dirs = std::mem::take(&mut msg.attach_dirs);
    let attachments = msg.attachments(dirs, 1);
    Some(Attached {
        original: Original {
            from,
            subject,
            date,
            message_id,
            text,
            style: ForwardStyle::Attached,
        },
        attachments,
    })
}

/// From, Subject, Date and Message-ID of the original's internet headers.
fn transport_heads(headers: &str, problems: &mut Vec<String>) -> Heads {
    // A header block alone: end it with a blank line so nothing is taken for a body.
    let block = format!("{}\r\n\r\n", headers.trim_end());
    let parsed = super::mime::parse_mime(block.as_bytes(), problems);
    match parsed {
        Some(message) => original_heads(&message, "transport headers'", problems),
        None => {
            problems.push("transport headers (0x007D) unparseable; ignored".into());
            Heads::default()
        }
    }
}

/// One entry of `__properties_version1.0`.
struct Fixed {
    kind: u16,
    id: u16,
    value: [u8; 8],
}

/// A stream of the compound file.
#[derive(Clone)]
struct Stream {
    /// Uppercased, as names compare case-insensitively in a compound file.
    name: String,
    path: PathBuf,
    len: u64,
}

struct Msg<'a, 'p> {
    file: cfb::CompoundFile<Cursor<&'a [u8]>>,
    /// The top-level streams: the message's own properties.
    streams: Vec<Stream>,
    /// The attachments' storages.
    attach_dirs: Vec<PathBuf>,
    /// Bytes that may still be read: streams together never exceed the file's own size.
    budget: u64,
    /// Codepage of 8-bit strings (PR_MESSAGE_CODEPAGE, else PR_INTERNET_CPID).
    codepage: Option<u32>,
    problems: &'p mut Vec<String>,
}

impl<'a, 'p> Msg<'a, 'p> {
    fn new(
        file: cfb::CompoundFile<Cursor<&'a [u8]>>,
        size: usize,
        problems: &'p mut Vec<String>,
    ) -> Self {
        let mut streams = Vec::new();
        let mut attach_dirs = Vec::new();
        for (n, entry) in file.read_root_storage().enumerate() {
            if n >= MAX_ENTRIES {
                problems.push(format!(
                    "more than {MAX_ENTRIES} top-level entries; the rest ignored"
                ));
                break;
            }
            if entry.is_stream() {
                streams.push(Stream {
                    name: entry.name().to_uppercase(),
                    path: entry.path().to_path_buf(),
                    len: entry.len(),
                });
            } else if entry.is_storage() && entry.name().to_uppercase().starts_with(ATTACH) {
                attach_dirs.push(entry.path().to_path_buf());
            }
        }
        Msg {
            file,
            streams,
            attach_dirs,
            budget: size as u64,
            codepage: None,
            problems,
        }
    }

    /// The streams directly in storage `dir`, at most MAX_ENTRIES.
    fn streams_in(&self, dir: &std::path::Path) -> Vec<Stream> {
        let Ok(entries) = self.file.read_storage(dir) else {
            return Vec::new();
        };
        entries
            .take(MAX_ENTRIES)
            .filter(|e| e.is_stream())
            .map(|e| Stream {
                name: e.name().to_uppercase(),
                path: e.path().to_path_buf(),
                len: e.len(),
            })
            .collect()
    }

    /// The bytes of `stream`, or None (with a problem) when it is too large or unreadable.
    fn read(&mut self, stream: &Stream, what: &str) -> Option<Vec<u8>> {
        if stream.len > self.budget {
            self.problems.push(format!(
                "{what}: stream of {} bytes is larger than the file allows; skipped",
                stream.len
            ));
            return None;
        }
        let mut bytes = Vec::with_capacity(stream.len as usize);
        let read = self
            .file
            .open_stream(&stream.path)
            .and_then(|s| s.take(stream.len).read_to_end(&mut bytes));
        self.budget -= stream.len;
        match read {
            Ok(_) if bytes.len() as u64 == stream.len => Some(bytes),
            Ok(_) => {
                self.problems.push(format!(
                    "{what}: stream holds {} of its {} bytes; kept what there is",
                    bytes.len(),
                    stream.len
                ));
                Some(bytes)
            }
            Err(e) => {
                self.problems
                    .push(format!("{what}: stream unreadable ({e}); skipped"));
                None
            }
        }
    }

    /// A string property, UTF-16 preferred over 8-bit.
    fn string(&mut self, id: u16) -> Option<String> {
        let found = find_in(&self.streams, id, &[PT_UNICODE, PT_STRING8]);
        self.string_from(found, id)
    }

    /// The string in `found` (a stream of property `id` and its type).
    fn string_from(&mut self, found: Option<(Stream, u16)>, id: u16) -> Option<String> {
        let (stream, kind) = found?;
        let what = prop_name(id);
        let bytes = self.read(&stream, what)?;
        let text = if kind == PT_UNICODE {
            utf16(&bytes, what, self.problems)
        } else {
            let end = bytes.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
            eight_bit(&bytes[..end], self.codepage, what, self.problems)
        };
        Some(without_nul(text, what, self.problems))
    }

    /// The body text of the message whose properties are `streams`: PR_BODY, else PR_HTML
    /// (binary in `html_codepage`, or a string) rendered, else PR_RTF_COMPRESSED read.
    fn body(&mut self, streams: &[Stream], html_codepage: Option<u32>) -> Option<String> {
        let plain = find_in(streams, PR_BODY, &[PT_UNICODE, PT_STRING8]);
        if let Some(text) = self
            .string_from(plain, PR_BODY)
            .filter(|b| !b.trim().is_empty())
        {
            return Some(text);
        }
        if let Some(html) = self.html(streams, html_codepage) {
            return Some(html_to_text(&html));
        }
        self.rtf_body(streams)
    }

    /// PR_HTML: binary in the body's codepage, or a string.
    fn html(&mut self, streams: &[Stream], codepage: Option<u32>) -> Option<String> {
        if let Some((stream, _)) = find_in(streams, PR_HTML, &[PT_BINARY]) {
            let what = prop_name(PR_HTML);
            let bytes = self.read(&stream, what)?;
            let html = match codepage {
                Some(cp) => eight_bit(&bytes, Some(cp), what, self.problems),
                None => {
                    let (text, note) = decode_text_bytes(&bytes);
                    self.problems.extend(note.map(|n| format!("{what}: {n}")));
                    text
                }
            };
            return Some(without_nul(html, what, self.problems));
        }
        let string = find_in(streams, PR_HTML, &[PT_UNICODE, PT_STRING8]);
        self.string_from(string, PR_HTML)
    }

    /// PR_RTF_COMPRESSED as text: expanded ([MS-OXRTFCP], the `compressed-rtf` crate), then
    /// read by `rtf::text`. Damage is a problem and no body.
    fn rtf_body(&mut self, streams: &[Stream]) -> Option<String> {
        let (stream, _) = find_in(streams, PR_RTF_COMPRESSED, &[PT_BINARY])?;
        let what = prop_name(PR_RTF_COMPRESSED);
        let bytes = self.read(&stream, what)?;
        let rtf = match expand_rtf(&bytes) {
            Ok(rtf) => rtf,
            Err(why) => {
                self.problems
                    .push(format!("{what}: {why}; body not decoded"));
                return None;
            }
        };
        let codepage = self.codepage;
        let problems = &mut *self.problems;
        let mut decode = |b: &[u8], cp: Option<u32>| eight_bit(b, cp.or(codepage), what, problems);
        Some(match rtf::text(&rtf, &mut decode) {
            RtfText::Plain(text) => text,
            RtfText::Html(html) => html_to_text(&html),
        })
    }

    /// `Name <address>` of the sender: SMTP addresses before Exchange (`/O=…`) ones.
    fn sender(&mut self) -> Option<String> {
        let mut exchange = None;
        let mut smtp = None;
        for id in [
            PR_SENDER_SMTP_ADDRESS,
            PR_SENDER_EMAIL_ADDRESS,
            PR_SENT_REPRESENTING_SMTP_ADDRESS,
            PR_SENT_REPRESENTING_EMAIL_ADDRESS,
        ] {
            let Some(addr) = self.string(id) else {
                continue;
            };
            let addr = single_line(&addr, prop_name(id), self.problems);
            if addr.contains('@') && !addr.starts_with('/') {
                smtp = Some(addr);
                break;
            }
            if !addr.is_empty() && exchange.is_none() {
                exchange = Some(addr);
            }
        }
        let name = [PR_SENDER_NAME, PR_SENT_REPRESENTING_NAME]
            .into_iter()
            .find_map(|id| {
                let name = self.string(id)?;
                Some(single_line(&name, prop_name(id), self.problems)).filter(|n| !n.is_empty())
            });
        match (name, smtp.or(exchange)) {
            (Some(name), Some(addr)) if !name.eq_ignore_ascii_case(&addr) => {
                Some(format!("{name} <{addr}>"))
            }
            (_, Some(addr)) => Some(addr),
            (name, None) => name,
        }
    }

    /// The text-like attachments in the attachment storages `dirs`, `depth` levels of
    /// messages down (1: the .msg's own): files whose name, MIME type or bytes say text,
    /// and an embedded message's body and, down to MAX_EMBEDDED levels, its own
    /// attachments (named under it). Others are skipped, as in a MIME message.
    fn attachments(&mut self, dirs: Vec<PathBuf>, depth: usize) -> Vec<TextAttachment> {
        if dirs.len() > MAX_ATTACHMENTS {
            self.problems.push(format!(
                "{} attachments; only the first {MAX_ATTACHMENTS} read",
                dirs.len()
            ));
        }
        let mut out = Vec::new();
        for (n, dir) in dirs.iter().take(MAX_ATTACHMENTS).enumerate() {
            let streams = self.streams_in(dir);
            let string = |this: &mut Self, id: u16| {
                let found = find_in(&streams, id, &[PT_UNICODE, PT_STRING8]);
                this.string_from(found, id)
                    .map(|s| single_line(&s, prop_name(id), this.problems))
                    .filter(|s| !s.is_empty())
            };
            let name = string(self, PR_ATTACH_LONG_FILENAME)
                .or_else(|| string(self, PR_ATTACH_FILENAME))
                .or_else(|| string(self, PR_DISPLAY_NAME))
                .unwrap_or_else(|| format!("attachment-{n}"));
            if let Some((data, _)) = find_in(&streams, PR_ATTACH_DATA, &[PT_BINARY]) {
                let mime = string(self, PR_ATTACH_MIME_TAG).unwrap_or_default();
                if let Some(bytes) = self.read(&data, "attachment data (0x3701)") {
                    out.extend(file_texts(&bytes, name, &mime, self.problems));
                }
                continue;
            }
            let inner = dir.join(format!("__substg1.0_{PR_ATTACH_DATA:04X}{PT_OBJECT:04X}"));
            if !self.file.is_storage(&inner) {
                continue;
            }
            // An embedded message: its body, then what it carries.
            let streams = self.streams_in(&inner);
            if let Some(text) = self.body(&streams, self.codepage) {
                out.push(TextAttachment {
                    name: name.clone(),
                    text,
                });
            }
            let carried = self.attach_dirs_in(&inner);
            if carried.is_empty() {
                continue;
            }
            if depth >= MAX_EMBEDDED {
                self.problems.push(format!(
                    "embedded message {name:?}: its attachments are more than \
                     {MAX_EMBEDDED} messages down; not opened"
                ));
                continue;
            }
            let inner_attachments = self.attachments(carried, depth + 1);
            out.extend(inner_attachments.into_iter().map(|a| TextAttachment {
                name: format!("{name} / {}", a.name),
                text: a.text,
            }));
        }
        out
    }

    /// The attachment storages directly in storage `dir`, at most MAX_ENTRIES looked at.
    fn attach_dirs_in(&self, dir: &std::path::Path) -> Vec<PathBuf> {
        let Ok(entries) = self.file.read_storage(dir) else {
            return Vec::new();
        };
        entries
            .take(MAX_ENTRIES)
            .filter(|e| e.is_storage() && e.name().to_uppercase().starts_with(ATTACH))
            .map(|e| e.path().to_path_buf())
            .collect()
    }

    /// The top-level fixed-size properties; damage noted, complete entries kept.
    fn fixed_properties(&mut self) -> Vec<Fixed> {
        let Some(stream) = self.streams.iter().find(|s| s.name == PROPERTIES).cloned() else {
            return Vec::new();
        };
        let Some(raw) = self.read(&stream, "property stream") else {
            return Vec::new();
        };
        let Some(entries) = raw.get(PROPERTIES_HEADER..) else {
            self.problems.push(format!(
                "property stream of {} bytes is shorter than its {PROPERTIES_HEADER}-byte header",
                raw.len()
            ));
            return Vec::new();
        };
        if entries.len() % PROPERTY_ENTRY != 0 {
            self.problems.push(format!(
                "property stream of {} bytes ends inside an entry; the partial entry is ignored",
                raw.len()
            ));
        }
        entries
            .chunks_exact(PROPERTY_ENTRY)
            .map(|e| Fixed {
                kind: u16::from_le_bytes([e[0], e[1]]),
                id: u16::from_le_bytes([e[2], e[3]]),
                value: [e[8], e[9], e[10], e[11], e[12], e[13], e[14], e[15]],
            })
            .collect()
    }

    /// A PT_SYSTIME property as an RFC 5322 date in UTC.
    fn time(&mut self, fixed: &[Fixed], id: u16) -> Option<String> {
        let p = fixed.iter().find(|p| p.id == id && p.kind == PT_SYSTIME)?;
        // FILETIME: 100 ns ticks since 1601-01-01.
        let ticks = u64::from_le_bytes(p.value);
        let unix = (ticks / 10_000_000) as i64 - 11_644_473_600;
        let date = DateTime::from_timestamp(unix);
        if !date.is_valid() {
            self.problems
                .push(format!("{} out of range ({ticks}); ignored", prop_name(id)));
            return None;
        }
        Some(date.to_rfc822())
    }
}

/// The first of `streams` holding property `id` in one of `kinds` (in that order).
fn find_in(streams: &[Stream], id: u16, kinds: &[u16]) -> Option<(Stream, u16)> {
    kinds.iter().find_map(|&kind| {
        let name = format!("{SUBSTG}{id:04X}{kind:04X}");
        let stream = streams.iter().find(|s| s.name == name)?;
        Some((stream.clone(), kind))
    })
}

/// The RTF held by a PR_RTF_COMPRESSED stream, after the header checks the crate leaves to
/// its caller: at least the 16-byte header, a stored ("MELA") body within the stream, and
/// a declared size a compressed body could reach (each 2-byte reference gives at most 17
/// bytes), so no header can make it reserve more memory than the stream could fill.
fn expand_rtf(bytes: &[u8]) -> Result<Vec<u8>, String> {
    const HEADER: usize = 16;
    if bytes.len() < HEADER {
        return Err(format!("{} bytes, shorter than its header", bytes.len()));
    }
    let word =
        |at: usize| u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
    // Writers may pad the stream past the size its header gives.
    let bytes = match (word(0) as usize).checked_add(4) {
        Some(end) if end >= HEADER && end < bytes.len() => &bytes[..end],
        _ => bytes,
    };
    let raw_size = word(4) as usize;
    let body = bytes.len() - HEADER;
    let fits = match &bytes[8..12] {
        b"MELA" => raw_size <= body,
        _ => raw_size <= body.saturating_mul(9),
    };
    if !fits {
        return Err(format!(
            "declares {raw_size} bytes of RTF, more than its {body} bytes can hold"
        ));
    }
    let text = compressed_rtf::decompress_rtf(bytes).map_err(|e| format!("damaged ({e})"))?;
    // The crate returns each byte as the char of the same number.
    Ok(text.chars().map(|c| c as u32 as u8).collect())
}

/// Display name of a property for problem strings.
fn prop_name(id: u16) -> &'static str {
    match id {
        PR_SUBJECT => "subject (0x0037)",
        PR_CLIENT_SUBMIT_TIME => "submit time (0x0039)",
        PR_SENT_REPRESENTING_NAME => "sent-representing name (0x0042)",
        PR_SENT_REPRESENTING_EMAIL_ADDRESS => "sent-representing address (0x0065)",
        PR_TRANSPORT_MESSAGE_HEADERS => "transport headers (0x007D)",
        PR_SENDER_NAME => "sender name (0x0C1A)",
        PR_SENDER_EMAIL_ADDRESS => "sender address (0x0C1F)",
        PR_MESSAGE_DELIVERY_TIME => "delivery time (0x0E06)",
        PR_BODY => "body (0x1000)",
        PR_HTML => "HTML body (0x1013)",
        PR_RTF_COMPRESSED => "compressed RTF body (0x1009)",
        PR_INTERNET_MESSAGE_ID => "Message-ID (0x1035)",
        PR_SENDER_SMTP_ADDRESS => "sender SMTP address (0x5D01)",
        PR_SENT_REPRESENTING_SMTP_ADDRESS => "sent-representing SMTP address (0x5D02)",
        _ => "property",
    }
}

/// UTF-16LE without its terminating NULs; an odd last byte is dropped and unpaired
/// surrogates are replaced, each with a problem.
fn utf16(bytes: &[u8], what: &str, problems: &mut Vec<String>) -> String {
    if !bytes.len().is_multiple_of(2) {
        problems.push(format!(
            "{what}: odd-length UTF-16 ({} bytes); last byte dropped",
            bytes.len()
        ));
    }
    let mut units: Vec<u16> = bytes
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    while units.last() == Some(&0) {
        units.pop();
    }
    let mut bad = false;
    let text = char::decode_utf16(units)
        .map(|c| {
            c.unwrap_or_else(|_| {
                bad = true;
                char::REPLACEMENT_CHARACTER
            })
        })
        .collect();
    if bad {
        problems.push(format!("{what}: invalid UTF-16; replaced"));
    }
    text
}

/// An 8-bit string in a Windows codepage (windows-1252 when none is given).
fn eight_bit(
    bytes: &[u8],
    codepage: Option<u32>,
    what: &str,
    problems: &mut Vec<String>,
) -> String {
    let cp = codepage.unwrap_or(1252);
    if cp == 65001 {
        return match std::str::from_utf8(bytes) {
            Ok(s) => s.to_string(),
            Err(_) => {
                problems.push(format!(
                    "{what}: invalid UTF-8 in codepage 65001; read as windows-1252"
                ));
                cp1252(bytes)
            }
        };
    }
    let decoded = match charset(cp).and_then(|c| charset_decoder(c.as_bytes())) {
        Some(decode) => decode(bytes),
        None => {
            problems.push(format!(
                "{what}: unknown codepage {cp}; read as windows-1252"
            ));
            cp1252(bytes)
        }
    };
    if decoded.contains(char::REPLACEMENT_CHARACTER) {
        problems.push(format!(
            "{what}: bytes not valid in codepage {cp}; replaced"
        ));
    }
    decoded
}

/// The charset name mail-parser knows for a Windows codepage.
fn charset(codepage: u32) -> Option<String> {
    Some(match codepage {
        874 => "windows-874".into(),
        1250..=1258 => format!("windows-{codepage}"),
        20127 => "us-ascii".into(),
        28591..=28599 => format!("iso-8859-{}", codepage - 28590),
        28603 => "iso-8859-13".into(),
        28605 => "iso-8859-15".into(),
        932 => "shift_jis".into(),
        936 => "gbk".into(),
        949 => "windows-949".into(),
        950 => "big5".into(),
        54936 => "gb18030".into(),
        20866 => "koi8-r".into(),
        21866 => "koi8-u".into(),
        866 => "ibm866".into(),
        850 => "ibm850".into(),
        10000 => "macintosh".into(),
        50220..=50222 => "iso-2022-jp".into(),
        51932 => "euc-jp".into(),
        51949 => "euc-kr".into(),
        1200 => "utf-16le".into(),
        1201 => "utf-16be".into(),
        _ => return None,
    })
}

/// NUL has no place in text and databases refuse it: removed, with a problem.
fn without_nul(text: String, what: &str, problems: &mut Vec<String>) -> String {
    if !text.contains('\0') {
        return text;
    }
    problems.push(format!("{what}: NUL characters (removed)"));
    text.replace('\0', "")
}
