//! OAuth2 access tokens for XOAUTH2 and OAUTHBEARER sign-in, obtained from the identity
//! provider's token endpoint (`[intake.oauth2]`, `[outbound.oauth2]`): the client
//! credentials grant (RFC 6749 §4.4; Microsoft 365 with an app registration, which proves
//! who it is by a client secret or a certificate, RFC 7523 §2.2); when a
//! refresh token is configured, the refresh token grant (§6; Gmail and other
//! user-consented apps); with a Google service account's key file, the JWT bearer grant
//! (RFC 7523; Google Workspace with domain-wide delegation, acting as the mailbox's user).
//! A refresh token is obtained once by signing in as the mailbox's user (`login`, for
//! `closeloop oauth2-login`: the device authorization or the authorization code grant).
//! A token is kept in memory and used until shortly before it expires, or until the mail
//! server refuses it (`forget`); IMAP and SMTP asking with the same client, scope and user
//! share it. A provider that rotates refresh tokens is followed: the newest is kept and
//! written back to `refresh_token_file`. The SASL messages that carry a token are built
//! here too (`xoauth2`, `oauthbearer`).
//!
//! Secrets (client secret, refresh token, access token) never appear in errors or logs;
//! a provider's error text is shown with any of them blanked out, in case it echoes one.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper::{Request, Uri};
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::Mutex;

use crate::config::{is_loopback, OAuth2, PasswordSource};

mod browser;
mod client_certificate;
mod device;
mod jwt;
mod login;
mod service_account;
pub use browser::authorization_url;
use client_certificate::ClientCertificate;
pub use device::{device_authorization_url, Prompt};
pub use login::{login, Shown, Way};
use service_account::ServiceAccount;

/// Connecting, the TLS handshake and the whole exchange each get this long.
#[cfg(not(test))]
const TIMEOUT: Duration = Duration::from_secs(30);
#[cfg(test)]
const TIMEOUT: Duration = Duration::from_secs(2);
/// A token endpoint's answer is a small JSON object; more is refused.
const MAX_RESPONSE: usize = 64 * 1024;
/// Renew this long before the provider's expiry (at most half the token's life).
const RENEW_BEFORE: Duration = Duration::from_secs(300);
/// A token is renewed after a day at the latest, whatever its stated life.
const LONGEST_KEPT: Duration = Duration::from_secs(86_400);
/// A token whose answer gives no `expires_in` is used for this long.
const UNSTATED_LIFETIME: Duration = Duration::from_secs(600);

#[derive(Debug, thiserror::Error)]
#[error("{section}.oauth2: {reason}")]
pub struct OAuth2Error {
    section: String,
    reason: String,
}

impl OAuth2Error {
    /// Makes errors of `[{section}.oauth2]` from their reasons.
    fn in_section(section: &str) -> impl Fn(String) -> OAuth2Error + Copy + '_ {
        move |reason| OAuth2Error {
            section: section.to_string(),
            reason,
        }
    }
}

/// Tokens by (token_url, client_id, scope, service_account_file, user).
type Key = (String, String, String, Option<PathBuf>, String);

struct Held {
    access_token: String,
    renew_at: Instant,
    /// The newest refresh token a rotating provider handed out.
    refresh_token: Option<String>,
}

/// One lock for all: a second caller waits for the fetch in flight instead of fetching too.
static TOKENS: LazyLock<Mutex<HashMap<Key, Held>>> = LazyLock::new(Default::default);

fn key(cfg: &OAuth2, user: &str) -> Key {
    (
        cfg.token_url.clone(),
        cfg.client_id.clone(),
        cfg.scope.clone(),
        cfg.service_account_file.clone(),
        user.to_string(),
    )
}

/// One token request, ready to post.
struct TokenRequest {
    url: String,
    form: String,
    grant: &'static str,
    /// What the request carries that must never be shown (blanked in errors).
    secrets: Vec<String>,
    /// The refresh token sent, under the refresh token grant.
    refresh_token: Option<String>,
}

