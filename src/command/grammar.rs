//! The command language (SPEC §5): one line to one [`Command`], and a block of lines
//! to numbered commands or every error found. Words are case-insensitive; the text
//! may come from an HTML reply (`*bold*` markers, odd spaces), so the grammar is
//! lenient about decoration and precise in what it reports.
//!
//! It must not look at the case: whether a command is allowed now is `rules`' job.

use std::str::FromStr;

use chrono::NaiveDate;

use super::block::normalize;
use super::{suggest, Command, Line, COMMAND_WORDS, MAX_COMMANDS, MAX_TEXT_CHARS};
use crate::domain::{CaseId, Category, Outcome, Severity};

/// Why `resolve duplicate` is refused (shared with `rules`).
pub(crate) const RESOLVE_DUPLICATE: &str =
    "`resolve duplicate` needs the case this one duplicates, e.g. `resolve duplicate CL-12` (the same as `duplicate CL-12`)";

/// The answer to a reply with nothing above the quoted text.
pub(crate) const NO_COMMANDS: &str = "no commands found: write the commands at the very top of \
     your reply, one per line (for example `classify secret-leak`), above any quoted text";

/// Parses one command line. The error is one sentence without the "line N:" prefix.
pub fn parse_line(text: &str) -> Result<Command, String> {
    let text = normalize(text);
    let (word, rest) = split_command(&text);
    if text.is_empty() {
        return Err("empty line".to_string());
    }
    match word.as_str() {
        "classify" => keyword::<Category>(
            rest,
            "category",
            &slugs(Category::ALL),
            "classify secret-leak",
        )
        .map(Command::Classify),
        "severity" => keyword::<Severity>(rest, "severity", &slugs(Severity::ALL), "severity high")
            .map(Command::Severity),
        "owasp" => owasp(rest).map(Command::Owasp),
        "assign" => email(rest).map(Command::Assign),
        "action" => text_arg(
            rest,
            "action",
            "action rotated the key and revoked the old one",
        )
        .map(Command::Action),
        "ask" => text_arg(rest, "ask", "ask where did you find this key?").map(Command::Ask),
        "note" => text_arg(rest, "note", "note checked with the platform team").map(Command::Note),
        "resolve" => resolve(rest),
        "duplicate" => duplicate(rest).map(Command::Duplicate),
        "reopen" => optional_text(rest).map(Command::Reopen),
        "" => Err(unknown_command(
            text.split_whitespace().next().unwrap_or_default(),
        )),
        _ => Err(unknown_command(&word)),
    }
}

/// Parses a whole block. Every error is reported, each as "line N: …"; a block with
/// no command at all (prose, or nothing above the quote) gets one explanatory error.
pub fn parse_block(lines: &[Line]) -> Result<Vec<(usize, Command)>, Vec<String>> {
    let Some(first) = lines.first() else {
        return Err(vec![NO_COMMANDS.to_string()]);
    };
    let looks_like_commands = lines.iter().any(|l| {
        let (w, _) = split_command(&normalize(&l.text));
        COMMAND_WORDS.contains(&w.as_str()) || suggest(&w, COMMAND_WORDS.iter().copied()).is_some()
    });
    if !looks_like_commands {
        let why = parse_line(&first.text).err().unwrap_or_default();
        return Err(vec![format!(
            "line {}: {why}; commands go at the very top of the reply, one per line, \
             before any other text",
            first.number
        )]);
    }
    if lines.len() > MAX_COMMANDS {
        return Err(vec![format!(
            "the reply has {} command lines; at most {MAX_COMMANDS} are taken at once",
            lines.len()
        )]);
    }
    let mut cmds = Vec::new();
    let mut errors = Vec::new();
    let mut hinted = false;
    for line in lines {
        match parse_line(&line.text) {
            Ok(c) => cmds.push((line.number, c)),
            // Prose right under the commands ("Thanks, Ann"): say once how to end the block.
            Err(e)
                if !hinted
                    && !cmds.is_empty()
                    && e.starts_with("unknown command")
                    && !e.contains("did you mean") =>
            {
                hinted = true;
                errors.push(format!(
                    "line {}: {e}; end the commands with an empty line or `end` before other text",
                    line.number
                ))
            }
            Err(e) => errors.push(format!("line {}: {e}", line.number)),
        }
    }
    if errors.is_empty() {
        Ok(cmds)
    } else {
        Err(errors)
    }
}

/// Splits a line into its lowercased command word and the rest, dropping `*bold*`
/// markers around the word (or around the whole line) and a `:` after the word.
fn split_command(text: &str) -> (String, &str) {
    let t = text.trim();
    let (raw, rest) = match t.find(char::is_whitespace) {
        Some(i) => (&t[..i], &t[i..]),
        None => (t, ""),
    };
    let word = raw
        .trim_matches('*')
        .trim_end_matches(':')
        .trim_matches('*')
        .to_lowercase();
    let mut rest = rest.trim();
    // "*classify secret-leak*": the closing marker sits at the end of the line.
    if raw.starts_with('*') && !raw[1..].contains('*') {
        rest = rest.strip_suffix('*').unwrap_or(rest).trim_end();
    }
    let rest = rest.strip_prefix(':').unwrap_or(rest).trim();
    (word, rest)
}

