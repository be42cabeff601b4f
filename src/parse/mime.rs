//! The one door to mail-parser: every message (the one that came, an attached `.eml`, a
//! `.msg` file's transport headers) is parsed here, under two bounds mail-parser does not
//! keep itself.
//!
//! - Memory: mail-parser keeps every MIME part with its headers, and an attached message
//!   (`message/rfc822`, each part of a `multipart/digest`) as a message of its own: 250
//!   bytes to 1.8 KB for a part written in 10 to 20, so 25 MB of tiny parts took 0.6 to
//!   2.5 GB; and every header line (~135 bytes each). A message of more than
//!   [`MAX_PARTS`] parts or [`MAX_HEADER_LINES`] header lines is read to its first
//!   [`HEAD_BYTES`] only.
//! - Stack: an attached message is a value inside its part, as deep as the mail nests
//!   them, and the compiler's drop of a `Message` recurses once a level: 300,000 nested
//!   `message/rfc822` headers (9 MB) overflowed the stack and aborted the process, which
//!   no `catch_unwind` stops. [`Mime`] frees the levels one at a time.

use std::collections::HashSet;
use std::ops::Deref;

use mail_parser::{Message, MessageParser, PartType};

/// Most MIME parts a message is read with (counted as `shape` counts them).
pub const MAX_PARTS: usize = 10_000;
/// Most header lines a message is read with, in all its header sections: mail-parser
/// keeps ~135 bytes a line (20 MB of `X:y` lines took 542 MB).
pub const MAX_HEADER_LINES: usize = 100_000;
/// Most addresses, ids and keywords in a message's headers (counted by their separators):
/// mail-parser keeps ~60 bytes an address (5 million in one 20 MB `To:` took 316 MB).
pub const MAX_HEADER_ITEMS: usize = 100_000;
/// How much of a message with more parts is read: its headers and the start of its body.
pub const HEAD_BYTES: usize = 64 * 1024;

/// A message as mail-parser read it, freed without recursion; `cut` says why only its
/// head was read (`too_complex`), if it was.
pub struct Mime<'x>(Message<'x>, pub Option<String>);

impl<'x> Deref for Mime<'x> {
    type Target = Message<'x>;
    fn deref(&self) -> &Message<'x> {
        &self.0
    }
}

impl Drop for Mime<'_> {
    fn drop(&mut self) {
        let mut nested = Vec::new();
        take_nested(&mut self.0, &mut nested);
        while let Some(mut m) = nested.pop() {
            take_nested(&mut m, &mut nested);
            // `m` now holds no message: dropping it recurses no further.
        }
    }
}

/// Moves the messages attached in `m`'s parts to `out`.
fn take_nested<'x>(m: &mut Message<'x>, out: &mut Vec<Message<'x>>) {
    for part in &mut m.parts {
        if let PartType::Message(inner) = &mut part.body {
            out.push(std::mem::take(inner));
        }
    }
}

/// Parses `raw` with mail-parser; of a message too complex for it (`too_complex`) only
/// the head, which `problems` and the result's `cut` then say. `None` when no message
/// is found at all.
pub fn parse_mime<'x>(raw: &'x [u8], problems: &mut Vec<String>) -> Option<Mime<'x>> {
    let cut = too_complex(raw);
    let raw = if let Some(what) = &cut {
        problems.push(format!(
            "{what}: only the first {} KB read",
            HEAD_BYTES / 1024
        ));
        head(raw, HEAD_BYTES)
    } else {
        raw
    };
    let message = MessageParser::default().parse(raw)?;
    Some(Mime(message, cut))
}

/// The first bytes of `raw`, at most `max`, cut after a line end when one is there (so
/// the headers in it parse whole).
pub fn head(raw: &[u8], max: usize) -> &[u8] {
    let cut = raw.len().min(max);
    let end = raw[..cut]
        .iter()
        .rposition(|b| *b == b'\n')
        .map(|i| i + 1)
        .unwrap_or(cut);
    &raw[..end]
}

/// Why `raw` is more than mail-parser is given: "more than 10000 MIME parts" or "more
/// than 100000 header lines" (see `shape`); `None` when it is not. A first pass counts
/// the lines that could be either; only when they are more than the limits is the
/// message's shape counted.
pub fn too_complex(raw: &[u8]) -> Option<String> {
    let (mut lines, mut items) = (0, 0);
    for line in raw.split(|b| *b == b'\n') {
        lines += usize::from(line.starts_with(b"--") || line.contains(&b':'));
        items += header_items(line);
    }
    if lines <= MAX_PARTS.min(MAX_HEADER_LINES) && items <= MAX_HEADER_ITEMS {
        return None;
    }
    let shape = shape(raw);
    if shape.parts > MAX_PARTS {
        Some(format!("more than {MAX_PARTS} MIME parts"))
    } else if shape.header_lines > MAX_HEADER_LINES {
        Some(format!("more than {MAX_HEADER_LINES} header lines"))
    } else if shape.header_items > MAX_HEADER_ITEMS {
        Some(format!(
            "more than {MAX_HEADER_ITEMS} addresses or ids in its headers"
        ))
    } else {
        None
    }
}

