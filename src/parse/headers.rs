//! Top-level header fields of an inbound message: identity (From, Reply-To, Return-Path,
//! recipients), threading ids, RFC 3834 markers and Authentication-Results.
//!
//! Owns header hygiene: undeclared 8-bit bytes are re-read as windows-1252, and decoded
//! values that smuggle CR/LF (encoded-word header injection) or other control characters
//! come out single-line with a problem recorded. Must not look at bodies or parts.

use std::borrow::Cow;
use std::sync::OnceLock;

use mail_parser::decoders::charsets::map::charset_decoder;
use mail_parser::parsers::MessageStream;
use mail_parser::{Address, HeaderName, HeaderValue, Message};
use regex::Regex;

use super::{Inbound, Mailbox};

/// RFC 5322 2.1.1: lines must not exceed 998 octets.
const MAX_LINE: usize = 998;
/// Longer subjects are cut; nobody reads past this and it bounds what we store.
const MAX_SUBJECT_CHARS: usize = 1000;

/// The sender's address and the Subject of a message that must not be parsed (it killed
/// its readers, `pipeline::marks`), read line by line without mail-parser: unfolded,
/// undecoded (encoded words stay as written), control characters dropped, each cut at
/// 200 characters; only the first 64 KiB are looked at. Enough for a responder to find
/// the message in the mailbox.
pub fn glance(raw: &[u8]) -> (Option<String>, String) {
    let head = String::from_utf8_lossy(&raw[..raw.len().min(64 << 10)]);
    let mut fields: Vec<String> = Vec::new();
    for line in head.split('\n') {
        let line = line.trim_end_matches('\r');
        if line.is_empty() {
            break;
        }
        match fields.last_mut() {
            Some(last) if line.starts_with([' ', '\t']) => {
                last.push(' ');
                last.push_str(line.trim());
            }
            _ => fields.push(line.to_string()),
        }
    }
    let field = |want: &str| {
        fields.iter().find_map(|f| {
            let (name, value) = f.split_once(':')?;
            name.trim().eq_ignore_ascii_case(want).then(|| {
                value
                    .trim()
                    .chars()
                    .filter(|c| !c.is_control())
                    .take(200)
                    .collect::<String>()
            })
        })
    };
    let from = field("from").and_then(|v| {
        let inner = match (v.rfind('<'), v.rfind('>')) {
            (Some(open), Some(close)) if open < close => v[open + 1..close].to_string(),
            _ => v,
        };
        let address = inner.split_whitespace().find(|w| w.contains('@'))?;
        Some(address.trim_matches(['<', '>', '"', ',']).to_lowercase())
    });
    (from, field("subject").unwrap_or_default())
}

/// Records over-long header lines (before mail-parser sees them).
pub(super) fn check_header_section(raw: &[u8], problems: &mut Vec<String>) {
    let mut longest = 0;
    for line in raw.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break;
        }
        longest = longest.max(line.len());
    }
    if longest > MAX_LINE {
        problems.push(format!(
            "header line longer than {MAX_LINE} bytes ({longest} bytes)"
        ));
    }
}

pub(super) fn read_headers(
    message: &Message<'_>,
    inbound: &mut Inbound,
    problems: &mut Vec<String>,
) {
    inbound.message_id = message.message_id().and_then(clean_id);
    if inbound.message_id.is_none() {
        problems.push("no Message-ID".into());
    }

    inbound.from = mailbox(message, HeaderName::From, "From", problems);
    if inbound.from.is_none() {
        problems.push("no usable From address".into());
    }
    inbound.reply_to = mailbox(message, HeaderName::ReplyTo, "Reply-To", problems);

    inbound.return_path = raw_values(message, "Return-Path")
        .into_iter()
        .next()
        .map(|v| {
            let v = v.trim();
            let v = v.strip_prefix('<').unwrap_or(v);
            let v = v.strip_suffix('>').unwrap_or(v);
            v.trim().to_lowercase()
        });

    inbound.recipients = recipients(message);

    inbound.subject = subject(message, problems);

    inbound.date = match message.date() {
        Some(date) if date.is_valid() => Some(date.to_timestamp()),
        _ if raw_values(message, "Date").is_empty() => {
            problems.push("no Date".into());
            None
        }
        _ => {
            problems.push("unparseable Date header".into());
            None
        }
    };

    inbound.in_reply_to = ids(message.in_reply_to());
    inbound.references = ids(message.references());

    let first = |name: &str| raw_values(message, name).into_iter().next();
    inbound.auto_submitted = first("Auto-Submitted");
    inbound.precedence = first("Precedence");
    inbound.list_id = first("List-Id");
    inbound.authentication_results = raw_values(message, "Authentication-Results");
}

/// Raw values of every top-level header called `name`, unfolded and trimmed, in header order
/// (so the most recently added trace header comes first).
pub(super) fn raw_values(message: &Message<'_>, name: &str) -> Vec<String> {
    message
        .headers()
        .iter()
        .filter(|h| h.name.as_str().eq_ignore_ascii_case(name))
        .filter_map(|h| {
            let bytes = message
                .raw_message
                .get(h.offset_start as usize..h.offset_end as usize)?;
            let text = decode_header_bytes(bytes);
            Some(unfold(&text))
        })
        .collect()
}

fn unfold(text: &str) -> String {
    text.replace(['\r', '\n'], "").trim().to_string()
}

/// UTF-8 if it is, else windows-1252 (the usual undeclared 8-bit charset).
fn decode_header_bytes(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => Cow::Owned(cp1252(bytes)),
    }
}

