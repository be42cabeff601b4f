//! Detection rules for the `extract` module: the rule table (regexes, validators,
//! priorities), the aho-corasick prefilter that decides which rules run at all, and the
//! value heuristics (entropy, placeholders, URL normalisation).
//!
//! It only produces raw `Candidate`s; overlap resolution, masking and the public API
//! live in `mod.rs`. It must not log or print values, must not panic on any input, and
//! every offset it emits must be a char boundary of the scanned text (all offsets come
//! from regex matches or are adjusted with `str::floor_char_boundary`/`ceil_char_boundary`).

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use regex::{Captures, Regex};

use super::table::{defs, Edge, Post, GUID};
use super::validate::*;
use super::ArtifactClass::{self, Context, Secret};
use super::Candidate;

struct Rule {
    kind: &'static str,
    class: ArtifactClass,
    prio: u8,
    re: Regex,
    group: usize,
    edge: Edge,
    check: fn(&str) -> bool,
    post: Post,
}

impl Rule {
    /// Whether a match's value needs the regex's groups, not only where it matched.
    fn needs_groups(&self) -> bool {
        self.group != 0
            || matches!(
                self.post,
                Post::Generic
                    | Post::NamedKey
                    | Post::ImapLogin
                    | Post::PrivateKey
                    | Post::UrlPassword
            )
    }

    fn candidate(&self, start: usize, end: usize, value: String) -> Candidate {
        Candidate {
            kind: self.kind,
            class: self.class,
            prio: self.prio,
            start,
            end,
            value,
            masked: None,
        }
    }
}

pub(crate) struct Rules {
    rules: Vec<Rule>,
    ac: AhoCorasick,
    /// For each prefilter pattern: the rules it enables (`usize::MAX` = redaction marker).
    ac_rules: Vec<Vec<usize>>,
    /// For each rule: whether it runs on every text (it has no prefilter keyword).
    always: Vec<bool>,
    redacted: Regex,
}

const REDACTED_MARK: &str = "[redacted ";

/// The most characters of a URL after its `://` kept as an artifact: the rest of a longer
/// one is left out.
const URL_MAX_CHARS: usize = 4096;

/// The longest fingerprint part of a redaction marker (`[REDACTED kind …]`) that marks
/// its span as already redacted.
const REDACTED_TAIL_MAX_CHARS: usize = 400;

impl Rules {
    pub(crate) fn new() -> Rules {
        let app_id_pattern = format!(
            r"(?i)(?:client[_.\- ]?id|app(?:lication)?[_.\- ]?id|application[ \t]*\(client\)[ \t]*id|appid|app[_.\- ]registration|service[_.\- ]principal(?:[_.\- ]?id)?|principal[_.\- ]?id)[^\r\n]{{0,40}}?({GUID})"
        );
        let mut patterns: Vec<&'static str> = Vec::new();
        let mut ac_rules: Vec<Vec<usize>> = Vec::new();
        let mut rules = Vec::new();
        let mut always = Vec::new();
        for (i, def) in defs().into_iter().enumerate() {
            always.push(def.triggers.is_empty());
            let pat: &str = if def.kind == "azure-app-id" {
                &app_id_pattern
            } else {
                def.pattern
            };
            let re = Regex::new(pat)
                .unwrap_or_else(|e| panic!("rule {} does not compile: {e}", def.kind));
            for t in def.triggers {
                match patterns.iter().position(|p| p == t) {
                    Some(p) => ac_rules[p].push(i),
                    None => {
                        patterns.push(t);
                        ac_rules.push(vec![i]);
                    }
                }
            }
            rules.push(Rule {
                kind: def.kind,
                class: def.class,
                prio: def.prio,
                re,
                group: def.group,
                edge: def.edge,
                check: def.check,
                post: def.post,
            });
        }
        patterns.push(REDACTED_MARK);
        ac_rules.push(vec![usize::MAX]);
        // A DFA, whatever the count: aho-corasick chooses one by itself only up to 100
        // keywords, and its NFA past them took the scan of 64 KB from 55 to 122 million
        // instructions. A DFA of a few hundred short keywords is small (~1,000 states).
        let ac = AhoCorasickBuilder::new()
            .kind(Some(AhoCorasickKind::DFA))
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .build(&patterns)
            .expect("prefilter builds");
        Rules {
            rules,
            ac,
            ac_rules,
            always,
            redacted: Regex::new(r"\[REDACTED [a-z0-9\-]{1,40} ([^\]\r\n]*)\]")
                .expect("redacted regex"),
        }
    }

