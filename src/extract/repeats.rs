//! Secrets written again: a secret found by what is written around it (`password=…`,
//! `the token is …`) is often written once more where nothing says so (`login with …
//! failed`, a log line, a quoted reply). Every other place a text holds a secret found
//! in it becomes a candidate of the same kind, so redaction leaves no copy in plaintext.
//!
//! Pure and linear: one search of the text for all the values at once.

use std::collections::HashMap;

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};

use super::validate::entropy;
use super::{ArtifactClass, Candidate};

/// The most distinct secrets looked for again in one text. A text holding more is a
/// dump, whose keys their own rules find wherever they are written.
const MAX_VALUES: usize = 256;

/// The shortest secret looked for again: a shorter one could be part of other words.
const MIN_BYTES: usize = 8;

/// Whether a secret looks random enough to be redacted wherever the text holds it:
/// letters and digits, with both cases or a symbol (`Zq8vLm2Rt5Kp`, `Summer2024!`), or
/// 16 characters or more of high entropy (a hex key). A word of code the generic rule
/// took for a value (`b64encode`, `:py:class`) is not looked for again: each copy of it
/// would be redacted too.
fn random_looking(v: &str) -> bool {
    let b = v.as_bytes();
    let digit = b.iter().any(u8::is_ascii_digit);
    let lower = b.iter().any(u8::is_ascii_lowercase);
    let upper = b.iter().any(u8::is_ascii_uppercase);
    let symbol = b
        .iter()
        .any(|c| !c.is_ascii_alphanumeric() && !b"_.:".contains(c));
    let e = entropy(v);
    digit
        && (lower || upper)
        && ((((lower && upper) || symbol) && e >= 2.9) || (b.len() >= 16 && e >= 3.5))
}

/// Adds a candidate for every place `text` holds, as written, a secret among `cands`.
/// Overlaps, with the candidates found where they were, are left to the resolution
/// that follows.
pub(super) fn add(text: &str, cands: &mut Vec<Candidate>) {
    // each value as written in the text, and the candidate it stands for
    let mut first: HashMap<&str, usize> = HashMap::new();
    let mut values: Vec<&str> = Vec::new();
    for (i, c) in cands.iter().enumerate() {
        if c.class != ArtifactClass::Secret || c.end.saturating_sub(c.start) < MIN_BYTES {
            continue;
        }
        let Some(written) = text.get(c.start..c.end).filter(|w| random_looking(w)) else {
            continue;
        };
        if first.contains_key(written) {
            continue;
        }
        if values.len() == MAX_VALUES {
            break;
        }
        first.insert(written, i);
        values.push(written);
    }
    if values.is_empty() {
        return;
    }
    // The places already found are found again: the resolution keeps one of each.
    // (A contiguous NFA builds in a fraction of a DFA's time, for a search of one text.)
    let Ok(ac) = AhoCorasick::builder()
        .kind(Some(AhoCorasickKind::ContiguousNFA))
        .match_kind(MatchKind::LeftmostLongest)
        .build(&values)
    else {
        return;
    };
    let places: Vec<(usize, usize)> = ac
        .find_iter(text)
        .map(|m| (m.pattern().as_usize(), m.start()))
        .collect();
    for (i, start) in places {
        let c = &cands[first[values[i]]];
        cands.push(Candidate {
            kind: c.kind,
            class: c.class,
            prio: c.prio,
            start,
            end: start + values[i].len(),
            value: c.value.clone(),
            masked: c.masked.clone(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::random_looking;

    #[test]
    fn passwords_and_keys_are_looked_for_again_words_of_code_are_not() {
        for v in [
            "Zq8vLm2Rt5Kp",
            "Summer2024!",
            "Tr0ub4dor&3",
            "9f8e7d6c5b4a39281706f5e4d3c2b1a0",
        ] {
            assert!(random_looking(v), "{v}");
        }
        for v in [
            "b64encode",
            ":py:class",
            "md5_hash",
            "helloworld",
            "replaced_by_pep8",
            "abcdefg123",
        ] {
            assert!(!random_looking(v), "{v}");
        }
    }
}