/// An access token for `cfg` and the mailbox `user`: the one held while it is fresh, else
/// a new one from the token endpoint. `section` ("intake", "outbound") names the config
/// table in errors.
pub async fn access_token(section: &str, cfg: &OAuth2, user: &str) -> Result<String, OAuth2Error> {
    let fail = OAuth2Error::in_section(section);
    let mut tokens = TOKENS.lock().await;
    let key = key(cfg, user);
    let rotated = match tokens.get(&key) {
        Some(held) if Instant::now() < held.renew_at => return Ok(held.access_token.clone()),
        Some(held) => held.refresh_token.clone(),
        None => None,
    };
    let request = match &cfg.service_account_file {
        Some(file) => service_account_request(cfg, file, user),
        None => client_request(section, cfg, rotated),
    }
    .map_err(fail)?;
    let TokenRequest {
        url,
        form,
        grant,
        secrets,
        refresh_token,
    } = request;
    let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
    let at = |reason: String| fail(format!("token endpoint {url}: {reason}"));
    let (status, body) = post_form(&url, form)
        .await
        .map_err(|e| at(blank(&e, &secrets)))?;
    let granted = read_answer(status, &body).map_err(|e| at(blank(&e, &secrets)))?;

    let lifetime = granted
        .lifetime
        .unwrap_or(UNSTATED_LIFETIME)
        .min(LONGEST_KEPT);
    let renew_at = Instant::now() + lifetime - RENEW_BEFORE.min(lifetime / 2);
    tracing::info!(
        section,
        token_url = %url,
        grant,
        expires_in_s = granted.lifetime.map(|d| d.as_secs()),
        "OAuth2 access token obtained"
    );
    // Followed only under the refresh token grant (a client credentials answer should
    // carry none, RFC 6749 §4.4.3).
    let newest = match granted.refresh_token {
        Some(new) if refresh_token.is_some() && Some(&new) != refresh_token.as_ref() => {
            keep_rotated(section, cfg.refresh_token_file.as_deref(), &new);
            Some(new)
        }
        _ => refresh_token,
    };
    tokens.insert(
        key,
        Held {
            access_token: granted.access_token.clone(),
            renew_at,
            refresh_token: newest,
        },
    );
    Ok(granted.access_token)
}

/// How the client proves who it is to the token endpoint.
enum ClientAuth {
    /// A public client (a refresh token alone).
    None,
    Secret(String),
    /// A signed client assertion (`client_certificate_file`, `client_key_file`).
    Assertion(String),
}

impl ClientAuth {
    /// What proves the client, to be blanked wherever it could be shown.
    fn secret(self) -> Option<String> {
        match self {
            ClientAuth::None => None,
            ClientAuth::Secret(s) | ClientAuth::Assertion(s) => Some(s),
        }
    }

    /// Adds the client's id and proof to a request's form.
    fn append(&self, cfg: &OAuth2, form: &mut form_urlencoded::Serializer<'_, String>) {
        form.append_pair("client_id", &cfg.client_id);
        match self {
            ClientAuth::None => {}
            ClientAuth::Secret(s) => {
                form.append_pair("client_secret", s);
            }
            ClientAuth::Assertion(jwt) => {
                form.append_pair(
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                )
                .append_pair("client_assertion", jwt);
            }
        }
    }
}

/// How the client of `cfg` proves who it is: a signed assertion when it has a
/// certificate, its secret when it has one, else nothing (a public client).
fn client_auth(section: &str, cfg: &OAuth2) -> Result<ClientAuth, String> {
    Ok(match (&cfg.client_certificate_file, &cfg.client_key_file) {
        (Some(cert), Some(key)) => {
            ClientAuth::Assertion(ClientCertificate::read(cert, key)?.assertion(
                &cfg.client_id,
                &cfg.token_url,
                jwt::now(),
            )?)
        }
        _ => cfg
            .client_secret(section)?
            .map_or(ClientAuth::None, ClientAuth::Secret),
    })
}

