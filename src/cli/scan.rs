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
    // Offsets are into the input bytes; invalid UTF-8 is scanned lossily, which keeps
    // offsets exact for valid input and never fails on binary noise.
    let text = String::from_utf8_lossy(&bytes);
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
