//! HTML rendered as plain text for reading and scanning: block elements and `<br>` become
//! line breaks, entities are decoded, the text of `head`, `style`, `script` and `template`
//! and comments are dropped, runs of white space become one space (no-break spaces are
//! kept, as spaces) except inside `<pre>`, where white space is kept as written (a log or
//! a config file pasted into a report keeps its lines and its indentation), the ends of
//! lines are trimmed and blank lines collapsed. A `<` that cannot start a tag (`1 < 2`)
//! is text, and `</` without a letter after it (`</ p>`) is hidden like a comment, as a
//! browser shows them. A link's web address is written after its text, `Click here
//! <https://…>`, unless the text already shows it: a reader hovering over the link sees
//! it, and a phishing address or a token in a link's query must reach the scanner.
//!
//! One pass over the bytes, copying runs of text whole: reports forwarded from Outlook are
//! HTML, and this is most of the cost of reading one. Entities are decoded by mail-parser's
//! table (`add_html_token`), so they read as mail-parser reads them.

use mail_parser::decoders::html::add_html_token;

/// Elements whose start or end tag ends a line. A run of them, white space between, makes
/// one break; `<br>` always makes one.
const BLOCKS: &[&[u8]] = &[
    b"div",
    b"p",
    b"tr",
    b"li",
    b"h1",
    b"h2",
    b"h3",
    b"h4",
    b"h5",
    b"h6",
    b"blockquote",
    b"table",
    b"tbody",
    b"thead",
    b"tfoot",
    b"hr",
    b"pre",
    b"ul",
    b"ol",
    b"dl",
    b"dt",
    b"dd",
    b"section",
    b"article",
    b"header",
    b"footer",
    b"title",
    b"center",
];

/// Table cells: their tags separate words like white space.
const CELLS: &[&[u8]] = &[b"td", b"th"];

/// Elements whose text is not shown; their bit in `Render::hidden`.
const HIDDEN: &[&[u8]] = &[b"head", b"style", b"script", b"template"];

/// Renders HTML as plain text (see the module documentation).
pub fn html_to_text(html: &str) -> String {
    let mut render = Render {
        out: String::with_capacity(html.len() / 2),
        space: false,
        broken: true,
        hidden: 0,
        pre: 0,
        link: None,
    };
    render.run(html);
    render.end_link();
    let text = tidy(&render.out);
    if text.contains('\u{a0}') {
        text.replace('\u{a0}', " ")
    } else {
        text
    }
}

struct Render {
    out: String,
    /// White space came after the last text written.
    space: bool,
    /// Nothing shown since the last block tag made a line break.
    broken: bool,
    /// Bit set of the `HIDDEN` elements open.
    hidden: u8,
    /// How many `<pre>` elements are open: their white space is kept.
    pre: u32,
    /// The web address of the link open, and where its text starts in `out`.
    link: Option<(String, usize)>,
}