    /// All raw candidates of the rules whose prefilter keywords occur in `text`.
    pub(crate) fn candidates(&self, text: &str) -> Vec<Candidate> {
        // A rule with no keyword (no literal in every match) always runs.
        let mut enabled = self.always.clone();
        let mut redacted_seen = false;
        let mut remaining = enabled.iter().filter(|e| !**e).count();
        for m in self.ac.find_overlapping_iter(text) {
            for &r in &self.ac_rules[m.pattern().as_usize()] {
                if r == usize::MAX {
                    redacted_seen = true;
                } else if !enabled[r] {
                    enabled[r] = true;
                    remaining -= 1;
                }
            }
            if remaining == 0 && redacted_seen {
                break;
            }
        }
        let mut out = Vec::new();
        for (rule, _) in self.rules.iter().zip(&enabled).filter(|(_, e)| **e) {
            if rule.needs_groups() {
                let mut at = 0;
                while let Some(caps) = rule.re.captures_at(text, at) {
                    let found = out.len();
                    self.apply(rule, text, &caps, &mut out);
                    let whole = caps.get(0).map_or(at..text.len(), |m| m.range());
                    at = resume_inside(rule, &caps, out.len() > found).unwrap_or(whole.end);
                    if at <= whole.start {
                        // An empty match: step over one character.
                        at = whole.start
                            + text[whole.start..].chars().next().map_or(1, char::len_utf8);
                    }
                    if at > text.len() {
                        break;
                    }
                }
            } else {
                // The whole match is the value: finding it is several times cheaper
                // than finding its groups (the group search clears a table per match).
                for m in rule.re.find_iter(text) {
                    self.apply_span(rule, text, m.start(), m.end(), &mut out);
                }
            }
        }
        self.aws_secrets_near_key_ids(text, &mut out);
        if redacted_seen {
            // A longer tail is no marker of ours; the text after its start is not looked
            // at again for one (a secret in it is found, not hidden).
            let spans: Vec<(usize, usize)> = self
                .redacted
                .captures_iter(text)
                .filter(|c| {
                    c.get(1).map_or(0, |t| t.as_str().chars().count()) <= REDACTED_TAIL_MAX_CHARS
                })
                .filter_map(|c| c.get(0).map(|m| (m.start(), m.end())))
                .collect();
            if !spans.is_empty() {
                // spans are sorted and disjoint: binary-search the first one ending after c.start
                out.retain(|c| {
                    let i = spans.partition_point(|&(_, e)| e <= c.start);
                    c.class != Secret || spans.get(i).is_none_or(|&(s, _)| s >= c.end)
                });
            }
        }
        out
    }

    /// A match of a rule that needs its groups (`Rule::needs_groups`).
    fn apply(&self, rule: &Rule, text: &str, caps: &Captures<'_>, out: &mut Vec<Candidate>) {
        let cand = |start: usize, end: usize, value: String| rule.candidate(start, end, value);
        match rule.post {
            Post::Generic => {
                let (Some(name), Some(v)) =
                    (caps.get(1), caps.get(2).or(caps.get(3)).or(caps.get(4)))
                else {
                    return;
                };
                let (s, mut e) = (v.start(), v.end());
                if caps.get(4).is_some() {
                    // unquoted: stop at a following `&name=` query parameter, drop sentence punctuation
                    e = s + query_param_cut(&text[s..e]);
                    e = trim_span(text, s, e, |c| matches!(c, '.' | ':')).1;
                }
                let value = &text[s..e];
                if generic_name_ok(name.as_str()) && generic_value_ok(value) {
                    out.push(cand(s, e, value.to_string()));
                }
            }
            Post::NamedKey => {
                let (Some(m), Some(v)) = (caps.get(0), caps.get(1).or(caps.get(2)).or(caps.get(3)))
                else {
                    return;
                };
                let value = v.as_str();
                if capitals_name_before(text, m.start())
                    .is_some_and(|n| generic_name_ok(&text[n..m.start() + "_KEY".len()]))
                    && (rule.check)(value)
                {
                    out.push(cand(v.start(), v.end(), value.to_string()));
                }
            }
            Post::ImapLogin => {
                let (Some(m), Some(v)) = (caps.get(0), caps.get(1).or(caps.get(2)).or(caps.get(3)))
                else {
                    return;
                };
                let command = &text[m.start() + 1..m.start() + " login".len()];
                if (command == "LOGIN" || imap_tag_before(text, m.start()))
                    && (rule.check)(v.as_str())
                {
                    out.push(cand(v.start(), v.end(), v.as_str().to_string()));
                }
            }
            Post::PrivateKey => {
                if let (Some(m), Some(label)) = (caps.get(0), caps.get(1)) {
                    if let Some(c) = private_key(text, m.start(), m.end(), label.as_str(), rule) {
                        out.push(c);
                    }
                }
            }
            Post::UrlPassword => {
                let (Some(pw), Some(host)) = (caps.get(2), caps.get(3)) else {
                    return;
                };
                if !url_password_ok(pw.as_str()) {
                    return;
                }
                out.push(cand(pw.start(), pw.end(), pw.as_str().to_string()));
                let (hs, he) =
                    trim_span(text, host.start(), host.end(), |c| matches!(c, '.' | '-'));
                if hs < he {
                    out.push(Candidate {
                        kind: "host",
                        class: Context,
                        prio: 10,
                        start: hs,
                        end: he,
                        value: text[hs..he].to_ascii_lowercase(),
                        masked: None,
                    });
                }
            }
            Post::Url | Post::Plain | Post::Lower | Post::TrimPunct => {
                // the group, or the first later one that took part (`quoted_or!`)
                if let Some(m) = caps.iter().skip(rule.group).flatten().next() {
                    self.apply_span(rule, text, m.start(), m.end(), out);
                }
            }
        }
    }

