//! Secrets written again: a secret found by what is written around it (`password=…`,
//! `the token is …`) is often written once more where nothing says so (`login with …
//! failed`, a log line, a quoted reply). Every other place a text holds a secret found
//! in it becomes a candidate of the same kind, so redaction leaves no copy in plaintext.
//!
//! Pure and linear: one search of each text for all the values at once.

use std::collections::HashMap;

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use memchr::memmem;

use super::validate::entropy;
use super::{ArtifactClass, Candidate, Candidates};

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

/// The most values searched for one at a time: more are searched for all at once
/// (an automaton costs more to build than a few passes of `memmem` over a report).
const FEW: usize = 4;

/// The random-looking secrets a report's texts hold (one text's, for
/// [`Scanner::scan`](super::Scanner::scan)), to be redacted wherever its texts hold them
/// again: a password found by its name in the body and written alone lines later, in
/// the subject or in another attachment.
pub struct Known {
    /// The secrets as written, and the candidate each stands for.
    found: Vec<(String, Candidate)>,
    search: Search,
}

impl Default for Known {
    /// No secret known.
    fn default() -> Known {
        Known {
            found: Vec::new(),
            search: Search::Few(Vec::new()),
        }
    }
}

enum Search {
    Few(Vec<memmem::Finder<'static>>),
    Many(AhoCorasick),
}

impl Known {
    /// The random-looking secrets among the texts' candidates, each once (at most
    /// `MAX_VALUES`): as written, and as the rule read them where that differs (a key
    /// written escaped).
    pub fn new<'a, 't: 'a>(texts: impl IntoIterator<Item = &'a Candidates<'t>>) -> Known {
        let mut found: Vec<(String, Candidate)> = Vec::new();
        let mut seen: HashMap<&str, usize> = HashMap::new();
        'texts: for t in texts {
            for c in &t.cands {
                if c.class != ArtifactClass::Secret {
                    continue;
                }
                let written = t.text.get(c.start..c.end).unwrap_or_default();
                let read = Some(c.value.as_str()).filter(|v| *v != written);
                for v in std::iter::once(written).chain(read) {
                    if let Some(&i) = seen.get(v) {
                        // the strongest rule's candidate stands for the value (a key's
                        // own kind, not a password's its name was given as)
                        if found[i].1.prio < c.prio {
                            found[i].1 = c.clone();
                        }
                        continue;
                    }
                    if v.len() < MIN_BYTES || !random_looking(v) {
                        continue;
                    }
                    if found.len() == MAX_VALUES {
                        break 'texts;
                    }
                    seen.insert(v, found.len());
                    found.push((v.to_string(), c.clone()));
                }
            }
        }
        let search = if found.len() <= FEW {
            Search::Few(
                found
                    .iter()
                    .map(|(v, _)| memmem::Finder::new(v.as_bytes()).into_owned())
                    .collect(),
            )
        } else {
            // A contiguous NFA builds in a fraction of a DFA's time, for the search of
            // a report's few texts.
            match AhoCorasick::builder()
                .kind(Some(AhoCorasickKind::ContiguousNFA))
                .match_kind(MatchKind::LeftmostLongest)
                .build(found.iter().map(|(v, _)| v))
            {
                Ok(ac) => Search::Many(ac),
                Err(_) => {
                    found.clear();
                    Search::Few(Vec::new())
                }
            }
        };
        Known { found, search }
    }

    /// Adds a candidate for every place `text` holds a known secret. The places already
    /// found are found again, and overlaps with the text's other candidates left to the
    /// resolution that follows.
    pub(super) fn add_to(&self, text: &str, cands: &mut Vec<Candidate>) {
        let mut places: Vec<(usize, usize)> = Vec::new();
        match &self.search {
            Search::Few(finders) => {
                for (i, f) in finders.iter().enumerate() {
                    places.extend(f.find_iter(text.as_bytes()).map(|start| (i, start)));
                }
            }
            Search::Many(ac) => {
                places.extend(
                    ac.find_iter(text)
                        .map(|m| (m.pattern().as_usize(), m.start())),
                );
            }
        }
        for (i, start) in places {
            let (v, c) = &self.found[i];
            cands.push(Candidate {
                start,
                end: start + v.len(),
                ..c.clone()
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{random_looking, Known};
    use crate::extract::{redact, scanner, ArtifactClass, Candidate, Candidates, Finding};

    /// The findings of `text`, read with `body`: its own, and the places it holds a
    /// secret of either.
    fn found_beside(body: &str, text: &str) -> Vec<Finding> {
        let s = scanner();
        let texts = [s.candidates(body), s.candidates(text)];
        let known = Known::new(&texts);
        let [_, text_cands] = texts;
        text_cands.resolve(&[&known])
    }

    #[test]
    fn known_secrets_are_found_in_another_text_beside_its_own_findings() {
        let body = "DB_PASSWORD=Zq8vLm2Rt5Kp\napi_key = b64encode";
        let text = "token: Wq7n2Zr9LmKx4Tb8Vc1Y, then Zq8vLm2Rt5Kp and b64encode, Zq8vLm2Rt5Kp";
        let found = found_beside(body, text);
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
    fn many_known_secrets_are_found_at_once() {
        let pws: Vec<String> = (0..3 * super::FEW)
            .map(|i| format!("Zq{i}vLm2Rt5Kp"))
            .collect();
        let body: String = pws
            .iter()
            .enumerate()
            .map(|(i, p)| format!("DB{i}_PASSWORD={p}\n"))
            .collect();
        let text = format!("failed: {}", pws.join(" and "));
        let found = found_beside(&body, &text);
        assert_eq!(found.len(), pws.len(), "{found:?}");
        let red = redact(&text, &found);
        assert!(pws.iter().all(|p| !red.contains(p.as_str())), "{red}");
    }

    #[test]
    fn the_strongest_rule_s_kind_stands_for_a_secret_written_again() {
        let text = "see Zq8vLm2Rt5Kp";
        let cand = |kind, prio| Candidate {
            kind,
            class: ArtifactClass::Secret,
            prio,
            start: 4,
            end: text.len(),
            value: "Zq8vLm2Rt5Kp".into(),
            masked: None,
        };
        let (weak, strong) = (cand("generic-secret", 55), cand("url-password", 90));
        for cands in [vec![weak.clone(), strong.clone()], vec![strong, weak]] {
            let known = Known::new(&[Candidates { text, cands }]);
            let found = scanner()
                .candidates("login failed for Zq8vLm2Rt5Kp")
                .resolve(&[&known]);
            let kinds: Vec<_> = found.iter().map(|f| f.kind).collect();
            assert_eq!(kinds, ["url-password"], "{found:?}");
        }
    }

    #[test]
    fn a_known_secret_in_a_link_cuts_the_link_short() {
        let body = "DB_PASSWORD=Zq8vLm2Rt5Kp";
        let text = "see https://ci.example.org/login?u=bot&p=Zq8vLm2Rt5Kp now";
        let found = found_beside(body, text);
        let red = redact(text, &found);
        assert!(!red.contains("Zq8vLm2Rt5Kp"), "{red}");
        // the link is kept, cut before the secret
        let link: Vec<_> = found.iter().filter(|f| f.kind == "url").collect();
        assert_eq!(link.len(), 1, "{found:?}");
        assert!(!link[0].value.contains("Zq8vLm2Rt5Kp"), "{found:?}");
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
