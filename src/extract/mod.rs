//! Artifact extraction: detection of leaked secrets, service-account identities and
//! context (URLs/hosts) in report text, plus masking, redaction and keyed fingerprints.
//!
//! This module is pure: no I/O, no logging, no global mutable state (only the lazily
//! compiled [`scanner`]). It owns the public types ([`Finding`], [`ArtifactClass`],
//! [`Scanner`]) and the overlap resolution; the individual detection rules live in
//! `rules.rs` (value heuristics in `validate.rs`). It must never print, log or format a plaintext secret value (the
//! `Debug` impl of [`Finding`] hides it), must never panic on any input, and must not
//! depend on anything in the crate outside `crate::extract`.

#[cfg(test)]
mod corpus;
#[cfg(test)]
mod corpus_pos;
mod decoded;
mod repeats;
pub use repeats::Known;
mod rules;
mod table;
#[cfg(test)]
mod tests;
mod validate;
mod wrapped;

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::sync::LazyLock;

use decoded::Decoded;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How a finding is treated downstream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ArtifactClass {
    /// Credential material: redacted in stored text and fingerprinted.
    Secret,
    /// Service-account identity: not secret, joins cases with the same identity.
    Identity,
    /// Hosts and URLs: context only, never joins cases.
    Context,
}

impl ArtifactClass {
    /// Stable lowercase name (`secret`, `identity`, `context`).
    pub fn as_str(self) -> &'static str {
        match self {
            ArtifactClass::Secret => "secret",
            ArtifactClass::Identity => "identity",
            ArtifactClass::Context => "context",
        }
    }
}

