//! The one door to mail-parser: every message (the one that came, an attached `.eml`, a
//! `.msg` file's transport headers) is parsed here, under two bounds mail-parser does not
//! keep itself.
//!
//! - Memory: mail-parser keeps every MIME part with its headers, and an attached message
//!   (`message/rfc822`, each part of a `multipart/digest`) as a message of its own: 250
//!   bytes to 1.8 KB for a part written in 10 to 20, so 25 MB of tiny parts took 0.6 to
//!   2.5 GB; and every header line (~135 bytes each). A message of more than
//!   [`MAX_PARTS`] parts or [`MAX_HEADER_LINES`] header lines is read to its first
//!   [`HEAD_BYTES`] only. The count (`too_complex`) is from above, checked against
//!   mail-parser itself on random messages: it finds delimiters where mail-parser does
//!   (anywhere in a line), reads header sections as it ends them, and decodes encoded
//!   attached messages, which mail-parser parses three levels deep; a message whose
//!   boundaries it cannot read as mail-parser would gets a rough count.
//! - Stack: an attached message is a value inside its part, as deep as the mail nests
//!   them, and the compiler's drop of a `Message` recurses once a level: 300,000 nested
//!   `message/rfc822` headers (9 MB) overflowed the stack and aborted the process, which
//!   no `catch_unwind` stops. [`Mime`] frees the levels one at a time.

use std::ops::Deref;

use aho_corasick::{AhoCorasick, Input, Match, MatchKind, PatternID};
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

/// Why `raw` is more than mail-parser is given: "more than 10000 MIME parts", "more than
/// 100000 header lines", … (see `Shape`); `None` when it is not. A rough count rules out
/// most messages; the others' shape is counted.
pub fn too_complex(raw: &[u8]) -> Option<String> {
    let rough = rough_shape(raw);
    rough.why()?;
    let mut budget = raw.len().saturating_mul(DECODE_BUDGET);
    shape(raw, ENCODED_LEVELS, &mut budget, Some(rough)).why()
}

/// Levels of encoded attached messages mail-parser parses (its `MAX_NESTED_ENCODED`).
const ENCODED_LEVELS: usize = 3;
/// Most bytes decoded to count encoded attached messages, as a multiple of the message's
/// size: an ordinary message needs less than one.
const DECODE_BUDGET: usize = 3;
/// Most distinct boundaries a message's shape is counted with (more: a rough count).
const MAX_BOUNDARIES: usize = 100;
/// Longest boundary a message's shape is counted with (RFC 2046 allows 70 bytes).
const MAX_BOUNDARY_BYTES: usize = 200;

/// What mail-parser would keep of a message, counted from above: where the count cannot
/// tell what the parser will do, it counts what the parser could do.
#[derive(Debug, Default, PartialEq)]
struct Shape {
    /// Delimiters — `--` and a declared boundary, anywhere in a line, as mail-parser
    /// finds them (a closing one counts) — and attached messages: a part whose
    /// Content-Type is `message/…`, or has none inside a `multipart/digest`.
    parts: usize,
    /// Lines of header sections: the message's, each part's (after a delimiter) and an
    /// attached message's (after its part's headers; an encoded one's once decoded).
    header_lines: usize,
    /// Commas and `<` in those lines: about the addresses, ids and keywords the parser
    /// keeps of list headers (To, Cc, References …).
    header_items: usize,
    /// There may be encoded attached messages this did not count (see `rough_shape`), or
    /// more of them than `DECODE_BUDGET`.
    uncounted: bool,
}

impl Shape {
    fn add(&mut self, other: Shape) {
        self.parts = self.parts.saturating_add(other.parts);
        self.header_lines = self.header_lines.saturating_add(other.header_lines);
        self.header_items = self.header_items.saturating_add(other.header_items);
        self.uncounted |= other.uncounted;
    }

    /// The limit this shape is over, said for the quarantine.
    fn why(&self) -> Option<String> {
        if self.parts > MAX_PARTS {
            Some(format!("more than {MAX_PARTS} MIME parts"))
        } else if self.header_lines > MAX_HEADER_LINES {
            Some(format!("more than {MAX_HEADER_LINES} header lines"))
        } else if self.header_items > MAX_HEADER_ITEMS {
            Some(format!(
                "more than {MAX_HEADER_ITEMS} addresses or ids in its headers"
            ))
        } else if self.uncounted {
            Some("encoded parts that cannot be counted".to_string())
        } else {
            None
        }
    }
}

