//! The text of an RTF document, for an Outlook `.msg` whose body is kept only as
//! compressed RTF (PR_RTF_COMPRESSED, expanded by the `compressed-rtf` crate): what a
//! reader sees, with paragraphs as line breaks. Destinations that hold no visible text
//! (font and colour tables, style sheets, document info, pictures, field instructions,
//! every `{\*…}` group) are skipped. RTF that Outlook made from HTML (`\fromhtml1`) gives
//! the HTML back ([MS-OXRTFEX]): the tags kept in `{\*\htmltag …}` groups and the text
//! between them, without the RTF wrapped around it (`\htmlrtf` … `\htmlrtf0`).
//!
//! Never panics; the output is at most three times the input (a byte of a legacy
//! codepage can be three bytes of UTF-8). `\'hh` bytes are decoded in the
//! document's codepage (`\ansicpg`) by the caller's `decode`; `\uN` gives the character
//! and skips its `\ucN` fallback characters.

/// Groups deeper than this are read as text of the outer one (damage, or a bomb).
const MAX_DEPTH: usize = 256;

/// Destinations whose content is not part of the visible text.
const SKIPPED: &[&str] = &[
    "fonttbl",
    "colortbl",
    "stylesheet",
    "info",
    "pict",
    "object",
    "fldinst",
    "header",
    "headerl",
    "headerr",
    "headerf",
    "footer",
    "footerl",
    "footerr",
    "footerf",
    "listtable",
    "listoverridetable",
    "revtbl",
    "rsidtbl",
    "filetbl",
    "xmlnstbl",
    "themedata",
    "colorschememapping",
    "latentstyles",
    "datastore",
    "generator",
];

impl Group {
    fn shows(&self) -> bool {
        !self.skip && (self.htmltag || !self.htmlrtf)
    }
}

/// What `text` found: plain text, or the HTML an Outlook RTF body encapsulates.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum RtfText {
    Plain(String),
    Html(String),
}

#[derive(Clone, Copy)]
struct Group {
    /// Inside a destination that is not text.
    skip: bool,
    /// Inside `{\*\htmltag …}`: HTML markup kept in an HTML-encapsulating document.
    htmltag: bool,
    /// Inside `\htmlrtf`: RTF formatting around encapsulated HTML.
    htmlrtf: bool,
    /// Fallback characters after each `\uN` (`\ucN`, default 1).
    uc: usize,
}