/// Every kind slug this module can emit, with its class.
pub const KINDS: &[(&str, ArtifactClass)] = &[
    ("aws-access-key-id", ArtifactClass::Secret),
    ("aws-secret-access-key", ArtifactClass::Secret),
    ("github-pat", ArtifactClass::Secret),
    ("github-fine-grained-pat", ArtifactClass::Secret),
    ("github-oauth", ArtifactClass::Secret),
    ("github-app-token", ArtifactClass::Secret),
    ("gitlab-pat", ArtifactClass::Secret),
    ("slack-token", ArtifactClass::Secret),
    ("slack-webhook", ArtifactClass::Secret),
    ("stripe-secret-key", ArtifactClass::Secret),
    ("stripe-restricted-key", ArtifactClass::Secret),
    ("twilio-api-key", ArtifactClass::Secret),
    ("sendgrid-api-key", ArtifactClass::Secret),
    ("openai-api-key", ArtifactClass::Secret),
    ("anthropic-api-key", ArtifactClass::Secret),
    ("google-api-key", ArtifactClass::Secret),
    ("npm-token", ArtifactClass::Secret),
    ("pypi-token", ArtifactClass::Secret),
    ("docker-pat", ArtifactClass::Secret),
    ("vault-token", ArtifactClass::Secret),
    ("huggingface-token", ArtifactClass::Secret),
    ("digitalocean-token", ArtifactClass::Secret),
    ("shopify-token", ArtifactClass::Secret),
    ("gcp-oauth-client-secret", ArtifactClass::Secret),
    ("telegram-bot-token", ArtifactClass::Secret),
    ("databricks-token", ArtifactClass::Secret),
    ("mailgun-api-key", ArtifactClass::Secret),
    ("azure-client-secret", ArtifactClass::Secret),
    ("azure-api-key", ArtifactClass::Secret),
    ("atlassian-api-token", ArtifactClass::Secret),
    ("discord-bot-token", ArtifactClass::Secret),
    ("gitlab-token", ArtifactClass::Secret),
    ("linear-api-key", ArtifactClass::Secret),
    ("sentry-token", ArtifactClass::Secret),
    ("grafana-token", ArtifactClass::Secret),
    ("new-relic-key", ArtifactClass::Secret),
    ("postman-api-key", ArtifactClass::Secret),
    ("terraform-cloud-token", ArtifactClass::Secret),
    ("doppler-token", ArtifactClass::Secret),
    ("planetscale-token", ArtifactClass::Secret),
    ("pulumi-token", ArtifactClass::Secret),
    ("age-secret-key", ArtifactClass::Secret),
    ("onepassword-token", ArtifactClass::Secret),
    ("tailscale-key", ArtifactClass::Secret),
    ("jfrog-token", ArtifactClass::Secret),
    ("stripe-webhook-secret", ArtifactClass::Secret),
    ("heroku-api-key", ArtifactClass::Secret),
    ("groq-api-key", ArtifactClass::Secret),
    ("perplexity-api-key", ArtifactClass::Secret),
    ("notion-token", ArtifactClass::Secret),
    ("flyio-token", ArtifactClass::Secret),
    ("openshift-token", ArtifactClass::Secret),
    ("dynatrace-token", ArtifactClass::Secret),
    ("prefect-token", ArtifactClass::Secret),
    ("aws-bedrock-api-key", ArtifactClass::Secret),
    ("harness-token", ArtifactClass::Secret),
    ("sonarqube-token", ArtifactClass::Secret),
    ("buildkite-token", ArtifactClass::Secret),
    ("supabase-token", ArtifactClass::Secret),
    ("xai-api-key", ArtifactClass::Secret),
    ("replicate-token", ArtifactClass::Secret),
    ("google-oauth-token", ArtifactClass::Secret),
    ("square-token", ArtifactClass::Secret),
    ("facebook-access-token", ArtifactClass::Secret),
    ("brevo-api-key", ArtifactClass::Secret),
    ("alibaba-access-key-id", ArtifactClass::Secret),
    ("tencent-secret-id", ArtifactClass::Secret),
    ("mapbox-token", ArtifactClass::Secret),
    ("figma-token", ArtifactClass::Secret),
    ("netlify-token", ArtifactClass::Secret),
    ("rubygems-api-key", ArtifactClass::Secret),
    ("nuget-api-key", ArtifactClass::Secret),
    ("shippo-token", ArtifactClass::Secret),
    ("flutterwave-secret-key", ArtifactClass::Secret),
    ("langsmith-api-key", ArtifactClass::Secret),
    ("pinecone-api-key", ArtifactClass::Secret),
    ("discord-webhook", ArtifactClass::Secret),
    ("teams-webhook", ArtifactClass::Secret),
    ("neon-api-key", ArtifactClass::Secret),
    ("clojars-token", ArtifactClass::Secret),
    ("readme-api-key", ArtifactClass::Secret),
    ("dropbox-token", ArtifactClass::Secret),
    ("easypost-api-key", ArtifactClass::Secret),
    ("frameio-token", ArtifactClass::Secret),
    ("typeform-token", ArtifactClass::Secret),
    ("cloudflare-origin-ca-key", ArtifactClass::Secret),
    ("render-api-key", ArtifactClass::Secret),
    ("contentful-token", ArtifactClass::Secret),
    ("duffel-token", ArtifactClass::Secret),
    ("mailchimp-api-key", ArtifactClass::Secret),
    ("scalingo-token", ArtifactClass::Secret),
    ("twitter-bearer-token", ArtifactClass::Secret),
    ("yandex-api-key", ArtifactClass::Secret),
    ("bitbucket-app-password", ArtifactClass::Secret),
    ("firebase-fcm-key", ArtifactClass::Secret),
    ("adobe-client-secret", ArtifactClass::Secret),
    ("openrouter-api-key", ArtifactClass::Secret),
    ("signed-url-signature", ArtifactClass::Secret),
    ("private-key", ArtifactClass::Secret),
    ("gcp-service-account-key", ArtifactClass::Secret),
    ("jwt", ArtifactClass::Secret),
    ("bearer-token", ArtifactClass::Secret),
    ("url-password", ArtifactClass::Secret),
    ("azure-storage-key", ArtifactClass::Secret),
    ("generic-secret", ArtifactClass::Secret),
    ("gcp-service-account", ArtifactClass::Identity),
    ("aws-arn", ArtifactClass::Identity),
    ("azure-app-id", ArtifactClass::Identity),
    ("k8s-service-account", ArtifactClass::Identity),
    ("url", ArtifactClass::Context),
    ("host", ArtifactClass::Context),
];