/// What mail-parser would keep of a message, counted.
#[derive(Debug, PartialEq)]
struct Shape {
    /// Delimiter lines of the boundaries the message declares, and header lines that
    /// start an attached message (`Content-Type: message/…`, the value perhaps folded
    /// onto the next line): an upper bound of the parts (a closing delimiter counts).
    parts: usize,
    /// Lines of header sections: the message's, each part's (after a delimiter) and an
    /// attached message's (after its part's headers; not those of a `multipart/digest`
    /// part's message without a Content-Type, which are counted as text).
    header_lines: usize,
    /// Commas and `<` in those lines: about the addresses, ids and keywords the parser
    /// keeps of list headers (To, Cc, References …).
    header_items: usize,
}

/// Commas and `<` in `line`, which separate the items of a list header.
fn header_items(line: &[u8]) -> usize {
    line.iter().filter(|b| **b == b',' || **b == b'<').count()
}

fn shape(raw: &[u8]) -> Shape {
    let boundaries = declared_boundaries(raw);
    let mut shape = Shape {
        parts: 0,
        header_lines: 0,
        header_items: 0,
    };
    let mut in_headers = true;
    // This header section starts an attached message, whose headers follow its own.
    let mut attached = false;
    let mut folded_type = false;
    for line in raw.split(|b| *b == b'\n') {
        let line = line.trim_ascii_end();
        if let Some(rest) = line.strip_prefix(b"--") {
            let opening = boundaries.contains(rest);
            let closing = rest
                .strip_suffix(b"--")
                .is_some_and(|name| boundaries.contains(name));
            if opening || closing {
                shape.parts += 1;
                in_headers = opening;
                (attached, folded_type) = (false, false);
                continue;
            }
        }
        if !in_headers {
            continue;
        }
        if line.is_empty() {
            in_headers = attached;
            (attached, folded_type) = (false, false);
            continue;
        }
        shape.header_lines += 1;
        shape.header_items += header_items(line);
        let value = if folded_type && line.first().is_some_and(|b| *b == b' ' || *b == b'\t') {
            Some(line.trim_ascii_start())
        } else {
            content_type_value(line)
        };
        folded_type = value.is_some_and(<[u8]>::is_empty);
        if value.is_some_and(|v| starts_with_ci(v, b"message/")) {
            shape.parts += 1;
            attached = true;
        }
    }
    shape
}

/// The value of a `Content-Type:` header line, trimmed; `None` for any other line.
fn content_type_value(line: &[u8]) -> Option<&[u8]> {
    if !starts_with_ci(line, b"content-type") {
        return None;
    }
    line[b"content-type".len()..]
        .trim_ascii_start()
        .strip_prefix(b":")
        .map(<[u8]>::trim_ascii)
}

/// Every `boundary=` parameter value in `raw` (quoted or not), wherever it is written.
fn declared_boundaries(raw: &[u8]) -> HashSet<&[u8]> {
    const NAME: &[u8] = b"boundary";
    let mut out = HashSet::new();
    let mut i = 0;
    while i + NAME.len() <= raw.len() {
        if raw[i] | 0x20 != b'b' || !raw[i..i + NAME.len()].eq_ignore_ascii_case(NAME) {
            i += 1;
            continue;
        }
        i += NAME.len();
        let rest = raw[i..].trim_ascii_start();
        let Some(rest) = rest.strip_prefix(b"=") else {
            continue;
        };
        let rest = rest.trim_ascii_start();
        let value = match rest.strip_prefix(b"\"") {
            Some(quoted) => {
                let end = quoted.iter().position(|b| *b == b'"' || *b == b'\n');
                &quoted[..end.unwrap_or(quoted.len())]
            }
            None => {
                let end = rest
                    .iter()
                    .position(|b| b.is_ascii_whitespace() || *b == b';' || *b == b'"');
                &rest[..end.unwrap_or(rest.len())]
            }
        };
        if !value.is_empty() {
            out.insert(value);
        }
    }
    out
}

