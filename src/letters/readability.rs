//! Flesch reading ease for letter bodies, so tests can hold reporter letters to
//! SPEC §6 ("Flesch reading ease 60 or more").
//!
//! Standard formula: 206.835 − 1.015 × words/sentences − 84.6 × syllables/words,
//! with a heuristic English syllable counter (vowel groups, silent final e, -ed,
//! -es). Letters are not prose, so a sentence also ends at a blank line, at a
//! line ending in ':' (a heading) and before a bullet line. Pure; no IO.

/// Flesch reading ease of `text` (higher is easier; 60+ is plain English).
/// Empty text scores 100.
pub fn flesch_reading_ease(text: &str) -> f64 {
    let (mut words, mut sentences, mut syllables) = (0usize, 0usize, 0usize);
    let mut in_sentence = false;
    let end_sentence = |in_sentence: &mut bool, sentences: &mut usize| {
        if *in_sentence {
            *sentences += 1;
            *in_sentence = false;
        }
    };
    for line in text.lines() {
        let trimmed = line.trim();
        let bullet = trimmed.starts_with("- ") || trimmed.starts_with("* ");
        if trimmed.is_empty() || bullet || trimmed == "--" {
            end_sentence(&mut in_sentence, &mut sentences);
        }
        for token in trimmed.split_whitespace() {
            if !token.chars().any(|c| c.is_alphanumeric()) {
                continue;
            }
            words += 1;
            syllables += count_syllables(token);
            in_sentence = true;
            let end = token.trim_end_matches(['"', '\'', ')', '»', '”']);
            if end.ends_with(['.', '!', '?']) {
                end_sentence(&mut in_sentence, &mut sentences);
            }
        }
        if trimmed.ends_with(':') {
            end_sentence(&mut in_sentence, &mut sentences);
        }
    }
    end_sentence(&mut in_sentence, &mut sentences);
    if words == 0 {
        return 100.0;
    }
    206.835
        - 1.015 * (words as f64 / sentences.max(1) as f64)
        - 84.6 * (syllables as f64 / words as f64)
}

fn is_vowel(c: char) -> bool {
    matches!(c, 'a' | 'e' | 'i' | 'o' | 'u' | 'y' | 'à'..='å' | 'è'..='ë' | 'ì'..='ï' | 'ò'..='ö' | 'ù'..='ü' | 'æ' | 'ø')
}

/// Heuristic syllable count of one token. Tokens made of several parts
/// (`build-log`, `a@b.org`) count each part; a part with no vowel (numbers,
/// `CL`) counts one.
pub fn count_syllables(token: &str) -> usize {
    let lower = token.to_lowercase();
    let total: usize = lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|part| !part.is_empty())
        .map(part_syllables)
        .sum();
    total.max(1)
}

fn part_syllables(part: &str) -> usize {
    let chars: Vec<char> = part.chars().filter(|c| c.is_alphabetic()).collect();
    if chars.is_empty() {
        return 1;
    }
    let mut count = 0;
    let mut prev_vowel = false;
    for (i, &c) in chars.iter().enumerate() {
        // A leading y is a consonant ("you", "yes").
        let vowel = is_vowel(c) && !(c == 'y' && i == 0);
        if vowel && !prev_vowel {
            count += 1;
        }
        prev_vowel = vowel;
    }
    let n = chars.len();
    let ends = |s: &str| part.ends_with(s);
    let before = |k: usize| if n > k { Some(chars[n - 1 - k]) } else { None };
    if count > 1 {
        if ends("e") && !ends("le") && !ends("ee") && !ends("ie") {
            count -= 1; // silent final e: "make", "use"
        } else if ends("le") && before(2).is_some_and(is_vowel) {
            count -= 1; // "whole", "rule": a vowel before -le makes it silent
        } else if ends("ed") && !before(2).is_some_and(|c| c == 't' || c == 'd' || is_vowel(c)) {
            count -= 1; // "fixed", "turned"; not "added", "wanted"
        } else if ends("es")
            && !before(2)
                .is_some_and(|c| matches!(c, 's' | 'x' | 'z' | 'c' | 'g' | 'h') || is_vowel(c))
        {
            count -= 1; // "makes", "times"; not "boxes", "changes"
        }
    }
    count.max(1)
}