/// The class of a kind slug, if it is one of [`KINDS`].
pub fn class_of(kind: &str) -> Option<ArtifactClass> {
    KINDS.iter().find(|(k, _)| *k == kind).map(|(_, c)| *c)
}

/// One detected artifact.
#[derive(Clone)]
pub struct Finding {
    /// Stable slug, one of [`KINDS`].
    pub kind: &'static str,
    pub class: ArtifactClass,
    /// Byte offsets (char boundaries) of the sensitive part in the scanned text.
    pub start: usize,
    pub end: usize,
    /// Safe to print/store.
    pub masked: String,
    /// Normalized plaintext used for fingerprinting. NEVER print or store it.
    pub value: String,
}

impl Finding {
    /// Keyed fingerprint of this finding (see [`fingerprint`]).
    pub fn fingerprint(&self, key: &[u8]) -> String {
        fingerprint(key, self.kind, &self.value)
    }
}

impl fmt::Debug for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let value: &str = match self.class {
            ArtifactClass::Secret => "<hidden>",
            _ => &self.masked,
        };
        f.debug_struct("Finding")
            .field("kind", &self.kind)
            .field("class", &self.class)
            .field("start", &self.start)
            .field("end", &self.end)
            .field("masked", &self.masked)
            .field("value", &value)
            .finish()
    }
}

/// A compiled set of detection rules. Build once (see [`scanner`]).
pub struct Scanner {
    inner: rules::Rules,
}

impl Default for Scanner {
    fn default() -> Self {
        Scanner::new()
    }
}

impl Scanner {
    /// Compile all rules. Costly: prefer the shared [`scanner`].
    pub fn new() -> Scanner {
        Scanner {
            inner: rules::Rules::new(),
        }
    }

    /// Detect artifacts in `text`. Sorted by start, non-overlapping. A secret found in
    /// the text is redacted wherever the text holds it again (see [`Known`]).
    pub fn scan(&self, text: &str) -> Vec<Finding> {
        self.scan_knowing(text, &Known::default())
    }

    /// [`scan`](Self::scan), and every place `text` holds a secret `known` from the
    /// other texts it was read with (a report's header read beside its body).
    pub fn scan_knowing(&self, text: &str, known: &Known) -> Vec<Finding> {
        let cands = self.candidates(text);
        let own = Known::new([&cands]);
        cands.resolve(&[&own, known])
    }