    /// The value of a rule whose value is one span of its match, `start..end`: the whole
    /// match, or its group `rule.group`.
    fn apply_span(
        &self,
        rule: &Rule,
        text: &str,
        start: usize,
        end: usize,
        out: &mut Vec<Candidate>,
    ) {
        match rule.post {
            Post::Url => {
                // at most URL_MAX_CHARS, cut here rather than by a counted repetition
                // in the regex (which compiled to megabytes)
                let rest = text[start..end]
                    .find("://")
                    .map_or(start, |i| start + i + 3);
                let end = text[rest..end]
                    .char_indices()
                    .nth(URL_MAX_CHARS)
                    .map_or(end, |(i, _)| rest + i);
                let end = trim_url_tail(text, start, end);
                let u = &text[start..end];
                if url_host(u).is_some_and(|h| !h.is_empty()) {
                    out.push(rule.candidate(start, end, normalize_url(u)));
                }
            }
            Post::Plain | Post::Lower | Post::TrimPunct => {
                let (s, mut e) = (start, end);
                if rule.post == Post::TrimPunct {
                    e = trim_span(text, s, e, |c| {
                        matches!(c, '.' | ',' | ':' | ';' | '-' | '/' | '*')
                    })
                    .1;
                }
                if s >= e || !edges_ok(text, s, e, rule.edge) {
                    return;
                }
                let raw = &text[s..e];
                if !(rule.check)(raw) {
                    return;
                }
                let value = if rule.post == Post::Lower {
                    raw.to_ascii_lowercase()
                } else {
                    raw.to_string()
                };
                out.push(rule.candidate(s, e, value));
            }
            Post::Generic
            | Post::NamedKey
            | Post::ImapLogin
            | Post::PrivateKey
            | Post::UrlPassword => {
                unreachable!("rule {} needs its groups", rule.kind)
            }
        }
    }

    /// Bare 40-char secret access keys within a few lines of an access key id. Windows
    /// around key ids are merged so dense input is scanned once.
    fn aws_secrets_near_key_ids(&self, text: &str, out: &mut Vec<Candidate>) {
        let mut windows: Vec<(usize, usize)> = Vec::new();
        for c in out.iter().filter(|c| c.kind == "aws-access-key-id") {
            let (ws, we) = (
                c.start.saturating_sub(400),
                c.end.saturating_add(400).min(text.len()),
            );
            match windows.last_mut() {
                Some(last) if ws <= last.1 => last.1 = last.1.max(we),
                _ => windows.push((ws, we)),
            }
        }
        for (ws, we) in windows {
            let (ws, we) = (text.floor_char_boundary(ws), text.ceil_char_boundary(we));
            self.aws_secret_window(text, ws, we, out);
        }
    }

