//! The outbound network edge: hands a finished RFC 5322 message to SMTP
//! (lettre, `tls | starttls | none`, AUTH PLAIN/LOGIN with a password or XOAUTH2
//! with a token, read from `password_env`/`password_file` at each connection or
//! obtained through `[outbound.oauth2]`)
//! or writes it as an `.eml` file (`outbound.kind = "file"`, for `demo` and
//! tests). Knows nothing about cases; says only whether a send may be retried.
//!
//! SMTP runs over one kept-open connection that this module opens itself, with
//! TCP_NODELAY: lettre 0.11's own connections leave Nagle on, and as lettre
//! writes a message's body and its final `.` separately, every letter then
//! waited for the server's delayed ACK (40 ms on Linux, so about 20 letters/s).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lettre::address::{Address, Envelope};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{
    AsyncSmtpConnection, AsyncTokioStream, Certificate, CertificateStore, TlsParameters,
};
use lettre::transport::smtp::extension::ClientId;
use lettre::Message;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::Mutex;

use base64::Engine;

use crate::config::{Config, OAuth2, OutboundKind, PasswordSource, SmtpAuth, TlsMode};
use crate::oauth2;

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// Worth retrying later: connection refused or dropped, timeouts, 4xx.
    #[error("temporary failure: {0}")]
    Transient(String),
    /// Will not succeed as it is: 5xx, a malformed message or address.
    #[error("permanent failure: {0}")]
    Permanent(String),
}

#[derive(Debug, thiserror::Error)]
#[error("outbound: {0}")]
pub struct SetupError(String);

#[derive(Clone)]
pub enum Mailer {
    Smtp(Arc<Smtp>),
    /// Letters written into this folder as `.eml` files.
    File(PathBuf),
}

/// An SMTP server and the connection kept open to it.
pub struct Smtp {
    host: String,
    port: u16,
    tls: TlsMode,
    /// Set when a password source is: how to sign in after EHLO.
    login: Option<Login>,
    /// `outbound.journal`: an extra envelope recipient of every letter.
    journal: Option<Address>,
    hello: ClientId,
    conn: Mutex<Option<(AsyncSmtpConnection, Instant)>>,
}

/// Who signs in and how. The secret is read at each connection, so a rotated password
/// or a refreshed token is taken without a restart.
struct Login {
    username: String,
    auth: SmtpAuth,
    source: PasswordSource,
    /// Tokens from the provider instead of `source` (`[outbound.oauth2]`).
    oauth2: Option<OAuth2>,
}

/// How long one connection attempt, TLS handshake or SMTP exchange may take.
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);
/// A connection idle longer than this is checked with NOOP before reuse …
const CHECK_AFTER: Duration = Duration::from_secs(5);
/// … and one idle longer than this is closed and opened afresh.
const REOPEN_AFTER: Duration = Duration::from_secs(120);

impl Mailer {
    pub fn from_config(cfg: &Config) -> Result<Mailer, SetupError> {
        let o = &cfg.outbound;
        match o.kind {
            OutboundKind::File => {
                std::fs::create_dir_all(&o.dir).map_err(|e| {
                    SetupError(format!(
                        "cannot create outbound.dir {}: {e}",
                        o.dir.display()
                    ))
                })?;
                Ok(Mailer::File(o.dir.clone()))
            }
            OutboundKind::Smtp => {
                let journal = match o.journal.trim() {
                    "" => None,
                    a => Some(a.parse::<Address>().map_err(|e| {
                        SetupError(format!("outbound.journal '{a}' is not an address: {e}"))
                    })?),
                };
                // Read once now, so that a missing variable or file stops the start.
                let signs_in = match &o.oauth2 {
                    Some(t) => {
                        oauth2::check_sources("outbound", t).map_err(SetupError)?;
                        true
                    }
                    None => o
                        .password
                        .resolve("outbound")
                        .map_err(SetupError)?
                        .is_some(),
                };
                let login = signs_in.then(|| Login {
                    username: o.username.clone(),
                    auth: o.auth,
                    source: o.password.clone(),
                    oauth2: o.oauth2.clone(),
                });
                Ok(Mailer::Smtp(Arc::new(Smtp {
                    host: o.host.clone(),
                    port: o.port,
                    tls: o.tls,
                    login,
                    journal,
                    hello: ClientId::default(),
                    conn: Mutex::new(None),
                })))
            }
        }
    }