/// The visible text of `rtf`, or the HTML it encapsulates. `decode(bytes, codepage)` turns
/// a run of `\'hh` (and raw 8-bit) bytes into text; the codepage is the document's
/// `\ansicpg`, if it has one.
pub(super) fn text(rtf: &[u8], decode: &mut dyn FnMut(&[u8], Option<u32>) -> String) -> RtfText {
    let mut out = String::new();
    let mut bytes: Vec<u8> = Vec::new();
    let mut codepage = None;
    let mut stack: Vec<Group> = Vec::new();
    let mut group = Group {
        skip: false,
        htmltag: false,
        htmlrtf: false,
        uc: 1,
    };
    // Groups opened past MAX_DEPTH, closed before the stack is popped again.
    let mut too_deep = 0usize;
    // A group was just opened: its first control word may name a destination.
    let mut at_group_start = false;
    // The group opened with `\*`: an htmltag may follow.
    let mut starred = false;
    let mut from_html = false;
    // Fallback characters still to drop after a `\uN`.
    let mut fallback = 0usize;
    let mut i = 0;

    macro_rules! flush {
        () => {
            if !bytes.is_empty() {
                out.push_str(&decode(&bytes, codepage));
                bytes.clear();
            }
        };
    }

    while i < rtf.len() {
        let b = rtf[i];
        i += 1;
        let starts_group = std::mem::take(&mut at_group_start);
        let after_star = std::mem::take(&mut starred);
        match b {
            b'{' => {
                if stack.len() < MAX_DEPTH && too_deep == 0 {
                    stack.push(group);
                    at_group_start = true;
                } else {
                    too_deep += 1;
                }
                fallback = 0;
            }
            b'}' => {
                if too_deep > 0 {
                    too_deep -= 1;
                } else if let Some(outer) = stack.pop() {
                    flush!();
                    group = outer;
                }
                fallback = 0;
            }
            b'\r' | b'\n' => {}
            b'\\' => {
                let Some(&next) = rtf.get(i) else { break };
                if next.is_ascii_alphabetic() {
                    let start = i;
                    while i < rtf.len() && rtf[i].is_ascii_alphabetic() && i - start < 32 {
                        i += 1;
                    }
                    let word = std::str::from_utf8(&rtf[start..i]).unwrap_or("");
                    let num_start = i;
                    if rtf.get(i) == Some(&b'-') {
                        i += 1;
                    }
                    while i < rtf.len() && rtf[i].is_ascii_digit() && i - num_start < 10 {
                        i += 1;
                    }
                    let param = std::str::from_utf8(&rtf[num_start..i])
                        .ok()
                        .and_then(|p| p.parse::<i64>().ok());
                    if rtf.get(i) == Some(&b' ') {
                        i += 1;
                    }
                    flush!();
                    if starts_group && SKIPPED.contains(&word) {
                        group.skip = true;
                        continue;
                    }
                    if after_star && from_html && word == "htmltag" {
                        group.skip = false;
                        group.htmltag = true;
                        group.htmlrtf = false;
                        continue;
                    }
                    let visible = group.shows();
                    let emit = |c: &str, out: &mut String| {
                        if visible {
                            out.push_str(c);
                        }
                    };
                    fallback = 0;
                    match word {
                        "fromhtml" => from_html = param != Some(0),
                        // `\binN`: N bytes of binary data follow, never text.
                        "bin" => {
                            let n = param.and_then(|p| usize::try_from(p).ok()).unwrap_or(0);
                            i = i.saturating_add(n).min(rtf.len());
                        }
                        "ansicpg" => codepage = param.and_then(|p| u32::try_from(p).ok()),
                        "uc" => group.uc = param.and_then(|p| usize::try_from(p).ok()).unwrap_or(1),
                        "htmlrtf" => group.htmlrtf = param != Some(0),
                        "u" => {
                            if let Some(p) = param {
                                let code = if p < 0 { p + 65_536 } else { p };
                                let c = u32::try_from(code)
                                    .ok()
                                    .and_then(char::from_u32)
                                    .unwrap_or(char::REPLACEMENT_CHARACTER);
                                emit(c.encode_utf8(&mut [0; 4]), &mut out);
                            }
                            fallback = group.uc;
                        }
                        "par" | "line" | "sect" | "page" | "row" => emit("\n", &mut out),
                        "tab" | "cell" => emit("\t", &mut out),
                        "emdash" => emit("—", &mut out),
                        "endash" => emit("–", &mut out),
                        "bullet" => emit("•", &mut out),
                        "lquote" => emit("‘", &mut out),
                        "rquote" => emit("’", &mut out),
                        "ldblquote" => emit("“", &mut out),
                        "rdblquote" => emit("”", &mut out),
                        _ => {}
                    }
                    continue;
                }
                i += 1;
                match next {
                    b'*' if starts_group => {
                        flush!();
                        group.skip = true;
                        starred = true;
                    }
                    b'\'' => {
                        let hex = rtf.get(i..i + 2).and_then(|h| std::str::from_utf8(h).ok());
                        if let Some(byte) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                            i += 2;
                            if fallback > 0 {
                                fallback -= 1;
                            } else if group.shows() {
                                bytes.push(byte);
                            }
                        }
                    }
                    b'\\' | b'{' | b'}' => {
                        if fallback > 0 {
                            fallback -= 1;
                        } else if group.shows() {
                            bytes.push(next);
                        }
                    }
                    b'~' if group.shows() => {
                        flush!();
                        out.push(' ');
                    }
                    b'_' if group.shows() => {
                        flush!();
                        out.push('-');
                    }
                    b'\r' | b'\n' if group.shows() => {
                        flush!();
                        out.push('\n');
                    }
                    _ => {}
                }
            }
            _ => {
                if fallback > 0 {
                    fallback -= 1;
                } else if group.shows() {
                    bytes.push(b);
                }
            }
        }
    }
    flush!();
    if from_html {
        RtfText::Html(out)
    } else {
        RtfText::Plain(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn latin1(bytes: &[u8], _cp: Option<u32>) -> String {
        bytes.iter().map(|&b| b as char).collect()
    }

    fn read(rtf: &[u8]) -> RtfText {
        text(rtf, &mut latin1)
    }

    fn plain(rtf: &str) -> String {
        match read(rtf.as_bytes()) {
            RtfText::Plain(t) => t,
            RtfText::Html(h) => panic!("read as HTML: {h:?}"),
        }
    }

    #[test]
    fn paragraphs_escapes_and_unicode() {
        let rtf = r"{\rtf1\ansi\ansicpg1252\deff0{\fonttbl{\f0\fswiss Arial;}}{\colortbl;\red0\green0\blue0;}
{\*\generator Riched20;}\pard\f0\fs20 Key: AKIA\'41B\par
Caf\'e9 \{ok\} back\\slash\tab x\line
\uc1\u8364?5 \u-3913?\emdash\par}";
        assert_eq!(
            plain(rtf),
            "Key: AKIAAB\nCafé {ok} back\\slash\tx\n€5 \u{F0B7}—\n"
        );
    }

    #[test]
    fn encapsulated_html_comes_back_as_html() {
        let rtf = r#"{\rtf1\ansi\ansicpg1252\fromhtml1 \deff0{\fonttbl{\f0\fswiss Arial;}}
{\*\htmltag19 <html>}{\*\htmltag34 <head>}\htmlrtf {\htmlrtf0 {\*\htmltag64 <title>x</title>}\htmlrtf }\htmlrtf0
{\*\htmltag50 <body>}\htmlrtf \f0\fs20 \htmlrtf0 Token ghp_abc in {\*\htmltag84 <b>}CI{\*\htmltag92 </b>}\htmlrtf\par\htmlrtf0
{\*\htmltag64 <p>}second{\*\htmltag72 </p>\par }{\*\htmltag58 </body>}}"#;
        assert_eq!(
            read(rtf.as_bytes()),
            RtfText::Html(
                "<html><head><title>x</title><body>Token ghp_abc in <b>CI</b><p>second</p>\n</body>"
                    .into()
            )
        );
    }

    #[test]
    fn binary_data_is_never_text() {
        assert_eq!(plain("{\\rtf1 a\\bin5 \x01}{xy b}"), "a b");
        assert_eq!(plain("{\\rtf1 a\\bin99999 xyz}"), "a");
        assert_eq!(plain("{\\rtf1 a\\bin-3 xyz}"), "axyz");
    }

    #[test]
    fn field_instructions_are_skipped_and_results_kept() {
        let rtf =
            r#"{\rtf1 see {\field{\*\fldinst HYPERLINK "https://x.test/"}{\fldrslt the wiki}}.}"#;
        assert_eq!(plain(rtf), "see the wiki.");
    }

    #[test]
    fn damage_never_panics_and_output_stays_bounded() {
        let mut cases: Vec<Vec<u8>> = vec![
            b"{\\rtf1 \\".to_vec(),
            b"{\\rtf1 \\'4".to_vec(),
            b"{\\rtf1 \\'zz text}}}}}".to_vec(),
            b"}}}{\\u".to_vec(),
            b"\\u99999999999999999999 x".to_vec(),
            b"\\u-99999 x\\uc99999999999999999999 y".to_vec(),
            b"{\\*\\htmltag <b>}{\\rtf1\\fromhtml1 {\\*\\htmltag".to_vec(),
            vec![b'{'; 100_000],
        ];
        let mut deep = "{".repeat(10_000).into_bytes();
        deep.extend_from_slice(b"deep text");
        deep.extend("}".repeat(10_000).into_bytes());
        cases.push(deep);
        for case in &cases {
            let (RtfText::Plain(out) | RtfText::Html(out)) = read(case);
            assert!(out.len() <= case.len(), "{out:?}");
        }
        assert_eq!(
            read(cases.last().unwrap()),
            RtfText::Plain("deep text".into())
        );
    }

    #[test]
    fn the_codepage_reaches_the_decoder() {
        let mut seen = Vec::new();
        let mut decode = |b: &[u8], cp: Option<u32>| {
            seen.push(cp);
            latin1(b, cp)
        };
        text(br"{\rtf1\ansi\ansicpg1251 \'c0}", &mut decode);
        assert_eq!(seen, [Some(1251)]);
    }
}
