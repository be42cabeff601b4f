//! The typed configuration (SPEC §7): one source of defaults, TOML file plus
//! `CLOSELOOP_<SECTION>_<KEY>` environment overrides, and validation that
//! collects every problem and names the file and key at fault.
//!
//! Must not open connections: reachability checks belong to `check-config` in the CLI.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// Environment variables starting with this prefix override config keys.
pub const ENV_PREFIX: &str = "CLOSELOOP_";
/// Environment variables with the prefix that are not config keys.
/// `CLOSELOOP_TEST_POSTGRES` points the test suite at a PostgreSQL server.
const ENV_NOT_KEYS: &[&str] = &[
    "CLOSELOOP_CONFIG",
    "CLOSELOOP_LOG",
    "CLOSELOOP_E2E",
    "CLOSELOOP_TEST_POSTGRES",
    crate::outbox::FAULT_KILL_AFTER_SEND_ENV,
    crate::pipeline::marks::FAULT_ABORT_READING_ENV,
    crate::fault::Stage::Reading.env(),
    crate::fault::Stage::Storing.env(),
    crate::fault::Stage::Sending.env(),
    crate::fault::Stage::Task.env(),
];

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path}: {message}")]
    Syntax { path: PathBuf, message: String },
    #[error("config file {path} has {} problem(s):\n  - {}", problems.len(), problems.join("\n  - "))]
    Invalid {
        path: PathBuf,
        problems: Vec<String>,
    },
}

/// A TOML error as "line N: message", without the line's text (toml's own display
/// quotes it, and a mistyped line may hold a password). A key inside a table with a
/// flattened part is reported at the table's header, which names the section.
fn located(text: &str, e: &toml::de::Error) -> String {
    let Some(span) = e.span() else {
        return e.message().trim_end().to_string();
    };
    let n = text
        .get(..span.start)
        .map_or(1, |t| t.matches('\n').count() + 1);
    match text.lines().nth(n - 1).map(str::trim) {
        Some(h) if h.starts_with('[') && h.ends_with(']') && !h.contains('=') => {
            format!("in {h} (line {n}): {}", e.message().trim_end())
        }
        _ => format!("line {n}: {}", e.message().trim_end()),
    }
}

/// A duration written `90s`, `15m`, `4h` or `7d` (combinations such as `1h30m` too).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Span(pub Duration);

impl Span {
    pub fn parse(s: &str) -> Result<Span, String> {
        let s = s.trim();
        if s.is_empty() {
            return Err("empty duration; write e.g. 90s, 15m, 4h or 7d".into());
        }
        let mut total: u64 = 0;
        let mut num = String::new();
        for c in s.chars() {
            if c.is_ascii_digit() {
                num.push(c);
                continue;
            }
            let unit = match c {
                's' => 1,
                'm' => 60,
                'h' => 3600,
                'd' => 86_400,
                'w' => 7 * 86_400,
                _ => {
                    return Err(format!(
                        "'{s}' is not a duration; write e.g. 90s, 15m, 4h or 7d"
                    ))
                }
            };
            let n: u64 = num
                .parse()
                .map_err(|_| format!("'{s}' is not a duration; write e.g. 90s, 15m, 4h or 7d"))?;
            total = total.saturating_add(n.saturating_mul(unit));
            num.clear();
        }
        if !num.is_empty() {
            return Err(format!("'{s}' has no unit; write e.g. {s}s or {s}m"));
        }
        Ok(Span(Duration::from_secs(total)))
    }

    pub fn millis(self) -> i64 {
        i64::try_from(self.0.as_millis()).unwrap_or(i64::MAX)
    }
}

impl fmt::Debug for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}s", self.0.as_secs())
    }
}

/// The compact form a person writes: `4h`, `7d`, `1h30m`, `90s`.
impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = self.0.as_secs();
        if s == 0 {
            return f.write_str("0s");
        }
        for (unit, size) in [("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)] {
            if s >= size {
                write!(f, "{}{unit}", s / size)?;
                s %= size;
            }
        }
        Ok(())
    }
}

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Span, D::Error> {
        let s = String::deserialize(d)?;
        Span::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Where a password comes from. Never printed: `Debug` hides a literal password.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordSource {
    pub password_env: Option<String>,
    pub password_file: Option<PathBuf>,
    /// Plain-text password in the file: allowed, with a warning at start.
    pub password: Option<String>,
}

impl fmt::Debug for PasswordSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordSource")
            .field("password_env", &self.password_env)
            .field("password_file", &self.password_file)
            .field("password", &self.password.as_ref().map(|_| "<hidden>"))
            .finish()
    }
}

impl PasswordSource {
    /// Reads the password now. `what` names the section for error messages.
    pub fn resolve(&self, what: &str) -> Result<Option<String>, String> {
        match read_secret(
            self.password_env.as_deref(),
            self.password_file.as_deref(),
            &format!("{what}.password"),
        )? {
            Some(secret) => Ok(Some(secret)),
            None => Ok(self.password.clone()),
        }
    }
}

/// Reads a secret from the environment variable or the file named by the keys `{key}_env`
/// and `{key}_file` (the variable first; a file's trailing line end dropped). Errors name
/// the key and the variable or file, never the value.
pub fn read_secret(
    env: Option<&str>,
    file: Option<&Path>,
    key: &str,
) -> Result<Option<String>, String> {
    if let Some(var) = env {
        return std::env::var(var)
            .map(Some)
            .map_err(|_| format!("{key}_env names {var}, which is not set"));
    }
    if let Some(path) = file {
        return std::fs::read_to_string(path)
            .map(|s| Some(s.trim_end_matches(['\r', '\n']).to_string()))
            .map_err(|e| format!("{key}_file {}: {e}", path.display()));
    }
    Ok(None)
}

/// `[intake.oauth2]` / `[outbound.oauth2]`: closeloop asks the identity provider's token
/// endpoint for XOAUTH2 access tokens itself — the client credentials grant (Microsoft
/// 365 with an app registration), or the refresh token grant when a refresh token is set
/// (Gmail and other user-consented apps) — and renews them before they expire. Secrets
/// come from variables or files only.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OAuth2 {
    /// `https://…` (plain `http://` on loopback only), e.g.
    /// `https://login.microsoftonline.com/<tenant>/oauth2/v2.0/token`.
    pub token_url: String,
    pub client_id: String,
    /// Space-separated scopes asked for, e.g. `https://outlook.office365.com/.default`;
    /// empty = none sent (a refresh token keeps the scopes it was granted).
    pub scope: String,
    pub client_secret_env: Option<String>,
    pub client_secret_file: Option<PathBuf>,
    /// A refresh token switches to the refresh token grant. A provider that rotates it
    /// hands out a new one with each access token: closeloop keeps the newest, and
    /// writes it back to `refresh_token_file` so that a restart uses it.
    pub refresh_token_env: Option<String>,
    pub refresh_token_file: Option<PathBuf>,
    /// A certificate registered for the client (PEM) and its private key (PEM PKCS#8,
    /// RSA): the client signs an assertion instead of sending a client secret.
    pub client_certificate_file: Option<PathBuf>,
    pub client_key_file: Option<PathBuf>,
    /// A Google service account's JSON key file: the JWT bearer grant, acting as the
    /// section's `username` (domain-wide delegation). No client secret or refresh token
    /// then; `token_url` defaults to the file's `token_uri`.
    pub service_account_file: Option<PathBuf>,
    /// The provider's device authorization endpoint, for `closeloop oauth2-login` (RFC
    /// 8628); Microsoft's is found from `token_url` (`…/oauth2/v2.0/devicecode`).
    pub device_authorization_url: Option<String>,
    /// The provider's authorization endpoint, for `closeloop oauth2-login --browser`;
    /// Google's and Microsoft's are found from `token_url`.
    pub authorization_url: Option<String>,
}

