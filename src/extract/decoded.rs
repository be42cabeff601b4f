//! A text with one kind of escape decoded (percent escapes, JSON's `\/`, Proofpoint's
//! `-3D`, a no-break space), and the way back from an offset in it to the text as
//! written: the scanner reads escaped keys decoded and redacts them where they are
//! written.

/// A text with one kind of escape decoded, and where the escapes were, to map offsets
/// in it back to the text as written.
pub(super) struct Decoded {
    pub text: String,
    /// Where each decoded escape lies in `text`, in order.
    escapes: Vec<usize>,
    /// How many bytes shorter each escape is decoded.
    shrink: usize,
}

impl Decoded {
    /// Percent escapes of ASCII characters (`%3D`) decoded; others are kept as written,
    /// so the text stays UTF-8. None when there is none.
    pub fn percent(url: &str) -> Option<Decoded> {
        Decoded::new(url, b'%', 3, ascii_hex_pair)
    }

    /// Proofpoint URL Defense v2's form of a link (`https-3A__ci.example_run-3Ftoken-3D…`):
    /// `_` stands for `/` and `-` starts a percent escape (an `_` of the link is `-5F`).
    /// Escapes of ASCII characters are decoded, others kept as written.
    pub fn proofpoint_v2(link: &str) -> Decoded {
        let slashed = link.replace('_', "/");
        Decoded::new(&slashed, b'-', 3, ascii_hex_pair).unwrap_or_else(|| Decoded::plain(slashed))
    }

    /// A text read as written: offsets in it are offsets in the text.
    pub fn plain(text: String) -> Decoded {
        Decoded {
            text,
            escapes: Vec::new(),
            shrink: 0,
        }
    }

    /// JSON's escaped slashes (`\/`) decoded. None when there is none.
    pub fn json_slashes(text: &str) -> Option<Decoded> {
        Decoded::new(text, b'\\', 2, |b| {
            (b.get(1) == Some(&b'/')).then_some(b'/')
        })
    }

    /// No-break spaces (U+00A0: Outlook's and web pages' spaces, pasted into plain text)
    /// read as spaces, so that `password:\u{a0}…` reads as `password: …`. None when there
    /// is none.
    pub fn no_break_spaces(text: &str) -> Option<Decoded> {
        Decoded::new(text, 0xC2, 2, |b| (b.get(1) == Some(&0xA0)).then_some(b' '))
    }

    /// `text` with the escapes of `len` bytes that start with `first` decoded by
    /// `decode` (given the bytes from the escape on; an ASCII byte, or None when it is
    /// no escape).
    fn new(
        text: &str,
        first: u8,
        len: usize,
        decode: impl Fn(&[u8]) -> Option<u8>,
    ) -> Option<Decoded> {
        let b = text.as_bytes();
        let mut out = String::new();
        let mut escapes = Vec::new();
        let mut copied = 0;
        for i in memchr::memchr_iter(first, b) {
            if i < copied {
                continue;
            }
            let Some(c) = decode(&b[i..]).filter(u8::is_ascii) else {
                continue;
            };
            if out.is_empty() {
                out.reserve(text.len());
            }
            out.push_str(&text[copied..i]);
            escapes.push(out.len());
            out.push(char::from(c));
            copied = i + len;
        }
        if escapes.is_empty() {
            return None;
        }
        out.push_str(&text[copied..]);
        Some(Decoded {
            text: out,
            escapes,
            shrink: len - 1,
        })
    }

    /// Where offset `at` of the decoded text lies in the text as written.
    pub fn original(&self, at: usize) -> usize {
        at + self.escapes.partition_point(|&e| e < at) * self.shrink
    }
}

/// The ASCII character of an escape's two hex digits (`%3D`, `-3D`): the bytes from the
/// escape's first on.
fn ascii_hex_pair(b: &[u8]) -> Option<u8> {
    let hex = |c: Option<&u8>| c.and_then(|c| char::from(*c).to_digit(16));
    match (hex(b.get(1)), hex(b.get(2))) {
        (Some(h), Some(l)) if h < 8 => Some((h * 16 + l) as u8),
        _ => None,
    }
}
