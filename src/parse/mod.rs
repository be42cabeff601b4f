//! Raw RFC 5322 bytes -> [`Inbound`]: the sender, threading and RFC 3834 headers, the body
//! as text, text-like attachments and the forwarded original (attached or inline).
//!
//! Architecture invariant: parsing never fails and never panics. Damage (broken MIME,
//! bad charsets, header injection ...) is written to `Inbound::problems` and the message
//! still comes through. This module is pure: no IO, no clock, no logging, and it uses
//! nothing of the crate outside `crate::parse` (only std, `mail-parser`, `regex`, `memchr`
//! and `aho-corasick` for searching, `cfb` and `compressed-rtf` for Outlook `.msg` files,
//! `zip`, `tar`, `flate2`, `bzip2` and `sevenz-rust2` for archives, and `quick-xml` for
//! Office documents).
//! Deciding what an `Inbound` *means* (bounce? allowed sender? which case?) is the
//! caller's job, not ours.

mod archive;
mod body;
mod forward;
mod headers;
mod html;
mod mime;
mod msg;
mod office;
mod rtf;
mod seven_z;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_archive;
#[cfg(test)]
mod tests_bad;
#[cfg(test)]
mod tests_forward;
#[cfg(test)]
mod tests_msg;
#[cfg(test)]
mod tests_office;
#[cfg(test)]
mod tests_seven_z;

use std::panic::{catch_unwind, AssertUnwindSafe};

pub use forward::find_inline_forward;
pub use headers::glance;
pub use html::html_to_text;
pub use mime::{head, MAX_PARTS};

/// One address of a header such as From or Reply-To.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Mailbox {
    /// Display name, decoded and stripped of control characters.
    pub name: Option<String>,
    /// Trimmed and lowercased, so callers can compare it with `==`.
    pub address: String,
}

/// How the original reached us.
#[derive(Clone, Debug, PartialEq)]
pub enum ForwardStyle {
    /// A `message/rfc822` part (or an `.eml` file, or an Outlook `.msg` file) carried the
    /// original whole.
    Attached,
    /// The client pasted the original below a header block; names the client family whose
    /// layout matched: "gmail", "outlook", "apple", "thunderbird", "yahoo", "zimbra",
    /// "roundcube", "android" or "generic".
    Inline(&'static str),
}

/// The forwarded message, as far as the forward shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct Original {
    /// As written: `Name <addr>` or a bare address (inline forwards show no more).
    pub from: Option<String>,
    pub subject: Option<String>,
    /// As written by the client (inline dates are localized prose, so we do not parse them).
    pub date: Option<String>,
    /// Without angle brackets; inline forwards rarely show it.
    pub message_id: Option<String>,
    /// The original's body text (after the header block, quote marks removed).
    pub text: String,
    pub style: ForwardStyle,
}

/// A decoded text-like attachment (logs, configs, .env files ...).
#[derive(Clone, Debug, Default)]
pub struct TextAttachment {
    pub name: String,
    pub text: String,
}

/// Everything later steps need from one inbound email.
#[derive(Clone, Debug, Default)]
pub struct Inbound {
    /// Without angle brackets; threading and dedup key.
    pub message_id: Option<String>,
    /// Who reported; checked against the allowed domains.
    pub from: Option<Mailbox>,
    pub reply_to: Option<Mailbox>,
    /// `Some("")` for a null sender `<>`: a bounce, never answered.
    pub return_path: Option<String>,
    /// Lowercased addresses from To, Cc, Delivered-To, X-Original-To, in that order, without
    /// duplicates: a signed per-case address is looked for here.
    pub recipients: Vec<String>,
    /// Decoded; CR, LF and other control characters replaced by spaces; trimmed.
    pub subject: String,
    /// Unix seconds.
    pub date: Option<i64>,
    /// Message ids without `<>`.
    pub in_reply_to: Vec<String>,
    pub references: Vec<String>,
    /// RFC 3834 / list headers, raw and trimmed: automatic mail is never answered.
    pub auto_submitted: Option<String>,
    pub precedence: Option<String>,
    pub list_id: Option<String>,
    /// `multipart/report` or `message/delivery-status` anywhere.
    pub is_delivery_report: bool,
    /// Raw unfolded header values, top (most recent) first.
    pub authentication_results: Vec<String>,
    /// Body as text: text/plain preferred, else HTML rendered to text; includes any inline
    /// forward block.
    pub text: String,
    /// True when the body had no text/plain part and `text` was rendered from HTML.
    pub html_only: bool,
    /// Decoded text-like attachments; never the rfc822 original itself.
    pub attachments: Vec<TextAttachment>,
    pub original: Option<Original>,
    /// Parse warnings, human readable. Empty for a clean message.
    pub problems: Vec<String>,
    /// Why only the message's head was read: it is more than the parser is given
    /// ("more than 10000 MIME parts", …; see `too_complex`).
    pub too_complex: Option<String>,
}