    /// Sends one message. `name` is a stable file name stem for the file sink.
    /// Returns where it went (a path for files, "smtp" otherwise). With a
    /// journal address the copy rides in the same SMTP transaction, so the
    /// server takes both or neither.
    pub async fn send(&self, message: &Message, name: &str) -> Result<String, SendError> {
        match self {
            Mailer::Smtp(smtp) => {
                smtp.send(message).await?;
                Ok("smtp".into())
            }
            Mailer::File(dir) => {
                let path = dir.join(format!("{name}.eml"));
                let tmp = dir.join(format!(".{name}.eml.tmp"));
                let bytes = message.formatted();
                tokio::fs::write(&tmp, &bytes).await.map_err(|e| {
                    SendError::Transient(format!("cannot write {}: {e}", tmp.display()))
                })?;
                tokio::fs::rename(&tmp, &path).await.map_err(|e| {
                    SendError::Transient(format!("cannot write {}: {e}", path.display()))
                })?;
                Ok(path.display().to_string())
            }
        }
    }

    /// Where letters go, for startup lines.
    pub fn describe(&self, cfg: &Config) -> String {
        match self {
            Mailer::Smtp(smtp) => {
                let tls = match cfg.outbound.tls {
                    TlsMode::Tls => "TLS",
                    TlsMode::Starttls => "STARTTLS",
                    TlsMode::None => "plain, loopback only",
                };
                let copies = match &smtp.journal {
                    Some(a) => format!(", a copy of each letter to {a}"),
                    None => String::new(),
                };
                let login = match &smtp.login {
                    Some(l) => {
                        let with = match l.auth {
                            SmtpAuth::Password => "a password",
                            SmtpAuth::Xoauth2 | SmtpAuth::Oauthbearer => "an OAuth2 token",
                        };
                        format!(", AUTH as {} with {with}", l.username)
                    }
                    None => String::new(),
                };
                format!(
                    "smtp {}:{} ({tls}{login}{copies})",
                    cfg.outbound.host, cfg.outbound.port
                )
            }
            Mailer::File(dir) => format!("files in {}", dir.display()),
        }
    }
}

impl Smtp {
    /// Sends one message over the kept connection (opened or reopened as
    /// needed). With a journal address the copy rides in the same SMTP
    /// transaction, so the server takes both or neither.
    async fn send(&self, message: &Message) -> Result<(), SendError> {
        let mut to = message.envelope().to().to_vec();
        to.extend(self.journal.iter().cloned());
        let envelope = Envelope::new(message.envelope().from().cloned(), to)
            .map_err(|e| SendError::Permanent(format!("envelope: {e}")))?;
        let mut slot = self.conn.lock().await;
        let mut conn = match slot.take() {
            Some((mut c, last)) => {
                if self.still_usable(&mut c, last).await {
                    c
                } else {
                    c.abort().await;
                    self.open().await?
                }
            }
            None => self.open().await?,
        };
        let sent =
            tokio::time::timeout(SMTP_TIMEOUT, conn.send(&envelope, &message.formatted())).await;
        match sent {
            Ok(Ok(_)) => {
                *slot = Some((conn, Instant::now()));
                Ok(())
            }
            Ok(Err(e)) => {
                // A refused message leaves a usable connection; anything else may not.
                if e.is_permanent() && !conn.has_broken() {
                    *slot = Some((conn, Instant::now()));
                } else {
                    conn.abort().await;
                }
                Err(classify(&e))
            }
            Err(_) => {
                conn.abort().await;
                Err(SendError::Transient(format!(
                    "no answer from {}:{} within {SMTP_TIMEOUT:?}",
                    self.host, self.port
                )))
            }
        }
    }

    async fn still_usable(&self, c: &mut AsyncSmtpConnection, last: Instant) -> bool {
        let idle = last.elapsed();
        if c.has_broken() || idle > REOPEN_AFTER {
            return false;
        }
        idle < CHECK_AFTER
            || tokio::time::timeout(SMTP_TIMEOUT, c.test_connected())
                .await
                .unwrap_or(false)
    }

    /// A connection ready for letters. Whatever stops it — a 5xx greeting, a refused
    /// STARTTLS or AUTH, a TLS setup error — is about the server or the config, not a
    /// letter: transient, so letters wait and are retried instead of failing for good.
    async fn open(&self) -> Result<AsyncSmtpConnection, SendError> {
        self.connect().await.map_err(|e| match e {
            SendError::Permanent(why) => SendError::Transient(why),
            transient => transient,
        })
    }