    fn aws_secret_window(&self, text: &str, ws: usize, we: usize, out: &mut Vec<Candidate>) {
        for (ms, me) in b64_runs(&text.as_bytes()[..we], ws) {
            if me - ms != 40 || !edges_ok(text, ms, me, Edge::B64) {
                continue;
            }
            let v = &text[ms..me];
            if aws_secret_ok(v) && !v.starts_with("AKIA") && !v.starts_with("ASIA") {
                out.push(Candidate {
                    kind: "aws-secret-access-key",
                    class: Secret,
                    prio: 84,
                    start: ms,
                    end: me,
                    value: v.to_string(),
                    masked: None,
                });
            }
        }
    }
}

/// The runs `[A-Za-z0-9/+]+=*` in `bytes[from..]`, as byte spans (what a
/// regex's `find_iter` would give, without its cost per match: in prose
/// every word is a run).
fn b64_runs(bytes: &[u8], from: usize) -> impl Iterator<Item = (usize, usize)> + '_ {
    let b64 = |b: u8| b.is_ascii_alphanumeric() || b == b'/' || b == b'+';
    let mut i = from;
    std::iter::from_fn(move || {
        i += bytes.get(i..)?.iter().position(|&b| b64(b))?;
        let start = i;
        i += bytes[i..].iter().take_while(|&&b| b64(b)).count();
        i += bytes[i..].iter().take_while(|&&b| b == b'=').count();
        Some((start, i))
    })
}

/// Complete a PEM private key block starting with the header at `hs..he`.
fn private_key(text: &str, hs: usize, he: usize, label: &str, rule: &Rule) -> Option<Candidate> {
    let rest = &text[he..];
    let limit = rest.ceil_char_boundary(20_000);
    // the next dash marker decides: END closes this block, BEGIN means it was truncated.
    // Stopping at the next BEGIN keeps the total work linear in the text length.
    let mut end_marker = None;
    let mut p = 0;
    while let Some(i) = rest.get(p..limit).and_then(|w| w.find("-----")) {
        let at = p + i;
        if rest[at..].starts_with("-----END") {
            end_marker = Some(at);
            break;
        }
        if rest[at..].starts_with("-----BEGIN") {
            break;
        }
        p = at + 5;
    }
    let end = match end_marker {
        Some(p) => {
            let after = &rest[p + 8..];
            let window = &after[..after.ceil_char_boundary(80)];
            match window.find("-----") {
                Some(c) => he + p + 8 + c + 5,
                None => he + p,
            }
        }
        None => {
            // truncated paste: take the following lines while they look like a PEM body
            let mut end = he;
            let mut off = 0;
            let mut seen_body = false;
            for (i, line) in rest.split_inclusive('\n').enumerate() {
                let line_start = off;
                off += line.len();
                if off > limit {
                    break;
                }
                let t = line.trim_start_matches(['>', ' ', '\t']).trim_end();
                if t.is_empty() {
                    if seen_body || i > 2 {
                        break;
                    }
                    continue;
                }
                let header = !seen_body && t.contains(':');
                let b64 = t
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"+/=\\".contains(&b));
                if !header && !b64 {
                    break;
                }
                seen_body |= b64;
                end = he + line_start + line.trim_end().len();
            }
            end
        }
    };
    let body = normalize_pem_body(&text[he..end.min(text.len())]);
    if body.len() < 40 || is_placeholder(&body) || entropy(&body) < 3.5 {
        return None;
    }
    let masked = format!("-----BEGIN {label}-----…{}", &body[body.len() - 4..]);
    Some(Candidate {
        kind: rule.kind,
        class: rule.class,
        prio: rule.prio,
        start: hs,
        end: text.ceil_char_boundary(end),
        value: body,
        masked: Some(masked),
    })
}

/// Base64 characters of a PEM body: literal `\n` escapes, header lines
/// (`Proc-Type: …`), quote markers and the END line are dropped.
fn normalize_pem_body(s: &str) -> String {
    let s = s.split("-----END").next().unwrap_or("");
    let s = s.replace("\\r", "\n").replace("\\n", "\n");
    let mut out = String::new();
    for line in s.lines() {
        if line.contains(':') {
            continue;
        }
        out.extend(
            line.chars()
                .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=')),
        );
    }
    out
}

// ---------------------------------------------------------------------------------
// Offsets and URLs
// ---------------------------------------------------------------------------------