fn starts_with_ci(s: &[u8], prefix: &[u8]) -> bool {
    s.len() >= prefix.len() && s[..prefix.len()].eq_ignore_ascii_case(prefix)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(parts: usize) -> Vec<u8> {
        let mut raw = b"From: a@example.org\r\nSubject: d\r\n\
            Content-Type: multipart/digest; boundary=\"b 1\"\r\n\r\n"
            .to_vec();
        for _ in 0..parts {
            raw.extend_from_slice(b"--b 1\r\n\r\nSubject: x\r\n\r\nx\r\n");
        }
        raw.extend_from_slice(b"--b 1--  \r\n");
        raw
    }

    fn nested(levels: usize) -> Vec<u8> {
        let mut raw = b"From: a@example.org\r\nSubject: deep\r\n".to_vec();
        for i in 0..levels {
            // Every other level folds its Content-Type onto a second line.
            raw.extend_from_slice(if i % 2 == 0 {
                b"Content-Type: message/rfc822\r\n\r\n".as_slice()
            } else {
                b"content-type:\r\n\tMessage/RFC822\r\n\r\n".as_slice()
            });
        }
        raw.extend_from_slice(b"Subject: x\r\n\r\nhi\r\n");
        raw
    }

    fn counted(raw: &[u8]) -> (usize, usize, usize) {
        let s = shape(raw);
        (s.parts, s.header_lines, s.header_items)
    }

    #[test]
    fn parts_and_header_lines_are_counted_where_the_parser_sees_them() {
        // Headers: the message's 3, each part's none (a digest part's message is not
        // told from text: its header lines are not counted, its part is).
        assert_eq!(counted(&digest(7)), (8, 3, 0));
        // Each level: its Content-Type line (folded in every other), a part and a message.
        assert_eq!(counted(&nested(10)), (10, 2 + 10 + 5 + 1, 0));
        // Lines shaped like delimiters of no declared boundary, or like headers in a
        // body, are text; list items are counted in headers only.
        let mut log = b"From: a@example.org\r\nTo: <a@b>, <c@d>\r\n\
            Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
            --b\r\nContent-Type: text/plain\r\n\r\n"
            .to_vec();
        log.extend(b"-----\r\nContent-Type: message/rfc822\r\nkey: <value>, 2\r\n".repeat(3));
        log.extend_from_slice(b"--b--\r\nepilogue: text\r\n");
        assert_eq!(counted(&log), (2, 4, 3));
    }

    #[test]
    fn only_more_than_the_limits_is_too_complex() {
        assert_eq!(too_complex(&digest(MAX_PARTS - 1)), None);
        assert_eq!(
            too_complex(&digest(MAX_PARTS)).as_deref(),
            Some("more than 10000 MIME parts")
        );
        assert_eq!(too_complex(&nested(MAX_PARTS)), None);
        assert!(too_complex(&nested(MAX_PARTS + 1)).is_some());
        let headers = |n: usize| {
            let mut raw = b"Subject: many\r\n".repeat(n);
            raw.extend_from_slice(b"\r\nbody: text\r\n".repeat(MAX_HEADER_LINES).as_slice());
            raw
        };
        assert_eq!(too_complex(&headers(MAX_HEADER_LINES)), None);
        assert_eq!(
            too_complex(&headers(MAX_HEADER_LINES + 1)).as_deref(),
            Some("more than 100000 header lines")
        );
        // One line of addresses, with a body of as many commas, which are text.
        let addresses = |n: usize| {
            let mut raw = b"To: a@b".to_vec();
            raw.extend(b",a@b".repeat(n));
            raw.extend_from_slice(b"\r\n\r\n");
            raw.extend(b",".repeat(MAX_HEADER_ITEMS * 2));
            raw
        };
        assert_eq!(too_complex(&addresses(MAX_HEADER_ITEMS)), None);
        assert_eq!(
            too_complex(&addresses(MAX_HEADER_ITEMS + 1)).as_deref(),
            Some("more than 100000 addresses or ids in its headers")
        );
    }

    #[test]
    fn a_message_of_too_many_parts_is_read_to_its_head() {
        let raw = digest(MAX_PARTS * 2);
        let mut problems = Vec::new();
        let m = parse_mime(&raw, &mut problems).unwrap();
        assert!(m.raw_message.len() <= HEAD_BYTES, "{}", m.raw_message.len());
        assert_eq!(m.subject(), Some("d"));
        assert_eq!(
            problems,
            [format!(
                "more than {MAX_PARTS} MIME parts: only the first 64 KB read"
            )]
        );
    }

    /// 300,000 nested attached messages in 9 MB: the count reads the head, and even a
    /// message mail-parser nests this deep (parsed here without the count) is freed.
    #[test]
    fn deeply_nested_messages_are_freed_without_recursion() {
        let raw = nested(300_000);
        let mut problems = Vec::new();
        drop(parse_mime(&raw, &mut problems).unwrap());
        assert_eq!(problems.len(), 1, "{problems:?}");
        let deep = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(move || {
                let m = Mime(MessageParser::default().parse(&raw[..]).unwrap(), None);
                let mut levels = 0;
                let mut at: &Message = &m;
                while let Some(PartType::Message(inner)) = at.parts.first().map(|p| &p.body) {
                    levels += 1;
                    at = inner;
                }
                drop(m);
                levels
            })
            .unwrap()
            .join()
            .unwrap();
        assert!(deep >= 300_000, "{deep}");
    }

    #[test]
    fn a_head_ends_at_a_line() {
        let mut raw = b"Subject: x\r\n".repeat(10_000);
        raw.extend_from_slice(b"tail");
        let h = head(&raw, HEAD_BYTES);
        assert!(h.len() <= HEAD_BYTES && h.ends_with(b"\n"));
        assert_eq!(head(b"no line end", 4), b"no l");
    }
}