impl Render {
    fn run(&mut self, html: &str) {
        let b = html.as_bytes();
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b'<' => {
                    if !starts_tag(b.get(i + 1)) {
                        self.text("<", false);
                        i += 1;
                    } else if let Some(end) = self.tag(html, i) {
                        i = end;
                    } else {
                        // An unclosed tag or comment hides the rest, as in a browser.
                        return;
                    }
                }
                b' ' | b'\t' | b'\r' | b'\n' => {
                    if self.pre > 0 {
                        self.pre_space(b[i], b.get(i + 1));
                    } else {
                        self.space = true;
                    }
                    i += 1;
                }
                b'&' => match entity_end(b, i) {
                    Ok(end) => {
                        self.text(&html[i..end], true);
                        i = end;
                    }
                    Err(end) => {
                        self.text(&html[i..end], false);
                        i = end;
                    }
                },
                _ => {
                    let end = text_end(b, i);
                    self.text(&html[i..end], false);
                    i = end;
                }
            }
        }
    }

    /// Writes text (an entity when `entity`), after one space if white space came first.
    /// Text that is only white space (no-break spaces) does not end a run of block tags.
    fn text(&mut self, text: &str, entity: bool) {
        if self.hidden != 0 {
            return;
        }
        if self.space && !self.out.is_empty() && !self.out.ends_with('\n') {
            self.out.push(' ');
        }
        let from = self.out.len();
        if entity {
            add_html_token(&mut self.out, text.as_bytes(), false);
        } else {
            self.out.push_str(text);
        }
        self.space = false;
        let shown = &self.out[from..];
        let visible =
            shown.as_bytes().first().is_some_and(u8::is_ascii_graphic) || !shown.trim().is_empty();
        if visible {
            self.broken = false;
        }
    }

    /// White space inside `<pre>` is kept: a line break (CR LF, CR or LF) as one, spaces
    /// and tabs as they are.
    #[cold]
    fn pre_space(&mut self, c: u8, next: Option<&u8>) {
        if self.hidden != 0 {
            return;
        }
        match c {
            b'\r' if next == Some(&b'\n') => {}
            b'\r' | b'\n' => {
                self.line_break();
                self.broken = true;
            }
            _ => {
                self.out.push(char::from(c));
                self.space = false;
            }
        }
    }

    /// Writes the address of the link that ends after its text, unless the text shows it.
    fn end_link(&mut self) {
        let Some((href, from)) = self.link.take() else {
            return;
        };
        if self.hidden != 0 || shows(&self.out[from..], &href) {
            return;
        }
        if !self.out.is_empty() && !self.out.ends_with(['\n', ' ']) {
            self.out.push(' ');
        }
        self.out.push('<');
        self.out.push_str(&href);
        self.out.push('>');
        // White space before the end tag still parts the link's text from what follows.
        self.broken = false;
    }

    fn line_break(&mut self) {
        self.out.push('\n');
        self.space = false;
    }

    /// Reads the tag or comment starting at `b[at] == b'<'`; returns where it ends, or
    /// None when it never does.
    fn tag(&mut self, html: &str, at: usize) -> Option<usize> {
        let b = html.as_bytes();
        if b[at + 1..].starts_with(b"!--") {
            // `<!-->` is an empty comment; otherwise it ends at the first `-->`.
            let from = at + 2;
            return memchr::memmem::find(&b[from..], b"-->").map(|n| from + n + 3);
        }
        let end = at + 1 + memchr::memchr(b'>', &b[at + 1..])?;
        let inner = &b[at + 1..end];
        // `</` and then no letter (`</ p>`) makes no end tag: hidden up to `>`, no effect.
        let (close, inner) = match inner.strip_prefix(b"/") {
            Some(rest) => (true, rest),
            None => (false, inner),
        };
        let name_len = inner
            .iter()
            .position(|c| c.is_ascii_whitespace() || *c == b'/')
            .unwrap_or(inner.len());
        let name = &inner[..name_len];
        let is = |n: &&[u8]| name.eq_ignore_ascii_case(n);
        let mut next = end + 1;
        if name.eq_ignore_ascii_case(b"pre") {
            if close {
                self.pre = self.pre.saturating_sub(1);
            } else {
                self.pre = self.pre.saturating_add(1);
                // A line break just after the start tag is not shown.
                if b[next..].starts_with(b"\r\n") {
                    next += 2;
                } else if b[next..].starts_with(b"\n") || b[next..].starts_with(b"\r") {
                    next += 1;
                }
            }
        }
        if name.eq_ignore_ascii_case(b"br") {
            self.line_break();
            self.broken = false;
        } else if BLOCKS.iter().any(is) {
            if !self.broken {
                self.line_break();
                self.broken = true;
            }
        } else if CELLS.iter().any(is) {
            // Cells side by side read as words apart, not run together.
            self.space = true;
        } else if let Some(bit) = HIDDEN.iter().position(is) {
            if close {
                self.hidden &= !(1 << bit);
            } else {
                self.hidden |= 1 << bit;
            }
        } else if name.eq_ignore_ascii_case(b"a") {
            // A link ends at its end tag or where the next one starts, as in a browser.
            self.end_link();
            if !close && self.hidden == 0 {
                let attrs = &html[at + 1 + name_len..end];
                self.link = web_address(attrs).map(|href| (href, self.out.len()));
            }
        }
        Some(next)
    }
}

/// The web address (`http:` or `https:`) in the `href` of a tag's attributes, entities
/// decoded and white space at its ends dropped; None for other links (`mailto:`, `#top`).
fn web_address(attrs: &str) -> Option<String> {
    let raw = attribute(attrs, "href")?.trim_matches(|c: char| c.is_ascii_whitespace());
    let scheme = raw.get(..8).unwrap_or(raw).to_ascii_lowercase();
    if !(scheme.starts_with("http://") || scheme.starts_with("https://")) {
        return None;
    }
    let b = raw.as_bytes();
    let mut href = String::with_capacity(raw.len());
    let mut i = 0;
    while i < b.len() {
        let amp = memchr::memchr(b'&', &b[i..]).map_or(b.len(), |n| i + n);
        href.push_str(&raw[i..amp]);
        if amp == b.len() {
            break;
        }
        match entity_end(b, amp) {
            Ok(end) => {
                add_html_token(&mut href, &b[amp..end], false);
                i = end;
            }
            Err(_) => {
                href.push('&');
                i = amp + 1;
            }
        }
    }
    Some(href)
}

