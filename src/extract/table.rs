//! The rule table of the extract module: one entry per detection rule (kind, class,
//! priority, regex, sensitive capture group, edge condition, validator, prefilter
//! keywords, post-processing).
//!
//! Data only: compiled and executed by `rules.rs`, validators live in `validate.rs`.
//! Patterns must stay linear-time (`regex` crate) and ASCII-oriented; no logging.

use super::validate::*;
use super::ArtifactClass::{self, Context, Identity, Secret};

/// Characters that must not touch a token on either side.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Edge {
    Any,
    /// ASCII alphanumerics and `_`.
    Word,
    /// ASCII alphanumerics, `+`, `/`, `=`.
    B64,
}

/// Extra processing after a regex match.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Post {
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
    /// The value (groups 1 to 3, the first that took part) of a match that starts at
    /// `_KEY` or `_PAT`: the name before it, in capitals (`STRIPE_KEY`), is read back from the text
    /// and checked by `generic_name_ok`, the value by the rule's check (which holds
    /// `generic_value_ok`). (A pattern that starts at a capital letter runs through every byte of a
    /// text; one that starts at `_KEY` is searched for that literal.)
    NamedKey,
    /// The value (groups 1 to 3, the first that took part) of IMAP's `LOGIN`, matched
    /// from the space before the command: in capitals as clients send it; in lower case
    /// only after a tag that the line starts with (`a1 login …`, `C: 2 login …`), read
    /// back from the text, since prose and code hold the word (`you can login as
    /// svc_deploy2 …`, `login = os.getlogin()`).
    ImapLogin,
}

pub(super) struct Def {
    pub kind: &'static str,
    pub class: ArtifactClass,
    pub prio: u8,
    pub pattern: &'static str,
    /// The value's capture group (0: the whole match); when it took no part in the
    /// match, the first later one that did (see `quoted_or!`).
    pub group: usize,
    pub edge: Edge,
    pub check: fn(&str) -> bool,
    /// Keywords, one of which every match holds (any ASCII case); the rule runs only on
    /// a text holding one. None: it runs on every text. All rules' keywords are searched
    /// at once, by a DFA (see `rule_keywords_are_searched_with_a_dfa`).
    pub triggers: &'static [&'static str],
    pub post: Post,
}

pub(super) const GUID: &str =
    "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}";

/// What names a secret in the XML rule's element and `<add key="…">` (both places).
macro_rules! xml_secret_name {
    () => {
        r"(?:secret|token|passw(?:or)?d|pwd|api[_.\-]?key|access[_.\-]?key|private[_.\-]?key|credentials?)"
    };
}