    /// What the rules find in `text`, before the overlaps are resolved: for texts read
    /// together, whose secrets are redacted in each other ([`Known`]).
    pub fn candidates<'t>(&self, text: &'t str) -> Candidates<'t> {
        let mut cands = match Decoded::no_break_spaces(text) {
            None => self.inner.candidates(text),
            Some(spaced) => {
                let mut cands = self.inner.candidates(&spaced.text);
                for c in &mut cands {
                    c.start = spaced.original(c.start);
                    c.end = spaced.original(c.end);
                }
                cands
            }
        };
        self.escaped(text, &mut cands);
        Candidates { text, cands }
    }

    /// Keys and identities written escaped are looked for in the text decoded, and their
    /// spans mapped back to `text`: percent escapes inside a URL, JSON's escaped slashes
    /// (`https:\/\/hooks.slack.com\/services\/…`), and the link a mail filter wrapped in
    /// its own (`?url=https%3A%2F%2Fci.example%2F%3Ftoken%3D…`, see [`wrapped`]), which
    /// also becomes the address kept for that link: where it really goes.
    fn escaped(&self, text: &str, cands: &mut Vec<Candidate>) {
        let mut views: Vec<(usize, Decoded)> = Decoded::json_slashes(text)
            .map(|d| (0, d))
            .into_iter()
            .collect();
        let mut wrapped_links = Vec::new();
        for c in cands.iter_mut().filter(|c| c.kind == "url") {
            let url = &text[c.start..c.end];
            if let Some(w) = wrapped::unwrap(url) {
                // Characters put back (Proofpoint v3) must not make a key whole that
                // the link as written does not show: then the link is kept as written.
                let link = if w.link != w.view.text && self.holds_secret(&w.link) {
                    &w.view.text
                } else {
                    &w.link
                };
                c.value = rules::normalize_url(link);
                c.masked = None;
                c.end = c.start + w.to;
                c.start += w.from;
                wrapped_links.push((c.start, c.end));
                views.push((c.start, w.view));
            } else if let Some(d) = Decoded::percent(url) {
                views.push((c.start, d));
            }
        }
        // A key in a wrapped link ends where the link does, not in the wrapper's own
        // characters after it (Proofpoint v3's `__;…`): the wrapped link, read on its
        // own, finds it.
        if !wrapped_links.is_empty() {
            // Links do not overlap: the one a candidate starts in is the last one
            // starting before it.
            wrapped_links.sort_unstable();
            cands.retain(|c| {
                let i = wrapped_links.partition_point(|&(from, _)| from <= c.start);
                i == 0 || {
                    let to = wrapped_links[i - 1].1;
                    c.start >= to || c.end <= to
                }
            });
        }
        if views.is_empty() {
            return;
        }
        let mut known: HashSet<(usize, usize, &str)> =
            cands.iter().map(|c| (c.start, c.end, c.kind)).collect();
        for (offset, view) in views {
            for mut c in self.inner.candidates(&view.text) {
                if c.class == ArtifactClass::Context {
                    continue;
                }
                c.start = offset + view.original(c.start);
                c.end = offset + view.original(c.end);
                if known.insert((c.start, c.end, c.kind)) {
                    cands.push(c);
                }
            }
        }
    }

    /// Whether `text` holds a key or an identity.
    fn holds_secret(&self, text: &str) -> bool {
        self.inner
            .candidates(text)
            .iter()
            .any(|c| c.class != ArtifactClass::Context)
    }
}

static SCANNER: LazyLock<Scanner> = LazyLock::new(Scanner::new);

/// The process-wide scanner, compiled on first use.
pub fn scanner() -> &'static Scanner {
    &SCANNER
}

/// A raw rule hit before overlap resolution.
#[derive(Clone)]
pub(crate) struct Candidate {
    pub kind: &'static str,
    pub class: ArtifactClass,
    pub prio: u8,
    pub start: usize,
    pub end: usize,
    pub value: String,
    /// Precomputed mask (else `mask(kind, value)`).
    pub masked: Option<String>,
}

/// A text's candidates, before they are resolved into findings.
pub struct Candidates<'t> {
    text: &'t str,
    cands: Vec<Candidate>,
}

impl Candidates<'_> {
    /// The findings: these candidates and the places the text holds a `known` secret
    /// again. Sorted by start, non-overlapping.
    pub fn resolve(mut self, known: &[&Known]) -> Vec<Finding> {
        for k in known {
            k.add_to(self.text, &mut self.cands);
        }
        resolve(self.text, self.cands)
    }
}