/// A shape counted without reading the structure, above the one `shape` counts: every
/// `--` a delimiter, every line with a `:` a header line (mail-parser keeps no field
/// without one) and maybe an attached message's Content-Type, every `,` and `<` an item;
/// encoded parts are not decoded, so any there may be are `uncounted`.
fn rough_shape(raw: &[u8]) -> Shape {
    let mut colon_lines = 0usize;
    let mut counted = false;
    for at in memchr::memchr2_iter(b'\n', b':', raw) {
        if raw[at] == b'\n' {
            counted = false;
        } else if !counted {
            colon_lines += 1;
            counted = true;
        }
    }
    let items = header_items(raw);
    let dashes = memchr::memmem::find_iter(raw, b"--").count();
    Shape {
        parts: dashes.saturating_add(colon_lines),
        header_lines: colon_lines,
        header_items: items,
        uncounted: may_be_encoded(raw),
    }
}

/// Whether `raw` says `base64` or `quoted-printable` (any case) or has an encoded word
/// (`=?`), as a Content-Transfer-Encoding that mail-parser decodes must.
fn may_be_encoded(raw: &[u8]) -> bool {
    memchr::memmem::find(raw, b"=?").is_some()
        || words(raw, b"base64").next().is_some()
        || words(raw, b"quoted-printable").next().is_some()
}

/// Where `word` (ASCII letters first) is in `text`, in any case.
fn words<'a>(text: &'a [u8], word: &'a [u8]) -> impl Iterator<Item = usize> + 'a {
    let first = word.first().copied().unwrap_or_default();
    memchr::memchr2_iter(first.to_ascii_lowercase(), first.to_ascii_uppercase(), text).filter(
        move |&at| {
            text.get(at..at + word.len())
                .is_some_and(|w| w.eq_ignore_ascii_case(word))
        },
    )
}

/// Commas and `<` in `text`, which separate the items of a list header.
fn header_items(text: &[u8]) -> usize {
    memchr::memchr2_iter(b',', b'<', text).count()
}

/// Counts `raw`'s shape, decoding encoded attached messages `levels` deep at most, and
/// no more bytes than `budget`. A message with a boundary this does not read (see
/// `boundary_params`) gets its rough shape (`rough`, if already counted).
fn shape(raw: &[u8], levels: usize, budget: &mut usize, rough: Option<Shape>) -> Shape {
    // mail-parser learns a boundary from a Content-Type and looks for it after that
    // header section; so does this.
    let mut delimiters = Delimiters::default();
    let mut next = None;
    let mut shape = Shape::default();
    let mut section = Some(Section::new(None, false));
    let mut in_digest = false;
    let mut at = 0;
    while at < raw.len() {
        let end = memchr::memchr(b'\n', &raw[at..]).map_or(raw.len(), |i| at + i);
        let line = &raw[at..end];
        at = end + 1;
        let mut first = None;
        while let Some(m) = next.filter(|m: &Match| m.start() < end) {
            shape.parts += 1;
            first = first.or(Some(m));
            next = delimiters.next(raw, m.end());
        }
        // mail-parser looks for delimiters in bodies only: in a header section they are
        // text (counted as parts all the same). It reads a part's headers from just after
        // its delimiter (a line's other delimiters are then text).
        if let Some(m) = first.filter(|_| section.is_none()) {
            let rest = &raw[m.end()..end];
            if !rest.starts_with(b"--") {
                let mut s = Section::new(Some(m.pattern()), true);
                let rest = rest.trim_ascii();
                if !rest.is_empty() {
                    s.line(rest, &mut shape);
                }
                section = Some(s);
            }
            continue;
        }
        section = match section.take() {
            Some(mut s) if !s.ends_at(line) => {
                s.line(line, &mut shape);
                Some(s)
            }
            Some(mut s) => {
                s.finish_field();
                let known = delimiters.patterns.len();
                let readable = !s.unreadable && s.boundaries.iter().all(|b| delimiters.add(b));
                if !readable {
                    return rough.unwrap_or_else(|| rough_shape(raw));
                }
                // Searched again only for a new boundary: a search finding nothing runs
                // to the end, and header sections can be many.
                if delimiters.patterns.len() != known {
                    next = delimiters.next(raw, at.min(raw.len()));
                }
                s.end(
                    &mut in_digest,
                    &mut shape,
                    Body {
                        raw,
                        start: at.min(raw.len()),
                        delimiters: &delimiters,
                        levels,
                    },
                    budget,
                )
            }
            None => None,
        };
    }
    shape
}