/// The value of attribute `name` among a tag's attributes (`a=1 b='2' c="3" d`), as
/// written; an attribute without a value has an empty one.
fn attribute<'a>(attrs: &'a str, name: &str) -> Option<&'a str> {
    let b = attrs.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let start = i;
        while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b'/') {
            i += 1;
        }
        let name_from = i;
        while i < b.len() && !b[i].is_ascii_whitespace() && !matches!(b[i], b'/' | b'=') {
            i += 1;
        }
        let found = &attrs[name_from..i];
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        let mut value = "";
        if b.get(i) == Some(&b'=') {
            i += 1;
            while i < b.len() && b[i].is_ascii_whitespace() {
                i += 1;
            }
            match b.get(i) {
                Some(&q) if q == b'"' || q == b'\'' => {
                    let end = memchr::memchr(q, &b[i + 1..]).map_or(b.len(), |n| i + 1 + n);
                    value = &attrs[i + 1..end];
                    i = (end + 1).min(b.len());
                }
                _ => {
                    let from = i;
                    while i < b.len() && !b[i].is_ascii_whitespace() {
                        i += 1;
                    }
                    value = &attrs[from..i];
                }
            }
        }
        if found.eq_ignore_ascii_case(name) {
            return Some(value);
        }
        if i == start {
            i += 1;
        }
    }
    None
}

/// Whether a link's text already shows its address (scheme and a final `/` aside).
fn shows(text: &str, href: &str) -> bool {
    let bare = |u: &str| -> String {
        let lower = u.trim().to_ascii_lowercase();
        let rest = lower
            .strip_prefix("https://")
            .or_else(|| lower.strip_prefix("http://"))
            .unwrap_or(&lower);
        rest.trim_end_matches('/').to_string()
    };
    let text = bare(text);
    let href = bare(href);
    text.contains(&href)
}

/// Where the entity starting at `b[amp] == b'&'` ends (just after its `;`: `&name;`,
/// `&#nn;`), or as Err where the text that is no entity ends (the word after the `&`).
fn entity_end(b: &[u8], amp: usize) -> Result<usize, usize> {
    let end = word_end(b, amp + 1);
    if b.get(end) == Some(&b';') {
        Ok(end + 1)
    } else {
        Err(end)
    }
}

/// Whether `<` followed by `next` starts a tag or comment (a letter, `/`, `!` or `?`);
/// otherwise the `<` is text.
fn starts_tag(next: Option<&u8>) -> bool {
    next.is_some_and(|c| c.is_ascii_alphabetic() || matches!(c, b'/' | b'!' | b'?'))
}

/// Where the run of text starting at `b[from]` ends: at a tag, an entity, white space
/// other than one space between words, or just after a `;` (which ends a word but not the
/// text: it stays with what came before).
fn text_end(b: &[u8], from: usize) -> usize {
    let mut end = from;
    loop {
        end = word_end(b, end);
        match b.get(end..end + 2) {
            Some([b' ', next]) if !ends_word(*next) => end += 2,
            _ if b.get(end) == Some(&b';') => return end + 1,
            _ => return end,
        }
    }
}

/// Where the word starting at `b[from]` ends: the first byte that ends one, or the end.
fn word_end(b: &[u8], from: usize) -> usize {
    b[from..]
        .iter()
        .position(|&c| ends_word(c))
        .map_or(b.len(), |n| from + n)
}

/// Bytes that end a word: a tag, white space, an entity or a `;`.
fn ends_word(c: u8) -> bool {
    matches!(c, b'<' | b' ' | b'\t' | b'\r' | b'\n' | b';' | b'&')
}

/// Trims lines and keeps at most one blank line in a row. A line that starts with a space
/// or a tab keeps its indentation: outside `<pre>` white space never starts a line (only
/// no-break spaces do, which are trimmed).
fn tidy(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank = 0;
    for line in text.lines() {
        let line = line.trim_end();
        let line = if line.starts_with([' ', '\t']) {
            line
        } else {
            line.trim_start()
        };
        if line.is_empty() {
            blank += 1;
            if blank > 1 {
                continue;
            }
        } else {
            blank = 0;
        }
        out.push_str(line);
        out.push('\n');
    }
    out.trim_start_matches('\n').trim_end().to_string()
}