impl Inbound {
    /// Nothing was read: no subject, text, original or attachment. [`parse`] never
    /// returns such a result without a problem saying why.
    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
            && self.subject.is_empty()
            && self.original.is_none()
            && self.attachments.is_empty()
    }
}

/// Parses one raw message. Never panics and never returns an empty result without a problem
/// saying why.
pub fn parse(raw: &[u8]) -> Inbound {
    let mut inbound = parse_caught(raw);
    drop_nul(&mut inbound);
    inbound
}

/// [`parse_guarded`], its panics caught.
fn parse_caught(raw: &[u8]) -> Inbound {
    match catch_unwind(AssertUnwindSafe(|| parse_guarded(raw))) {
        Ok(inbound) => inbound,
        Err(_) => {
            // Last resort: mail-parser (or we) hit a bug. Keep the bytes as text.
            let mut inbound = Inbound {
                text: body::decode_text_bytes(&strip_nul(raw)).0,
                ..Inbound::default()
            };
            inbound
                .problems
                .push("parser crashed on this message; raw message kept as text".into());
            inbound
        }
    }
}

/// Removes NUL from every text of `inbound`: decoding (base64, quoted-printable, encoded
/// words, UTF-16 in a `.msg`, a file in an archive) can give what the raw bytes did not
/// hold, and PostgreSQL refuses NUL in text.
fn drop_nul(inbound: &mut Inbound) {
    fn one(s: &mut String) -> bool {
        let had = s.contains('\0');
        if had {
            s.retain(|c| c != '\0');
        }
        had
    }
    fn some(s: &mut Option<String>) -> bool {
        s.as_mut().is_some_and(one)
    }
    fn all(v: &mut [String]) -> bool {
        v.iter_mut().fold(false, |had, s| one(s) | had)
    }
    fn mailbox(m: &mut Option<Mailbox>) -> bool {
        m.as_mut()
            .is_some_and(|m| some(&mut m.name) | one(&mut m.address))
    }
    let i = inbound;
    let mut had = some(&mut i.message_id)
        | mailbox(&mut i.from)
        | mailbox(&mut i.reply_to)
        | some(&mut i.return_path)
        | all(&mut i.recipients)
        | one(&mut i.subject)
        | all(&mut i.in_reply_to)
        | all(&mut i.references)
        | some(&mut i.auto_submitted)
        | some(&mut i.precedence)
        | some(&mut i.list_id)
        | all(&mut i.authentication_results)
        | one(&mut i.text)
        | all(&mut i.problems);
    for a in &mut i.attachments {
        had |= one(&mut a.name) | one(&mut a.text);
    }
    if let Some(o) = &mut i.original {
        had |= some(&mut o.from)
            | some(&mut o.subject)
            | some(&mut o.date)
            | some(&mut o.message_id)
            | one(&mut o.text);
    }
    if had {
        i.problems
            .push("NUL characters in the decoded text (removed)".to_string());
    }
}

fn strip_nul(raw: &[u8]) -> Vec<u8> {
    raw.iter().copied().filter(|&b| b != 0).collect()
}

fn parse_guarded(raw: &[u8]) -> Inbound {
    let mut problems = Vec::new();
    if raw.iter().all(|b| b.is_ascii_whitespace()) {
        problems.push("empty message".to_string());
        return Inbound {
            problems,
            ..Inbound::default()
        };
    }
    // NUL never belongs in mail and databases refuse it in text columns.
    let cleaned;
    let raw = if raw.contains(&0) {
        problems.push("NUL bytes in message (removed)".to_string());
        cleaned = strip_nul(raw);
        &cleaned[..]
    } else {
        raw
    };
    headers::check_header_section(raw, &mut problems);

    let Some(message) = mime::parse_mime(raw, &mut problems) else {
        problems.push("no header section found; whole input kept as body text".to_string());
        let (text, note) = body::decode_text_bytes(raw);
        let text = text.trim().to_string();
        problems.extend(note);
        let original = find_inline_forward(&text);
        return Inbound {
            text,
            original,
            problems,
            ..Inbound::default()
        };
    };

    let mut inbound = Inbound {
        too_complex: message.1.clone(),
        ..Inbound::default()
    };
    headers::read_headers(&message, &mut inbound, &mut problems);
    body::read_body(&message, &mut inbound, &mut problems);
    if inbound.original.is_none() {
        inbound.original = find_inline_forward(&inbound.text);
    }
    if inbound.text.trim().is_empty()
        && inbound.attachments.is_empty()
        && inbound.original.is_none()
    {
        problems.push("empty body".to_string());
    }
    inbound.problems = problems;
    inbound
}