/// Pick non-overlapping candidates: higher priority first, then longer, then earlier.
/// Context candidates that collide with a stronger finding are cut down to the part
/// before it when that part still names a host.
fn resolve(text: &str, mut cands: Vec<Candidate>) -> Vec<Finding> {
    cands.sort_by(|a, b| {
        b.prio
            .cmp(&a.prio)
            .then((b.end - b.start).cmp(&(a.end - a.start)))
            .then(a.start.cmp(&b.start))
    });
    // accepted spans: start -> end, disjoint
    let mut taken: BTreeMap<usize, usize> = BTreeMap::new();
    // Candidates are kept or dropped where they lie, in the order above, and become
    // findings in the same allocation: a dump of keys makes hundreds of thousands,
    // and a second vector of them all cost a third of reading such a message.
    cands.retain_mut(|c| {
        if c.start >= c.end || c.end > text.len() {
            return false;
        }
        if let Some(cs) = first_conflict(&taken, c.start, c.end) {
            if c.class != ArtifactClass::Context || c.kind != "url" || cs <= c.start {
                return false;
            }
            let trimmed = rules::trim_url(text, c.start, cs).or_else(|| {
                // The link a wrapper stands for is written escaped (Safe Links).
                let d = Decoded::percent(&text[c.start..cs])?;
                let end = rules::trim_url(&d.text, 0, d.text.len())?;
                Some(c.start + d.original(end))
            });
            match trimmed {
                Some(end) if first_conflict(&taken, c.start, end).is_none() => {
                    c.end = end;
                    let kept = &text[c.start..end];
                    c.value = match Decoded::percent(kept) {
                        // The link a wrapper stands for, written escaped.
                        Some(d) if !kept.contains("://") => rules::normalize_url(&d.text),
                        _ => rules::normalize_url(kept),
                    };
                    c.masked = None;
                }
                _ => return false,
            }
        }
        taken.insert(c.start, c.end);
        true
    });
    drop(taken);
    let mut out: Vec<Finding> = cands
        .into_iter()
        .map(|c| Finding {
            masked: c.masked.unwrap_or_else(|| mask(c.kind, &c.value)),
            kind: c.kind,
            class: c.class,
            start: c.start,
            end: c.end,
            value: c.value,
        })
        .collect();
    out.sort_by_key(|f| f.start);
    out
}

/// Start (clamped to `s`) of the first accepted span overlapping `[s, e)`, if any.
/// Accepted spans are disjoint, so the first overlap is either the span covering `s`
/// or the first span starting inside `(s, e)`.
fn first_conflict(taken: &BTreeMap<usize, usize>, s: usize, e: usize) -> Option<usize> {
    if let Some((_, &te)) = taken.range(..=s).next_back() {
        if te > s {
            return Some(s);
        }
    }
    if s + 1 >= e {
        return None;
    }
    taken.range(s + 1..e).next().map(|(&ts, _)| ts)
}