fn slugs<T: Copy + std::fmt::Display>(all: &[T]) -> Vec<String> {
    all.iter().map(|v| v.to_string()).collect()
}

/// Cleans a keyword argument: bold markers, stray punctuation, case.
fn bare(s: &str) -> String {
    s.trim()
        .trim_matches('*')
        .trim_end_matches(['.', ',', ';'])
        .trim_matches('*')
        .to_lowercase()
}

/// `classify <category>` / `severity <level>`: one slug; "secret leak" and
/// "secret_leak" are taken for "secret-leak".
fn keyword<T: FromStr>(
    rest: &str,
    what: &str,
    choices: &[String],
    example: &str,
) -> Result<T, String> {
    let list = choices.join(", ");
    let words: Vec<String> = rest
        .split_whitespace()
        .map(bare)
        .filter(|w| !w.is_empty())
        .collect();
    if words.is_empty() {
        let cmd = example.split(' ').next().unwrap_or("");
        return Err(format!("`{cmd}` needs a {what}; use one of: {list}"));
    }
    let joined = words.join("-").replace('_', "-");
    if let Ok(v) = joined.parse() {
        return Ok(v);
    }
    let head = words[0].replace('_', "-");
    if head.parse::<T>().is_ok() {
        let cmd = example.split(' ').next().unwrap_or("");
        return Err(format!(
            "`{cmd}` takes only the {what}; put remarks in a `note` line"
        ));
    }
    match suggest(&joined, choices.iter().map(String::as_str))
        .or_else(|| suggest(&head, choices.iter().map(String::as_str)))
    {
        Some(s) => Err(format!(
            "unknown {what} '{}'; did you mean '{s}'?",
            clip(&words.join(" "))
        )),
        None => Err(format!(
            "unknown {what} '{}'; use one of: {list}",
            clip(&words.join(" "))
        )),
    }
}

/// `owasp NHI3` (also `nhi-3`, `NHI03`, `NHI3:2025`, `3`); a title after the tag is
/// ignored, since responders paste it from the OWASP list.
fn owasp(rest: &str) -> Result<u8, String> {
    let Some(tag) = rest.split_whitespace().next().map(bare) else {
        return Err("`owasp` needs a tag from NHI1 to NHI10, e.g. `owasp NHI2`".to_string());
    };
    let n = tag.strip_prefix("nhi").unwrap_or(&tag);
    let n = n.trim_start_matches(['-', '_', ' ']);
    let n = match n.split_once(':') {
        Some((n, year)) if year.len() == 4 && year.bytes().all(|b| b.is_ascii_digit()) => n,
        _ => n,
    };
    let ok = !n.is_empty() && n.len() <= 3 && n.bytes().all(|b| b.is_ascii_digit());
    match n.parse::<u8>() {
        Ok(v @ 1..=10) if ok => Ok(v),
        _ => Err(format!(
            "'{}' is not an OWASP NHI tag; use NHI1 to NHI10, e.g. `owasp NHI2`",
            clip(&tag)
        )),
    }
}

/// `assign <email>`: one address of a plausible shape, `<…>` and `mailto:` allowed.
fn email(rest: &str) -> Result<String, String> {
    let words: Vec<&str> = rest.split_whitespace().collect();
    let raw = match words.as_slice() {
        [] => {
            return Err(
                "`assign` needs the responder's email address, e.g. `assign ann@example.org`"
                    .to_string(),
            )
        }
        [one] => *one,
        _ => return Err("`assign` takes one email address and nothing else".to_string()),
    };
    let addr = bare(raw);
    let addr = addr.trim_start_matches('<').trim_end_matches('>');
    let addr = addr.strip_prefix("mailto:").unwrap_or(addr);
    let valid = match addr.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && local.len() <= 64
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains("..")
                && domain.len() <= 253
                && domain
                    .chars()
                    .all(|c| c.is_alphanumeric() || c == '-' || c == '.')
                && local
                    .chars()
                    .all(|c| !c.is_control() && !"()<>[],;:\\\"".contains(c))
        }
        None => false,
    };
    if valid {
        Ok(addr.to_string())
    } else {
        Err(format!(
            "'{}' is not an email address; write `assign ann@example.org`",
            clip(raw)
        ))
    }
}

/// Required free text, bounded by [`MAX_TEXT_CHARS`].
fn text_arg(rest: &str, cmd: &str, example: &str) -> Result<String, String> {
    match optional_text(rest)? {
        Some(t) => Ok(t),
        None => Err(format!("`{cmd}` needs text, e.g. `{example}`")),
    }
}

fn optional_text(rest: &str) -> Result<Option<String>, String> {
    let t = rest.trim();
    let n = t.chars().count();
    if n > MAX_TEXT_CHARS {
        return Err(format!(
            "the text is too long ({n} characters; at most {MAX_TEXT_CHARS})"
        ));
    }
    Ok((!t.is_empty()).then(|| t.to_string()))
}