/// The delimiters of the boundaries declared so far: `--` and the boundary.
#[derive(Default)]
struct Delimiters {
    finder: Option<AhoCorasick>,
    patterns: Vec<Vec<u8>>,
}

impl Delimiters {
    /// Looks for `boundary`'s delimiters from now on; `false` past `MAX_BOUNDARIES`, or
    /// when no search could be built (not seen: they are few and short).
    fn add(&mut self, boundary: &[u8]) -> bool {
        let pattern = [b"--", boundary].concat();
        if self.patterns.contains(&pattern) {
            return true;
        }
        if self.patterns.len() >= MAX_BOUNDARIES {
            return false;
        }
        self.patterns.push(pattern);
        self.finder = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(&self.patterns)
            .ok();
        self.finder.is_some()
    }

    /// The first delimiter at or after `from`.
    fn next(&self, raw: &[u8], from: usize) -> Option<Match> {
        self.finder
            .as_ref()?
            .find(Input::new(raw).span(from..raw.len()))
    }

    /// Where the part opened by `pattern`, its body starting at `start`, ends at the
    /// latest: the next delimiter of its boundary (or of a longer one that starts with
    /// it, which `pattern` then is), or the end of `raw` (the message is no part).
    fn part_end(&self, raw: &[u8], start: usize, pattern: Option<PatternID>) -> usize {
        match pattern.and_then(|p| self.patterns.get(p.as_usize())) {
            Some(pattern) => {
                memchr::memmem::find(&raw[start..], pattern).map_or(raw.len(), |i| start + i)
            }
            None => raw.len(),
        }
    }
}

/// Where an encoded attached message's body starts, and how to count it.
struct Body<'a> {
    raw: &'a [u8],
    start: usize,
    delimiters: &'a Delimiters,
    levels: usize,
}

/// A header section being counted, and what its fields say about the part's body.
struct Section {
    /// The delimiter that opened this part, or the part an attached message is in
    /// (mail-parser ends its body there too); `None` for the message's own headers.
    boundary: Option<PatternID>,
    /// The section is a part's, not an attached message's.
    part: bool,
    /// The boundaries its Content-Type fields declare; one could not be read as
    /// mail-parser reads it (see `boundary_params`).
    boundaries: Vec<Vec<u8>>,
    unreadable: bool,
    /// The last line began a field (it had a `:`) or continued one.
    in_field: bool,
    field: Field,
    /// The last Content-Type, which mail-parser goes by, said `message/…`, or
    /// `multipart/digest`; there was one at all.
    message: bool,
    digest: bool,
    typed: bool,
    /// The last Content-Transfer-Encoding, which mail-parser goes by.
    transfer: Transfer,
}

/// A Content-Transfer-Encoding, as far as it matters here.
#[derive(Clone, Copy)]
enum Transfer {
    None,
    Base64,
    QuotedPrintable,
    /// An encoded word, which mail-parser decodes: any of the three.
    EncodedWord,
}

/// The field a header line belongs to, its value read so far (see `Value`).
enum Field {
    /// Also the field's text, its lines joined by `\n` (`None` past `MAX_TYPE_FIELD`).
    Type(Value, Option<Vec<u8>>),
    Encoding(Value),
    Other,
}

/// Longest Content-Type field whose boundary is read (longer: not read, see
/// `Section::unreadable`).
const MAX_TYPE_FIELD: usize = 8 * 1024;

impl Section {
    fn new(boundary: Option<PatternID>, part: bool) -> Section {
        Section {
            boundary,
            part,
            boundaries: Vec::new(),
            unreadable: false,
            in_field: false,
            field: Field::Other,
            message: false,
            digest: false,
            typed: false,
            transfer: Transfer::None,
        }
    }

    /// Whether `line` ends the section, as mail-parser reads it: a line of white space
    /// does, unless it starts with a space or tab inside a field (it continues it).
    fn ends_at(&self, line: &[u8]) -> bool {
        line.iter().all(u8::is_ascii_whitespace) && !self.continues(line)
    }