/// Known non-secret prefixes shown in masks, per kind (longest first).
const MASK_PREFIXES: &[(&str, &[&str])] = &[
    (
        "aws-access-key-id",
        &["AKIA", "ASIA", "ABIA", "ACCA", "A3T"],
    ),
    ("github-pat", &["ghp_"]),
    ("github-fine-grained-pat", &["github_pat_"]),
    ("github-oauth", &["gho_"]),
    ("github-app-token", &["ghu_", "ghs_", "ghr_"]),
    ("gitlab-pat", &["glpat-"]),
    (
        "slack-token",
        &[
            "xoxb-", "xoxp-", "xoxa-", "xoxr-", "xoxs-", "xoxe-", "xapp-",
        ],
    ),
    (
        "slack-webhook",
        &[
            "https://hooks.slack.com/services/",
            "https://hooks.slack.com/workflows/",
            "https://hooks.slack.com/triggers/",
        ],
    ),
    ("stripe-secret-key", &["sk_live_", "sk_test_"]),
    ("stripe-restricted-key", &["rk_live_", "rk_test_"]),
    ("twilio-api-key", &["SK"]),
    ("sendgrid-api-key", &["SG."]),
    (
        "anthropic-api-key",
        &["sk-ant-api03-", "sk-ant-admin01-", "sk-ant-"],
    ),
    (
        "openai-api-key",
        &["sk-proj-", "sk-svcacct-", "sk-admin-", "sk-"],
    ),
    ("google-api-key", &["AIza"]),
    ("npm-token", &["npm_"]),
    ("pypi-token", &["pypi-AgEIcHlwaS5vcmc"]),
    ("docker-pat", &["dckr_pat_"]),
    ("vault-token", &["hvs.", "hvb."]),
    ("huggingface-token", &["hf_"]),
    ("digitalocean-token", &["dop_v1_", "doo_v1_", "dor_v1_"]),
    ("shopify-token", &["shpat_", "shpca_", "shppa_", "shpss_"]),
    ("gcp-oauth-client-secret", &["GOCSPX-"]),
    ("databricks-token", &["dapi"]),
    ("mailgun-api-key", &["key-"]),
    ("heroku-api-key", &["HRKU-"]),
    ("groq-api-key", &["gsk_"]),
    ("perplexity-api-key", &["pplx-"]),
    ("notion-token", &["ntn_"]),
    ("flyio-token", &["fo1_", "fm1a_", "fm1r_", "fm2_"]),
    ("openshift-token", &["sha256~"]),
    ("dynatrace-token", &["dt0c01."]),
    ("prefect-token", &["pnu_"]),
    ("aws-bedrock-api-key", &["ABSK"]),
    ("harness-token", &["pat.", "sat."]),
    ("sonarqube-token", &["squ_", "sqp_", "sqa_"]),
    ("buildkite-token", &["bkua_"]),
    ("supabase-token", &["sbp_"]),
    ("xai-api-key", &["xai-"]),
    ("replicate-token", &["r8_"]),
    ("google-oauth-token", &["ya29.", "1//0"]),
    ("square-token", &["sq0atp-", "sq0csp-", "EAAA"]),
    ("facebook-access-token", &["EAA"]),
    ("brevo-api-key", &["xsmtpsib-", "xkeysib-"]),
    ("alibaba-access-key-id", &["LTAI"]),
    ("tencent-secret-id", &["AKID"]),
    ("mapbox-token", &["sk.eyJ"]),
    ("figma-token", &["figd_"]),
    ("netlify-token", &["nfp_"]),
    ("rubygems-api-key", &["rubygems_"]),
    ("nuget-api-key", &["oy2"]),
    ("shippo-token", &["shippo_live_", "shippo_test_"]),
    ("flutterwave-secret-key", &["FLWSECK_TEST-", "FLWSECK-"]),
    ("langsmith-api-key", &["lsv2_pt_", "lsv2_sk_"]),
    ("pinecone-api-key", &["pcsk_"]),
    (
        "discord-webhook",
        &[
            "https://discordapp.com/api/webhooks/",
            "https://discord.com/api/webhooks/",
        ],
    ),
    ("neon-api-key", &["napi_"]),
    ("clojars-token", &["CLOJARS_"]),
    ("readme-api-key", &["rdme_"]),
    ("dropbox-token", &["sl.u.", "sl."]),
    ("easypost-api-key", &["EZAK", "EZTK"]),
    ("frameio-token", &["fio-u-"]),
    ("typeform-token", &["tfp_"]),
    ("cloudflare-origin-ca-key", &["v1.0-"]),
    ("render-api-key", &["rnd_"]),
    ("contentful-token", &["CFPAT-"]),
    ("duffel-token", &["duffel_live_", "duffel_test_"]),
    ("scalingo-token", &["tk-us-"]),
    ("twitter-bearer-token", &["AAAAAAAAAAAAAAAAAAAAA"]),
    ("yandex-api-key", &["AQVN"]),
    ("bitbucket-app-password", &["ATBB"]),
    ("firebase-fcm-key", &["AAAA"]),
    ("adobe-client-secret", &["p8e-"]),
    ("openrouter-api-key", &["sk-or-v1-"]),
    ("atlassian-api-token", &["ATATT3", "ATCTT3"]),
    (
        "gitlab-token",
        &[
            "glrt-",
            "gldt-",
            "glptt-",
            "glft-",
            "glsoat-",
            "glcbt-",
            "glimt-",
            "glagent-",
            "gloas-",
            "glffct-",
            "GR1348941",
        ],
    ),
    ("linear-api-key", &["lin_api_"]),
    ("sentry-token", &["sntryu_", "sntrys_"]),
    ("grafana-token", &["glsa_", "glc_"]),
    ("new-relic-key", &["NRAK-"]),
    ("postman-api-key", &["PMAK-"]),
    (
        "doppler-token",
        &[
            "dp.pt.",
            "dp.st.",
            "dp.sa.",
            "dp.ct.",
            "dp.scim.",
            "dp.audit.",
        ],
    ),
    (
        "planetscale-token",
        &["pscale_tkn_", "pscale_pw_", "pscale_oauth_"],
    ),
    ("pulumi-token", &["pul-"]),
    ("age-secret-key", &["AGE-SECRET-KEY-1"]),
    ("onepassword-token", &["ops_"]),
    (
        "tailscale-key",
        &[
            "tskey-auth-",
            "tskey-api-",
            "tskey-client-",
            "tskey-scim-",
            "tskey-webhook-",
        ],
    ),
    ("jfrog-token", &["AKCp", "cmVmdGtuOjAxOj"]),
    ("stripe-webhook-secret", &["whsec_"]),
    ("jwt", &["eyJ"]),
];