fn edges_ok(text: &str, s: usize, e: usize, edge: Edge) -> bool {
    // `=` may precede a base64 value (`key=…`) but not follow it (longer padding)
    let bad = |b: u8, after: bool| match edge {
        Edge::Any => false,
        Edge::Word => b.is_ascii_alphanumeric() || b == b'_',
        Edge::B64 => b.is_ascii_alphanumeric() || b"+/".contains(&b) || (after && b == b'='),
    };
    let b = text.as_bytes();
    (s == 0 || !bad(b[s - 1], false) || after_escape(b, s)) && (e >= b.len() || !bad(b[e], true))
}

/// Whether `b[..at]` ends with a URL's percent escape (`%3D`, `%2f`): an escaped `=` or
/// `/` ends what came before, as in a link wrapped in another link's query
/// (`?url=https%3A%2F%2Fci.example%2Frun%3Ftoken%3Dghp_…`).
fn after_escape(b: &[u8], at: usize) -> bool {
    at >= 3 && b[at - 3] == b'%' && b[at - 2].is_ascii_hexdigit() && b[at - 1].is_ascii_hexdigit()
}

/// Shrink `s..e` while the last char satisfies `f`.
fn trim_span(text: &str, s: usize, e: usize, f: impl Fn(char) -> bool) -> (usize, usize) {
    let t = text[s..e].trim_end_matches(f);
    (s, s + t.len())
}

/// Drop trailing sentence punctuation and unbalanced closing brackets from a URL.
fn trim_url_tail(text: &str, s: usize, e: usize) -> usize {
    let u = &text[s..e];
    let t = u.trim_end_matches(['.', ',', ';', ':', '!', '?', '*', '\'', '"', '>']);
    s + t.len()
}

/// Host part (without userinfo and port) of `scheme://…`.
pub(crate) fn url_host(u: &str) -> Option<&str> {
    let rest = &u[u.find("://")? + 3..];
    let auth = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = auth.rsplit('@').next().unwrap_or("");
    if let Some(v6) = host.strip_prefix('[') {
        return Some(v6.split(']').next().unwrap_or(""));
    }
    Some(host.split(':').next().unwrap_or(""))
}

/// Where the search for the next match starts inside a generic assignment's match, not
/// after it: where its unquoted value was cut at the next query parameter
/// (`token=…&api_key=…`; the match ran over the following parameters), or at the start
/// of a quoted value that is no secret (`note_token: "set api_key=… first"`: prose or
/// data that may hold assignments of its own). Linear still: text inside `"…"` holds
/// no `"`, so the nesting of rescanned quoted values is at most two deep.
fn resume_inside(rule: &Rule, caps: &Captures<'_>, found: bool) -> Option<usize> {
    if rule.post != Post::Generic {
        return None;
    }
    if let Some(v) = caps.get(4) {
        let cut = query_param_cut(v.as_str());
        return (cut < v.len()).then_some(v.start() + cut);
    }
    let v = caps.get(2).or(caps.get(3))?;
    (!found).then_some(v.start())
}

/// The longest name in capitals read back before a `_KEY` (`STRIPE_KEY`); a longer run is
/// no variable's name.
const NAME_BEFORE_MAX_BYTES: usize = 100;

/// Where the name in capitals, digits and `_` that ends at `end` starts: a capital letter
/// after a character that is no letter, digit or `_` (or the text's start). None when
/// nothing or something else is there (`stripe_KEY`, `9_KEY`).
fn capitals_name_before(text: &str, end: usize) -> Option<usize> {
    let b = &text.as_bytes()[end.saturating_sub(NAME_BEFORE_MAX_BYTES + 1)..end];
    let name_char = |c: &u8| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == b'_';
    let len = b.iter().rev().take_while(|c| name_char(c)).count();
    let start = end - len;
    let before = (start > 0).then(|| text.as_bytes()[start - 1]);
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    (len > 0
        && len <= NAME_BEFORE_MAX_BYTES
        && text.as_bytes()[start].is_ascii_uppercase()
        && !before.is_some_and(word))
    .then_some(start)
}

/// Whether the line before `end` is an IMAP command's tag (`a1`, `A0001`, `.`), after a
/// transcript's mark (`C:`, `>`, `~>`) or none: a word that holds a digit, or one
/// character other than `I` (prose's "I login …").
fn imap_tag_before(text: &str, end: usize) -> bool {
    let line = &text[text[..end].rfind('\n').map_or(0, |i| i + 1)..end];
    let line = line.trim_start();
    let tag = ["C:", "~>", ">>", ">"]
        .iter()
        .find_map(|mark| line.strip_prefix(mark))
        .unwrap_or(line)
        .trim_start();
    let b = tag.as_bytes();
    (1..=20).contains(&b.len())
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || b"._-".contains(c))
        && (b.iter().any(u8::is_ascii_digit) || (b.len() == 1 && !b"Ii".contains(&b[0])))
}