/// The client credentials grant, or the refresh token grant when there is a refresh token
/// (`rotated`, the newest a provider handed out, before the configured one); the client
/// authenticated by its certificate or its secret.
fn client_request(
    section: &str,
    cfg: &OAuth2,
    rotated: Option<String>,
) -> Result<TokenRequest, String> {
    let auth = client_auth(section, cfg)?;
    let refresh_token = match rotated {
        Some(t) => Some(t),
        None => cfg.refresh_token(section)?,
    };
    let form = request_form(cfg, &auth, refresh_token.as_deref());
    Ok(TokenRequest {
        url: cfg.token_url.clone(),
        form,
        grant: if refresh_token.is_some() {
            "refresh_token"
        } else {
            "client_credentials"
        },
        secrets: auth
            .secret()
            .into_iter()
            .chain(refresh_token.clone())
            .collect(),
        refresh_token,
    })
}

/// The JWT bearer grant (RFC 7523) with a Google service account's signed assertion,
/// acting as `user` (domain-wide delegation).
fn service_account_request(cfg: &OAuth2, file: &Path, user: &str) -> Result<TokenRequest, String> {
    let sa = ServiceAccount::read(file)?;
    let url = if cfg.token_url.is_empty() {
        sa.token_uri.clone()
    } else {
        cfg.token_url.clone()
    };
    if url.is_empty() {
        return Err(format!(
            "service_account_file {} has no token_uri: set token_url",
            file.display()
        ));
    }
    let assertion = sa.assertion(&url, &cfg.scope, user, jwt::now())?;
    let form = form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer")
        .append_pair("assertion", &assertion)
        .finish();
    Ok(TokenRequest {
        url,
        form,
        grant: "jwt-bearer",
        secrets: vec![assertion],
        refresh_token: None,
    })
}

/// The token request's body: the refresh token grant when there is a refresh token, else
/// client credentials; the client's secret or signed assertion when it has one (a public
/// client has neither).
fn request_form(cfg: &OAuth2, auth: &ClientAuth, refresh_token: Option<&str>) -> String {
    let mut form = form_urlencoded::Serializer::new(String::new());
    match refresh_token {
        Some(t) => form
            .append_pair("grant_type", "refresh_token")
            .append_pair("refresh_token", t),
        None => form.append_pair("grant_type", "client_credentials"),
    };
    auth.append(cfg, &mut form);
    if !cfg.scope.trim().is_empty() {
        form.append_pair("scope", cfg.scope.trim());
    }
    form.finish()
}

/// XOAUTH2's client message (Google's and Microsoft's format): `user=…^Aauth=Bearer …^A^A`.
pub fn xoauth2(username: &str, token: &str) -> String {
    format!("user={username}\x01auth=Bearer {token}\x01\x01")
}

/// OAUTHBEARER's initial client response (RFC 7628 §3.1): a GS2 header naming the user
/// (`,` and `=` written `=2C` and `=3D`, RFC 5801), the host and port connected to, the
/// bearer token.
pub fn oauthbearer(username: &str, token: &str, host: &str, port: u16) -> String {
    let user = username.replace('=', "=3D").replace(',', "=2C");
    format!("n,a={user},\x01host={host}\x01port={port}\x01auth=Bearer {token}\x01\x01")
}

/// Reads every secret source `cfg` names, so that a missing variable or file stops the
/// start instead of the first sign-in.
pub fn check_sources(section: &str, cfg: &OAuth2) -> Result<(), String> {
    cfg.client_secret(section)?;
    cfg.refresh_token(section)?;
    let at = |e: String| format!("{section}.oauth2: {e}");
    if let Some(file) = &cfg.service_account_file {
        ServiceAccount::read(file).map_err(at)?;
    }
    if let (Some(cert), Some(key)) = (&cfg.client_certificate_file, &cfg.client_key_file) {
        ClientCertificate::read(cert, key).map_err(at)?;
    }
    Ok(())
}