/// The known prefix of `value` a mask of `kind` shows (see [`MASK_PREFIXES`]).
fn mask_prefix<'a>(kind: &str, value: &'a str) -> &'a str {
    for (k, prefixes) in MASK_PREFIXES {
        if *k == kind {
            for p in *prefixes {
                if value.starts_with(p) {
                    return &value[..p.len()];
                }
            }
        }
    }
    ""
}

/// Safe display form of a value: known prefix + `…` + last four characters (last two
/// and no prefix when the value is shorter than 12 characters). Identities and context
/// are not secret and are returned as-is (URLs: password stripped, long ones truncated).
pub fn mask(kind: &str, value: &str) -> String {
    match class_of(kind) {
        Some(ArtifactClass::Identity) => return rules::truncate_chars(value, 200),
        Some(ArtifactClass::Context) => return rules::display_url(value),
        _ => {}
    }
    let n = value.chars().count();
    if n < 12 {
        let tail: String = last_chars(value, 2.min(n / 3));
        return format!("…{tail}");
    }
    let prefix = if kind == "private-key" {
        "PRIVATE KEY "
    } else {
        mask_prefix(kind, value)
    };
    format!("{prefix}…{}", last_chars(value, 4))
}

fn last_chars(s: &str, n: usize) -> String {
    let count = s.chars().count();
    s.chars().skip(count.saturating_sub(n)).collect()
}

/// Replace every Secret finding's span by `[REDACTED <kind> <masked>]`. Identities and
/// context are kept. Findings whose offsets do not fit `text` are ignored.
pub fn redact(text: &str, findings: &[Finding]) -> String {
    redact_head(text, findings, usize::MAX)
}

/// The first `limit` bytes of [`redact`]'s text, or a few more (up to the end of a
/// marker or of a character), or all of it when it is shorter: for a caller that keeps
/// only a head, without building (and holding) the whole text of a huge message.
pub fn redact_head(text: &str, findings: &[Finding], limit: usize) -> String {
    // Text between secrets, as much of it as the limit leaves room for.
    let push_clear = |out: &mut String, clear: &str| -> bool {
        let room = limit.saturating_sub(out.len());
        if clear.len() <= room {
            out.push_str(clear);
            return false;
        }
        out.push_str(&clear[..clear.ceil_char_boundary(room)]);
        true
    };
    let mut spans: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.class == ArtifactClass::Secret)
        .filter(|f| {
            f.start < f.end
                && f.end <= text.len()
                && text.is_char_boundary(f.start)
                && text.is_char_boundary(f.end)
        })
        .collect();
    spans.sort_by_key(|f| (f.start, f.end));
    let mut out = String::with_capacity(text.len().min(limit.saturating_add(64)));
    let mut pos = 0;
    for f in spans {
        if f.start < pos {
            // overlapping input: extend the redaction instead of leaking the tail
            if f.end > pos {
                pos = f.end;
            }
            continue;
        }
        // Past the limit nothing more is written: above all not the rest of the text,
        // which holds the secrets not yet replaced.
        if out.len() >= limit || push_clear(&mut out, &text[pos..f.start]) {
            return out;
        }
        out.push_str("[REDACTED ");
        out.push_str(f.kind);
        out.push(' ');
        out.push_str(&f.masked);
        out.push(']');
        pos = f.end;
    }
    push_clear(&mut out, &text[pos..]);
    out
}

/// Hex HMAC-SHA256 of `kind + "\0" + value` under `key`.
pub fn fingerprint(key: &[u8], kind: &str, value: &str) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC accepts any key length");
    mac.update(kind.as_bytes());
    mac.update(&[0]);
    mac.update(value.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}