    fn continues(&self, line: &[u8]) -> bool {
        self.in_field && matches!(line.first(), Some(b' ' | b'\t'))
    }

    fn line(&mut self, line: &[u8], shape: &mut Shape) {
        shape.header_lines += 1;
        shape.header_items += header_items(line);
        if self.continues(line) {
            match &mut self.field {
                Field::Type(v, text) => {
                    v.feed(line);
                    if let Some(t) = text {
                        t.push(b'\n');
                        t.extend_from_slice(line.strip_suffix(b"\r").unwrap_or(line));
                    }
                    if text.as_ref().is_some_and(|t| t.len() > MAX_TYPE_FIELD) {
                        *text = None;
                    }
                }
                Field::Encoding(v) => v.feed(line),
                Field::Other => {}
            }
            return;
        }
        self.finish_field();
        // A line without a `:` is no field: mail-parser skips it.
        let line = line.trim_ascii_start();
        let colon = memchr::memchr(b':', line);
        self.in_field = colon.is_some();
        let Some(colon) = colon else {
            return;
        };
        // mail-parser drops white space inside a field's name.
        let named = |name: &[u8]| {
            line[..colon]
                .iter()
                .filter(|b| !b.is_ascii_whitespace())
                .map(u8::to_ascii_lowercase)
                .eq(name.iter().copied())
        };
        let value = |comments| {
            let mut v = Value::new(comments);
            v.feed(&line[colon + 1..]);
            v
        };
        if named(b"content-type") {
            let text = &line[colon + 1..];
            let text = text.strip_suffix(b"\r").unwrap_or(text);
            self.field = Field::Type(value(true), Some(text.to_vec()));
        } else if named(b"content-transfer-encoding") {
            self.field = Field::Encoding(value(false));
        }
    }

    /// Notes what the field read so far said.
    fn finish_field(&mut self) {
        match std::mem::replace(&mut self.field, Field::Other) {
            Field::Type(v, text) => {
                match text.as_deref().and_then(boundary_params) {
                    Some(found) => self.boundaries.extend(found),
                    None => self.unreadable = true,
                }
                self.typed = true;
                self.message = v.kept.starts_with(b"message/");
                self.digest = v.kept.starts_with(b"multipart/digest");
            }
            Field::Encoding(v) => {
                self.transfer = match v.kept.as_slice() {
                    b"base64" => Transfer::Base64,
                    b"quoted-printable" => Transfer::QuotedPrintable,
                    k if k.starts_with(b"=?") => Transfer::EncodedWord,
                    _ => Transfer::None,
                };
            }
            Field::Other => {}
        }
    }

    /// Ends the section at its blank line: counts the attached message it announces and
    /// returns the header section that follows (an unencoded attached message's).
    fn end(
        mut self,
        in_digest: &mut bool,
        shape: &mut Shape,
        body: Body,
        budget: &mut usize,
    ) -> Option<Section> {
        self.finish_field();
        let message = self.message || (!self.typed && self.part && *in_digest);
        *in_digest |= self.digest;
        if !message {
            return None;
        }
        shape.parts += 1;
        let (plain, base64, quoted) = match self.transfer {
            Transfer::None => (true, false, false),
            Transfer::Base64 => (false, true, false),
            Transfer::QuotedPrintable => (false, false, true),
            Transfer::EncodedWord => (true, true, true),
        };
        if body.levels > 0 && (base64 || quoted) {
            let end = body
                .delimiters
                .part_end(body.raw, body.start, self.boundary);
            let data = &body.raw[body.start..end];
            for (on, decode) in [
                (base64, decode_base64 as fn(&[u8]) -> Vec<u8>),
                (quoted, decode_quoted_printable),
            ] {
                if !on {
                    continue;
                }
                match budget.checked_sub(data.len()) {
                    Some(left) => {
                        *budget = left;
                        shape.add(self::shape(&decode(data), body.levels - 1, budget, None));
                    }
                    None => shape.uncounted = true,
                }
            }
        }
        plain.then(|| Section::new(self.boundary, false))
    }
}

/// The start of a Content-Type's or Content-Transfer-Encoding's value, lower case,
/// without white space, quotes and (for a Content-Type) comments, over folded lines.
struct Value {
    kept: Vec<u8>,
    comments: bool,
    depth: usize,
    escaped: bool,
}