/// The outcomes `resolve` takes (`duplicate` has its own command).
fn outcome_choices() -> Vec<String> {
    Outcome::ALL
        .iter()
        .filter(|o| **o != Outcome::Duplicate)
        .map(|o| o.to_string())
        .collect()
}

/// `resolve <outcome> [until <YYYY-MM-DD>] [: text]`.
fn resolve(rest: &str) -> Result<Command, String> {
    let (head, text) = match rest.split_once(':') {
        Some((h, t)) => (h, optional_text(t)?),
        None => (rest, None),
    };
    let words: Vec<String> = head
        .split_whitespace()
        .map(bare)
        .filter(|w| !w.is_empty())
        .collect();
    let list = outcome_choices().join(", ");
    if words.is_empty() {
        return Err(format!("`resolve` needs an outcome; use one of: {list}"));
    }
    // "false positive", "accepted risk", "no action" written with a space.
    let (outcome, mut i) = match (words[0].parse::<Outcome>(), words.get(1)) {
        (Ok(o), _) => (o, 1),
        (Err(()), Some(second)) if format!("{}-{second}", words[0]).parse::<Outcome>().is_ok() => (
            format!("{}-{second}", words[0])
                .parse::<Outcome>()
                .unwrap_or(Outcome::NoAction),
            2,
        ),
        _ => {
            let choices = outcome_choices();
            return Err(
                match suggest(&words[0], choices.iter().map(String::as_str)) {
                    Some(s) => {
                        format!("unknown outcome '{}'; did you mean '{s}'?", clip(&words[0]))
                    }
                    None => format!("unknown outcome '{}'; use one of: {list}", clip(&words[0])),
                },
            );
        }
    };
    if outcome == Outcome::Duplicate {
        // The contract lists `duplicate` among the outcomes; a merge must name its case,
        // so `resolve duplicate CL-12` is `duplicate CL-12`.
        if text.is_some() {
            return Err(
                "`resolve duplicate` takes only the case ID, e.g. `resolve duplicate CL-12`; put remarks in a `note` line"
                    .to_string(),
            );
        }
        return match &words[i..] {
            [] => Err(RESOLVE_DUPLICATE.to_string()),
            rest => duplicate(&rest.join(" ")).map(Command::Duplicate),
        };
    }
    let mut until = None;
    if words.get(i).map(String::as_str) == Some("until") {
        let Some(date) = words.get(i + 1) else {
            return Err(
                "`until` needs a date written YYYY-MM-DD, e.g. `until 2025-06-30`".to_string(),
            );
        };
        until = Some(NaiveDate::parse_from_str(date, "%Y-%m-%d").map_err(|_| {
            format!(
                "'{}' is not a date; write `until YYYY-MM-DD`, e.g. `until 2025-06-30`",
                clip(date)
            )
        })?);
        i += 2;
    }
    if let Some(extra) = words.get(i) {
        return Err(format!(
            "unexpected '{}' after `resolve {outcome}`; put the explanation after a colon, \
             e.g. `resolve {outcome}: what was checked`",
            clip(extra)
        ));
    }
    if until.is_some() && outcome != Outcome::AcceptedRisk {
        return Err(format!(
            "`until` goes only with accepted-risk; a case resolved as {outcome} does not reopen by itself"
        ));
    }
    Ok(Command::Resolve {
        outcome,
        until,
        text,
    })
}

/// `duplicate CL-12` (also `12`, `of CL-12`, `into CL-12`).
fn duplicate(rest: &str) -> Result<CaseId, String> {
    let mut words: Vec<String> = rest.split_whitespace().map(bare).collect();
    if matches!(
        words.first().map(String::as_str),
        Some("of" | "into" | "to")
    ) {
        words.remove(0);
    }
    match words.as_slice() {
        [] => {
            Err("`duplicate` needs the case ID to merge into, e.g. `duplicate CL-12`".to_string())
        }
        [id] => CaseId::parse(id).ok_or_else(|| {
            format!(
                "'{}' is not a case ID; write `duplicate CL-12` or `duplicate 12`",
                clip(id)
            )
        }),
        _ => Err("`duplicate` takes only the case ID; put remarks in a `note` line".to_string()),
    }
}

fn unknown_command(word: &str) -> String {
    let word = word.trim_end_matches([',', '.', '!', '?', ';']);
    let shown = clip(word);
    match suggest(word, COMMAND_WORDS.iter().copied()) {
        Some(s) => format!("unknown command '{shown}'; did you mean '{s}'?"),
        None => format!(
            "unknown command '{shown}'; use one of: {}",
            COMMAND_WORDS.join(", ")
        ),
    }
}

/// Shortens what we echo back so a pasted paragraph does not fill the letter.
fn clip(s: &str) -> String {
    const MAX: usize = 40;
    if s.chars().count() <= MAX {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(MAX).collect::<String>())
    }
}