    /// Connects (TCP_NODELAY), secures as configured, says EHLO and logs in.
    async fn connect(&self) -> Result<AsyncSmtpConnection, SendError> {
        let addr = format!("{}:{}", self.host, self.port);
        let transient = |what: &str, e: &dyn std::fmt::Display| {
            SendError::Transient(format!("{what} {addr}: {e}"))
        };
        let tcp = match tokio::time::timeout(
            SMTP_TIMEOUT,
            TcpStream::connect((self.host.as_str(), self.port)),
        )
        .await
        {
            Ok(Ok(t)) => t,
            Ok(Err(e)) => return Err(transient("cannot connect to", &e)),
            Err(_) => return Err(transient("cannot connect to", &"timed out")),
        };
        tcp.set_nodelay(true)
            .map_err(|e| transient("cannot set TCP_NODELAY on", &e))?;
        let stream: Box<dyn AsyncTokioStream> = match self.tls {
            TlsMode::Tls => Box::new(TlsStream(
                crate::tls::connect(&self.host, tcp, SMTP_TIMEOUT)
                    .await
                    .map_err(|e| transient("TLS with", &e))?,
            )),
            TlsMode::Starttls | TlsMode::None => Box::new(tcp),
        };
        let mut conn = answered(
            "SMTP greeting",
            tokio::time::timeout(
                SMTP_TIMEOUT,
                AsyncSmtpConnection::connect_with_transport(stream, &self.hello),
            )
            .await,
        )?;
        if self.tls == TlsMode::Starttls {
            let params = starttls_parameters(&self.host)?;
            answered(
                "STARTTLS",
                tokio::time::timeout(SMTP_TIMEOUT, conn.starttls(params, &self.hello)).await,
            )?;
        }
        if let Some(login) = &self.login {
            login.sign_in(&mut conn, &self.host, self.port).await?;
        }
        Ok(conn)
    }

    /// Opens a connection and closes it again (`check-config`).
    async fn check(&self) -> Result<(), SendError> {
        let mut conn = self.open().await?;
        let _ = tokio::time::timeout(Duration::from_secs(5), conn.quit()).await;
        Ok(())
    }
}

impl Login {
    /// AUTH on a fresh connection; a refusal names the user and the mechanism.
    async fn sign_in(
        &self,
        conn: &mut AsyncSmtpConnection,
        host: &str,
        port: u16,
    ) -> Result<(), SendError> {
        let refused = |why: &dyn std::fmt::Display| {
            SendError::Transient(format!(
                "AUTH as {} (outbound.auth = \"{}\") refused: {why}",
                self.username,
                self.auth.name()
            ))
        };
        let secret = oauth2::sign_in_secret(
            "outbound",
            &self.source,
            self.oauth2.as_ref(),
            &self.username,
        )
        .await
        .map_err(|e| refused(&e))?
        .ok_or_else(|| refused(&"no password source configured"))?;
        let user = &self.username;
        let exchange = async {
            match self.auth {
                SmtpAuth::Password => conn
                    .auth(
                        &[Mechanism::Plain, Mechanism::Login],
                        &Credentials::new(user.clone(), secret),
                    )
                    .await
                    .map(|_| ()),
                SmtpAuth::Xoauth2 => {
                    token_auth(conn, "XOAUTH2", oauth2::xoauth2(user, &secret), "").await
                }
                SmtpAuth::Oauthbearer => {
                    let first = oauth2::oauthbearer(user, &secret, host, port);
                    token_auth(conn, "OAUTHBEARER", first, "\x01").await
                }
            }
        };
        match tokio::time::timeout(SMTP_TIMEOUT, exchange).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => {
                oauth2::refused(self.oauth2.as_ref(), &self.username).await;
                Err(refused(&e))
            }
            Err(_) => Err(SendError::Transient(format!(
                "AUTH: no answer within {SMTP_TIMEOUT:?}"
            ))),
        }
    }
}

/// AUTH with a token mechanism and its initial response (RFC 4954). A server refusing the
/// token first sends an error challenge (334, a JSON object) and waits for the client's
/// answer (`on_error`: empty for XOAUTH2, `^A` for OAUTHBEARER) before its final 5xx;
/// lettre's own `auth` knows neither that answer nor OAUTHBEARER, and would hide the
/// server's reason and leave the exchange half done.
async fn token_auth(
    conn: &mut AsyncSmtpConnection,
    mechanism: &str,
    first: String,
    on_error: &str,
) -> Result<(), lettre::transport::smtp::Error> {
    /// One line the client sends: base64 of a SASL message, after `AUTH MECHANISM ` or not.
    struct Line(String);
    impl std::fmt::Display for Line {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "{}\r\n", self.0)
        }
    }
    let b64 = |m: &str| base64::engine::general_purpose::STANDARD.encode(m);
    let first = Line(format!("AUTH {mechanism} {}", b64(&first)));
    if conn.command(first).await?.has_code(334) {
        conn.command(Line(b64(on_error))).await?;
    }
    Ok(())
}