impl OAuth2 {
    pub fn client_secret(&self, section: &str) -> Result<Option<String>, String> {
        read_secret(
            self.client_secret_env.as_deref(),
            self.client_secret_file.as_deref(),
            &format!("{section}.oauth2.client_secret"),
        )
    }

    pub fn refresh_token(&self, section: &str) -> Result<Option<String>, String> {
        read_secret(
            self.refresh_token_env.as_deref(),
            self.refresh_token_file.as_deref(),
            &format!("{section}.oauth2.refresh_token"),
        )
        .map_err(|e| match &self.refresh_token_file {
            Some(file) if !file.exists() => format!(
                "{e} (sign in once with `closeloop oauth2-login --section {section}` to obtain it)"
            ),
            _ => e,
        })
    }

    /// Every inconsistency of `[{section}.oauth2]`.
    fn problems(&self, section: &str, p: &mut Vec<String>) {
        let key = format!("{section}.oauth2");
        // Never repeat a URL that carries a password.
        let url = if url_authority(&self.token_url).contains('@') {
            p.push(format!(
                "{key}.token_url must not carry a user or password (it is logged); \
                 use client_secret_file"
            ));
            "<with a user or password>"
        } else {
            self.token_url.as_str()
        };
        let service_account = self.service_account_file.is_some();
        match self.token_url.split_once("://") {
            None if self.token_url.is_empty() && service_account => {}
            Some(("https", rest)) if !rest.is_empty() => {}
            Some(("http", _)) if is_loopback(url_host(&self.token_url)) => {}
            Some(("http", _)) => p.push(format!(
                "{key}.token_url '{url}': plain http is allowed on loopback only; use https"
            )),
            _ => p.push(format!(
                "{key}.token_url '{url}' must be an https:// address (the provider's token endpoint)"
            )),
        }
        for (name, url) in [
            ("device_authorization_url", &self.device_authorization_url),
            ("authorization_url", &self.authorization_url),
        ] {
            let Some(url) = url else { continue };
            let userinfo = url_authority(url).contains('@');
            let shown = if userinfo {
                "<with a user or password>"
            } else {
                url.as_str()
            };
            match url.split_once("://") {
                Some(("https", rest)) if !rest.is_empty() && !userinfo => {}
                Some(("http", _)) if is_loopback(url_host(url)) && !userinfo => {}
                _ => p.push(format!(
                    "{key}.{name} '{shown}' must be an https:// address \
                     (plain http on loopback only), without a user or password"
                )),
            }
        }
        if self.client_id.trim().is_empty() && !service_account {
            p.push(format!("{key}.client_id is required"));
        }
        let certificate = self.client_certificate_file.is_some() || self.client_key_file.is_some();
        if certificate && (self.client_certificate_file.is_none() || self.client_key_file.is_none())
        {
            p.push(format!(
                "{key}: client_certificate_file and client_key_file go together"
            ));
        }
        let client_secret = self.client_secret_env.is_some() || self.client_secret_file.is_some();
        if certificate && client_secret {
            p.push(format!(
                "{key}: set a client certificate or a client secret, not both"
            ));
        }
        let refresh_token = self.refresh_token_env.is_some() || self.refresh_token_file.is_some();
        if service_account && (client_secret || refresh_token || certificate) {
            p.push(format!(
                "{key}: service_account_file signs its own requests; \
                 set no client_secret_*, client_certificate_file or refresh_token_* with it"
            ));
        }
        for (what, env, file) in [
            (
                "client_secret",
                self.client_secret_env.is_some(),
                self.client_secret_file.is_some(),
            ),
            (
                "refresh_token",
                self.refresh_token_env.is_some(),
                self.refresh_token_file.is_some(),
            ),
        ] {
            if env && file {
                p.push(format!("{key}: set only one of {what}_env, {what}_file"));
            }
        }
        if !(client_secret || certificate || refresh_token || service_account) {
            p.push(format!(
                "{key} needs client_secret_file (or client_secret_env, or client_certificate_file \
                 with client_key_file) for the client credentials grant, refresh_token_file (or \
                 refresh_token_env) for the refresh token grant, or service_account_file (a \
                 Google service account)"
            ));
        }
    }
}

/// The authority of `scheme://authority/path?query` (`user@host:port`); empty without a
/// scheme.
fn url_authority(url: &str) -> &str {
    url.split_once("://").map_or("", |(_, rest)| {
        rest.split(['/', '?', '#']).next().unwrap_or("")
    })
}

/// The host of a URL (an IPv6 literal without its brackets).
fn url_host(url: &str) -> &str {
    let authority = url_authority(url);
    if let Some(v6) = authority.strip_prefix('[') {
        return v6.split(']').next().unwrap_or("");
    }
    authority.rsplit_once(':').map_or(authority, |(h, _)| h)
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    Tls,
    Starttls,
    None,
}

/// How closeloop proves who it is to the IMAP server (`intake.auth`).
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ImapAuth {
    /// The IMAP LOGIN command with the password.
    Login,
    /// SASL PLAIN (`AUTHENTICATE PLAIN`) with the password, for servers that turn LOGIN off.
    Plain,
    /// SASL XOAUTH2 (`AUTHENTICATE XOAUTH2`): the password source holds an OAuth2 access
    /// token, read again at each connection so that a refresher outside can replace it.
    /// Microsoft 365 takes only OAuth2 for IMAP; Gmail OAuth2 or an app password.
    Xoauth2,
    /// SASL OAUTHBEARER (RFC 7628), the standard form of the same: a token as for
    /// `xoauth2`, for servers that offer it (Dovecot, Stalwart, Yahoo …).
    Oauthbearer,
}

impl ImapAuth {
    /// The name used in the config and in log lines.
    pub fn name(self) -> &'static str {
        match self {
            ImapAuth::Login => "login",
            ImapAuth::Plain => "plain",
            ImapAuth::Xoauth2 => "xoauth2",
            ImapAuth::Oauthbearer => "oauthbearer",
        }
    }

    /// Signs in with an OAuth2 access token.
    pub fn takes_token(self) -> bool {
        matches!(self, ImapAuth::Xoauth2 | ImapAuth::Oauthbearer)
    }
}