/// The secret a sign-in sends for `user`: a token from the provider when `oauth2` is set,
/// else what the password source holds (None when it names none). Errors name the key at
/// fault, never a secret.
pub async fn sign_in_secret(
    section: &str,
    password: &PasswordSource,
    oauth2: Option<&OAuth2>,
    user: &str,
) -> Result<Option<String>, String> {
    match oauth2 {
        Some(o) => access_token(section, o, user)
            .await
            .map(Some)
            .map_err(|e| e.to_string()),
        None => password.resolve(section),
    }
}

/// The server refused what `sign_in_secret` gave: a provider's token is not sent again.
pub async fn refused(oauth2: Option<&OAuth2>, user: &str) {
    if let Some(o) = oauth2 {
        forget(o, user).await;
    }
}

/// The mail server refused the token held for `cfg`: the next sign-in asks for a new one
/// (a rotated refresh token is kept).
async fn forget(cfg: &OAuth2, user: &str) {
    if let Some(held) = TOKENS.lock().await.get_mut(&key(cfg, user)) {
        held.renew_at = Instant::now();
    }
}

/// Writes a rotated refresh token over `file` (`write_secret_file`). A failure is
/// logged: the token is still used from memory until the next restart.
fn keep_rotated(section: &str, file: Option<&Path>, token: &str) {
    let Some(file) = file else {
        tracing::info!(
            section,
            "the provider rotated the refresh token; the new one is kept in memory \
             (refresh_token_env cannot be written back)"
        );
        return;
    };
    match write_secret_file(file, token) {
        Ok(()) => tracing::info!(
            section,
            file = %file.display(),
            "the provider rotated the refresh token; the new one is written back"
        ),
        Err(e) => tracing::warn!(
            section,
            file = %file.display(),
            error = %e,
            "the provider rotated the refresh token and it cannot be written back; \
             it is used from memory until closeloop restarts"
        ),
    }
}

/// Writes `secret` over `file`: a temporary file beside it, owner-only, then renamed, so
/// a crash leaves the old or the new one whole. A file it replaces keeps its owner where
/// closeloop may set it (as root: `sudo closeloop oauth2-login` must not leave the token
/// unreadable to the user the daemon runs as).
fn write_secret_file(file: &Path, secret: &str) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = file.with_extension("closeloop-new");
    // A leftover of a crash may carry other permissions: start afresh.
    let _ = std::fs::remove_file(&tmp);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options.open(&tmp)?;
    f.write_all(secret.as_bytes())?;
    f.write_all(b"\n")?;
    f.sync_all()?;
    #[cfg(unix)]
    if let Ok(old) = std::fs::metadata(file) {
        use std::os::unix::fs::MetadataExt;
        match std::os::unix::fs::chown(&tmp, Some(old.uid()), Some(old.gid())) {
            Err(e) if e.kind() != std::io::ErrorKind::PermissionDenied => return Err(e),
            _ => {}
        }
    }
    std::fs::rename(&tmp, file)
}

/// What a successful answer gives.
#[derive(Debug, PartialEq)]
struct Granted {
    access_token: String,
    lifetime: Option<Duration>,
    refresh_token: Option<String>,
}

#[derive(Deserialize)]
struct Answer {
    access_token: Option<String>,
    token_type: Option<String>,
    /// A number of seconds; some providers send it as a string.
    expires_in: Option<serde_json::Value>,
    refresh_token: Option<String>,
}

/// Reads the endpoint's answer (RFC 6749 §5.1, §5.2). An error names the HTTP status
/// and the provider's `error` and `error_description`.
fn read_answer(status: u16, body: &[u8]) -> Result<Granted, String> {
    refusal(status, body)?;
    let answer: Answer =
        serde_json::from_slice(body).map_err(|_| "HTTP 200 without a JSON object")?;
    let access_token = answer
        .access_token
        .filter(|t| !t.is_empty())
        .ok_or("the answer has no access_token")?;
    if let Some(kind) = &answer.token_type {
        if !kind.eq_ignore_ascii_case("bearer") {
            return Err(format!(
                "token_type '{}' is not Bearer",
                printable(kind, 40)
            ));
        }
    }
    let lifetime = seconds(answer.expires_in.as_ref());
    Ok(Granted {
        access_token,
        lifetime,
        refresh_token: answer.refresh_token.filter(|t| !t.is_empty()),
    })
}