/// STARTTLS trusts what `tls::connect` trusts: the Mozilla roots and the
/// system's store.
fn starttls_parameters(host: &str) -> Result<TlsParameters, SendError> {
    let setup =
        |e: &dyn std::fmt::Display| SendError::Permanent(format!("TLS setup for {host}: {e}"));
    let mut b =
        TlsParameters::builder(host.to_string()).certificate_store(CertificateStore::WebpkiRoots);
    for der in crate::tls::system_roots() {
        b = b.add_root_certificate(Certificate::from_der(der.to_vec()).map_err(|e| setup(&e))?);
    }
    b.build_rustls().map_err(|e| setup(&e))
}

/// One SMTP step under a timeout, as a `SendError` when it failed.
fn answered<T>(
    what: &str,
    r: Result<Result<T, lettre::transport::smtp::Error>, tokio::time::error::Elapsed>,
) -> Result<T, SendError> {
    match r {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(classify(&e)),
        Err(_) => Err(SendError::Transient(format!(
            "{what}: no answer within {SMTP_TIMEOUT:?}"
        ))),
    }
}

fn classify(e: &lettre::transport::smtp::Error) -> SendError {
    // lettre keeps a refusal's reply ("5.7.1 <rcpt>: Relay access denied") as its source.
    let reply = std::error::Error::source(e).map(|r| r.to_string());
    if e.is_permanent() && !reply.as_deref().is_some_and(policy_refusal) {
        SendError::Permanent(e.to_string())
    } else {
        // Connection errors, timeouts, 4xx, a connection the server closed, and policy
        // refusals.
        SendError::Transient(e.to_string())
    }
}

/// A server reply whose enhanced status is 5.7.x (RFC 3463: security or policy) —
/// relaying denied, sender not signed in, SPF or DMARC failed — or, from a server that
/// gives no enhanced status (Exim's "550 relay not permitted"), whose text says relaying
/// or authentication. Such a refusal is about how closeloop sends (AUTH, relay rights, the
/// domain's records), not about the letter, and it refuses every letter alike, the notices
/// that would report the failures included: retried, so that letters wait for the fix
/// instead of all failing for good and unseen. A letter still refused fails after the
/// usual day of retries.
fn policy_refusal(reply: &str) -> bool {
    if reply.starts_with("5.7.") {
        return true;
    }
    if has_enhanced_status(reply) {
        return false;
    }
    let text = reply.to_ascii_lowercase();
    ["relay", "authenticat"].iter().any(|w| text.contains(w))
}

/// Whether `reply` starts with an enhanced status code (`5.1.1 …`, RFC 3463).
fn has_enhanced_status(reply: &str) -> bool {
    let code = reply.split_whitespace().next().unwrap_or("");
    let parts: Vec<&str> = code.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()))
}

/// Implicit TLS under lettre: its stream trait over our own TLS stream, so
/// the TCP socket underneath is ours (TCP_NODELAY).
#[derive(Debug)]
struct TlsStream(tokio_rustls::client::TlsStream<TcpStream>);

impl AsyncTokioStream for TlsStream {
    fn peer_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.0.get_ref().0.peer_addr()
    }
}

impl AsyncRead for TlsStream {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.get_mut().0).poll_read(cx, buf)
    }
}

impl AsyncWrite for TlsStream {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.get_mut().0).poll_write(cx, buf)
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.get_mut().0).poll_flush(cx)
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.get_mut().0).poll_shutdown(cx)
    }
}

/// `check-config`: the SMTP server answers EHLO (and AUTH when configured).
pub async fn check(cfg: &Config) -> Result<String, String> {
    let mailer = Mailer::from_config(cfg).map_err(|e| e.to_string())?;
    match &mailer {
        Mailer::Smtp(smtp) => match smtp.check().await {
            Ok(()) => Ok(if smtp.login.is_some() {
                "answers EHLO, login accepted".into()
            } else {
                "answers EHLO".into()
            }),
            Err(e) => Err(e.to_string()),
        },
        Mailer::File(dir) => Ok(format!("writes files into {}", dir.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::policy_refusal;

    #[test]
    fn only_security_and_policy_refusals_are_retried() {
        for text in [
            "5.7.1 <alice@example.org>: Relay access denied",
            "5.7.26 Unauthenticated email is not accepted (DMARC)",
            "5.7.0 Authentication required",
            // Servers without enhanced status codes (Exim, older Sendmail, appliances).
            "relay not permitted",
            "Relaying denied. Proper authentication required.",
            "Authentication required",
            "sender must authenticate first",
        ] {
            assert!(policy_refusal(text), "{text}");
        }
        for text in [
            "5.1.1 <nobody@example.org>: Recipient address rejected",
            "5.3.4 Message size exceeds fixed limit",
            // An enhanced status that is not 5.7 decides, whatever the text.
            "5.1.0 unknown user; relay host said so",
            "no enhanced code, 5.7.1 later in the text",
            "No such user here",
            "",
        ] {
            assert!(!policy_refusal(text), "{text}");
        }
    }
}
