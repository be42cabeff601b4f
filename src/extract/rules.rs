//! Detection rules for the `extract` module: the rule table (regexes, validators,
//! priorities), the aho-corasick prefilter that decides which rules run at all, and the
//! value heuristics (entropy, placeholders, URL normalisation).
//!
//! It only produces raw `Candidate`s; overlap resolution, masking and the public API
//! live in `mod.rs`. It must not log or print values, must not panic on any input, and
//! every offset it emits must be a char boundary of the scanned text (all offsets come
//! from regex matches or are adjusted with `floor_boundary`/`ceil_boundary`).

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use regex::{Captures, Regex};

use super::validate::*;
use super::{ArtifactClass, Candidate};

use ArtifactClass::{Context, Identity, Secret};

/// Characters that must not touch a token on either side.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Edge {
    Any,
    /// ASCII alphanumerics and `_`.
    Word,
    /// ASCII alphanumerics, `+`, `/`, `=`.
    B64,
}

/// Extra processing after a regex match.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Post {
    /// The capture group is the value.
    Plain,
    /// Value lowercased (identities that are case-insensitive).
    Lower,
    /// Value with trailing punctuation trimmed (ARNs, k8s names).
    TrimPunct,
    PrivateKey,
    UrlPassword,
    Url,
    Generic,
}

struct Def {
    kind: &'static str,
    class: ArtifactClass,
    prio: u8,
    pattern: &'static str,
    group: usize,
    edge: Edge,
    check: fn(&str) -> bool,
    triggers: &'static [&'static str],
    post: Post,
}

const GUID: &str = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}";