/// An endpoint's refusal (a status other than 2xx; RFC 6749 §5.2): the status and the
/// provider's `error` and `error_description`.
fn refusal(status: u16, body: &[u8]) -> Result<(), String> {
    if (200..300).contains(&status) {
        return Ok(());
    }
    #[derive(Deserialize)]
    struct Refused {
        error: Option<String>,
        error_description: Option<String>,
    }
    let said = serde_json::from_slice::<Refused>(body)
        .ok()
        .map(|a| {
            [a.error, a.error_description]
                .into_iter()
                .flatten()
                .map(|t| printable(&t, 400))
                .collect::<Vec<_>>()
                .join(": ")
        })
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "no OAuth2 error in the answer".into());
    Err(format!("refused (HTTP {status}): {said}"))
}

/// A number of seconds, as a JSON number or (some providers) a string.
fn seconds(value: Option<&serde_json::Value>) -> Option<Duration> {
    match value? {
        serde_json::Value::Number(n) => n.as_u64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .map(Duration::from_secs)
}

/// `text` with every secret replaced by `<secret>`.
fn blank(text: &str, secrets: &[&str]) -> String {
    secrets
        .iter()
        .filter(|s| s.len() >= 4)
        .fold(text.to_string(), |t, s| t.replace(s, "<secret>"))
}

/// At most `max` characters of `text`, control characters as spaces.
fn printable(text: &str, max: usize) -> String {
    text.chars()
        .take(max)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// POSTs `form` to `url` (HTTP/1.1; TLS for https, which `tls::connect` verifies) and
/// returns the status and at most `MAX_RESPONSE` bytes of the body.
async fn post_form(url: &str, form: String) -> Result<(u16, Bytes), String> {
    let uri: Uri = url.parse().map_err(|e| format!("not a URL: {e}"))?;
    let host = uri.host().ok_or("no host in the URL")?;
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let https = match uri.scheme_str() {
        Some("https") => true,
        Some("http") if is_loopback(&host) => false,
        _ => return Err("only https (or http on loopback) is allowed".into()),
    };
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    let exchange = async {
        let tcp = TcpStream::connect((host.as_str(), port))
            .await
            .map_err(|e| format!("cannot connect to {host}:{port}: {e}"))?;
        tcp.set_nodelay(true).ok();
        let io: Box<dyn Io> = if https {
            Box::new(
                crate::tls::connect(&host, tcp, TIMEOUT)
                    .await
                    .map_err(|e| e.to_string())?,
            )
        } else {
            Box::new(tcp)
        };
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
            .await
            .map_err(|e| format!("HTTP: {e}"))?;
        // The connection runs beside the request. It ends with the exchange: hyper closes
        // it when the request is dropped unanswered (the timeout below), and it is
        // aborted once the answer is read.
        let driver = tokio::spawn(conn);
        let path = uri.path_and_query().map_or("/", |p| p.as_str());
        let authority = uri.authority().map_or(host.as_str(), |a| a.as_str());
        let request = Request::post(path)
            .header(hyper::header::HOST, authority)
            .header(
                hyper::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header(hyper::header::ACCEPT, "application/json")
            .header(
                hyper::header::USER_AGENT,
                concat!("closeloop/", env!("CARGO_PKG_VERSION")),
            )
            .body(Full::new(Bytes::from(form)))
            .map_err(|e| format!("HTTP request: {e}"))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| format!("HTTP: {e}"))?;
        let status = response.status().as_u16();
        let body = Limited::new(response.into_body(), MAX_RESPONSE)
            .collect()
            .await
            .map_err(|e| format!("reading the answer (at most {MAX_RESPONSE} bytes): {e}"))?
            .to_bytes();
        driver.abort();
        Ok((status, body))
    };
    tokio::time::timeout(TIMEOUT, exchange)
        .await
        .map_err(|_| format!("no answer within {TIMEOUT:?}"))?
}

#[cfg(test)]
mod tests;