impl Value {
    /// Enough for `multipart/digest` and `quoted-printable`.
    const KEPT: usize = 20;

    fn new(comments: bool) -> Value {
        Value {
            kept: Vec::new(),
            comments,
            depth: 0,
            escaped: false,
        }
    }

    fn feed(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if self.kept.len() >= Self::KEPT {
                return;
            }
            if self.comments {
                if self.escaped {
                    self.escaped = false;
                    continue;
                }
                match b {
                    b'\\' if self.depth > 0 => {
                        self.escaped = true;
                        continue;
                    }
                    b'(' => {
                        self.depth += 1;
                        continue;
                    }
                    b')' if self.depth > 0 => {
                        self.depth -= 1;
                        continue;
                    }
                    _ if self.depth > 0 => continue,
                    _ => {}
                }
            }
            if !b.is_ascii_whitespace() && b != b'"' {
                self.kept.push(b.to_ascii_lowercase());
            }
        }
    }
}

/// What mail-parser could decode of a base64 body: up to the first byte its decoder stops
/// at (`--` or one outside the alphabet, `=` and white space); a `=` ends a group.
fn decode_base64(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() / 4 * 3);
    let (mut group, mut n) = (0u32, 0);
    let mut last = 0;
    for &b in data {
        let value = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => {
                let bytes = group.to_be_bytes();
                match n {
                    1 | 2 => out.push(bytes[3]),
                    3 => out.extend_from_slice(&bytes[2..]),
                    _ => {}
                }
                (group, n) = (0, 0);
                last = b;
                continue;
            }
            b' ' | b'\t' | b'\r' | b'\n' => {
                last = b;
                continue;
            }
            b'-' if last != b'-' => {
                last = b;
                continue;
            }
            _ => break,
        };
        group = group << 6 | u32::from(value);
        n += 1;
        if n == 4 {
            out.extend_from_slice(&group.to_be_bytes()[1..]);
            (group, n) = (0, 0);
        }
        last = b;
    }
    out
}