fn defs() -> Vec<Def> {
    let d =
        |kind, class, prio, pattern, group, edge, check: fn(&str) -> bool, triggers, post| Def {
            kind,
            class,
            prio,
            pattern,
            group,
            edge,
            check,
            triggers,
            post,
        };
    vec![
        d(
            "aws-access-key-id",
            Secret,
            100,
            r"(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}",
            0,
            Edge::Word,
            aws_key_id_ok,
            &["akia", "asia", "abia", "acca"],
            Post::Plain,
        ),
        d(
            "aws-secret-access-key",
            Secret,
            85,
            r#"(?i)(?:aws[_.\- ]?secret(?:[_.\- ]?(?:access[_.\- ]?)?key)?|secret[_.\- ]?(?:access[_.\- ]?)?key)(?:[_.\- ]?id)?["']?(?:[ \t]*(?::=|=>|=|:|(?-u:\b)is(?-u:\b))[ \t]*|[ \t]+)["'(]?([A-Za-z0-9/+]{40})"#,
            1,
            Edge::B64,
            aws_secret_ok,
            &["secret"],
            Post::Plain,
        ),
        d(
            "github-pat",
            Secret,
            100,
            r"ghp_[A-Za-z0-9]{36,251}",
            0,
            Edge::Word,
            token_ok,
            &["ghp_"],
            Post::Plain,
        ),
        d(
            "github-fine-grained-pat",
            Secret,
            100,
            r"github_pat_[A-Za-z0-9_]{50,244}",
            0,
            Edge::Word,
            token_ok,
            &["github_pat_"],
            Post::Plain,
        ),
        d(
            "github-oauth",
            Secret,
            100,
            r"gho_[A-Za-z0-9]{36,251}",
            0,
            Edge::Word,
            token_ok,
            &["gho_"],
            Post::Plain,
        ),
        d(
            "github-app-token",
            Secret,
            100,
            r"gh[usr]_[A-Za-z0-9]{36,251}",
            0,
            Edge::Word,
            token_ok,
            &["ghu_", "ghs_", "ghr_"],
            Post::Plain,
        ),
        d(
            "gitlab-pat",
            Secret,
            100,
            r"glpat-[A-Za-z0-9_\-]{20,200}(?:\.[A-Za-z0-9_\-]{2,100}){0,3}",
            0,
            Edge::Word,
            token_ok,
            &["glpat-"],
            Post::Plain,
        ),
        d(
            "slack-token",
            Secret,
            100,
            r"(?:xox[abprse]|xapp)-[0-9]{0,3}-?[A-Za-z0-9][A-Za-z0-9\-]{9,250}",
            0,
            Edge::Word,
            slack_ok,
            &["xox", "xapp-"],
            Post::Plain,
        ),
        d(
            "slack-webhook",
            Secret,
            110,
            r"(?i:https?)://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9_\-/]{20,300}",
            0,
            Edge::Word,
            token_ok,
            &["hooks.slack.com"],
            Post::Plain,
        ),
        d(
            "stripe-secret-key",
            Secret,
            100,
            r"sk_(?:live|test)_[A-Za-z0-9]{16,247}",
            0,
            Edge::Word,
            token_ok,
            &["sk_live_", "sk_test_"],
            Post::Plain,
        ),
        d(
            "stripe-restricted-key",
            Secret,
            100,
            r"rk_(?:live|test)_[A-Za-z0-9]{16,247}",
            0,
            Edge::Word,
            token_ok,
            &["rk_live_", "rk_test_"],
            Post::Plain,
        ),
        d(
            "twilio-api-key",
            Secret,
            100,
            r"SK[0-9a-fA-F]{32}",
            0,
            Edge::Word,
            token_ok,
            &["sk"],
            Post::Plain,
        ),
        d(
            "sendgrid-api-key",
            Secret,
            100,
            r"SG\.[A-Za-z0-9_\-]{16,32}\.[A-Za-z0-9_\-]{16,64}",
            0,
            Edge::Word,
            token_ok,
            &["sg."],
            Post::Plain,
        ),
        d(
            "anthropic-api-key",
            Secret,
            105,
            r"sk-ant-[A-Za-z0-9_\-]{32,300}",
            0,
            Edge::Word,
            token_ok,
            &["sk-ant-"],
            Post::Plain,
        ),
        d(
            "openai-api-key",
            Secret,
            95,
            r"sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,300}",
            0,
            Edge::Word,
            openai_ok,
            &["sk-"],
            Post::Plain,
        ),
        d(
            "google-api-key",
            Secret,
            100,
            r"AIza[0-9A-Za-z_\-]{35}",
            0,
            Edge::Word,
            token_ok,
            &["aiza"],
            Post::Plain,
        ),
        d(
            "private-key",
            Secret,
            120,
            r"-----BEGIN ((?:[A-Z0-9]{1,12} ){0,2}PRIVATE KEY(?: BLOCK)?)-----",
            1,
            Edge::Any,
            |_| true,
            &["private key"],
            Post::PrivateKey,
        ),
        d(
            "jwt",
            Secret,
            90,
            r"eyJ[A-Za-z0-9_\-]{8,}\.ey[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{10,}",
            0,
            Edge::Word,
            jwt_ok,
            &["eyj"],
            Post::Plain,
        ),
        d(
            "bearer-token",
            Secret,
            70,
            r#"(?i)authorization["']?[ \t]*[:=][ \t]*["']?(?:bearer|token|basic)[ \t]+([A-Za-z0-9\-._~+/]{12,}=*)"#,
            1,
            Edge::Any,
            bearer_ok,
            &["authorization"],
            Post::Plain,
        ),
        d(
            "bearer-token",
            Secret,
            69,
            r"(?i)(?-u:\b)bearer[ \t]+([A-Za-z0-9\-._~+/]{20,}=*)",
            1,
            Edge::Any,
            bearer_loose_ok,
            &["bearer"],
            Post::Plain,
        ),
        d(
            "url-password",
            Secret,
            80,
            r#"[A-Za-z][A-Za-z0-9+.\-]{1,20}://([^\s:/?#@"'<>\[\]]{0,128}):([^\s/?#@"'<>]{1,256})@([A-Za-z0-9.\-_]+|\[[0-9a-fA-F:.]+\])"#,
            2,
            Edge::Any,
            url_password_ok,
            &["://"],
            Post::UrlPassword,
        ),
        d(
            "azure-storage-key",
            Secret,
            85,
            r"(?i)AccountKey=([A-Za-z0-9+/]{40,100}={0,2})",
            1,
            Edge::B64,
            entropic_ok,
            &["accountkey="],
            Post::Plain,
        ),
        d(
            "azure-storage-key",
            Secret,
            85,
            r"(?i)SharedAccessKey=([A-Za-z0-9+/]{20,100}={0,2})",
            1,
            Edge::B64,
            entropic_ok,
            &["sharedaccesskey="],
            Post::Plain,
        ),
        d(
            "azure-storage-key",
            Secret,
            85,
            r"[?&;]sig=([A-Za-z0-9%+/]{20,200})",
            1,
            Edge::B64,
            entropic_ok,
            &["sig="],
            Post::Plain,
        ),
        d(
            "generic-secret",
            Secret,
            50,
            r#"(?i)([A-Za-z0-9_.\-]*(?:secret|token|passw(?:or)?d|pwd|api[_.\-]?key|access[_.\-]?key|private[_.\-]?key|auth[_.\-]?key|client[_.\-]?key|credentials?)[A-Za-z0-9_.\-]*)["']?\]?[ \t]*(?::=|=>|=|:)[ \t]*(?:"([^"\r\n]{1,500})"|'([^'\r\n]{1,500})'|([^\s"'`,;<>(){}\[\]]{1,500}))"#,
            0,
            Edge::Any,
            |_| true,
            &[
                "secret",
                "token",
                "passw",
                "pwd",
                "apikey",
                "api_key",
                "api-key",
                "api.key",
                "accesskey",
                "access_key",
                "access-key",
                "access.key",
                "privatekey",
                "private_key",
                "private-key",
                "authkey",
                "auth_key",
                "auth-key",
                "clientkey",
                "client_key",
                "client-key",
                "credential",
            ],
            Post::Generic,
        ),
        d(
            "gcp-service-account",
            Identity,
            60,
            r"[a-z0-9][a-z0-9._\-]{0,63}@[a-z0-9][a-z0-9.\-]{0,100}\.gserviceaccount\.com",
            0,
            Edge::Word,
            identity_ok,
            &["gserviceaccount.com"],
            Post::Lower,
        ),
        d(
            "aws-arn",
            Identity,
            60,
            r"arn:aws(?:-cn|-us-gov|-iso|-iso-b|-iso-e|-iso-f|-eusc)?:[a-z0-9\-]{1,40}:[a-z0-9\-]{0,30}:(?:[0-9]{12}|aws)?:[A-Za-z0-9_+=,.@\-/:*]{1,512}",
            0,
            Edge::Word,
            identity_ok,
            &["arn:aws"],
            Post::TrimPunct,
        ),
        d(
            "k8s-service-account",
            Identity,
            60,
            r"system:serviceaccount:[a-z0-9][a-z0-9.\-]{0,62}:[a-z0-9][a-z0-9.\-]{0,252}",
            0,
            Edge::Word,
            identity_ok,
            &["system:serviceaccount:"],
            Post::TrimPunct,
        ),
        d(
            "azure-app-id",
            Identity,
            40,
            "",
            1,
            Edge::Word,
            guid_ok,
            &[
                "client",
                "appid",
                "app id",
                "app_id",
                "app-id",
                "application",
                "principal",
            ],
            Post::Lower,
        ),
        d(
            "url",
            Context,
            10,
            r#"(?i:https?)://(?:\[[0-9a-fA-F:.]{2,45}\])?[^\s<>"'`\\)\]}|^]{1,4096}"#,
            0,
            Edge::Any,
            |_| true,
            &["http"],
            Post::Url,
        ),
    ]
}

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