/// Length of `v` up to the first `&name=` (a following query parameter).
fn query_param_cut(v: &str) -> usize {
    for (i, _) in v.match_indices('&') {
        let rest = &v[i + 1..];
        let name_len = rest
            .bytes()
            .take_while(|c| c.is_ascii_alphanumeric() || b"_-.[]".contains(c))
            .count();
        if name_len > 0 && rest.as_bytes().get(name_len) == Some(&b'=') {
            return i;
        }
    }
    v.len()
}

/// Lowercase scheme and host; userinfo password removed.
pub(crate) fn normalize_url(u: &str) -> String {
    let Some(i) = u.find("://") else {
        return u.to_string();
    };
    let scheme = u[..i].to_ascii_lowercase();
    let rest = &u[i + 3..];
    let auth_len = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (auth, tail) = rest.split_at(auth_len);
    let (user, host) = match auth.rfind('@') {
        Some(at) => (Some(&auth[..at]), &auth[at + 1..]),
        None => (None, auth),
    };
    let mut out = format!("{scheme}://");
    if let Some(user) = user {
        out.push_str(user.split(':').next().unwrap_or(""));
        out.push('@');
    }
    out.push_str(&host.to_ascii_lowercase());
    out.push_str(tail);
    out
}

/// Display form of a URL: password stripped, truncated to 200 chars.
pub(crate) fn display_url(u: &str) -> String {
    truncate_chars(&normalize_url(u), 200)
}

pub(crate) fn truncate_chars(s: &str, n: usize) -> String {
    match s.char_indices().nth(n) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// A URL at `start` cut before `cut` (a stronger finding in its path or query): the
/// end of the remaining URL, if the cut is past the host and something useful is left.
pub(crate) fn trim_url(text: &str, start: usize, cut: usize) -> Option<usize> {
    let u = text.get(start..cut)?;
    let after_scheme = u.find("://")? + 3;
    let path_at = after_scheme + u[after_scheme..].find('/')?;
    let mut keep = u;
    if let Some(q) = u[path_at..].find(['?', '#']) {
        keep = &u[..path_at + q];
    }
    let keep = keep.trim_end_matches(['/', ':', '@', '.', ',', ';', '=', '&']);
    if keep.len() <= after_scheme || url_host(keep).is_none_or(str::is_empty) {
        return None;
    }
    Some(start + keep.len())
}

#[cfg(test)]
mod tests {
    use super::{b64_runs, Rules};

    /// The keywords that turn rules on are searched with a DFA: aho-corasick would
    /// choose an NFA by itself past 100 of them, and the scan of 64 KB took 122 million
    /// instructions instead of 55.
    #[test]
    fn rule_keywords_are_searched_with_a_dfa() {
        let r = Rules::new();
        assert_eq!(
            r.ac.kind(),
            aho_corasick::AhoCorasickKind::DFA,
            "{} keywords",
            r.ac.patterns_len()
        );
    }

    #[test]
    fn b64_runs_are_the_regex_matches() {
        let re = regex::Regex::new(r"[A-Za-z0-9/+]+=*").unwrap();
        let pieces = [
            "a",
            "Z9",
            "/",
            "+",
            "=",
            "==",
            " ",
            "\n",
            "-",
            "é",
            "_",
            ".",
            "key=",
            "AKIAABCDEFGHIJKLMNOP",
        ];
        let mut seed: u64 = 7;
        for _ in 0..2_000 {
            let mut text = String::new();
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
            for _ in 0..(seed >> 59) {
                seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
                text.push_str(pieces[(seed >> 33) as usize % pieces.len()]);
            }
            for from in (0..=text.len()).filter(|&i| text.is_char_boundary(i)) {
                let want: Vec<_> = re
                    .find_iter(&text[from..])
                    .map(|m| (from + m.start(), from + m.end()))
                    .collect();
                let got: Vec<_> = b64_runs(text.as_bytes(), from).collect();
                assert_eq!(got, want, "{text:?} from {from}");
            }
        }
    }
}