/// What mail-parser could decode of a quoted-printable body: `=XX` a byte, `=` at a line's
/// end joins it to the next, anything else as it is.
fn decode_quoted_printable(data: &[u8]) -> Vec<u8> {
    let hex = |b: u8| (b as char).to_digit(16);
    let mut out = Vec::with_capacity(data.len());
    let mut i = 0;
    while i < data.len() {
        if data[i] == b'=' {
            let rest = &data[i + 1..];
            if let [h, l, ..] = rest {
                if let (Some(h), Some(l)) = (hex(*h), hex(*l)) {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
            }
            let soft = rest
                .iter()
                .take_while(|b| matches!(b, b' ' | b'\t' | b'\r'))
                .count();
            if rest.get(soft) == Some(&b'\n') {
                i += soft + 2;
                continue;
            }
        }
        out.push(data[i]);
        i += 1;
    }
    out
}

/// The `boundary` parameters of a Content-Type field's `text`, as mail-parser reads
/// them: quoted or not (white space inside kept), a backslash escaping the next byte, an
/// unclosed quote ending at the line's end. `None` for one written in a way this does
/// not read (RFC 2231 pieces or charsets, a comment, a quoted value folded over lines,
/// an encoded word, more than `MAX_BOUNDARY_BYTES`).
fn boundary_params(text: &[u8]) -> Option<Vec<Vec<u8>>> {
    const NAME: &[u8] = b"boundary";
    let mut out = Vec::new();
    for at in words(text, NAME) {
        let rest = text[at + NAME.len()..].trim_ascii_start();
        if rest.starts_with(b"*") {
            return None;
        }
        let Some(rest) = rest.strip_prefix(b"=") else {
            continue;
        };
        let rest = rest.trim_ascii_start();
        let (quoted, rest) = match rest.strip_prefix(b"\"") {
            Some(rest) => (true, rest),
            None => (false, rest),
        };
        let mut value = Vec::new();
        let mut bytes = rest.iter();
        while let Some(&b) = bytes.next() {
            match b {
                b'"' if quoted => break,
                b'\\' => value.extend(bytes.next()),
                b'\n' if quoted => return None,
                b'\n' | b';' => break,
                b'(' | b'"' => return None,
                _ => value.push(b),
            }
        }
        if !quoted {
            value.truncate(value.trim_ascii_end().len());
        }
        if memchr::memmem::find(&value, b"=?").is_some() || value.len() > MAX_BOUNDARY_BYTES {
            return None;
        }
        if !value.is_empty() {
            out.push(value);
        }
    }
    Some(out)
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

    /// `levels` attached messages one in another; a boundary is declared (and not used).
    fn nested(levels: usize) -> Vec<u8> {
        let mut raw = b"From: a@example.org\r\nSubject: deep\r\n\
            Content-Type: multipart/mixed; boundary=unused\r\n"
            .to_vec();
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

    /// Parts of `n` empty parts, with a closing delimiter.
    fn mixed(n: usize) -> Vec<u8> {
        let mut raw = b"From: a@example.org\r\n\
            Content-Type: multipart/mixed; boundary=\"b 1\"\r\n\r\n"
            .to_vec();
        raw.extend(b"--b 1\r\n\r\nx\r\n".repeat(n));
        raw.extend_from_slice(b"--b 1--\r\n");
        raw
    }

    fn counted(raw: &[u8]) -> (usize, usize, usize) {
        let s = shape(raw, ENCODED_LEVELS, &mut { usize::MAX }, None);
        (s.parts, s.header_lines, s.header_items)
    }

    /// What mail-parser keeps of `raw`: its parts and header fields, attached messages'
    /// included.
    fn kept(raw: &[u8]) -> (usize, usize) {
        fn walk(m: &Message) -> (usize, usize) {
            let mut out = (m.parts.len(), 0);
            for part in &m.parts {
                out.1 += part.headers.len();
                if let PartType::Message(inner) = &part.body {
                    let (p, h) = walk(inner);
                    (out.0, out.1) = (out.0 + p, out.1 + h);
                }
            }
            out
        }
        MessageParser::default()
            .parse(raw)
            .map_or((0, 0), |m| walk(&m))
    }

    /// The count is at least what mail-parser keeps (its root part is not counted), or
    /// says it could not count (`false`).
    fn assert_bounds(raw: &[u8]) -> bool {
        let (parts, headers) = kept(raw);
        let s = shape(raw, ENCODED_LEVELS, &mut { usize::MAX }, None);
        let (p, h) = (s.parts, s.header_lines);
        assert!(
            s.uncounted || p + 1 >= parts && h >= headers,
            "counted {p} parts and {h} header lines, mail-parser kept {parts} and {headers}:\n{}",
            String::from_utf8_lossy(&raw[..raw.len().min(2_000)])
        );
        !s.uncounted
    }

    fn base64(data: &[u8]) -> Vec<u8> {
        use base64::Engine;
        let text = base64::engine::general_purpose::STANDARD.encode(data);
        let mut out = Vec::new();
        for line in text.as_bytes().chunks(76) {
            out.extend_from_slice(line);
            out.extend_from_slice(b"\r\n");
        }
        out
    }

    #[test]
    fn parts_and_header_lines_are_counted_where_the_parser_sees_them() {
        // Headers: the message's 3, each part's none, each part's message's 1 (in a
        // digest a part without a Content-Type is a message); parts: 7 delimiters and
        // the closing one, 7 messages.
        assert_eq!(counted(&digest(7)), (15, 3 + 7, 0));
        assert_eq!(kept(&digest(7)), (1 + 7 + 7, 3 + 7));
        // Each level: its Content-Type line (folded in every other), a part and a message.
        assert_eq!(counted(&nested(10)), (10, 3 + 10 + 5 + 1, 0));
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
        assert_eq!(too_complex(&mixed(MAX_PARTS - 1)), None);
        assert_eq!(
            too_complex(&mixed(MAX_PARTS)).as_deref(),
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

    /// Messages written to hide their parts or header lines from a count that reads
    /// them line by line: each is counted at least as mail-parser keeps it (300 parts or
    /// header lines each, which the line-by-line count missed).
    #[test]
    fn what_the_parser_keeps_is_counted_however_it_is_written() {
        let head = |ct: &str| format!("From: a@example.org\r\nContent-Type: {ct}\r\n\r\n");
        let fields = b"X: y\r\n".repeat(300);
        let mut inner = b"From: b@example.org\r\n".to_vec();
        inner.extend_from_slice(&fields);
        inner.extend_from_slice(b"\r\nbody\r\n");
        let part = |headers: &str, body: &[u8]| {
            let mut raw = head("multipart/mixed; boundary=\"b\"").into_bytes();
            raw.extend_from_slice(format!("--b\r\n{headers}\r\n").as_bytes());
            raw.extend_from_slice(body);
            raw.extend_from_slice(b"\r\n--b--\r\n");
            raw
        };
        let b64 = base64(&inner);
        let qp: Vec<u8> = inner
            .split_inclusive(|b| *b == b'\n')
            .flat_map(|l| {
                l.strip_suffix(b"\r\n")
                    .unwrap_or(l)
                    .iter()
                    .copied()
                    .chain(*b"=0D=0A")
            })
            .collect();
        let mut samples: Vec<(&str, Vec<u8>)> = vec![
            ("delimiters inside lines", {
                let mut raw = head("multipart/mixed; boundary=b").into_bytes();
                raw.extend(b"x--b\r\n\r\ny".repeat(300));
                raw
            }),
            ("a base64 attached message", part(
                "Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n",
                &b64,
            )),
            ("a quoted-printable attached message on one line", part(
                "Content-Type: message/rfc822\r\nContent-Transfer-Encoding: quoted-printable\r\n",
                &qp,
            )),
            ("an encoding given as an encoded word", part(
                "Content-Type: message/rfc822\r\nContent-Transfer-Encoding: =?us-ascii?q?base64?=\r\n",
                &b64,
            )),
            ("comments in the Content-Type", part(
                "Content-Type: (a comment) message /rfc822\r\n",
                &inner,
            )),
            ("white space in the field's name", part("Content - Type : message/rfc822\r\n", &inner)),
            ("a digest part without a Content-Type, encoded", {
                let mut raw = head("multipart/digest; boundary=d").into_bytes();
                raw.extend_from_slice(b"--d\r\nContent-Transfer-Encoding: base64\r\n\r\n");
                raw.extend_from_slice(&b64);
                raw.extend_from_slice(b"--d--\r\n");
                raw
            }),
            ("lines of white space continuing a field", {
                let mut raw = b"X: y\r\n \r\n".repeat(300);
                raw.extend_from_slice(b"\r\nbody\r\n");
                raw
            }),
        ];
        for ct in [
            "multipart/mixed; boundary*0=\"ab\"; boundary*1=\"cd\"",
            "multipart/mixed; boundary*=us-ascii''ab%63d",
            "multipart/mixed; boundary=(c)abcd",
            "multipart/mixed; boundary=\"ab\\cd\"",
        ] {
            let mut raw = head(ct).into_bytes();
            raw.extend(b"--abcd\r\nX: y\r\n\r\nz\r\n".repeat(300));
            samples.push((ct, raw));
        }
        for (what, raw) in &samples {
            let (parts, headers) = kept(raw);
            assert!(
                parts >= 300 || headers >= 300,
                "{what}: mail-parser kept {parts} / {headers}"
            );
            assert_bounds(raw);
        }
        // An ordinary message with an encoded attached message is not too complex.
        let b64_sample = &samples[1].1;
        assert_eq!(too_complex(b64_sample), None);
        let raw = part(
            "Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n",
            &base64(&b"X: y\r\n".repeat(MAX_HEADER_LINES + 1)),
        );
        assert_eq!(
            too_complex(&raw).as_deref(),
            Some("more than 100000 header lines")
        );
    }

    /// Random messages built of the constructs above, nested: the count bounds what
    /// mail-parser keeps of every one.
    #[test]
    fn the_count_bounds_what_the_parser_keeps_of_random_messages() {
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        fn build(next: &mut dyn FnMut(usize) -> usize, depth: usize, out: &mut Vec<u8>) {
            const FIELDS: [&[u8]; 9] = [
                b"X: y\r\n",
                b"To: a@b, <c@d>\r\n",
                b" folded\r\n",
                b" \r\n",
                b"no colon\r\n",
                b"\tX: z\r\n",
                b"\t\r\n",
                b"Content-Transfer-Encoding:\r\n BASE64\r\n",
                b"content-type: message/rfc822\r\n",
            ];
            for _ in 0..next(4) {
                out.extend_from_slice(FIELDS[next(FIELDS.len())]);
            }
            let boundary = format!("b{}", next(3));
            let declared = [
                format!("boundary={boundary}"),
                format!("boundary=\"{boundary}\""),
                format!(
                    "boundary*0=\"{}\"; boundary*1=\"{}\"",
                    &boundary[..1],
                    &boundary[1..]
                ),
                format!("boundary=(c){boundary}"),
            ][[0, 1, 2, 3, 1, 0, 0, 0, 1, 1, 1][next(11)]]
            .clone();
            let kind = if depth == 0 { next(2) } else { next(6) };
            let ct = [
                "Content-Type: text/plain\r\n".to_string(),
                String::new(),
                format!("Content-Type: multipart/mixed; {declared}\r\n"),
                format!("Content-Type: multipart/digest;\r\n {declared}\r\n"),
                "Content-Type: message/rfc822\r\n".to_string(),
                "Content-Type: (x) message/rfc822\r\n".to_string(),
            ][kind]
                .clone();
            out.extend_from_slice(ct.as_bytes());
            let encoding = next(4);
            if kind >= 4 && encoding > 0 {
                out.extend_from_slice(
                    [
                        &b""[..],
                        b"Content-Transfer-Encoding: base64\r\n",
                        b"Content-Transfer-Encoding: quoted-printable\r\n",
                        b"Content-Transfer-Encoding: =?x?q?base64?=\r\n",
                    ][encoding],
                );
            }
            out.extend_from_slice(b"\r\n");
            match kind {
                2 | 3 => {
                    for _ in 0..1 + next(3) {
                        let opening = ["x--", "\r\n--", "\r\n--"][next(3)];
                        let after = ["", "", " ", " X: y"][next(4)];
                        out.extend_from_slice(format!("{opening}{boundary}{after}\r\n").as_bytes());
                        build(next, depth - 1, out);
                    }
                    out.extend_from_slice(format!("\r\n--{boundary}--\r\nepilogue\r\n").as_bytes());
                }
                4 | 5 if depth > 0 => {
                    let mut inner = Vec::new();
                    build(next, depth - 1, &mut inner);
                    match encoding {
                        1 | 3 => out.extend(base64(&inner)),
                        2 => out.extend(inner.iter().enumerate().flat_map(|(i, b)| match b {
                            b'\n' => b"=0A".to_vec(),
                            b if i % 7 == 0 => [b"=\r\n".as_slice(), &[*b]].concat(),
                            b => vec![*b],
                        })),
                        _ => out.extend(inner),
                    }
                }
                _ => out.extend_from_slice(b"text: x\r\n"),
            }
        }
        let n = 3_000;
        let mut counted = 0;
        for _ in 0..n {
            let mut raw = b"From: a@example.org\r\n".to_vec();
            build(&mut next, 4, &mut raw);
            if next(4) == 0 {
                raw.retain(|b| *b != b'\r');
            }
            counted += usize::from(assert_bounds(&raw));
        }
        // Most are counted part by part, not given up on (odd boundaries are 2 in 11).
        assert!(counted * 10 >= n * 7, "{counted} of {n}");
    }

    #[test]
    fn what_cannot_be_counted_is_said_so() {
        // A boundary in RFC 2231 pieces is counted roughly: enough without encoded parts.
        let odd = b"From: a@example.org\r\n\
            Content-Type: multipart/mixed; boundary*0=\"a\"\r\n\r\n--a\r\n\r\nx\r\n--a--\r\n";
        assert_eq!(too_complex(odd), None);
        let mut encoded = odd.to_vec();
        encoded.extend_from_slice(b"Content-Transfer-Encoding: base64\r\n");
        assert_eq!(
            too_complex(&encoded).as_deref(),
            Some("encoded parts that cannot be counted")
        );
        // An encoded attached message is decoded within the budget only.
        let mut raw = b"From: a@example.org\r\nContent-Type: message/rfc822\r\n\
            Content-Transfer-Encoding: base64\r\n\r\n"
            .to_vec();
        raw.extend(base64(&b"X: y\r\n".repeat(100)));
        let counted = |budget: usize| shape(&raw, ENCODED_LEVELS, &mut { budget }, None);
        // Its 3 header lines and the attached message's 100.
        let whole = counted(raw.len());
        assert_eq!((whole.header_lines, whole.uncounted), (103, false));
        assert!(counted(100).uncounted);
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