pub(crate) struct Rules {
    rules: Vec<Rule>,
    ac: AhoCorasick,
    /// For each prefilter pattern: the rules it enables (`usize::MAX` = redaction marker).
    ac_rules: Vec<Vec<usize>>,
    b64_run: Regex,
    redacted: Regex,
}

const REDACTED_MARK: &str = "[redacted ";

impl Rules {
    pub(crate) fn new() -> Rules {
        let app_id_pattern = format!(
            r"(?i)(?:client[_.\- ]?id|app(?:lication)?[_.\- ]?id|application[ \t]*\(client\)[ \t]*id|appid|app[_.\- ]registration|service[_.\- ]principal(?:[_.\- ]?id)?|principal[_.\- ]?id)[^\r\n]{{0,40}}?({GUID})"
        );
        let mut patterns: Vec<&'static str> = Vec::new();
        let mut ac_rules: Vec<Vec<usize>> = Vec::new();
        let mut rules = Vec::new();
        for (i, def) in defs().into_iter().enumerate() {
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
        let ac = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .build(&patterns)
            .expect("prefilter builds");
        Rules {
            rules,
            ac,
            ac_rules,
            b64_run: Regex::new(r"[A-Za-z0-9/+]+=*").expect("b64 regex"),
            redacted: Regex::new(r"\[REDACTED [a-z0-9\-]{1,40} [^\]\r\n]{0,400}\]")
                .expect("redacted regex"),
        }
    }

    /// All raw candidates of the rules whose prefilter keywords occur in `text`.
    pub(crate) fn candidates(&self, text: &str) -> Vec<Candidate> {
        let mut enabled = vec![false; self.rules.len()];
        let mut redacted_seen = false;
        let mut remaining = self.rules.len();
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
            for caps in rule.re.captures_iter(text) {
                self.apply(rule, text, &caps, &mut out);
            }
        }
        self.aws_secrets_near_key_ids(text, &mut out);
        if redacted_seen {
            let spans: Vec<(usize, usize)> = self
                .redacted
                .find_iter(text)
                .map(|m| (m.start(), m.end()))
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

    fn apply(&self, rule: &Rule, text: &str, caps: &Captures<'_>, out: &mut Vec<Candidate>) {
        let cand = |start: usize, end: usize, value: String| Candidate {
            kind: rule.kind,
            class: rule.class,
            prio: rule.prio,
            start,
            end,
            value,
            masked: None,
        };
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
            Post::Url => {
                let Some(m) = caps.get(0) else { return };
                let end = trim_url_tail(text, m.start(), m.end());
                let u = &text[m.start()..end];
                if url_host(u).is_some_and(|h| !h.is_empty()) {
                    out.push(cand(m.start(), end, normalize_url(u)));
                }
            }
            Post::Plain | Post::Lower | Post::TrimPunct => {
                let Some(m) = caps.get(rule.group) else {
                    return;
                };
                let (s, mut e) = (m.start(), m.end());
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
                out.push(cand(s, e, value));
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
            let (ws, we) = (floor_boundary(text, ws), ceil_boundary(text, we));
            self.aws_secret_window(text, ws, we, out);
        }
    }

    fn aws_secret_window(&self, text: &str, ws: usize, we: usize, out: &mut Vec<Candidate>) {
        for m in self.b64_run.find_iter(&text[ws..we]) {
            let (ms, me) = (ws + m.start(), ws + m.end());
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

/// Complete a PEM private key block starting with the header at `hs..he`.
fn private_key(text: &str, hs: usize, he: usize, label: &str, rule: &Rule) -> Option<Candidate> {
    let rest = &text[he..];
    let limit = ceil_boundary(rest, 20_000);
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
            let window = &after[..ceil_boundary(after, 80)];
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
        end: ceil_boundary(text, end),
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
    (s == 0 || !bad(b[s - 1], false)) && (e >= b.len() || !bad(b[e], true))
}

/// Shrink `s..e` while the last char satisfies `f`.
fn trim_span(text: &str, s: usize, e: usize, f: impl Fn(char) -> bool) -> (usize, usize) {
    let t = text[s..e].trim_end_matches(f);
    (s, s + t.len())
}

fn floor_boundary(s: &str, mut i: usize) -> usize {
    if i >= s.len() {
        return s.len();
    }
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn ceil_boundary(s: &str, mut i: usize) -> usize {
    if i >= s.len() {
        return s.len();
    }
    while !s.is_char_boundary(i) {
        i += 1;
    }
    i
}

/// Drop trailing sentence punctuation and unbalanced closing brackets from a URL.
fn trim_url_tail(text: &str, s: usize, e: usize) -> usize {
    let u = &text[s..e];
    let t = u.trim_end_matches(['.', ',', ';', ':', '!', '?', '*', '\'', '"', '>']);
    s + t.len()
}

/// Host part (without userinfo and port) of `scheme://…`.
fn url_host(u: &str) -> Option<&str> {
    let rest = &u[u.find("://")? + 3..];
    let auth = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = auth.rsplit('@').next().unwrap_or("");
    if let Some(v6) = host.strip_prefix('[') {
        return Some(v6.split(']').next().unwrap_or(""));
    }
    Some(host.split(':').next().unwrap_or(""))
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
