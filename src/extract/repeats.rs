//! Secrets written again: a secret found by what is written around it (`password=…`,
//! `the token is …`) is often written once more where nothing says so (`login with …
//! failed`, a log line, a quoted reply). Every other place a text holds a secret found
//! in it becomes a candidate of the same kind, so redaction leaves no copy in plaintext.
//!
//! Pure and linear: one search of the text for all the values at once.

use std::collections::{HashMap, HashSet};

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};

use super::validate::entropy;
use super::{ArtifactClass, Candidate, Finding};

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

/// The secrets found in some texts of a report, to be redacted in its other texts too:
/// a password found in the body by what is written around it and written alone in the
/// subject, or in another attachment.
pub struct Known {
    found: Vec<Finding>,
    ac: Option<AhoCorasick>,
}

impl Known {
    /// The random-looking secrets among `findings`, each value once (at most
    /// `MAX_VALUES`).
    pub fn new<'a>(findings: impl IntoIterator<Item = &'a Finding>) -> Known {
        let mut found: Vec<Finding> = Vec::new();
        let mut seen: HashSet<&str> = HashSet::new();
        for f in findings {
            if found.len() == MAX_VALUES {
                break;
            }
            if f.class == ArtifactClass::Secret
                && f.value.len() >= MIN_BYTES
                && !seen.contains(f.value.as_str())
                && random_looking(&f.value)
            {
                seen.insert(&f.value);
                found.push(f.clone());
            }
        }
        let ac = (!found.is_empty())
            .then(|| {
                AhoCorasick::builder()
                    .kind(Some(AhoCorasickKind::ContiguousNFA))
                    .match_kind(MatchKind::LeftmostLongest)
                    .build(found.iter().map(|f| f.value.as_str()))
                    .ok()
            })
            .flatten();
        Known { found, ac }
    }

    /// Adds a finding for every place `text` holds a known secret that none of
    /// `findings` (sorted by start, disjoint: as `Scanner::scan` gives them) overlaps;
    /// they stay sorted and disjoint.
    pub fn add_to(&self, text: &str, findings: &mut Vec<Finding>) {
        let Some(ac) = &self.ac else {
            return;
        };
        let mut more = Vec::new();
        for m in ac.find_iter(text) {
            // the first finding that ends after this place starts
            let i = findings.partition_point(|f| f.end <= m.start());
            if findings.get(i).is_some_and(|f| f.start < m.end()) {
                continue;
            }
            let k = &self.found[m.pattern().as_usize()];
            more.push(Finding {
                start: m.start(),
                end: m.end(),
                ..k.clone()
            });
        }
        if !more.is_empty() {
            findings.extend(more);
            findings.sort_by_key(|f| f.start);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{random_looking, Known};
    use crate::extract::{redact, scanner};

    #[test]
    fn known_secrets_are_found_in_another_text_beside_its_own_findings() {
        let s = scanner();
        let body = "DB_PASSWORD=Zq8vLm2Rt5Kp\napi_key = b64encode";
        let known = Known::new(&s.scan(body));
        let text = "token: Wq7n2Zr9LmKx4Tb8Vc1Y, then Zq8vLm2Rt5Kp and b64encode, Zq8vLm2Rt5Kp";
        let mut found = s.scan(text);
        known.add_to(text, &mut found);
        assert_eq!(found.len(), 3, "{found:?}");
        assert!(
            found.windows(2).all(|w| w[0].end <= w[1].start),
            "{found:?}"
        );
        let red = redact(text, &found);
        assert!(!red.contains("Zq8vLm2Rt5Kp") && !red.contains("Wq7n2Zr9LmKx4Tb8Vc1Y"));
        // a word of code taken for a value is not looked for in other texts
        assert!(red.contains("b64encode"), "{red}");
    }

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