/// A password on a command line written `"…"`, `'…'` or bare (`$bare`, after a quote
/// left unclosed), each after `$lead` (a user name and its separator, say, inside the
/// same quotes; no group, no quote): three groups, the value in the one that took part.
/// A quoted password is taken whole, spaces and all; before, `-p 'two words'` was found
/// as `two`. Without arguments: a switch's value, which bare cannot start with `-` (that
/// is the next switch).
macro_rules! quoted_or {
    () => {
        quoted_or!(r#"[^- \t\r\n"'][^ \t\r\n"']*"#)
    };
    ($bare:literal) => {
        quoted_or!("", $bare)
    };
    ($lead:literal, $bare:literal) => {
        concat!(
            r#"(?:""#,
            $lead,
            r#"([^"\r\n]+)"|'"#,
            $lead,
            r#"([^'\r\n]+)'|["']?"#,
            $lead,
            "(",
            $bare,
            "))"
        )
    };
}

/// A password told in prose, `"…"`, `'…'` or bare (`quoted_or!`): bare, it ends before a
/// sentence's punctuation and holds no brackets (and not a type's `Optional[str]`), nor a
/// backslash (prose in a string of code: `… password to mariadb:\n\n…`).
macro_rules! prose_value {
    () => {
        quoted_or!(r#"[^-\s"'`,;<>(){}\[\]\\][^\s"'`,;<>(){}\[\]\\]*[^\s"'`,;<>(){}\[\].:!?\\]"#)
    };
}

/// A command line of `$tool` up to its first `-$flag` switch (the words between are
/// its other switches and arguments).
macro_rules! switch {
    ($tool:expr, $flag:literal) => {
        concat!(
            $tool,
            r#"(?:[ \t]+[^ \t\r\n]+)*?[ \t]+-"#,
            $flag,
            r#"[ \t]*"#
        )
    };
}

/// What names a secret in the generic rule (`DB_PASSWORD`, `apiKey`, `smtp.pass`,
/// `dbpass`, `VAULT_PW`, `rootpw`; not `bypass`, `npw`, or `pw_uid`, a field of
/// `struct passwd`), and in the rules for a name and its value written apart (`- name:
/// DB_PASSWORD` / `value: …`, `define('DB_PASSWORD', '…')`): the name is checked by
/// `generic_name_ok`, the value by `generic_value_ok`.
macro_rules! generic_name {
    () => {
        r#"[A-Za-z0-9_.\-]*(?:secret|token|passw(?:or)?d|pwd|api[_.\-]?key|access[_.\-]?key|private[_.\-]?key|auth[_.\-]?key|client[_.\-]?key|subscription[_.\-]?key|session[_.\-]?id|sessid|credentials?)[A-Za-z0-9_.\-]*|(?-u:\b)(?:[A-Za-z0-9_.\-]*[_.\-])?(?:db|sql|root|admin|bind|smtp|mail|ftp|ldap|ssh|proxy|vnc)?(?:pass(?:phrase)?(?:[_.\-][A-Za-z0-9_.\-]*)?|pw)"#
    };
}

/// A secret name's value after it: `"…"`, `'…'` or bare, its characters repeated
/// `$bare` (groups 2 to 4, after the name's group 1: `Post::Generic`).
macro_rules! generic_value {
    ($bare:literal) => {
        concat!(
            r#"(?:"([^"\r\n]+)"|'([^'\r\n]+)'|([^\s"'`,;<>(){}\[\]]"#,
            $bare,
            "))"
        )
    };
}

/// SNMPv3's tools, which take two passwords (`-A`, `-X`).
macro_rules! snmp_tools {
    () => {
        "snmp(?:walk|get|getnext|set|bulkwalk|bulkget|trap|inform|table|status|df|netstat)"
    };
}

pub(super) fn defs() -> Vec<Def> {
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
    // A password or key whose value is group 1 (or, with `quoted_or!`, the first later
    // group that took part), checked by `check`.
    let checked = |pattern, check: fn(&str) -> bool, triggers| {
        d(
            "generic-secret",
            Secret,
            55,
            pattern,
            1,
            Edge::Any,
            check,
            triggers,
            Post::Plain,
        )
    };
    // A password given on a command line or in a login file (`curl -u`, `net use`,
    // `.netrc` …): its rules differ only in their pattern and keywords.
    let password = |pattern, triggers| checked(pattern, url_password_ok, triggers);
    // A token its provider marks with a prefix, whose match has a word's edges on both
    // sides and looks random (`token_ok`).
    let token = |kind, pattern, triggers| {
        d(
            kind,
            Secret,
            100,
            pattern,
            0,
            Edge::Word,
            token_ok,
            triggers,
            Post::Plain,
        )
    };
    // One of Microsoft's identifiable keys, whose match is the key.
    let azure = |pattern, edge, check: fn(&str) -> bool, triggers| {
        d(
            "azure-api-key",
            Secret,
            100,
            pattern,
            0,
            edge,
            check,
            triggers,
            Post::Plain,
        )
    };
    // A secret's name and its value (`Post::Generic`: groups 1 and 2 to 4), each checked.
    let generic = |pattern, triggers| {
        d(
            "generic-secret",
            Secret,
            50,
            pattern,
            0,
            Edge::Any,
            |_| true,
            triggers,
            Post::Generic,
        )
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
        token("github-pat", r"ghp_[A-Za-z0-9]{36,251}", &["ghp_"]),
        token(
            "github-fine-grained-pat",
            r"github_pat_[A-Za-z0-9_]{50,244}",
            &["github_pat_"],
        ),
        token("github-oauth", r"gho_[A-Za-z0-9]{36,251}", &["gho_"]),
        token(
            "github-app-token",
            r"gh[usr]_[A-Za-z0-9]{36,251}",
            &["ghu_", "ghs_", "ghr_"],
        ),
        token(
            "gitlab-pat",
            r"glpat-[A-Za-z0-9_\-]{20,200}(?:\.[A-Za-z0-9_\-]{2,100}){0,3}",
            &["gl"],
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
        token(
            "stripe-secret-key",
            r"sk_(?:live|test)_[A-Za-z0-9]{16,247}",
            &["_live_", "_test_"],
        ),
        token(
            "stripe-restricted-key",
            r"rk_(?:live|test)_[A-Za-z0-9]{16,247}",
            &["_live_", "_test_"],
        ),
        token("twilio-api-key", r"SK[0-9a-fA-F]{32}", &["sk"]),
        token(
            "sendgrid-api-key",
            r"SG\.[A-Za-z0-9_\-]{16,32}\.[A-Za-z0-9_\-]{16,64}",
            &["sg."],
        ),
        d(
            "anthropic-api-key",
            Secret,
            105,
            r"sk-ant-[A-Za-z0-9_\-]{32,300}",
            0,
            Edge::Word,
            token_ok,
            &["sk"],
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
            &["sk"],
            Post::Plain,
        ),
        token("google-api-key", r"AIza[0-9A-Za-z_\-]{35}", &["aiza"]),
        token("npm-token", r"npm_[A-Za-z0-9]{36}", &["npm_"]),
        token(
            "pypi-token",
            r"pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_\-]{50,1000}",
            &["pypi-ageichlwas5vcmc"],
        ),
        token(
            "docker-pat",
            r"dckr_pat_[A-Za-z0-9_\-]{27,100}",
            &["dckr_pat_"],
        ),
        token(
            "vault-token",
            r"hv[sb]\.[A-Za-z0-9_\-]{24,300}",
            &["hvs.", "hvb."],
        ),
        token("huggingface-token", r"hf_[A-Za-z0-9]{34}", &["hf_"]),
        token("digitalocean-token", r"do[por]_v1_[a-f0-9]{64}", &["_v1_"]),
        token(
            "shopify-token",
            r"shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}",
            &["shp"],
        ),
        token(
            "gcp-oauth-client-secret",
            r"GOCSPX-[A-Za-z0-9_\-]{28}",
            &["gocspx-"],
        ),
        d(
            "telegram-bot-token",
            Secret,
            100,
            // In the API's URLs the token follows `bot` (`/bot123456789:AA…/getMe`).
            r"(?:(?-u:\b)|bot)([0-9]{8,10}:AA[A-Za-z0-9_\-]{33})",
            1,
            Edge::Any,
            token_ok,
            &[":aa"],
            Post::Plain,
        ),
        token(
            "databricks-token",
            r"dapi[0-9a-f]{32}(?:-[0-9])?",
            &["dapi"],
        ),
        token("mailgun-api-key", r"key-[0-9a-f]{32}", &["key-"]),
        d(
            "azure-client-secret",
            Secret,
            100,
            // An Entra ID (Azure AD) app's client secret: three characters, a digit,
            // `Q~`, then 31 to 34 more.
            r"[A-Za-z0-9_~.\-]{3}[0-9]Q~[A-Za-z0-9_~.\-]{31,34}",
            0,
            Edge::Word,
            token_ok,
            &["q~"],
            Post::Plain,
        ),
        // Microsoft's identifiable keys carry their service's signature at a fixed place
        // (Microsoft's security-utilities): Azure AI services' and Azure DevOps' 84
        // characters with `JQQJ9` after the 52nd…
        azure(
            r"[A-Za-z0-9]{52}JQQJ9[9DH][A-Za-z0-9][A-L][A-Za-z0-9]{16}[A-Za-z][A-Za-z0-9]{7}(?:[A-Za-z0-9]{2}==)?",
            Edge::Word,
            token_ok,
            &["jqqj9"],
        ),
        // … Storage's, Cosmos DB's, API Management's, Batch's and ML's 88 characters of
        // base64…
        azure(
            r"[A-Za-z0-9+/]{76}(?:\+ASt|ACDb|APIM|\+ABa|\+AMC)[A-Za-z0-9+/]{5}[AQgw]==",
            Edge::B64,
            entropic_ok,
            &["+ast", "acdb", "apim", "+aba", "+amc"],
        ),
        // … Service Bus', Event Hubs', Relay's, Event Grid's, IoT Hub's and Cache for
        // Redis' 44…
        azure(
            r"[A-Za-z0-9+/]{33}(?:\+ASb|\+AEh|\+ARm|AZEG|AIoT|AzCa)[A-P][A-Za-z0-9+/]{5}=",
            Edge::B64,
            entropic_ok,
            &["+asb", "+aeh", "+arm", "azeg", "aiot", "azca"],
        ),
        // … Container Registry's, Functions' and AI Search's.
        azure(
            r"[A-Za-z0-9+/]{42}\+ACR[A-D][A-Za-z0-9+/]{5}",
            Edge::B64,
            entropic_ok,
            &["+acr"],
        ),
        azure(
            r"[A-Za-z0-9_\-]{44}AzFu[A-Za-z0-9_\-]{5}[AQgw]==",
            Edge::B64,
            entropic_ok,
            &["azfu"],
        ),
        azure(
            r"[A-Za-z0-9]{42}AzSe[A-D][A-Za-z0-9]{5}",
            Edge::Word,
            token_ok,
            &["azse"],
        ),
        d(
            "atlassian-api-token",
            Secret,
            100,
            // Atlassian API tokens (`ATATT3…`) and organisation admin keys (`ATCTT3…`):
            // base64url, `=`, an 8-digit hex checksum.
            r"AT[AC]TT3[A-Za-z0-9_\-]{150,220}=[A-F0-9]{8}",
            0,
            Edge::Word,
            token_ok,
            &["tt3"],
            Post::Plain,
        ),
        d(
            "discord-bot-token",
            Secret,
            100,
            // The bot's user id in base64, a timestamp, an HMAC. No prefix and no
            // keyword: the rule runs on every text, found fast by its first two
            // characters (base64 of two digits: `[MNO][DTjz]`); the id decides.
            r"[MNO][DTjz][A-Za-z0-9]{21,25}\.[A-Za-z0-9_\-]{6}\.[A-Za-z0-9_\-]{27,38}",
            0,
            Edge::Word,
            discord_ok,
            &[],
            Post::Plain,
        ),
        d(
            "gitlab-token",
            Secret,
            100,
            // GitLab's other tokens: runner, deploy, pipeline trigger, feed, SCIM, CI job,
            // incoming mail, agent, OAuth app, feature flag.
            r"gl(?:rt|dt|ptt|ft|soat|cbt|imt|agent|oas|ffct)-[A-Za-z0-9_\-]{20,200}(?:\.[A-Za-z0-9_\-]{2,100}){0,3}|GR1348941[A-Za-z0-9_\-]{20,200}",
            0,
            Edge::Word,
            token_ok,
            &["gl", "gr1348941"],
            Post::Plain,
        ),
        token("linear-api-key", r"lin_api_[A-Za-z0-9]{40}", &["lin_api_"]),
        d(
            "sentry-token",
            Secret,
            100,
            // User tokens (`sntryu_`, hex) and organisation tokens (`sntrys_`, base64 JSON
            // and a secret).
            r"sntryu_[a-f0-9]{64}|sntrys_eyJ[A-Za-z0-9+/=_\-]{60,800}",
            0,
            Edge::Word,
            token_ok,
            &["sntry"],
            Post::Plain,
        ),
        d(
            "grafana-token",
            Secret,
            100,
            // Service account tokens (`glsa_`) and Grafana Cloud access policy tokens
            // (`glc_`, base64 JSON).
            r"glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}|glc_eyJ[A-Za-z0-9+/]{29,400}={0,2}",
            0,
            Edge::Word,
            token_ok,
            &["gl"],
            Post::Plain,
        ),
        d(
            "new-relic-key",
            Secret,
            100,
            // User API keys (`NRAK-`) and license (ingest) keys: 36 hex digits ending
            // `NRAL`.
            r"NRAK-[A-Z0-9]{27}|[a-f0-9]{36}NRAL",
            0,
            Edge::Word,
            token_ok,
            &["nra"],
            Post::Plain,
        ),
        token(
            "postman-api-key",
            r"PMAK-[a-f0-9]{24}-[a-f0-9]{34}",
            &["pmak-"],
        ),
        token(
            "terraform-cloud-token",
            r"[A-Za-z0-9]{14}\.atlasv1\.[A-Za-z0-9_\-=]{60,70}",
            &[".atlasv1."],
        ),
        token(
            "doppler-token",
            r"dp\.(?:pt|st|sa|ct|scim|audit)\.[A-Za-z0-9]{40,44}",
            &["dp."],
        ),
        token(
            "planetscale-token",
            r"pscale_(?:tkn|pw|oauth)_[A-Za-z0-9_\-]{32,64}",
            &["pscale_"],
        ),
        token("pulumi-token", r"pul-[a-f0-9]{40}", &["pul-"]),
        token(
            "age-secret-key",
            r"AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}",
            &["age-secret-key-1"],
        ),
        token(
            "onepassword-token",
            r"ops_eyJ[A-Za-z0-9+/]{250,1500}={0,3}",
            &["eyj"],
        ),
        token(
            "tailscale-key",
            r"tskey-(?:auth|api|client|scim|webhook)-[A-Za-z0-9]{8,24}-[A-Za-z0-9]{20,64}",
            &["tskey-"],
        ),
        d(
            "jfrog-token",
            Secret,
            100,
            // API keys (`AKCp`) and reference tokens (base64 of `reftkn:01:`).
            r"AKCp[A-Za-z0-9]{69}|cmVmdGtuOjAxOj[A-Za-z0-9+/]{40,80}",
            0,
            Edge::Word,
            token_ok,
            &["akcp", "cmvmdgtuojaxoj"],
            Post::Plain,
        ),
        token(
            "stripe-webhook-secret",
            r"whsec_[A-Za-z0-9+/=]{32,88}",
            &["whsec_"],
        ),
        token("heroku-api-key", r"HRKU-AA[0-9a-zA-Z_\-]{58}", &["hrku-"]),
        token("groq-api-key", r"gsk_[A-Za-z0-9]{52}", &["gsk_"]),
        token("perplexity-api-key", r"pplx-[A-Za-z0-9]{48}", &["pplx-"]),
        token("notion-token", r"ntn_[0-9]{11}[A-Za-z0-9]{35}", &["ntn_"]),
        d(
            "flyio-token",
            Secret,
            100,
            r"fo1_[A-Za-z0-9_\-]{43}|fm(?:1[ar]|2)_[A-Za-z0-9+/]{100,}={0,3}",
            0,
            Edge::B64,
            token_ok,
            &["fo1_", "fm1a_", "fm1r_", "fm2_"],
            Post::Plain,
        ),
        d(
            "openshift-token",
            Secret,
            100,
            r"sha256~[A-Za-z0-9_\-]{43}",
            0,
            Edge::Any,
            token_ok,
            &["sha256~"],
            Post::Plain,
        ),
        token(
            "dynatrace-token",
            r"dt0c01\.[A-Za-z0-9]{24}\.[A-Za-z0-9]{64}",
            &["dt0c01."],
        ),
        token("prefect-token", r"pnu_[A-Za-z0-9]{36}", &["pnu_"]),
        d(
            "aws-bedrock-api-key",
            Secret,
            100,
            r"ABSK[A-Za-z0-9+/]{109,269}={0,2}",
            0,
            Edge::B64,
            token_ok,
            &["absk"],
            Post::Plain,
        ),
        token(
            "harness-token",
            r"(?:pat|sat)\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9]{24}\.[A-Za-z0-9]{20}",
            &["pat.", "sat."],
        ),
        token(
            "sonarqube-token",
            r"sq[upa]_[a-f0-9]{40}",
            &["squ_", "sqp_", "sqa_"],
        ),
        token("buildkite-token", r"bkua_[a-f0-9]{40}", &["bkua_"]),
        token("supabase-token", r"sbp_[a-f0-9]{40}", &["sbp_"]),
        token("xai-api-key", r"xai-[A-Za-z0-9]{80}", &["xai-"]),
        token("replicate-token", r"r8_[A-Za-z0-9]{37}", &["r8_"]),
        token(
            "google-oauth-token",
            r"ya29\.[A-Za-z0-9_\-]{30}[A-Za-z0-9_\-]*|1//0[A-Za-z0-9_\-]{40}[A-Za-z0-9_\-]*",
            &["ya29.", "1//0"],
        ),
        token(
            "square-token",
            r"EAAA[A-Za-z0-9_\-]{60}|sq0atp-[A-Za-z0-9_\-]{22}|sq0csp-[A-Za-z0-9_\-]{43}",
            &["eaaa", "sq0atp-", "sq0csp-"],
        ),
        token(
            "facebook-access-token",
            r"EAA[A-Za-z0-9]{100}[A-Za-z0-9]*",
            &["eaa"],
        ),
        token(
            "brevo-api-key",
            r"x(?:keysib|smtpsib)-[a-f0-9]{64}-[A-Za-z0-9]{16}",
            &["xkeysib-", "xsmtpsib-"],
        ),
        token(
            "alibaba-access-key-id",
            r"LTAI[A-Za-z0-9]{12,20}",
            &["ltai"],
        ),
        token("tencent-secret-id", r"AKID[A-Za-z0-9]{32}", &["akid"]),
        token(
            "mapbox-token",
            r"sk\.eyJ[A-Za-z0-9_\-]{20}[A-Za-z0-9_\-]*\.[A-Za-z0-9_\-]{20}[A-Za-z0-9_\-]*",
            &["sk.eyj"],
        ),
        token(
            "figma-token",
            r"figd_[A-Za-z0-9_\-]{30}[A-Za-z0-9_\-]*",
            &["figd_"],
        ),
        token(
            "netlify-token",
            r"nfp_[A-Za-z0-9_]{30}[A-Za-z0-9_]*",
            &["nfp_"],
        ),
        token("rubygems-api-key", r"rubygems_[a-f0-9]{48}", &["rubygems_"]),
        token("nuget-api-key", r"oy2[a-z0-9]{43}", &["oy2"]),
        token(
            "shippo-token",
            r"shippo_(?:live|test)_[a-fA-F0-9]{40}",
            &["shippo_"],
        ),
        token(
            "flutterwave-secret-key",
            r"FLWSECK(?:_TEST)?-[a-hA-H0-9]{32}-X",
            &["flwseck"],
        ),
        token(
            "langsmith-api-key",
            r"lsv2_(?:pt|sk)_[a-f0-9]{32}_[a-f0-9]{10}",
            &["lsv2_"],
        ),
        token(
            "pinecone-api-key",
            r"pcsk_[A-Za-z0-9]{4,12}_[A-Za-z0-9]{30}[A-Za-z0-9]*",
            &["pcsk_"],
        ),
        token(
            "discord-webhook",
            r"(?i:https)://(?:(?:ptb|canary)\.)?discord(?:app)?\.com/api/(?:v[0-9]{1,2}/)?webhooks/[0-9]{17,20}/[A-Za-z0-9_\-]{60,68}",
            &["discord.com/api/", "discordapp.com/api/"],
        ),
        token(
            "teams-webhook",
            r"(?i:https)://(?:[A-Za-z0-9\-]{1,63}\.webhook\.office\.com/webhookb2|outlook\.office(?:365)?\.com/webhook)/[0-9a-fA-F\-]{36}@[0-9a-fA-F\-]{36}/IncomingWebhook/[0-9a-f]{32}/[0-9a-fA-F\-]{36}(?:/[A-Za-z0-9_\-]{20,100})?",
            &[
                "webhook.office.com/webhookb2/",
                "outlook.office.com/webhook/",
                "outlook.office365.com/webhook/",
            ],
        ),
        token("neon-api-key", r"napi_[a-z0-9]{64}", &["napi_"]),
        token("clojars-token", r"CLOJARS_[a-z0-9]{60}", &["clojars_"]),
        token("readme-api-key", r"rdme_[a-z0-9]{70}", &["rdme_"]),
        token(
            "dropbox-token",
            r"sl\.(?:u\.)?[A-Za-z0-9_\-=]{130}[A-Za-z0-9_\-=]*",
            &["sl."],
        ),
        token(
            "easypost-api-key",
            r"EZ[AT]K[A-Za-z0-9]{54}",
            &["ezak", "eztk"],
        ),
        token("frameio-token", r"fio-u-[A-Za-z0-9_=\-]{64}", &["fio-u-"]),
        token(
            "typeform-token",
            r"tfp_[A-Za-z0-9_\-=]{40}[A-Za-z0-9_\-=]*",
            &["tfp_"],
        ),
        token(
            "cloudflare-origin-ca-key",
            r"v1\.0-[a-f0-9]{24}-[a-f0-9]{146}",
            &["v1.0-"],
        ),
        token("render-api-key", r"rnd_[A-Za-z0-9]{32}", &["rnd_"]),
        token("contentful-token", r"CFPAT-[A-Za-z0-9_\-]{43}", &["cfpat-"]),
        token(
            "duffel-token",
            r"duffel_(?:test|live)_[A-Za-z0-9_\-=]{43}",
            &["duffel_"],
        ),
        token("mailchimp-api-key", r"[0-9a-f]{32}-us[0-9]{1,2}", &["-us"]),
        token("scalingo-token", r"tk-us-[A-Za-z0-9_\-]{48}", &["tk-us-"]),
        d(
            "twitter-bearer-token",
            Secret,
            100,
            r"AAAAAAAAAAAAAAAAAAAAA[A-Za-z0-9%]{30}[A-Za-z0-9%]*",
            0,
            Edge::Word,
            twitter_bearer_ok,
            &["aaaaaaaaaaaaaaaaaaaaa"],
            Post::Plain,
        ),
        token("yandex-api-key", r"AQVN[A-Za-z0-9_\-]{35,38}", &["aqvn"]),
        token(
            "bitbucket-app-password",
            r"ATBB[A-Za-z0-9_\-=]{32}",
            &["atbb"],
        ),
        token(
            "firebase-fcm-key",
            r"AAAA[A-Za-z0-9_\-]{7}:APA91b[A-Za-z0-9_\-]{120}[A-Za-z0-9_\-]*",
            &[":apa91b"],
        ),
        token("adobe-client-secret", r"p8e-[A-Za-z0-9]{32}", &["p8e-"]),
        d(
            "openrouter-api-key",
            Secret,
            105,
            r"sk-or-v1-[a-f0-9]{64}",
            0,
            Edge::Word,
            token_ok,
            &["sk-or-v1-"],
            Post::Plain,
        ),
        d(
            "signed-url-signature",
            Secret,
            85,
            r"(?i)[?&;](?:x-amz-signature|x-goog-signature|signature)=([A-Za-z0-9%~_\-+/.=]{20}[A-Za-z0-9%~_\-+/.=]*)",
            1,
            Edge::Any,
            entropic_ok,
            &["signature="],
            Post::Plain,
        ),
        d(
            "private-key",
            Secret,
            120,
            // (an OpenVPN static key is a shared secret of the same kind)
            r"-----BEGIN ((?:[A-Z0-9]{1,12} ){0,2}PRIVATE KEY(?: BLOCK)?|OpenVPN Static key V1)-----",
            1,
            Edge::Any,
            |_| true,
            &["private", "openvpn static key"],
            Post::PrivateKey,
        ),
        d(
            "private-key",
            Secret,
            120,
            // A PEM private key in base64, as a Kubernetes TLS secret's `tls.key` or a
            // CI variable holds it: `LS0tLS1CRUdJTi` is `-----BEGIN` encoded.
            r"LS0tLS1CRUdJTi[A-Za-z0-9+/]{60,}={0,2}",
            0,
            Edge::B64,
            b64_private_key_ok,
            &["ls0tls1crudjti"],
            Post::Plain,
        ),
        d(
            "gcp-service-account-key",
            Secret,
            120,
            // A service account's JSON key file in base64 (a Kubernetes secret's
            // `key.json`, a CI variable): `{"type": "service_account",` encoded, as
            // Google writes the file, compact, or as Python's json writes it.
            r"(?:ewogICJ0eXBlIjogInNlcnZpY2VfYWNjb3VudCIs|eyJ0eXBlIjoic2VydmljZV9hY2NvdW50Ii|eyJ0eXBlIjogInNlcnZpY2VfYWNjb3VudCIs)[A-Za-z0-9+/]{100,}={0,2}",
            0,
            Edge::B64,
            token_ok,
            &["ewo", "eyj"],
            Post::Plain,
        ),
        d(
            "generic-secret",
            Secret,
            120,
            // A Docker config in base64 (a Kubernetes secret's `.dockerconfigjson`, a CI
            // variable) holding a registry login: `{"auths":` encoded, compact or as
            // Python's json, Docker (tabs) and two- or four-space indents write it.
            r"(?:eyJhdXRocyI6|ewoJImF1dGhzIj|ewogICJhdXRocyI6|ewogICAgImF1dGhzIj)[A-Za-z0-9+/]{20,}={0,2}",
            0,
            Edge::B64,
            b64_docker_config_ok,
            &["ewo", "eyj"],
            Post::Plain,
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
            r#"(?i)authorization["']?[ \t]*[:=][ \t]*["']?(?:bearer|token|basic|ssws|splunk)[ \t]+([A-Za-z0-9\-._~+/]{12,}=*)"#,
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
        password(
            // A password given to curl: `curl -u user:password`, `--user=user:password`
            // (`docker run -u app:app` names a user and a group).
            concat!(
                r#"(?i)curl(?:[ \t]+[^ \t\r\n]+)*?[ \t]+(?:-u|--user)(?:[ \t]+|=)"#,
                quoted_or!(r#"[^ \t\r\n:"'@]+:"#, r#"[^ \t\r\n"']+"#)
            ),
            &["curl"],
        ),
        password(
            // `docker login -u user -p password registry` and its kin, and Azure's CLI
            // (`az login --service-principal -u APP -p SECRET`).
            concat!(
                r#"(?i)(?:docker|podman|buildah|skopeo|nerdctl|helm(?:[ \t]+registry)?|oras|(?-u:\b)az)[ \t]+login(?:[ \t]+[^ \t\r\n]+)*?[ \t]+(?:-p|--password)(?:[ \t]+|=)"#,
                quoted_or!(r#"[^ \t\r\n"']+"#)
            ),
            &["login"],
        ),
        password(
            // `mysql -u root -pPASSWORD` (a password written against `-p`; `-p` alone asks).
            concat!(
                r#"(?:mysql|mysqldump|mysqladmin|mariadb)(?:[ \t]+[^ \t\r\n]+)*?[ \t]+-p"#,
                quoted_or!(r#"[^ \t\r\n"']+"#)
            ),
            &["sql", "mariadb"],
        ),
        password(
            // `sshpass -p 'password' ssh …`
            concat!(r#"sshpass[ \t]+-p[ \t]*"#, quoted_or!(r#"[^ \t\r\n"']+"#)),
            &["sshpass"],
        ),
        password(
            // PuTTY's tools: `plink -ssh admin@host -pw password`, `pscp -pw password …`.
            concat!(
                r#"(?i)(?-u:\b)(?:plink|pscp|psftp|putty)(?:\.exe)?(?:[ \t]+[^ \t\r\n]+)*?[ \t]+-pw[ \t]+"#,
                quoted_or!()
            ),
            &["plink", "pscp", "psftp", "putty"],
        ),
        checked(
            // Windows remote shells and their testers: `evil-winrm -i host -u admin -p
            // password`, `crackmapexec smb host -u admin -p password` (NetExec: `nxc`; a
            // file of passwords in its place is none).
            concat!(
                r#"(?i)(?-u:\b)(?:evil-winrm|crackmapexec|netexec|nxc)(?:[ \t]+[^ \t\r\n]+)*?[ \t]+(?:-p|--password)[ \t]+"#,
                quoted_or!()
            ),
            password_not_file_ok,
            &["winrm", "crackmapexec", "netexec", "nxc"],
        ),
        password(
            // Wi-Fi passphrases: `nmcli dev wifi connect SSID password PASSPHRASE`, `nmcli con
            // modify NAME wifi-sec.psk PASSPHRASE`, `wpa_passphrase SSID PASSPHRASE`.
            concat!(
                r#"(?:nmcli(?:[ \t]+[^ \t\r\n]+)*?[ \t]+(?:password|wifi-sec\.psk|802-11-wireless-security\.psk)|wpa_passphrase[ \t]+(?:"[^"\r\n]*"|'[^'\r\n]*'|[^ \t\r\n"']+))[ \t]+"#,
                quoted_or!(r#"[^-<>| \t\r\n"'][^ \t\r\n"']*"#)
            ),
            &["nmcli", "wpa_passphrase"],
        ),
        password(
            // A password hashed by `openssl passwd [-1|-6|-salt SALT] PASSWORD` (in many a
            // `useradd -p "$(openssl passwd -1 …)"`): the hash is kept, the password typed.
            concat!(
                r#"openssl[ \t]+passwd(?:[ \t]+-(?:1|5|6|apr1|aixmd5|crypt|noverify|quiet|table|reverse|salt[ \t]+[^ \t\r\n]+))*[ \t]+"#,
                quoted_or!(r#"[^- \t\r\n"')][^ \t\r\n"')]*"#)
            ),
            &["openssl"],
        ),
        password(
            // rclone's `rclone config create NAME TYPE … pass PASSWORD` (and `update`): the
            // secrets among its key-value pairs (`pass=…` is the generic rule's).
            concat!(
                r#"rclone[ \t]+config[ \t]+(?:create|update)(?:[ \t]+[^ \t\r\n]+)*?[ \t]+(?:pass|password|password2|secret_access_key|client_secret|key|token|account_key|sas_url)[ \t]+"#,
                quoted_or!()
            ),
            &["rclone"],
        ),
        password(
            // Windows `net use \\host\share PASSWORD /user:DOMAIN\name` (the password is the first
            // word that is not a switch; `*` asks) and `net user NAME PASSWORD /add`: the
            // word must end the line or come before a switch, as commands are quoted.
            concat!(
                r#"(?im)(?-u:\b)net[ \t]+(?:use(?:[ \t]+(?:[A-Za-z]:|\*))?[ \t]+\\\\[^ \t\r\n]+(?:[ \t]+/[^ \t\r\n]+)*?|user[ \t]+["']?[^/ \t\r\n"']+["']?)[ \t]+"#,
                quoted_or!(r#"[^/* \t\r\n"'][^ \t\r\n"']*"#),
                r#"["']?(?:[ \t]+/|[ \t]*\r?$)"#
            ),
            &["net use"],
        ),
        password(
            // Samba's clients: `smbclient //host/share -U user%password`.
            concat!(
                r#"(?:smbclient|rpcclient)(?:[ \t]+[^ \t\r\n]+)*?[ \t]+(?:-U|--user)(?:[ \t]+|=)"#,
                quoted_or!(r#"[^ \t\r\n%"']+%"#, r#"[^ \t\r\n"']+"#)
            ),
            &["client"],
        ),
        password(
            // RDP clients: `xfreerdp /u:admin /p:password /v:host`, `rdesktop -u admin -p password`
            // (`-p -` reads it from the input).
            concat!(
                r#"(?i)(?:freerdp[ \t]+(?:[^ \t\r\n]+[ \t]+)*?[/-]p:|rdesktop[ \t]+(?:[^ \t\r\n]+[ \t]+)*?-p[ \t]*)"#,
                quoted_or!()
            ),
            &["freerdp", "rdesktop"],
        ),
        password(
            // SQL Server's `sqlcmd -S host -U sa -P password` and Sysinternals' `psexec \\host
            // -u admin -p password`.
            concat!(
                r#"(?:(?:sqlcmd|SQLCMD)(?:\.exe)?(?:[ \t]+[^ \t\r\n]+)*?[ \t]+-P|(?:psexec|PsExec|PSEXEC|paexec|PAExec)(?:64)?(?:\.exe)?(?:[ \t]+[^ \t\r\n]+)*?[ \t]+-p[ \t])[ \t]*"#,
                quoted_or!()
            ),
            &["sql", "exec"],
        ),
        password(
            // OpenLDAP's tools: `ldapsearch -D cn=admin -w password` (`-W` asks).
            concat!(
                r#"ldap(?:search|modify|add|delete|whoami|passwd|compare|modrdn|exop|url)(?:[ \t]+[^ \t\r\n]+)*?[ \t]+-w[ \t]*"#,
                quoted_or!()
            ),
            &["ldap"],
        ),
        password(
            // A BMC's password to `ipmitool -P`, and an MQTT broker's to `mosquitto_pub -P`.
            concat!(
                r#"(?:ipmitool|mosquitto_(?:pub|sub|rr))(?:[ \t]+[^ \t\r\n]+)*?[ \t]+(?:-P|--pw)[ \t]+"#,
                quoted_or!()
            ),
            &["ipmitool", "mosquitto"],
        ),
        password(
            // `rabbitmqctl add_user NAME PASSWORD` (and `change_password`), `mysqladmin -u
            // root password PASSWORD`.
            concat!(
                r#"(?:rabbitmqctl(?:[ \t]+-[^ \t\r\n]+)*[ \t]+(?:add_user|change_password)[ \t]+["']?[^ \t\r\n"']+["']?|mysqladmin(?:[ \t]+[^ \t\r\n]+)*?[ \t]+password)[ \t]+"#,
                quoted_or!()
            ),
            &["rabbitmq", "sql"],
        ),
        password(
            // A password given to `sudo -S` in a here-string: `sudo -S <<< PASSWORD …` (and
            // echoed into it: the rule below).
            concat!(
                r#"sudo[ \t]+(?:-[A-Za-z]+[ \t]+)*-[A-Za-z]*S[A-Za-z]*[ \t]*<<<[ \t]*"#,
                quoted_or!(r#"[^- \t\r\n"'|][^ \t\r\n"'|]*"#)
            ),
            &["sudo"],
        ),
        password(
            // A password or secret in a here-string to a command that reads it: `gcloud
            // secrets create NAME --data-file=- <<< SECRET`, `docker secret create NAME -
            // <<< SECRET`, `passwd --stdin USER <<< PASSWORD`, `… --password-stdin <<< …`,
            // `kubectl create secret … =/dev/stdin <<< …`, `chpasswd <<< 'USER:PASSWORD'`;
            // and Samba's password typed twice: `(echo PW; echo PW) | smbpasswd -s -a USER`.
            concat!(
                r#"(?:(?:gcloud[ \t]+secrets[ \t]+(?:create|versions)|docker[ \t]+secret[ \t]+create|passwd[ \t]+--stdin|--password-stdin|kubectl[ \t]+create[ \t]+secret)[^<|\r\n]*<<<[ \t]*"#,
                quoted_or!(),
                r#"|chpasswd[ \t]*<<<[ \t]*"#,
                quoted_or!(r#"[^ \t\r\n:"'|]+:"#, r#"[^ \t\r\n"'|]+"#),
                r#"|\([ \t]*echo[ \t]+(?:-[ne]+[ \t]+)?"#,
                quoted_or!(r#"[^- \t\r\n"';)][^ \t\r\n"';)]*"#),
                r#"[ \t]*;[ \t]*echo[ \t]+[^;)\r\n]*\)[ \t]*\|[ \t]*(?:sudo[ \t]+)?smbpasswd)"#
            ),
            &["<<<", "smbpasswd"],
        ),
        password(
            // `lftp -u user,PASSWORD`, Windows' `schtasks … /ru USER /rp PASSWORD` (and `/u
            // USER /p PASSWORD` for a remote host; `*` asks), `winrs -u:USER -p:PASSWORD`,
            // SNMPv3's `-A AUTHPASS` (`-X PRIVPASS`: the next rule; a match ends at its
            // value, so a command's second password needs a rule of its own),
            // `vncpasswd -f <<< PASSWORD`.
            concat!(
                r#"(?:lftp(?:[ \t]+[^ \t\r\n]+)*?[ \t]+(?:-u|--user)[ \t]+"#,
                quoted_or!(r#"[^ \t\r\n,"']+,"#, r#"[^ \t\r\n"']+"#),
                r#"|(?i:schtasks)(?:\.exe)?(?:[ \t]+[^ \t\r\n]+)*?[ \t]+/(?i:rp|p)[ \t]+"#,
                quoted_or!(r#"[^/* \t\r\n"'][^ \t\r\n"']*"#),
                r#"|(?i:winrs)(?:\.exe)?(?:[ \t]+[^ \t\r\n]+)*?[ \t]+[-/](?i:p|password):"#,
                quoted_or!(r#"[^ \t\r\n"']+"#),
                concat!("|", switch!(snmp_tools!(), "A")),
                quoted_or!(),
                r#"|vncpasswd[ \t]+-f[ \t]*<<<[ \t]*"#,
                quoted_or!(),
                ")"
            ),
            &["lftp", "schtasks", "winrs", "snmp", "pass"],
        ),
        password(
            // SNMPv3's privacy password, `-X PRIVPASS`, after or without `-A`.
            concat!(switch!(snmp_tools!(), "X"), quoted_or!()),
            &["snmp"],
        ),
        password(
            // `ldappasswd -s NEWPASSWORD` (the password it sets; `-S` asks) and, in a rule
            // of its own as the same command may hold both, `-a OLDPASSWORD` (`-A` asks).
            concat!(switch!("ldappasswd", "s"), quoted_or!()),
            &["ldap"],
        ),
        password(concat!(switch!("ldappasswd", "a"), quoted_or!()), &["ldap"]),
        password(
            // A password echoed into a command that reads it: `echo 'root:PASSWORD' |
            // chpasswd` (in many a Dockerfile), `echo PASSWORD | passwd --stdin user`,
            // `echo PASSWORD | docker login -u ci --password-stdin`, `echo PASSWORD | sudo -S`,
            // `echo PASSWORD | kinit user@REALM`, `echo -e "PASSWORD\nPASSWORD" | passwd`
            // (both lines are the value), and a secret echoed into a secret store:
            // `echo SECRET | docker secret create NAME -`, `echo -n SECRET | gcloud secrets
            // create NAME --data-file=-`, `… | kubectl create secret generic NAME
            // --from-file=KEY=/dev/stdin`; `printf '%s' PASSWORD | …` too.
            concat!(
                r#"(?m)(?:echo[ \t]+(?:-[ne]+[ \t]+)?|printf[ \t]+(?:'%s(?:\\n)?'|"%s(?:\\n)?")[ \t]+)(?:"#,
                quoted_or!(r#"[^ \t\r\n:"'|]+:"#, r#"[^ \t\r\n"'|]+"#),
                r#"[ \t]*\|[ \t]*(?:sudo[ \t]+)?chpasswd|"([^"\\\r\n]+\\n[^"\r\n]+)"[ \t]*\|[ \t]*(?:sudo[ \t]+)?(?:smb)?passwd(?:[ \t]|\r?$)|"#,
                quoted_or!(r#"[^- \t\r\n"'|][^ \t\r\n"'|]*"#),
                r#"[ \t]*\|[ \t]*(?:sudo[ \t]+(?:-[A-Za-z]+[ \t]+)*-[A-Za-z]*S(?:[ \t]|\r?$)|(?:sudo[ \t]+)?(?:passwd[ \t]+--stdin|[a-z]+(?:[ \t]+registry)?[ \t]+login(?:[ \t]+[^ \t\r\n|]+)*?[ \t]+--password-stdin)|kinit(?:[ \t]|\r?$)|docker[ \t]+secret create[ \t]|gcloud[ \t]+secrets (?:create|versions)[ \t]|kubectl[ \t]+create[ \t]+secret[ \t][^|\r\n]*=/dev/stdin))"#
            ),
            &[
                "pass",
                "sudo",
                "kinit",
                "secret create",
                "secrets create",
                "secrets versions",
                "/dev/stdin",
            ],
        ),
        password(
            // Unattended installs: a kickstart file's `rootpw [--plaintext] PASSWORD`
            // (`--iscrypted` gives a hash) and Debian's preseed `d-i passwd/root-password
            // password PASSWORD` (also `…-again`, `passwd/user-password`).
            r#"(?m)^[ \t]*(?:rootpw(?:[ \t]+--(?:plaintext|lock|allow-ssh))*|d-i[ \t]+passwd/(?:root|user)-password(?:-again)?[ \t]+password)[ \t]+([^-\s][^\s]*)[ \t]*\r?$"#,
            &["rootpw", "passwd/"],
        ),
        password(
            // `redis-cli -a password`, and MongoDB's shells and tools: `mongosh -u admin -p password`.
            concat!(
                r#"(?:redis-cli(?:[ \t]+[^ \t\r\n]+)*?[ \t]+(?:-a|--pass)|mongo(?:sh|dump|restore|export|import|stat|top)?(?:[ \t]+[^ \t\r\n]+)*?[ \t]+(?:-p|--password))(?:[ \t]+|=)"#,
                quoted_or!()
            ),
            &["redis-cli", "mongo"],
        ),
        password(
            // OpenSSL's `-passin pass:password` (also `-passout`, `-pass`, `-password`) and Java's
            // `keytool -storepass password -keypass password` (`:env` and `:file` name a place).
            concat!(
                r#"(?:-pass(?:in|out|word)?[ \t]+(?:"#,
                quoted_or!("pass:", r#"[^ \t\r\n"']+"#),
                "|pass:",
                quoted_or!(r#"[^ \t\r\n"']+"#),
                r#")|-(?:src|dest|new)?(?:store|key)pass[ \t]+"#,
                quoted_or!(r#"[^ \t\r\n"']+"#),
                ")"
            ),
            &["pass"],
        ),
        password(
            // Oracle's `sqlplus user/password@db` (`sqlplus / as sysdba` names no one), and
            // `user/"p@ss word"@db`, Oracle's quotes for a password with `@` or spaces (the
            // shell's `\"` kept).
            r#"(?:sqlplus|SQLPLUS)(?:[ \t]+-[A-Za-z]+)*[ \t]+["']?[A-Za-z0-9_$#]{1,30}/(?:\\?"([^"\\\r\n]+)\\?"|([^@/ \t\r\n"']+))"#,
            &["sql"],
        ),
        password(
            // Apache's `htpasswd -b[c] FILE USER PASSWORD` and `htpasswd -nb USER PASSWORD`
            // (`-B` is bcrypt; without `b` the password is asked for).
            concat!(
                r#"htpasswd[ \t]+(?:-[A-Za-z]*(?:n[A-Za-z]*b|b[A-Za-z]*n)[A-Za-z]*(?:[ \t]+-[A-Za-z]+(?:[ \t]+[0-9]+)?)*|-[A-Zac-mo-z]*b[A-Zac-mo-z]*(?:[ \t]+-[A-Za-z]+(?:[ \t]+[0-9]+)?)*[ \t]+[^- \t\r\n][^ \t\r\n]*)[ \t]+[^- \t\r\n][^ \t\r\n]*[ \t]+"#,
                quoted_or!(r#"[^ \t\r\n"'<>|;&][^ \t\r\n"']*"#)
            ),
            &["pass"],
        ),
        password(
            // PowerShell's `ConvertTo-SecureString 'password' -AsPlainText -Force`, and
            // `ConvertTo-SecureString -AsPlainText [-Force] 'password'`.
            r#"(?i)ConvertTo-SecureString(?:(?:[ \t]+-String)?[ \t]+["']([^"'\r\n]+)["'][^\r\n]{0,40}?-AsPlainText|[ \t]+-AsPlainText(?:[ \t]+-Force)?[ \t]+(?:-String[ \t]+)?["']([^"'\r\n]+)["'])"#,
            &["securestring"],
        ),
        checked(
            // A database user's password in SQL: MySQL's and Oracle's `CREATE|ALTER USER …
            // IDENTIFIED [WITH plugin] BY 'PASSWORD'` (also after `GRANT` and a database
            // link's `CONNECT TO user`; "the issue identified by valgrind" is prose),
            // PostgreSQL's `CREATE|ALTER USER|ROLE name … [ENCRYPTED] PASSWORD 'PASSWORD'`,
            // MySQL's `SET PASSWORD [FOR user] = [PASSWORD(]'PASSWORD'`.
            concat!(
                // Bare (Oracle's), it must end the statement or come before one of its
                // clauses: "identified by clause sets the password" is prose.
                r#"(?im)(?-u:\b)(?:(?:(?:create|alter) user|grant|connect to)[^\r\n;]*?[ \t]identified(?:[ \t]+with[ \t]+[^ \t\r\n]+)?[ \t]+by[ \t]+(?:"([^"\r\n]+)"|'([^'\r\n]+)'|([^-:?&@ \t\r\n"';][^ \t\r\n"';]*)(?:[ \t]*(?:;|\r?$)|[ \t]+(?:account|default|temporary|quota|profile|replace|container|password|using)(?-u:\b)))"#,
                r#"|(?:create|alter) (?:user|role)(?:[ \t]+[^ \t\r\n;]+)*?[ \t]+password[ \t]+'([^'\r\n]+)'"#,
                r#"|set password(?:[ \t]+for[ \t]+[^ \t\r\n=;]+)?[ \t]*=[ \t]*(?:password[ \t]*\([ \t]*)?'([^'\r\n]+)')"#
            ),
            sql_password_ok,
            &[
                "grant",
                "connect to",
                "create user",
                "alter user",
                "create role",
                "alter role",
                "set password",
            ],
        ),
        password(
            // A password given to an archiver or a key tool: `zip -P PASSWORD`, `unzip -P
            // PASSWORD`, `7z a -pPASSWORD` (`-p` alone asks), `openssl enc -k PASSWORD`,
            // `ssh-keygen -N NEWPASSPHRASE -P OLDPASSPHRASE` (`-N ""`: none).
            concat!(
                r#"(?:(?-u:\b)(?:zip|unzip|zipcloak)(?:[ \t]+[^ \t\r\n]+)*?[ \t]+-P[ \t]+|(?-u:\b)7z[ar]?(?:\.exe)?(?:[ \t]+[^ \t\r\n]+)*?[ \t]+-p|openssl[ \t]+(?:enc|aes|des|bf|camellia)[^ \t\r\n]*(?:[ \t]+[^ \t\r\n]+)*?[ \t]+-k[ \t]+|ssh-keygen(?:[ \t]+[^ \t\r\n]+)*?[ \t]+-[NP][ \t]*)"#,
                quoted_or!()
            ),
            &["zip", "7z", "openssl", "ssh-keygen"],
        ),
        password(
            // … and to RAR's tools, after their command: `rar a -hpPASSWORD`, `unrar x
            // -pPASSWORD` (`-p-`: none; its keywords are the command's, as `rar` is in
            // every "library").
            concat!(
                r#"(?-u:\b)(?:rar|unrar|Rar|UnRAR|WinRAR|winrar)(?:\.exe)?[ \t]+[a-z]{1,2}(?:[ \t]+[^ \t\r\n]+)*?[ \t]+-h?p"#,
                quoted_or!()
            ),
            &["rar a ", "rar x ", "rar e ", "rar t ", "rar u ", "rar.exe "],
        ),
        password(
            // A package registry's or a CI server's login: `twine upload -u __token__ -p
            // PASSWORD`, `dotnet nuget add source URL -u USER -p PASSWORD`, `java -jar
            // jenkins-cli.jar -auth USER:TOKEN` (`-auth @file` names a file), and MinIO's
            // `mc alias set NAME URL ACCESSKEY SECRETKEY`.
            concat!(
                r#"(?:(?:twine[ \t]+upload|nuget[ \t]+(?:add|update)[ \t]+source)(?:[ \t]+[^ \t\r\n]+)*?[ \t]+(?:-p|--password)(?:[ \t]+|=)"#,
                quoted_or!(),
                r#"|jenkins-cli(?:\.jar)?(?:[ \t]+[^ \t\r\n]+)*?[ \t]+-auth[ \t]+"#,
                quoted_or!(r#"[^ \t\r\n:"'@]+:"#, r#"[^ \t\r\n"']+"#),
                r#"|(?-u:\b)mc(?:\.exe)?[ \t]+(?:alias set|config host add)(?:[ \t]+[^ \t\r\n]+){3}[ \t]+"#,
                quoted_or!(),
                ")"
            ),
            &["twine", "nuget", "jenkins", "alias set", "host add"],
        ),
        password(
            // A secret handed to a secret store: `az keyvault secret set … --value SECRET`,
            // `aws secretsmanager create-secret … --secret-string SECRET`, `aws ssm
            // put-parameter … --value SECRET`, `gh secret set NAME --body SECRET`.
            concat!(
                r#"(?:(?:keyvault[ \t]+secret[ \t]+set|ssm[ \t]+put-parameter)(?:[ \t]+[^ \t\r\n]+)*?[ \t]+--value|secretsmanager[ \t]+(?:create-secret|put-secret-value|update-secret)(?:[ \t]+[^ \t\r\n]+)*?[ \t]+--secret-string|gh[ \t]+secret set(?:[ \t]+[^ \t\r\n]+)*?[ \t]+(?:-b|--body))(?:[ \t]+|=)"#,
                quoted_or!()
            ),
            &["keyvault", "ssm", "secretsmanager", "secret set"],
        ),
        password(
            // An `expect` script's answer to a password prompt: `expect "password:" { send
            // "PASSWORD\r" }` (on the same line or the next).
            r#"(?i)expect[ \t]+(?:-[a-z]+[ \t]+)*["{][^"}\r\n]*(?:assword|passphrase)[^"}\r\n]*["}][ \t]*\{?[ \t]*(?:\r?\n[ \t]*)?send[ \t]+(?:--[ \t]+)?"([^"\r\n]+?)(?:\\r|\\n)?""#,
            &["expect"],
        ),
        password(
            // A password passed to a login call in code: `smtp.login('user', 'PASSWORD')`,
            // `auth=('user', 'PASSWORD')`, `HTTPBasicAuth('user', 'PASSWORD')`,
            // `NetworkCredential("user", "PASSWORD")`, and third to `ldap_bind($c, "dn",
            // "PASSWORD")`, `DriverManager.getConnection(url, "user", "PASSWORD")`, `new
            // PDO($dsn, 'user', 'PASSWORD')`, `mysqli_connect("host", "user", "PASSWORD")`.
            r#"(?i)(?:(?:\.login|(?-u:\b)(?:HTTP(?:Basic|Digest)Auth|BasicAuth|NetworkCredential|UsernamePasswordCredentials|PasswordAuthentication|simple_bind_s)|(?-u:\b)auth ?=[ \t]*)[ \t]*\([ \t]*["'][^"'\r\n]*["'][ \t]*,[ \t]*(?:"([^"\r\n]+)"|'([^'\r\n]+)')|(?:ldap_bind|getConnection|mysqli?_connect|new[ \t]+mysqli|PDO)[ \t]*\([ \t]*[^,()\r\n]+,[ \t]*["'][^"'\r\n]*["'][ \t]*,[ \t]*(?:"([^"\r\n]+)"|'([^'\r\n]+)'))"#,
            &[
                ".login",
                "basicauth",
                "digestauth",
                "networkcredential",
                "passwordcredentials",
                "passwordauthentication",
                "simple_bind_s",
                "auth=",
                "auth =",
                "ldap_bind",
                "getconnection",
                "_connect",
                "mysqli",
                "pdo",
            ],
        ),
        checked(
            // `vault login TOKEN` (a method's `key=value` pairs are not one).
            r#"(?m)vault[ \t]+login(?:[ \t]+-[^ \t\r\n]+)*[ \t]+([A-Za-z0-9._\-]{8,256})(?:[ \t]|\r?$)"#,
            token_ok,
            &["login"],
        ),
        d(
            "generic-secret",
            Secret,
            50,
            // A secret as an XML element (`<password>…</password>`, Maven's and NuGet's
            // settings) and in .NET's `<add key="ApiSecret" value="…" />`.
            concat!(
                r"(?i)(?:<[A-Za-z0-9_.:\-]{0,40}",
                xml_secret_name!(),
                r#">[ \t]*|<add[ \t]+key[ \t]*=[ \t]*"[^"\r\n]{0,40}"#,
                xml_secret_name!(),
                r#""[ \t]+value[ \t]*=[ \t]*")([^<"\s]+)(?:[ \t]*</|")"#
            ),
            1,
            Edge::Any,
            url_password_ok,
            &[
                "secret",
                "token",
                "pass",
                "pwd",
                "api",
                "access",
                "private",
                "credential",
            ],
            Post::Plain,
        ),
        d(
            "generic-secret",
            Secret,
            50,
            // Any tool's `--password VALUE`, `-Password 'VALUE'` (PowerShell), `--db-password
            // VALUE`, `--token VALUE`, `--client-secret VALUE`, `--passphrase VALUE` (gpg's;
            // not `--passphrase-file`), `--api-key VALUE`, `--secret-key VALUE` (the `=` form
            // is the generic rule's; a bare `--secret` is BuildKit's `id=…,src=…`, no
            // secret): checked as a generic value, since prose writes "pass --password flag"
            // too, and a quoted one with spaces as a passphrase (`switch_value_ok`).
            concat!(
                r#"(?m)(?:^|[ \t])--?(?i:(?:[a-z]+[-_])?(?:password|passwd|passphrase|pwd|token|api[-_]?key|secret[-_]?key)|[a-z]+[-_]secret)[ \t]+"#,
                quoted_or!()
            ),
            1,
            Edge::Any,
            switch_value_ok,
            &[
                "pass", "pwd", "secret", "token", "api-key", "api_key", "apikey",
            ],
            Post::Plain,
        ),
        password(
            // A `.netrc` entry: `machine host login user password secret`.
            concat!(
                r#"machine[ \t]+[^ \t\r\n]+[ \t]+login[ \t]+[^ \t\r\n]+[ \t]+password[ \t]+"#,
                quoted_or!(r#"[^ \t\r\n]+"#)
            ),
            &["machine"],
        ),
        password(
            // A `.pgpass` line, `host:port:database:user:password`, for PostgreSQL's ports
            // (5432, 5433, PgBouncer's 6432) or any (`*`); `\:` escapes a colon. Not in
            // quotes: a string in code (a test's `"host:5432:db:user:pw",`) is no such file.
            r#"(?m)^[ \t]*[^\s:#"'][^\s:"']*:(?:5432|5433|6432|\*):[^\s:"']+:(?:[^\s:\\"']|\\.)+:((?:[^\s:\\"']|\\.)+)[ \t]*\r?$"#,
            &[":5432:", ":5433:", ":6432:", ":*:"],
        ),
        d(
            "private-key",
            Secret,
            120,
            // A PuTTY key file's private part: the base64 lines after `Private-Lines: N`.
            r"Private-Lines:[ \t]*[0-9]{1,3}\r?\n((?:[A-Za-z0-9+/=]{1,128}\r?\n){0,63}[A-Za-z0-9+/=]{1,128})(?:\r?\n|\z)",
            1,
            Edge::Any,
            entropic_ok,
            &["private-lines:"],
            Post::Plain,
        ),
        // Network devices' configurations (Cisco IOS and its kin, Juniper), SNMP, RADIUS
        // and TACACS+, IPsec, Wi-Fi, Redis and LDAP clients.
        password(
            // a password of type 0 (written as it is)
            r"(?m)^[ \t]*(?:enable (?:password|secret)(?: level [0-9]{1,2})?|username [^\s]+(?: privilege [0-9]{1,2})? (?:password|secret)|password) 0 ([^\s]+)[ \t]*\r?$",
            &["password 0 ", "secret 0 "],
        ),
        checked(
            // a password or key of type 7, which anyone can turn back into the password
            r"(?-u:\b)(?:password|key) 7 ([0-9A-Fa-f]{4,64})(?-u:\b)",
            cisco_type7_ok,
            &["password 7 ", "key 7 "],
        ),
        checked(
            // a password with no type written
            r"(?m)(?:^[ \t]*enable password(?: level [0-9]{1,2})?|username [^\s]+(?: privilege [0-9]{1,2})? password) ([^\s]+)[ \t]*\r?$",
            generic_value_ok,
            &["enable password ", "username "],
        ),
        checked(
            // an SNMP community, v1/v2c (IOS, Net-SNMP); not the defaults `public` and
            // `private`, which every device knows
            r"(?:snmp-server community|(?m:^)[ \t]*r[ow]community6?)[ \t]+([^\s]+)",
            snmp_community_ok,
            &["snmp-server community", "rocommunity", "rwcommunity"],
        ),
        password(
            // an SNMPv3 user's authentication and privacy passwords
            r"(?: v3 auth (?:md5|sha[0-9]*)| priv (?:des|3des|aes(?: [0-9]{3})?)) ([^\s]+)",
            &[" v3 auth ", " priv "],
        ),
        password(
            // a RADIUS or TACACS+ server's shared key (type 7 is the rule above's)
            r"(?:tacacs|radius)-server(?: host [^\s]+(?: [a-z\-]+ [^\s]+){0,3}?)? key(?: 0)? ([^\s]+)",
            &["tacacs-server", "radius-server"],
        ),
        password(
            // an IPsec pre-shared key: Juniper, Cisco's `crypto isakmp key`, strongSwan's
            // `ipsec.secrets`
            concat!(
                r#"(?:pre-shared-key(?: ascii-text| hexadecimal| local| remote)?|crypto isakmp key(?: [06])?|: PSK)[ \t]+"#,
                quoted_or!(r#"[^ \t\r\n"']+"#)
            ),
            &["pre-shared-key", "isakmp key", ": psk"],
        ),
        checked(
            // Juniper's `$9$` encoding, which anyone can turn back into the secret
            r#""(\$9\$[^"\s]{4,200})""#,
            entropic_ok,
            &["$9$"],
        ),
        password(
            // Wi-Fi: wpa_supplicant's and NetworkManager's `psk=`; Redis's `requirepass` and
            // `masterauth`; an LDAP client's `bindpw` (nslcd, pam_ldap) and SSSD's authtok
            concat!(
                r#"(?m)^[ \t]*(?:(?:wpa_)?psk=|(?:requirepass|masterauth|bindpw)[ \t]+|ldap_default_authtok[ \t]*=[ \t]*)"#,
                quoted_or!(r#"[^ \t\r\n"']+"#)
            ),
            &[
                "psk=",
                "requirepass",
                "masterauth",
                "bindpw",
                "ldap_default_authtok",
            ],
        ),
        checked(
            // Any value of a Kubernetes secret made on the command line, whatever its key
            // is called (`--from-literal=dsn=…`), when it looks like a secret
            concat!(
                r#"--from-literal[= ]["']?[^=\s"']+="#,
                quoted_or!(r#"[^ \t\r\n"']+"#)
            ),
            generic_value_ok,
            &["--from-literal"],
        ),
        // A mail session's transcript, as a client's debug output or a pasted telnet
        // session shows it: IMAP's `tag LOGIN user password`, when the password looks
        // like one (`Post::ImapLogin`). The pattern starts at the command, a literal
        // the regex searches for, not at the tag (a pattern starting with a class of
        // characters is read byte by byte through the whole text)…
        d(
            "generic-secret",
            Secret,
            55,
            concat!(
                r#"(?m) (?i:login) (?:"[^"\r\n]*"|[^\s"]+) "#,
                quoted_or!(r#"[^ \t\r\n"']+"#),
                r"[ \t]*\r?$"
            ),
            1,
            Edge::Any,
            generic_value_ok,
            &[" login "],
            Post::ImapLogin,
        ),
        password(
            // … POP3's and FTP's `USER` then `PASS`, a server's reply between them…
            r"(?m)^USER [^\s]+\r?\n(?:[0-9+][^\r\n]*\r?\n)?PASS ([^\s]+)[ \t]*\r?$",
            &["user "],
        ),
        password(
            // … the ftp client's own commands at its prompt: `ftp> user NAME PASSWORD`,
            // `ftp> quote PASS PASSWORD` (and `literal`)…
            concat!(
                r#"(?m)ftp>[ \t]*(?:(?i:user)[ \t]+[^\s]+[ \t]+|(?i:quote|literal)[ \t]+(?i:pass)[ \t]+)"#,
                r#"([^\s]+)[ \t]*\r?$"#
            ),
            &["ftp>"],
        ),
        checked(
            // … SMTP's `AUTH LOGIN`: the line answering the server's `334 UGFzc3dvcmQ6`
            // ("Password:" in base64) is the password in base64 (swaks' `~>`, curl's `>`)…
            r"334 UGFzc3dvcmQ6\r?\n[ \t]*(?:(?:~>|>|C:)[ \t]*)?([A-Za-z0-9+/]{4,}={0,2})[ \t]*(?:\r?\n|\z)",
            b64_password_ok,
            &["334 ugfzc3dvcmq6"],
        ),
        checked(
            // … Redis's `AUTH [user] password` at redis-cli's prompt (`host:6379>`,
            // `host:6379[2]>`; swaks' `~> AUTH PLAIN …` is the rule below's)…
            r"(?m)(?:[0-9]|\])> AUTH (?:[^\s]+ )?([^\s]+)[ \t]*\r?$",
            generic_value_ok,
            &["> auth "],
        ),
        d(
            "generic-secret",
            Secret,
            55,
            // … and SASL PLAIN's base64 of `authzid\0user\0password` (SMTP, IMAP, POP3),
            // after the command or on the line after it (IMAP's `a1 AUTHENTICATE PLAIN`, then
            // the server's `+`, SMTP's `334`, in a transcript marked `S:` / `C:`, swaks'
            // `<~` / `~>`, or not)
            r"AUTH(?:ENTICATE)? PLAIN(?: |[ \t]*\r?\n(?:(?:S:|<~)? ?(?:\+|334)[ \t]*\r?\n)?(?:C:| ?~>)? ?)([A-Za-z0-9+/]{8,}={0,2})",
            1,
            Edge::B64,
            b64_sasl_plain_ok,
            &["auth plain", "authenticate plain"],
            Post::Plain,
        ),
        checked(
            // Laravel's application key, which signs sessions and encrypts cookies
            r"APP_KEY=base64:([A-Za-z0-9+/]{43}=)",
            entropic_ok,
            &["app_key=base64:"],
        ),
        checked(
            // A Docker config's registry login: `"auth": "base64(user:password)"`.
            r#""auth"[ \t]*:[ \t]*"([A-Za-z0-9+/]{8,}={0,2})""#,
            b64_login_ok,
            &["auth"],
        ),
        d(
            "url-password",
            Secret,
            80,
            r#"[A-Za-z][A-Za-z0-9+.\-]{1,20}://([^\s:/?#@"'<>\[\]]*):([^\s/?#@"'<>]+)@([A-Za-z0-9.\-_]+|\[[0-9a-fA-F:.]+\])"#,
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
        generic(
            // The name holds a keyword, or `pass` / `passphrase` / `pw` as a word of its
            // own (`DB_PASS`, `smtp.pass`, `pass:`, `vault_pw`; not `bypass`, `passenger`
            // or `pwm`).
            // A quoted value's length is checked after the match (GENERIC_VALUE_MAX_CHARS),
            // not in the regex: a counted repetition of a Unicode class compiles to as
            // many copies of it as its bound (megabytes for three times 500). The unquoted
            // value keeps its bound: unbounded, a run of `&token=…` query parameters
            // would be scanned to its end once for each parameter.
            concat!(
                r#"(?i)("#,
                generic_name!(),
                r#")["']?\]?[ \t]*(?::=|=>|=|:|：)[ \t]*"#,
                generic_value!("{1,500}")
            ),
            &[
                "secret",
                "token",
                "pass",
                // `pwd` and `pw` names
                "pw",
                "api",
                // `access` and `auth` stand for their `…key` names: fewer keywords
                // (see rule_keywords_are_searched_with_a_dfa)
                "access",
                "private",
                "auth",
                // `session_id`, `PHPSESSID`
                "sess",
                // also a keyword of azure-app-id: one keyword for both
                "client",
                "subscription",
                "credential",
            ],
        ),
        d(
            "generic-secret",
            Secret,
            50,
            // A variable named only `…_KEY` in capitals, as environments name a vendor's key
            // (`STRIPE_KEY=…`, `DATADOG_KEY: …`, `SIGNING_KEY=…`), or `…_PAT`, a personal
            // access token (`AZURE_DEVOPS_EXT_PAT=…`, whose classic tokens have no prefix):
            // many such names hold no secret (`GPG_KEY`, `CACHE_KEY`: `generic_name_ok`), so
            // the value must look like a key (`named_key_value_ok`). Bare, it is made of a
            // key's characters only, up to a character no key holds (`.`, `:` …: a name, a
            // path, an ARN).
            concat!(
                r#"_(?:KEY|PAT)["']?[ \t]*(?::=|=>|=|:)[ \t]*"#,
                r#"(?:"([^"\r\n]+)"|'([^'\r\n]+)'|([A-Za-z0-9+/=_\-]{16,500})(?:[^A-Za-z0-9+/=_\-.:\\@%]|$))"#
            ),
            0,
            Edge::Any,
            named_key_value_ok,
            &["_key", "_pat"],
            Post::NamedKey,
        ),
        generic(
            // A secret's name and its value written apart, as a list of variables holds them:
            // a Kubernetes container's `- name: DB_PASSWORD` / `value: …`, an ECS task's
            // `{"name": "DB_PASSWORD", "value": "…"}`, XML's `<env name="…" value="…"/>`,
            // CloudFormation's `ParameterKey=DBPassword,ParameterValue=…` (`valueFrom:`
            // names a place).
            concat!(
                r#"(?i)(?-u:\b)(?:name|key|parameterkey)["']?[ \t]*[:=][ \t]*["']?("#,
                generic_name!(),
                r#")["']?[ \t]*,?[ \t]*(?:\r?\n[ \t]*)?["']?(?:value|parametervalue)["']?[ \t]*[:=][ \t]*"#,
                generic_value!("+")
            ),
            &["value"],
        ),
        generic(
            // A secret's name and its value as the first two arguments, quoted, of a call
            // that sets it: `define('DB_PASSWORD', '…')` (WordPress), `System.setProperty(
            // "db.password", "…")`, `os.Setenv("API_TOKEN", "…")`, `putString("api_key",
            // "…")`, `headers.add("X-Api-Key", "…")` (not any call: `neg("slack-token",
            // "xoxb-123")` names a kind of key and an example).
            concat!(
                r#"(?i)(?-u:\b)(?:define|set[a-z]*|put[a-z]*|add[a-z]*|append)[ \t]*\( ?["']("#,
                generic_name!(),
                r#")["'][ \t]*,[ \t]*(?:"([^"\r\n]+)"|'([^'\r\n]+)')"#
            ),
            &["(\"", "('", "( \"", "( '"],
        ),
        generic(
            // A secret's name and its value after a space: a Dockerfile's `ENV DB_PASSWORD
            // …`, Windows' `setx DB_PASSWORD …`, `dotnet user-secrets set "Db:Password" "…"`.
            concat!(
                r#"(?i)(?:(?m:^)[ \t]*(?-i:ENV)|(?-u:\b)setx|user-secrets[ \t]+set)[ \t]+["']?(?:[A-Za-z0-9_.\-]+:)*("#,
                generic_name!(),
                r#")["']?[ \t]+"#,
                generic_value!("+")
            ),
            &["env ", "env\t", "setx", "user-secrets"],
        ),
        d(
            "generic-secret",
            Secret,
            50,
            // A password told in prose or chat: `the password is …`, `password for svc-backup
            // is now …`, `password for the vault: …`, `pw: …` (checked as a generic value:
            // "the password is expired" is none; `password=…` is the generic rule's).
            concat!(
                r#"(?i)(?-u:\b)(?:(?:password|passwd|passphrase|pwd|pw) (?:for(?:[ \t]+[^ \t\r\n]+){1,3}?(?:[ \t]+(?:is|was)(?:[ \t]+now)?[ \t]*:?|[ \t]*:)|(?:is|was)(?:[ \t]+now)?[ \t]*:?)|(?:pw|passcode):)[ \t]*"#,
                prose_value!()
            ),
            1,
            Edge::Any,
            generic_value_ok,
            &[
                "password is",
                "password was",
                "password for",
                "passwd is",
                "passwd was",
                "passwd for",
                "passphrase is",
                "passphrase was",
                "passphrase for",
                "pwd is",
                "pwd was",
                "pwd for",
                "pw is",
                "pw was",
                "pw for",
                "pw:",
                "passcode:",
            ],
            Post::Plain,
        ),
        d(
            "generic-secret",
            Secret,
            50,
            // … `the password to the vault is …`, `password of svc-backup was …`, and a
            // password set: `I reset the svc-backup password to …`, `its password has been
            // changed to …` (a name's value in the generic rule).
            concat!(
                r#"(?i)(?-u:\b)(?:password|passwd|passphrase)[ \t]+(?:(?:to|of|on)(?:[ \t]+[^ \t\r\n]+){1,3}?[ \t]+(?:is|was)(?:[ \t]+now)?[ \t]*:?|(?:(?:has[ \t]+been|was|is)[ \t]+)?(?:(?:re)?set|changed|updated|rotated)[ \t]+to|to)[ \t]*"#,
                prose_value!()
            ),
            1,
            Edge::Any,
            generic_value_ok,
            &[
                "password to",
                "password of",
                "password on",
                "password has",
                "password was",
                "password is",
                "password set",
                "password reset",
                "password changed",
                "password updated",
                "password rotated",
                "passwd to",
                "passwd of",
                "passwd on",
                "passwd has",
                "passwd was",
                "passwd is",
                "passwd set",
                "passwd reset",
                "passwd changed",
                "passwd updated",
                "passwd rotated",
                "passphrase to",
                "passphrase of",
                "passphrase on",
                "passphrase has",
                "passphrase was",
                "passphrase is",
                "passphrase set",
                "passphrase reset",
                "passphrase changed",
                "passphrase updated",
                "passphrase rotated",
            ],
            Post::Plain,
        ),
        d(
            "generic-secret",
            Secret,
            50,
            // A password written in another language, as a label (`Passwort: …`, `mot de
            // passe\u{202f}: …`, `パスワード：…`, `Passwort für svc-backup: …`) or in a
            // sentence (`das Passwort ist …`, `la contraseña es …`, `a senha é …`); checked
            // as a generic value ("das Passwort ist abgelaufen" is none). German, French,
            // Spanish, Portuguese, Dutch, Polish, Swedish, Norwegian, Danish, Finnish,
            // Czech, Turkish, Romanian, Russian, Hungarian, Japanese, Chinese, Korean.
            concat!(
                r#"(?i)(?:passwort|kennwort|mot de passe|contrase(?:ñ|n)a|senha|wachtwoord|has(?:ł|l)o|l(?:ö|o)senord|passord|adgangskode|kodeord|salasana|heslo|(?:ş|s)ifre|parol(?:a|ă)|пароль|jelsz(?:ó|o)|パスワード|密码|密碼|비밀번호)"#,
                r#"(?:[ \t]+(?:für|pour|para|voor|för|for|dla|pro|için|для)(?:[ \t]+[^ \t\r\n:：]+){1,3}?)?"#,
                r#"(?:[ \t\x{202F}]*[:：=]|[ \t]+(?:ist|est|es|é|is|är|er|on|je|jest|era|war|était|foi)(?:[ \t]+(?:jetzt|nun|maintenant|ahora|agora|nu|nå|nyt|nyní|teraz|сейчас|теперь))?)[ \t\x{202F}]*"#,
                quoted_or!(
                    r#"[^-\s"'`,;<>(){}\[\]、。，；：][^\s"'`,;<>(){}\[\]、。，；：]*[^\s"'`,;<>(){}\[\].:!?、。，；：！？]"#
                )
            ),
            1,
            Edge::Any,
            generic_value_ok,
            &[
                "passwort",
                "kennwort",
                "mot de passe",
                "contraseña",
                "contrasena",
                "senha",
                "wachtwoord",
                "hasło",
                "haslo",
                "lösenord",
                "losenord",
                "passord",
                "adgangskode",
                "kodeord",
                "salasana",
                "heslo",
                "şifre",
                "Şifre",
                "sifre",
                "parola",
                "parolă",
                "пароль",
                "Пароль",
                "ПАРОЛЬ",
                "jelszó",
                "jelszo",
                "パスワード",
                "密码",
                "密碼",
                "비밀번호",
            ],
            Post::Plain,
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
            r#"(?i:https?)://(?:\[[0-9a-fA-F:.]{2,45}\])?[^\s<>"'`\\)\]}|^]+"#,
            0,
            Edge::Any,
            |_| true,
            &["http"],
            Post::Url,
        ),
    ]
}
