//! `closeloop scan`: secrets and identities in text as JSON lines. Prints the
//! kind, the masked form and byte offsets — never the plaintext.

use std::io::{Read, Write};
use std::path::Path;

use anyhow::Context as _;

use super::Outcome;
use crate::extract;

pub fn run(file: Option<&Path>) -> Outcome {
    let mut bytes = Vec::new();
    match file {
        Some(p) => {
            bytes = std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))?;
        }
        None => {
            std::io::stdin()
                .read_to_end(&mut bytes)
                .context("cannot read stdin")?;
        }
    }
    let text = text_of(&bytes);
    let mut out = std::io::stdout().lock();
    for f in extract::scanner().scan(&text) {
        let line = serde_json::json!({
            "kind": f.kind,
            "class": f.class.as_str(),
            "masked": f.masked,
            "start": f.start,
            "end": f.end,
        });
        writeln!(out, "{line}")?;
    }
    Ok(())
}

/// The input as text, each byte that is not UTF-8 made one space: offsets into the
/// text are then offsets into the input, as the contract says (`from_utf8_lossy`
/// would put three bytes for one), and binary noise never fails the scan.
fn text_of(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    if let Ok(s) = std::str::from_utf8(bytes) {
        return s.into();
    }
    let mut text = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        text.push_str(chunk.valid());
        text.extend(std::iter::repeat_n(' ', chunk.invalid().len()));
    }
    text.into()
}

#[cfg(test)]
mod tests {
    use super::text_of;

    #[test]
    fn bytes_that_are_not_utf8_keep_every_offset() {
        let input = b"\xff\xfe\xc3 caf\xc3\xa9 \x80key\xe2\x82";
        let text = text_of(input);
        assert_eq!(text.len(), input.len());
        assert_eq!(text, "    caf\u{e9}  key  ");
        assert_eq!(text_of("plain \u{e9}".as_bytes()), "plain \u{e9}");
    }
}