/// How closeloop proves who it is to the SMTP server (`outbound.auth`), when a password
/// source is set.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SmtpAuth {
    /// AUTH PLAIN, or AUTH LOGIN when the server offers only that, with the password.
    Password,
    /// AUTH XOAUTH2: the password source holds an OAuth2 access token, read again at each
    /// connection (Exchange Online is ending passwords for SMTP AUTH).
    Xoauth2,
    /// AUTH OAUTHBEARER (RFC 7628) with the token, for servers that offer it.
    Oauthbearer,
}

impl SmtpAuth {
    /// The name used in the config and in messages.
    pub fn name(self) -> &'static str {
        match self {
            SmtpAuth::Password => "password",
            SmtpAuth::Xoauth2 => "xoauth2",
            SmtpAuth::Oauthbearer => "oauthbearer",
        }
    }

    /// Signs in with an OAuth2 access token.
    pub fn takes_token(self) -> bool {
        matches!(self, SmtpAuth::Xoauth2 | SmtpAuth::Oauthbearer)
    }
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum IntakeKind {
    Imap,
    Maildir,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum OutboundKind {
    Smtp,
    File,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum AuthMode {
    Dmarc,
    Token,
    None,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Database {
    /// `sqlite://PATH` (created if missing) or `postgres://…`.
    pub url: String,
}

impl Default for Database {
    fn default() -> Self {
        Database {
            url: "sqlite://var/closeloop.db".into(),
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Intake {
    pub kind: IntakeKind,
    /// Maildir root (with `new/`, `cur/`, `tmp/`) when `kind = "maildir"`.
    pub dir: PathBuf,
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    pub username: String,
    pub auth: ImapAuth,
    #[serde(flatten)]
    pub password: PasswordSource,
    /// Tokens from the provider, for `auth = "xoauth2"` (instead of a password source).
    pub oauth2: Option<OAuth2>,
    pub mailbox: String,
    pub processed_mailbox: String,
    pub poll_interval: Span,
    pub idle: bool,
    /// Domains (and full addresses) whose staff may report; `"*"` allows anyone (labs).
    pub allowed_domains: Vec<String>,
    pub max_message_bytes: usize,
    /// How long another instance waits before taking over a dead reader's mailbox lease.
    pub lease_timeout: Span,
}

impl Default for Intake {
    fn default() -> Self {
        Intake {
            kind: IntakeKind::Maildir,
            dir: PathBuf::from("var/maildir"),
            host: String::new(),
            port: 993,
            tls: TlsMode::Tls,
            username: String::new(),
            auth: ImapAuth::Login,
            password: PasswordSource::default(),
            oauth2: None,
            mailbox: "INBOX".into(),
            processed_mailbox: "Processed".into(),
            poll_interval: Span(Duration::from_secs(60)),
            idle: true,
            allowed_domains: Vec::new(),
            max_message_bytes: 25 * 1024 * 1024,
            lease_timeout: Span(Duration::from_secs(30)),
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Outbound {
    pub kind: OutboundKind,
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    pub username: String,
    pub auth: SmtpAuth,
    #[serde(flatten)]
    pub password: PasswordSource,
    /// Tokens from the provider, for `auth = "xoauth2"` (instead of a password source).
    pub oauth2: Option<OAuth2>,
    /// The address letters come from; also our own address (mail from it is never a report).
    pub from: String,
    /// Where `.eml` files go when `kind = "file"`.
    pub dir: PathBuf,
    /// Delay before the first retry of a letter that could not be sent; it
    /// doubles with each attempt (capped at 6 h).
    pub retry_after: Span,
    /// An address that gets a copy of every letter (envelope only, no header
    /// names it): set it to the mailbox closeloop reads. A copy coming back
    /// proves the SMTP server took the letter, so a letter whose sender died
    /// before recording the send is marked sent, not sent twice. Empty = off.
    pub journal: String,
}

impl Default for Outbound {
    fn default() -> Self {
        Outbound {
            kind: OutboundKind::File,
            host: String::new(),
            port: 587,
            auth: SmtpAuth::Password,
            tls: TlsMode::Starttls,
            username: String::new(),
            password: PasswordSource::default(),
            oauth2: None,
            from: "security@example.org".into(),
            dir: PathBuf::from("var/outbox"),
            retry_after: Span(Duration::from_secs(60)),
            journal: String::new(),
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Responders {
    pub addresses: Vec<String>,
    /// Where case notifications go (a team list); empty = every responder.
    pub notify: Vec<String>,
    pub auth: AuthMode,
    pub trusted_authserv_id: String,
}

impl Default for Responders {
    fn default() -> Self {
        Responders {
            addresses: Vec::new(),
            notify: Vec::new(),
            auth: AuthMode::Dmarc,
            trusted_authserv_id: String::new(),
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Letters {
    /// The organisation's name: letters are signed "<org_name> security team"
    /// and notices "closeloop for <org_name>".
    pub org_name: String,
    pub ack: bool,
    pub templates_dir: Option<PathBuf>,
    pub case_prefix: String,
}

impl Default for Letters {
    fn default() -> Self {
        Letters {
            org_name: "Example Org".into(),
            ack: true,
            templates_dir: None,
            case_prefix: "CL".into(),
        }
    }
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Secrets {
    /// The fingerprint/signing key; default: beside the SQLite database.
    pub key_file: Option<PathBuf>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Dedup {
    pub reopen_window: Span,
}

impl Default for Dedup {
    fn default() -> Self {
        Dedup {
            reopen_window: Span(Duration::from_secs(30 * 86_400)),
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Sla {
    pub classify_within: Span,
    pub outcome_within: Span,
}

impl Default for Sla {
    fn default() -> Self {
        Sla {
            classify_within: Span(Duration::from_secs(4 * 3600)),
            outcome_within: Span(Duration::from_secs(7 * 86_400)),
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Http {
    /// `host:port`; empty turns the listener off.
    pub listen: String,
}

impl Default for Http {
    fn default() -> Self {
        Http {
            listen: "127.0.0.1:9187".into(),
        }
    }
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub database: Database,
    pub intake: Intake,
    pub outbound: Outbound,
    pub responders: Responders,
    pub letters: Letters,
    pub secrets: Secrets,
    pub dedup: Dedup,
    pub sla: Sla,
    pub http: Http,
}

/// Longest `intake.lease_timeout`: past a day no one waits for a dead reader's lease.
const MAX_LEASE_TIMEOUT: Duration = Duration::from_secs(24 * 3600);

/// The `CLOSELOOP_*` environment variables. (`std::env::vars` panics on any variable
/// that is not UTF-8, ours or not; only ours must be text.)
fn closeloop_env(path: &Path) -> Result<Vec<(String, String)>, ConfigError> {
    let mut out = Vec::new();
    for (name, value) in std::env::vars_os() {
        let shown = name.to_string_lossy().into_owned();
        if !shown.starts_with(ENV_PREFIX) {
            continue;
        }
        match (name.into_string(), value.into_string()) {
            (Ok(name), Ok(value)) => out.push((name, value)),
            _ => {
                return Err(ConfigError::Syntax {
                    path: path.to_path_buf(),
                    message: format!("environment variable {shown} is not UTF-8 text"),
                })
            }
        }
    }
    Ok(out)
}

impl Config {
    /// Loads `path`, applies `CLOSELOOP_*` overrides from `env`, and validates.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Config::from_toml(path, &text, closeloop_env(path)?)
    }

    /// Parses TOML text (named `path` in errors) with the given environment.
    pub fn from_toml(
        path: &Path,
        text: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let syntax = |message: String| ConfigError::Syntax {
            path: path.to_path_buf(),
            message,
        };
        let mut table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| syntax(located(text, &e)))?;
        apply_env(&mut table, env).map_err(syntax)?;
        let config: Config =
            toml::Value::Table(table)
                .try_into()
                .map_err(|e: toml::de::Error| {
                    // The merged table has no lines to point at: the file alone, read again,
                    // names the line of an unknown key or a wrong type. When the file alone is
                    // fine, an environment override is at fault.
                    syntax(match toml::from_str::<Config>(text) {
                        Err(in_file) => located(text, &in_file),
                        Ok(_) => format!(
                            "{} (set by a CLOSELOOP_* environment variable)",
                            e.message()
                        ),
                    })
                })?;
        let problems = config.problems();
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError::Invalid {
                path: path.to_path_buf(),
                problems,
            })
        }
    }

    /// Every inconsistency, each naming its key.
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        let db = &self.database.url;
        if !(db.starts_with("sqlite:")
            || db.starts_with("postgres://")
            || db.starts_with("postgresql://"))
        {
            p.push(format!(
                "database.url '{db}' must start with sqlite:// or postgres://"
            ));
        }
        let i = &self.intake;
        match i.kind {
            IntakeKind::Imap => {
                if i.host.is_empty() {
                    p.push("intake.host is required when intake.kind = \"imap\"".into());
                }
                if i.username.is_empty() {
                    p.push("intake.username is required when intake.kind = \"imap\"".into());
                }
                if i.tls == TlsMode::None && !i.host.is_empty() && !is_loopback(&i.host) {
                    p.push(format!(
                        "intake.tls = \"none\" is refused for host '{}': plain IMAP is allowed on loopback only",
                        i.host
                    ));
                }
                if i.mailbox == i.processed_mailbox {
                    p.push("intake.processed_mailbox must differ from intake.mailbox".into());
                }
            }
            IntakeKind::Maildir => {
                if i.dir.as_os_str().is_empty() {
                    p.push("intake.dir is required when intake.kind = \"maildir\"".into());
                }
                let name = &i.processed_mailbox;
                if name.starts_with('.')
                    || name.contains(['\\', '.'])
                    || name.split('/').any(|part| part.trim().is_empty())
                {
                    p.push(format!(
                        "intake.processed_mailbox '{name}' is not a folder name for the Maildir \
                         (names separated by /, without dots: e.g. \"Processed\")"
                    ));
                }
            }
        }
        check_password(&i.password, "intake", &mut p);
        if i.kind == IntakeKind::Imap {
            check_token(
                i.auth.takes_token().then_some(i.auth.name()),
                &i.password,
                &i.oauth2,
                &i.username,
                "intake",
                &mut p,
            );
        }
        if i.allowed_domains.is_empty() {
            p.push("intake.allowed_domains is empty: nobody could report; list your domains (or \"*\" for a lab)".into());
        }
        if i.max_message_bytes < 1024 {
            p.push("intake.max_message_bytes must be at least 1024".into());
        }
        if i.poll_interval.0.is_zero() {
            p.push("intake.poll_interval must be more than 0s".into());
        }
        if i.lease_timeout.0 > MAX_LEASE_TIMEOUT {
            p.push(format!(
                "intake.lease_timeout must be at most {} (another instance waits this long to take over from one that died)",
                Span(MAX_LEASE_TIMEOUT)
            ));
        }
        let o = &self.outbound;
        if !looks_like_address(&o.from) {
            p.push(format!(
                "outbound.from '{}' is not an email address",
                o.from
            ));
        }
        match o.kind {
            OutboundKind::Smtp => {
                if o.host.is_empty() {
                    p.push("outbound.host is required when outbound.kind = \"smtp\"".into());
                }
                if o.tls == TlsMode::None && !o.host.is_empty() && !is_loopback(&o.host) {
                    p.push(format!(
                        "outbound.tls = \"none\" is refused for host '{}': plain SMTP is allowed on loopback only",
                        o.host
                    ));
                }
            }
            OutboundKind::File => {
                if o.dir.as_os_str().is_empty() {
                    p.push("outbound.dir is required when outbound.kind = \"file\"".into());
                }
            }
        }
        if !o.journal.is_empty() {
            if !looks_like_address(&o.journal) {
                p.push(format!(
                    "outbound.journal: '{}' is not an email address",
                    o.journal
                ));
            }
            if o.kind != OutboundKind::Smtp {
                p.push("outbound.journal needs outbound.kind = \"smtp\"".into());
            }
        }
        if o.retry_after.0.is_zero() {
            p.push("outbound.retry_after must be more than 0s".into());
        }
        check_password(&o.password, "outbound", &mut p);
        if o.kind == OutboundKind::Smtp {
            check_token(
                o.auth.takes_token().then_some(o.auth.name()),
                &o.password,
                &o.oauth2,
                &o.username,
                "outbound",
                &mut p,
            );
        }
        let r = &self.responders;
        for a in r.addresses.iter().chain(&r.notify) {
            if !looks_like_address(a) {
                p.push(format!("responders: '{a}' is not an email address"));
            }
        }
        if r.auth == AuthMode::Dmarc && r.trusted_authserv_id.trim().is_empty() {
            p.push(
                "responders.trusted_authserv_id is required when responders.auth = \"dmarc\" \
                 (the authserv-id your receiving server writes in Authentication-Results)"
                    .into(),
            );
        }
        let prefix = &self.letters.case_prefix;
        if prefix.is_empty() || !prefix.chars().all(|c| c.is_ascii_alphanumeric()) {
            p.push(format!(
                "letters.case_prefix '{prefix}' must be letters and digits only"
            ));
        }
        if self.database.url.starts_with("postgres") && self.secrets.key_file.is_none() {
            p.push(
                "secrets.key_file is required with PostgreSQL (every instance must share one key)"
                    .into(),
            );
        }
        if !self.http.listen.is_empty() && self.http.listen.parse::<std::net::SocketAddr>().is_err()
        {
            p.push(format!(
                "http.listen '{}' is not host:port (e.g. 127.0.0.1:9187)",
                self.http.listen
            ));
        }
        p
    }

    /// Warnings worth a loud line at start (allowed, but unsafe).
    pub fn warnings(&self) -> Vec<String> {
        let mut w = Vec::new();
        if self.responders.auth == AuthMode::None {
            w.push("responders.auth = \"none\": anyone who can forge a From header can command cases; use this only in a lab".into());
        }
        if self.intake.password.password.is_some() {
            w.push("intake.password is written in the config file in plain text; prefer password_env or password_file".into());
        }
        if self.outbound.password.password.is_some() {
            w.push("outbound.password is written in the config file in plain text; prefer password_env or password_file".into());
        }
        if self.intake.allowed_domains.iter().any(|d| d == "*") {
            w.push(
                "intake.allowed_domains = \"*\": anyone may report; use this only in a lab".into(),
            );
        }
        w
    }

    /// The SQLite file behind `database.url`, if it is SQLite.
    pub fn sqlite_path(&self) -> Option<PathBuf> {
        let rest = self.database.url.strip_prefix("sqlite:")?;
        let rest = rest.trim_start_matches("//");
        let rest = rest.split('?').next().unwrap_or(rest);
        (!rest.is_empty() && rest != ":memory:").then(|| PathBuf::from(rest))
    }

    /// Where readers keep their marks (`pipeline::marks`): beside the SQLite database
    /// (`var/closeloop.reading/`), or beside the key file with PostgreSQL; None for an
    /// in-memory database (nothing outlives the process).
    pub fn reading_marks_dir(&self) -> Option<PathBuf> {
        let beside = match self.sqlite_path() {
            Some(db) => db,
            None if self.database.url.starts_with("postgres") => self.key_file(),
            None => return None,
        };
        Some(beside.with_extension("reading"))
    }

    /// The fingerprint key file: configured, or beside the SQLite database.
    pub fn key_file(&self) -> PathBuf {
        if let Some(k) = &self.secrets.key_file {
            return k.clone();
        }
        match self.sqlite_path() {
            Some(db) => db.with_extension("key"),
            None => PathBuf::from("closeloop.key"),
        }
    }

    /// Lowercased addresses of configured responders.
    pub fn responder_addresses(&self) -> BTreeSet<String> {
        self.responders
            .addresses
            .iter()
            .map(|a| a.trim().to_ascii_lowercase())
            .collect()
    }

    /// Where case notifications go: `responders.notify`, else every responder.
    pub fn notify_addresses(&self) -> Vec<String> {
        let list = if self.responders.notify.is_empty() {
            &self.responders.addresses
        } else {
            &self.responders.notify
        };
        list.iter().map(|a| a.trim().to_ascii_lowercase()).collect()
    }

    /// May this sender report? Domain or full address listed, or `"*"`.
    pub fn sender_allowed(&self, address: &str) -> bool {
        let address = address.to_ascii_lowercase();
        let domain = address.rsplit_once('@').map(|(_, d)| d).unwrap_or("");
        self.intake.allowed_domains.iter().any(|entry| {
            let entry = entry.trim().to_ascii_lowercase();
            entry == "*"
                || entry == address
                || (!domain.is_empty() && entry.trim_start_matches('@') == domain)
        })
    }
}

fn check_password(src: &PasswordSource, section: &str, p: &mut Vec<String>) {
    let set = [
        src.password_env.is_some(),
        src.password_file.is_some(),
        src.password.is_some(),
    ]
    .iter()
    .filter(|b| **b)
    .count();
    if set > 1 {
        p.push(format!(
            "{section}: set only one of password_env, password_file, password"
        ));
    }
}

/// `auth = "xoauth2"` (or `"oauthbearer"`: `token_auth` names it) signs in with a token:
/// it needs a username and either a source to read the token from at each connection (not
/// a literal, which could not be refreshed) or `[section.oauth2]` to obtain tokens;
/// `[section.oauth2]` is for those mechanisms only.
fn check_token(
    token_auth: Option<&str>,
    src: &PasswordSource,
    oauth2: &Option<OAuth2>,
    username: &str,
    section: &str,
    p: &mut Vec<String>,
) {
    let from_source = src.password_env.is_some() || src.password_file.is_some();
    match (oauth2, token_auth) {
        (Some(_), None) => p.push(format!(
            "[{section}.oauth2] is set but {section}.auth is not \"xoauth2\" or \"oauthbearer\""
        )),
        (Some(_), Some(_)) if from_source || src.password.is_some() => p.push(format!(
            "{section}: set either [{section}.oauth2] (closeloop obtains tokens) or \
             password_file/password_env (a token another program writes), not both"
        )),
        (Some(o), Some(_)) => o.problems(section, p),
        (None, Some(auth)) if !from_source => p.push(format!(
            "{section}.auth = \"{auth}\" needs [{section}.oauth2] (closeloop obtains tokens) \
             or {section}.password_file (or password_env) holding the access token"
        )),
        (None, _) => {}
    }
    if let Some(auth) = token_auth {
        if username.is_empty() {
            p.push(format!(
                "{section}.auth = \"{auth}\" needs {section}.username"
            ));
        }
    }
}

fn looks_like_address(a: &str) -> bool {
    let a = a.trim();
    matches!(a.split_once('@'), Some((l, d)) if !l.is_empty() && d.contains('.') && !a.contains(char::is_whitespace))
}

/// `127.0.0.1`, `::1`, `localhost`.
pub fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_matches(|c| c == '[' || c == ']')
            .parse::<std::net::IpAddr>()
            .map(|ip| ip.is_loopback())
            .unwrap_or(false)
}

/// Applies `CLOSELOOP_SECTION_KEY=value` overrides. Values that parse as TOML
/// (numbers, booleans, arrays, quoted strings) keep their type; others are strings.
fn apply_env(
    table: &mut toml::Table,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<(), String> {
    const SECTIONS: &[&str] = &[
        "database",
        "intake",
        "outbound",
        "responders",
        "letters",
        "secrets",
        "dedup",
        "sla",
        "http",
    ];
    for (name, value) in env {
        let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        if ENV_NOT_KEYS.contains(&name.as_str()) {
            continue;
        }
        let rest = rest.to_ascii_lowercase();
        let Some((section, key)) = rest.split_once('_') else {
            return Err(format!(
                "environment variable {name} does not name a section and key"
            ));
        };
        if !SECTIONS.contains(&section) {
            return Err(format!(
                "environment variable {name}: unknown section '{section}'"
            ));
        }
        let parsed = format!("v = {value}")
            .parse::<toml::Table>()
            .ok()
            .and_then(|mut t| t.remove("v"))
            .unwrap_or_else(|| toml::Value::String(value.clone()));
        let entry = table
            .entry(section.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        match entry {
            toml::Value::Table(t) => {
                t.insert(key.to_string(), parsed);
            }
            _ => return Err(format!("[{section}] is not a table")),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_toml(
            Path::new("test.toml"),
            text,
            env.iter().map(|(k, v)| (k.to_string(), v.to_string())),
        )
    }

    const MINIMAL: &str =
        "[intake]\nallowed_domains = [\"example.org\"]\n[responders]\nauth = \"none\"\n";

    #[test]
    fn durations_are_written_compactly() {
        for (secs, want) in [
            (0, "0s"),
            (90, "1m30s"),
            (14_400, "4h"),
            (604_800, "7d"),
            (5400, "1h30m"),
        ] {
            assert_eq!(Span(Duration::from_secs(secs)).to_string(), want);
        }
    }

    #[test]
    fn durations_parse_in_all_units() {
        for (s, secs) in [
            ("90s", 90),
            ("15m", 900),
            ("4h", 14_400),
            ("7d", 604_800),
            ("1h30m", 5400),
        ] {
            assert_eq!(Span::parse(s).unwrap().0.as_secs(), secs, "{s}");
            let span = Span::parse(s).unwrap();
            assert_eq!(
                Span::parse(&span.to_string()),
                Ok(span),
                "written back: {s}"
            );
        }
        for bad in ["", "10", "5x", "m"] {
            assert!(Span::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn defaults_fill_missing_keys() {
        let c = load(MINIMAL, &[]).unwrap();
        assert_eq!(c.database.url, "sqlite://var/closeloop.db");
        assert_eq!(c.letters.case_prefix, "CL");
        assert_eq!(c.key_file(), PathBuf::from("var/closeloop.key"));
        assert_eq!(c.dedup.reopen_window.0.as_secs(), 30 * 86_400);
    }

    #[test]
    fn reading_marks_live_beside_the_database_or_the_shared_key() {
        let mut c = load(MINIMAL, &[]).unwrap();
        assert_eq!(
            c.reading_marks_dir(),
            Some(PathBuf::from("var/closeloop.reading"))
        );
        c.database.url = "sqlite::memory:".into();
        assert_eq!(c.reading_marks_dir(), None);
        c.database.url = "postgres://db.example.org/closeloop".into();
        c.secrets.key_file = Some(PathBuf::from("/var/lib/closeloop/fp.key"));
        assert_eq!(
            c.reading_marks_dir(),
            Some(PathBuf::from("/var/lib/closeloop/fp.reading"))
        );
    }

    #[test]
    fn unknown_keys_are_named() {
        let err = load(&format!("{MINIMAL}[letters]\ncase_prefx = \"X\"\n"), &[])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("test.toml") && err.contains("case_prefx"),
            "{err}"
        );
        // The file's own mistakes are shown at their line; an override's are named as such.
        let text = format!("{MINIMAL}[letters]\norg_name = \"X\"\ncase_prefx = \"X\"\n");
        let line = text
            .lines()
            .position(|l| l.starts_with("case_prefx"))
            .unwrap()
            + 1;
        let err = load(&text, &[]).unwrap_err().to_string();
        assert!(
            err.contains(&format!("line {line}")) && err.contains("unknown field `case_prefx`"),
            "{err}"
        );
        // A mistyped line is pointed at, never quoted: it may hold a password.
        for bad in [
            "[intake]\npassword = hunter2\n",
            "[intake]\npasword = \"hunter2\"\n",
        ] {
            let err = load(bad, &[]).unwrap_err().to_string();
            assert!(
                err.contains("line 2") || err.contains("in [intake] (line 1)"),
                "{err}"
            );
            assert!(!err.contains("hunter2"), "{err}");
        }
        let err = load(MINIMAL, &[("CLOSELOOP_LETTERS_CASE_PREFX", "X")])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("unknown field `case_prefx`")
                && err.contains("set by a CLOSELOOP_* environment variable"),
            "{err}"
        );
    }

    #[test]
    fn every_problem_is_reported_with_its_key() {
        let text = "[intake]\nkind = \"imap\"\ntls = \"none\"\nhost = \"mail.example.org\"\n\
                    [outbound]\nfrom = \"nobody\"\n[responders]\nauth = \"dmarc\"\n";
        refused_naming(
            text,
            &[
                "intake.username",
                "intake.tls",
                "intake.allowed_domains",
                "outbound.from",
                "responders.trusted_authserv_id",
            ],
        );
    }

    #[test]
    fn a_lease_timeout_longer_than_a_day_is_refused() {
        let text = MINIMAL.replacen("[intake]\n", "[intake]\nlease_timeout = \"1d\"\n", 1);
        assert_eq!(
            load(&text, &[]).unwrap().intake.lease_timeout.0.as_secs(),
            86_400
        );
        let text = MINIMAL.replacen(
            "[intake]\n",
            "[intake]\nlease_timeout = \"200000000000d\"\n",
            1,
        );
        refused_naming(&text, &["intake.lease_timeout must be at most 1d"]);
    }

    /// Loads `text`, which must be refused; the error must name each of `wants`.
    fn refused_naming(text: &str, wants: &[&str]) -> String {
        let err = load(text, &[]).unwrap_err().to_string();
        for want in wants {
            assert!(err.contains(want), "missing {want:?} in {err}");
        }
        err
    }

    #[test]
    fn the_imap_sign_in_mechanism_is_chosen_by_intake_auth() {
        let c = load(MINIMAL, &[]).unwrap();
        assert_eq!(c.intake.auth, ImapAuth::Login);
        let c = load(MINIMAL, &[("CLOSELOOP_INTAKE_AUTH", "xoauth2")]).unwrap();
        assert_eq!(c.intake.auth, ImapAuth::Xoauth2);
        let c = load(MINIMAL, &[("CLOSELOOP_INTAKE_AUTH", "oauthbearer")]).unwrap();
        assert!(c.intake.auth.takes_token() && !ImapAuth::Plain.takes_token());
        let text = MINIMAL.replacen("[intake]\n", "[intake]\nauth = \"plain\"\n", 1);
        assert_eq!(load(&text, &[]).unwrap().intake.auth, ImapAuth::Plain);
        let text = MINIMAL.replacen("[intake]\n", "[intake]\nauth = \"oauth\"\n", 1);
        let err = load(&text, &[]).unwrap_err().to_string();
        assert!(err.contains("oauth") && err.contains("xoauth2"), "{err}");
    }

    #[test]
    fn a_token_sign_in_needs_a_username_and_a_token_source() {
        let text = "[intake]\nkind = \"imap\"\nhost = \"imap.example.org\"\nauth = \"xoauth2\"\n\
                    allowed_domains = [\"example.org\"]\n\
                    [outbound]\nkind = \"smtp\"\nhost = \"smtp.example.org\"\nauth = \"xoauth2\"\n\
                    username = \"sec@example.org\"\npassword = \"literal\"\n\
                    [responders]\nauth = \"none\"\n";
        let err = refused_naming(
            text,
            &[
                "intake.auth = \"xoauth2\" needs intake.username",
                "intake.auth = \"xoauth2\" needs [intake.oauth2] (closeloop obtains tokens) or intake.password_file",
                "outbound.auth = \"xoauth2\" needs [outbound.oauth2] (closeloop obtains tokens) or outbound.password_file",
            ],
        );
        assert!(
            !err.contains("outbound.auth = \"xoauth2\" needs outbound.username"),
            "{err}"
        );
        refused_naming(
            &text.replace("xoauth2", "oauthbearer"),
            &[
                "intake.auth = \"oauthbearer\" needs intake.username",
                "outbound.auth = \"oauthbearer\" needs [outbound.oauth2]",
            ],
        );
        let fixed = text
            .replace("password = \"literal\"", "password_file = \"/run/smtp-token\"")
            .replacen(
                "auth = \"xoauth2\"\n",
                "auth = \"xoauth2\"\nusername = \"sec@example.org\"\npassword_env = \"IMAP_TOKEN\"\n",
                1,
            );
        let c = load(&fixed, &[]).unwrap();
        assert_eq!(
            (c.intake.auth, c.outbound.auth),
            (ImapAuth::Xoauth2, SmtpAuth::Xoauth2)
        );
    }

    #[test]
    fn an_oauth2_table_names_its_endpoint_client_and_secret_sources() {
        let base = "[intake]\nkind = \"imap\"\nhost = \"imap.example.org\"\nauth = \"xoauth2\"\n\
                    username = \"sec@example.org\"\nallowed_domains = [\"example.org\"]\n\
                    [responders]\nauth = \"none\"\n";
        let with = |table: &str| format!("{base}[intake.oauth2]\n{table}");
        let good = with(
            "token_url = \"https://login.example.com/t/oauth2/v2.0/token\"\n\
             client_id = \"c1\"\nscope = \"https://outlook.office365.com/.default\"\n\
             client_secret_file = \"/run/secret\"\n",
        );
        let c = load(&good, &[]).unwrap();
        let o = c.intake.oauth2.expect("oauth2 table");
        assert_eq!(o.client_id, "c1");
        assert_eq!(o.client_secret_file, Some(PathBuf::from("/run/secret")));
        refused_naming(
            &with("token_url = \"http://login.example.com/token\"\n"),
            &[
                "intake.oauth2.token_url 'http://login.example.com/token': plain http is allowed on loopback only",
                "intake.oauth2.client_id is required",
                "intake.oauth2 needs client_secret_file (or client_secret_env, or client_certificate_file",
            ],
        );
        let userinfo = with(
            "token_url = \"http://app:pw@login.example.com/t\"\nclient_id = \"c\"\nclient_secret_env = \"S\"\n",
        );
        let err = refused_naming(
            &userinfo,
            &["intake.oauth2.token_url must not carry a user or password"],
        );
        assert!(!err.contains(":pw@"), "{err}");
        refused_naming(
            &with(
                "token_url = \"login.example.com\"\nclient_id = \"c\"\n\
                 refresh_token_env = \"A\"\nrefresh_token_file = \"/b\"\n",
            ),
            &[
                "intake.oauth2.token_url 'login.example.com' must be an https:// address",
                "intake.oauth2: set only one of refresh_token_env, refresh_token_file",
            ],
        );
        // The device authorization endpoint (oauth2-login) follows the token URL's rules.
        for bad in [
            "http://login.example.com/devicecode",
            "https://app:pw@login.example.com/devicecode",
            "http://app:pw@127.0.0.1/devicecode",
            "login.example.com",
        ] {
            for key in ["device_authorization_url", "authorization_url"] {
                let table = good.replace(
                    "client_id = \"c1\"",
                    &format!("client_id = \"c1\"\n{key} = \"{bad}\""),
                );
                let err = refused_naming(&table, &[&format!("intake.oauth2.{key} '")]);
                assert!(!err.contains(":pw@"), "{err}");
            }
        }
        let device = good.replace(
            "client_id = \"c1\"",
            "client_id = \"c1\"\ndevice_authorization_url = \"https://oauth2.googleapis.com/device/code\"",
        );
        assert!(load(&device, &[]).is_ok());
        // Plain http to a loopback endpoint (a lab), with a refresh token only: accepted.
        for host in ["127.0.0.1:8080", "localhost", "[::1]:9"] {
            let lab = with(&format!(
                "token_url = \"http://{host}/token\"\nclient_id = \"c\"\nrefresh_token_env = \"RT\"\n"
            ));
            assert!(load(&lab, &[]).is_ok(), "{host}");
        }
        // Not with a token file as well, and not under another mechanism.
        let both = good.replacen(
            "auth = \"xoauth2\"\n",
            "auth = \"xoauth2\"\npassword_file = \"/run/token\"\n",
            1,
        );
        refused_naming(&both, &["intake: set either [intake.oauth2]"]);
        let login = good.replacen("auth = \"xoauth2\"", "auth = \"login\"", 1);
        refused_naming(
            &login,
            &["[intake.oauth2] is set but intake.auth is not \"xoauth2\" or \"oauthbearer\""],
        );
        // A Google service account: no client id or token_url needed, no other secret.
        let sa = with("service_account_file = \"/etc/closeloop/sa.json\"\nscope = \"https://mail.google.com/\"\n");
        let c = load(&sa, &[]).unwrap();
        assert!(c.intake.oauth2.unwrap().service_account_file.is_some());
        refused_naming(
            &sa.replace("scope =", "client_secret_env = \"S\"\nscope ="),
            &["intake.oauth2: service_account_file signs its own requests"],
        );
        // A certificate credential: both files, and no secret beside them.
        let cert = with(
            "token_url = \"https://login.example.com/t\"\nclient_id = \"c\"\n\
             client_certificate_file = \"/etc/closeloop/app.pem\"\n\
             client_key_file = \"/etc/closeloop/app.key\"\n",
        );
        assert!(load(&cert, &[])
            .unwrap()
            .intake
            .oauth2
            .unwrap()
            .client_key_file
            .is_some());
        refused_naming(
            &cert.replace("client_key_file", "client_secret_file"),
            &[
                "intake.oauth2: client_certificate_file and client_key_file go together",
                "intake.oauth2: set a client certificate or a client secret, not both",
            ],
        );
        // A literal secret is not a key.
        let literal = with(
            "token_url = \"https://x.example/t\"\nclient_id = \"c\"\nclient_secret = \"s3cr3t\"\n",
        );
        let err = load(&literal, &[]).unwrap_err().to_string();
        assert!(err.contains("client_secret"), "{err}");
        assert!(!err.contains("s3cr3t"), "{err}");
    }

    #[test]
    fn secrets_are_read_from_the_variable_or_the_file_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("s");
        std::fs::write(&file, "from-file\r\n").unwrap();
        assert_eq!(
            read_secret(None, Some(&file), "outbound.oauth2.client_secret").unwrap(),
            Some("from-file".to_string())
        );
        assert_eq!(read_secret(None, None, "k").unwrap(), None);
        let err = read_secret(
            Some("CLOSELOOP_TEST_UNSET_VAR_9"),
            None,
            "intake.oauth2.refresh_token",
        )
        .unwrap_err();
        assert_eq!(
            err,
            "intake.oauth2.refresh_token_env names CLOSELOOP_TEST_UNSET_VAR_9, which is not set"
        );
        let err =
            read_secret(None, Some(&dir.path().join("missing")), "intake.password").unwrap_err();
        assert!(
            err.starts_with("intake.password_file ") && err.contains("missing"),
            "{err}"
        );
    }

    #[test]
    fn a_journal_address_needs_smtp_and_an_address() {
        let base = "[intake]\nallowed_domains = [\"example.org\"]\n[responders]\nauth = \"none\"\n";
        let file =
            format!("{base}[outbound]\nkind = \"file\"\njournal = \"security@example.org\"\n");
        let err = load(&file, &[]).unwrap_err().to_string();
        assert!(
            err.contains("outbound.journal needs outbound.kind = \"smtp\""),
            "{err}"
        );
        let smtp = format!(
            "{base}[outbound]\nkind = \"smtp\"\nhost = \"127.0.0.1\"\ntls = \"none\"\njournal = \"not an address\"\n"
        );
        let err = load(&smtp, &[]).unwrap_err().to_string();
        assert!(err.contains("outbound.journal: 'not an address'"), "{err}");
        let ok = smtp.replace("not an address", "security@example.org");
        assert_eq!(
            load(&ok, &[]).unwrap().outbound.journal,
            "security@example.org"
        );
    }

    #[test]
    fn env_overrides_keep_types() {
        let c = load(
            MINIMAL,
            &[
                ("CLOSELOOP_DATABASE_URL", "sqlite:///tmp/x.db"),
                ("CLOSELOOP_INTAKE_MAX_MESSAGE_BYTES", "2048"),
                ("CLOSELOOP_LETTERS_ACK", "false"),
                ("CLOSELOOP_CONFIG", "ignored.toml"),
            ],
        )
        .unwrap();
        assert_eq!(c.database.url, "sqlite:///tmp/x.db");
        assert_eq!(c.intake.max_message_bytes, 2048);
        assert!(!c.letters.ack);
        assert!(load(MINIMAL, &[("CLOSELOOP_NOPE_X", "1")]).is_err());
    }

    #[test]
    fn senders_are_matched_by_domain_or_address() {
        let mut c = load(MINIMAL, &[]).unwrap();
        c.intake.allowed_domains = vec!["example.org".into(), "vendor@partner.test".into()];
        assert!(c.sender_allowed("Alice@Example.org"));
        assert!(c.sender_allowed("vendor@partner.test"));
        assert!(!c.sender_allowed("other@partner.test"));
        assert!(!c.sender_allowed("mallory@example.org.evil.test"));
        c.intake.allowed_domains = vec!["*".into()];
        assert!(c.sender_allowed("anyone@anywhere.test"));
    }

    #[test]
    fn literal_passwords_stay_out_of_debug() {
        let c = load(
            &format!("{MINIMAL}[outbound]\npassword = \"hunter2-secret\"\n"),
            &[],
        )
        .unwrap();
        assert!(!format!("{c:?}").contains("hunter2-secret"));
        assert!(c.warnings().iter().any(|w| w.contains("outbound.password")));
    }

    /// Every key of SPEC §7, by section.
    const SPEC_KEYS: &[(&str, &[&str])] = &[
        ("database", &["url"]),
        (
            "intake",
            &[
                "kind",
                "dir",
                "host",
                "port",
                "tls",
                "username",
                "password_env",
                "password_file",
                "mailbox",
                "processed_mailbox",
                "poll_interval",
                "idle",
                "allowed_domains",
                "max_message_bytes",
                "lease_timeout",
            ],
        ),
        (
            "outbound",
            &[
                "kind",
                "host",
                "port",
                "tls",
                "username",
                "password_env",
                "password_file",
                "from",
                "dir",
            ],
        ),
        (
            "responders",
            &["addresses", "notify", "auth", "trusted_authserv_id"],
        ),
        (
            "letters",
            &["org_name", "ack", "templates_dir", "case_prefix"],
        ),
        ("secrets", &["key_file"]),
        ("dedup", &["reopen_window"]),
        ("sla", &["classify_within", "outcome_within"]),
        ("http", &["listen"]),
    ];

    fn sample() -> (PathBuf, String) {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/closeloop.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        (path, text)
    }

    #[test]
    fn the_sample_config_parses_without_warnings() {
        let (path, text) = sample();
        let c = Config::from_toml(&path, &text, std::iter::empty()).unwrap();
        assert!(c.warnings().is_empty(), "{:?}", c.warnings());
        assert_eq!(c.intake.kind, IntakeKind::Maildir);
        assert_eq!(c.outbound.kind, OutboundKind::File);
        // Its values are the defaults wherever a default exists.
        let d = Config::default();
        assert_eq!(c.database.url, d.database.url);
        assert_eq!(c.intake.dir, d.intake.dir);
        assert_eq!(c.intake.max_message_bytes, d.intake.max_message_bytes);
        assert_eq!(c.outbound.dir, d.outbound.dir);
        assert_eq!(c.key_file(), d.key_file());
        assert_eq!(c.dedup.reopen_window, d.dedup.reopen_window);
        assert_eq!(c.sla.classify_within, d.sla.classify_within);
        assert_eq!(c.sla.outcome_within, d.sla.outcome_within);
        assert_eq!(c.http.listen, d.http.listen);
        assert_eq!(c.letters.case_prefix, d.letters.case_prefix);
    }

    /// Each section of SPEC §7 appears, with every key set or shown commented;
    /// the commented ones are real keys with values of the right type.
    #[test]
    fn the_sample_config_shows_every_key() {
        let (path, text) = sample();
        let sections: Vec<(String, Vec<String>)> = text
            .split("\n[")
            .skip(1)
            .map(|chunk| {
                let (name, body) = chunk.split_once(']').unwrap();
                let keys = body
                    .lines()
                    .filter_map(|l| {
                        let l = l.trim().trim_start_matches('#').trim_start();
                        let (k, _) = l.split_once(" = ")?;
                        k.chars()
                            .all(|c| c.is_ascii_lowercase() || c == '_')
                            .then(|| k.to_string())
                    })
                    .collect();
                (name.to_string(), keys)
            })
            .collect();
        for (section, keys) in SPEC_KEYS {
            let found = sections
                .iter()
                .find(|(s, _)| s == section)
                .unwrap_or_else(|| panic!("section [{section}] missing"));
            for k in *keys {
                assert!(found.1.iter().any(|f| f == k), "[{section}] {k} missing");
            }
        }
        // Uncommented, the shown keys and sub-tables (`# [intake.oauth2]`) still
        // deserialize (only validation may object: both password sources are shown).
        let uncommented: String = text
            .lines()
            .map(|l| match l.strip_prefix("# ") {
                Some(rest)
                    if rest.split_once(" = ").is_some_and(|(k, _)| {
                        k.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                    }) || (rest.starts_with('[') && rest.ends_with(".oauth2]")) =>
                {
                    rest
                }
                _ => l,
            })
            .collect::<Vec<_>>()
            .join("\n");
        match Config::from_toml(&path, &uncommented, std::iter::empty()) {
            Ok(_) | Err(ConfigError::Invalid { .. }) => {}
            Err(e) => panic!("a commented key is wrong: {e}"),
        }
    }

    #[test]
    fn a_maildir_processed_folder_is_a_plain_folder_name() {
        for good in ["Processed", "Archive/Processed", "Done 2026"] {
            let env = [("CLOSELOOP_INTAKE_PROCESSED_MAILBOX", good)];
            assert!(load(MINIMAL, &env).is_ok(), "{good}");
        }
        for bad in ["", ".Processed", "../x", "a//b", "a.b", "x\\y"] {
            let env = [("CLOSELOOP_INTAKE_PROCESSED_MAILBOX", bad)];
            let err = load(MINIMAL, &env).unwrap_err().to_string();
            assert!(
                err.contains(&format!(
                    "intake.processed_mailbox '{bad}' is not a folder name"
                )),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn loopback_hosts() {
        assert!(is_loopback("127.0.0.1") && is_loopback("localhost") && is_loopback("[::1]"));
        assert!(!is_loopback("mail.example.org") && !is_loopback("10.0.0.1"));
    }
}