pub(super) fn cp1252(bytes: &[u8]) -> String {
    match charset_decoder(b"windows-1252") {
        Some(decode) => decode(bytes),
        None => String::from_utf8_lossy(bytes).into_owned(),
    }
}

/// Raw bytes of the first top-level header `name`, when they are not valid UTF-8, re-read as
/// windows-1252 and returned as UTF-8 bytes ready to be parsed again.
fn eight_bit_header(message: &Message<'_>, name: &HeaderName<'_>) -> Option<Vec<u8>> {
    let header = message.headers().iter().find(|h| &h.name == name)?;
    let bytes = message
        .raw_message
        .get(header.offset_start as usize..header.offset_end as usize)?;
    match std::str::from_utf8(bytes) {
        Ok(_) => None,
        Err(_) => Some(cp1252(bytes).into_bytes()),
    }
}

fn subject(message: &Message<'_>, problems: &mut Vec<String>) -> String {
    let mut subject = message.subject().unwrap_or_default().to_string();
    if subject.contains('\u{FFFD}') {
        if let Some(bytes) = eight_bit_header(message, &HeaderName::Subject) {
            if let HeaderValue::Text(text) = MessageStream::new(&bytes).parse_unstructured() {
                subject = text.into_owned();
                problems.push("undeclared 8-bit bytes in Subject; read as windows-1252".into());
            }
        }
    }
    let mut subject = single_line(&subject, "Subject", problems);
    if subject.chars().count() > MAX_SUBJECT_CHARS {
        problems.push(format!(
            "Subject truncated to {MAX_SUBJECT_CHARS} characters"
        ));
        subject = subject
            .chars()
            .take(MAX_SUBJECT_CHARS)
            .collect::<String>()
            .trim()
            .to_string();
    }
    if subject.is_empty() {
        problems.push("no Subject".into());
    }
    subject
}

/// Replaces CR, LF and other control characters by spaces and trims. A decoded value holding
/// CR or LF can only come from an encoded word: that is a header injection attempt.
pub(super) fn single_line(value: &str, header: &str, problems: &mut Vec<String>) -> String {
    if value.contains(['\r', '\n']) {
        problems.push(format!("header injection attempt in {header}"));
    } else if value.chars().any(|c| c.is_control() && c != '\t') {
        problems.push(format!("control characters in {header}"));
    }
    value
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_string()
}

fn mailbox(
    message: &Message<'_>,
    name: HeaderName<'static>,
    label: &str,
    problems: &mut Vec<String>,
) -> Option<Mailbox> {
    let value = message.header(name.clone())?;
    let mut reread = None;
    let mut address = value.as_address();
    let garbled = address
        .and_then(|a| a.first())
        .and_then(|a| a.name.as_deref())
        .is_some_and(|n| n.contains('\u{FFFD}'));
    if garbled {
        if let Some(bytes) = eight_bit_header(message, &name) {
            reread = MessageStream::new(&bytes)
                .parse_address()
                .into_address()
                .map(Address::into_owned);
            problems.push(format!(
                "undeclared 8-bit bytes in {label}; read as windows-1252"
            ));
        }
    }
    if reread.is_some() {
        address = reread.as_ref();
    }
    let address = address?;
    let mut all = address.iter().filter(|a| a.address.is_some());
    let first = all.next()?;
    if all.next().is_some() {
        problems.push(format!("several {label} addresses; the first is used"));
    }
    let addr = first.address.as_deref().unwrap_or_default();
    let addr = single_line(addr, label, problems).to_lowercase();
    if !addr.contains('@') {
        problems.push(format!("{label} address without a domain: {addr:?}"));
    }
    let display = first
        .name
        .as_deref()
        .map(|n| single_line(n, label, problems))
        .filter(|n| !n.is_empty());
    Some(Mailbox {
        name: display,
        address: addr,
    })
}

fn recipients(message: &Message<'_>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut push = |addr: &str| {
        let addr = addr.trim().trim_matches(['<', '>']).to_lowercase();
        if addr.contains('@') && !out.contains(&addr) {
            out.push(addr);
        }
    };
    for name in [HeaderName::To, HeaderName::Cc] {
        for value in message.header_values(name) {
            if let Some(list) = value.as_address() {
                list.iter()
                    .filter_map(|a| a.address.as_deref())
                    .for_each(&mut push);
            }
        }
    }
    static ADDR: OnceLock<Regex> = OnceLock::new();
    let re = ADDR.get_or_init(|| Regex::new(r#"[^\s<>,;:"()\[\]]+@[^\s<>,;:"()\[\]]+"#).unwrap());
    for name in ["Delivered-To", "X-Original-To"] {
        for value in raw_values(message, name) {
            re.find_iter(&value).for_each(|m| push(m.as_str()));
        }
    }
    out
}

fn ids(value: &HeaderValue<'_>) -> Vec<String> {
    match value {
        HeaderValue::Text(id) => clean_id(id).into_iter().collect(),
        HeaderValue::TextList(list) => list.iter().filter_map(|id| clean_id(id)).collect(),
        _ => Vec::new(),
    }
}

pub(super) fn clean_id(id: &str) -> Option<String> {
    let id = id.trim();
    let id = id.strip_prefix('<').unwrap_or(id);
    let id = id.strip_suffix('>').unwrap_or(id).trim();
    let id: String = id.chars().filter(|c| !c.is_control()).collect();
    (!id.is_empty()).then_some(id)
}
