//! One IMAP connection: TCP, TLS (`tls`, `starttls`, or `none` on loopback;
//! rustls with the ring provider and webpki roots), greeting, sign-in (LOGIN, or
//! SASL PLAIN, XOAUTH2 or OAUTHBEARER as `intake.auth` says; a token from the password
//! source or from `oauth2`, which is told when the server refuses it) and the
//! capabilities asked for after it. Every server call is bounded by a
//! timeout, since async-imap has none of its own.
//!
//! Must not know about mailboxes' contents or the pipeline.

use std::future::Future;
use std::time::Duration;

use async_imap::types::Capability;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use crate::config::{ImapAuth, Intake, TlsMode};
use crate::oauth2;
use crate::store::StoreError;

/// Bound on one ordinary command (LOGIN, SELECT, MOVE …).
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);
/// Bound on connecting (TCP and TLS handshake).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);

/// The byte stream under a session: plain TCP or TLS over TCP.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send + std::fmt::Debug {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + std::fmt::Debug> Io for T {}

pub type Session = async_imap::Session<Box<dyn Io>>;

#[derive(Debug, thiserror::Error)]
pub enum ImapError {
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        addr: String,
        source: std::io::Error,
    },
    #[error("TLS with {host}: {reason}")]
    Tls { host: String, reason: String },
    #[error("{0}: no answer within {1:?}")]
    Timeout(&'static str, Duration),
    #[error("{what}: {source}")]
    Protocol {
        what: &'static str,
        source: async_imap::error::Error,
    },
    #[error("login as {user} (intake.auth = \"{auth}\") refused: {reason}")]
    Login {
        user: String,
        auth: &'static str,
        reason: String,
    },
    #[error("{0}")]
    Password(String),
    #[error("mailbox {mailbox}: {reason}")]
    Mailbox { mailbox: String, reason: String },
    #[error("the server closed the connection")]
    Closed,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Runs one server call under `limit`, naming it in the error.
pub async fn within<T>(
    what: &'static str,
    limit: Duration,
    fut: impl Future<Output = Result<T, async_imap::error::Error>>,
) -> Result<T, ImapError> {
    match tokio::time::timeout(limit, fut).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(source)) => Err(ImapError::Protocol { what, source }),
        Err(_) => Err(ImapError::Timeout(what, limit)),
    }
}

/// What the server offers after login.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Caps {
    pub idle: bool,
    pub mv: bool,
    pub uidplus: bool,
    /// Every capability, for startup lines and `check-config`.
    pub all: Vec<String>,
}

impl Caps {
    fn from_list(all: Vec<String>) -> Caps {
        let has = |c: &str| all.iter().any(|a| a.eq_ignore_ascii_case(c));
        Caps {
            idle: has("IDLE"),
            mv: has("MOVE"),
            uidplus: has("UIDPLUS"),
            all,
        }
    }

    /// How committed mail leaves the mailbox on this server (see `intake::acknowledge`).
    pub fn acknowledged_by(&self) -> String {
        match (self.mv, self.uidplus) {
            (true, _) => "UID MOVE to the processed folder".into(),
            (false, true) => "UID COPY to the processed folder, then UID EXPUNGE".into(),
            (false, false) => format!(
                "UID COPY to the processed folder, left in place flagged \\Seen {} \
                 (no MOVE or UIDPLUS)",
                super::intake::PROCESSED_KEYWORD
            ),
        }
    }

    /// The capabilities intake cares about, e.g. "IDLE MOVE UIDPLUS".
    pub fn summary(&self) -> String {
        let mut v = Vec::new();
        for (on, name) in [
            (self.idle, "IDLE"),
            (self.mv, "MOVE"),
            (self.uidplus, "UIDPLUS"),
        ] {
            if on {
                v.push(name);
            }
        }
        if v.is_empty() {
            "none of IDLE, MOVE, UIDPLUS".into()
        } else {
            v.join(" ")
        }
    }
}

/// Connects, secures the stream as configured, logs in and asks CAPABILITY.
pub async fn connect(cfg: &Intake) -> Result<(Session, Caps), ImapError> {
    let addr = format!("{}:{}", cfg.host, cfg.port);
    let tcp = match tokio::time::timeout(
        CONNECT_TIMEOUT,
        TcpStream::connect((cfg.host.as_str(), cfg.port)),
    )
    .await
    {
        Ok(Ok(t)) => t,
        Ok(Err(source)) => return Err(ImapError::Connect { addr, source }),
        Err(_) => return Err(ImapError::Timeout("connect", CONNECT_TIMEOUT)),
    };
    tcp.set_nodelay(true).ok();
    let stream: Box<dyn Io> = match cfg.tls {
        TlsMode::None => Box::new(tcp),
        TlsMode::Tls => Box::new(tls_wrap(&cfg.host, tcp).await?),
        TlsMode::Starttls => {
            let mut client = async_imap::Client::new(tcp);
            greeting(&mut client).await?;
            within(
                "STARTTLS",
                COMMAND_TIMEOUT,
                client.run_command_and_check_ok("STARTTLS", None),
            )
            .await?;
            Box::new(tls_wrap(&cfg.host, client.into_inner()).await?)
        }
    };
    let mut client = async_imap::Client::new(stream);
    if cfg.tls != TlsMode::Starttls {
        greeting(&mut client).await?;
    }
    let password =
        oauth2::sign_in_secret("intake", &cfg.password, cfg.oauth2.as_ref(), &cfg.username)
            .await
            .map_err(ImapError::Password)?
            .ok_or_else(|| {
                ImapError::Password(format!(
                    "no IMAP {} configured: set intake.password_env or intake.password_file",
                    secret_name(cfg.auth)
                ))
            })?;
    let (command, signed_in) = match sasl(cfg.auth, &cfg.username, &password, &cfg.host, cfg.port) {
        None => (
            "LOGIN",
            tokio::time::timeout(COMMAND_TIMEOUT, client.login(&cfg.username, &password)).await,
        ),
        Some(sasl) => (
            "AUTHENTICATE",
            tokio::time::timeout(
                COMMAND_TIMEOUT,
                client.authenticate(
                    sasl.mechanism,
                    InitialResponse(Some(sasl.first), sasl.on_error),
                ),
            )
            .await,
        ),
    };
    drop(password);
    let mut session = match signed_in {
        Ok(Ok(s)) => s,
        Ok(Err((e, _))) => {
            oauth2::refused(cfg.oauth2.as_ref(), &cfg.username).await;
            return Err(ImapError::Login {
                user: cfg.username.clone(),
                auth: cfg.auth.name(),
                reason: e.to_string(),
            });
        }
        Err(_) => return Err(ImapError::Timeout(command, COMMAND_TIMEOUT)),
    };
    // Servers list IDLE, MOVE … fully only after login: ask again.
    let caps = within("CAPABILITY", COMMAND_TIMEOUT, session.capabilities()).await?;
    let all = caps
        .iter()
        .map(|c| match c {
            Capability::Imap4rev1 => "IMAP4rev1".to_string(),
            Capability::Auth(a) => format!("AUTH={a}"),
            Capability::Atom(a) => a.to_string(),
        })
        .collect();
    Ok((session, Caps::from_list(all)))
}

/// What the password source holds under `auth`, for messages.
fn secret_name(auth: ImapAuth) -> &'static str {
    match auth {
        ImapAuth::Login | ImapAuth::Plain => "password",
        ImapAuth::Xoauth2 | ImapAuth::Oauthbearer => "OAuth2 access token",
    }
}

/// A SASL exchange of one client message: the mechanism, the initial response, and the
/// answer to any further challenge (a token mechanism's error report, a JSON object,
/// after which the server completes the command with NO).
struct Sasl {
    mechanism: &'static str,
    first: Vec<u8>,
    on_error: &'static [u8],
}

/// The SASL exchange for `auth`: PLAIN's message (RFC 4616: no authorization identity,
/// the username, the password), XOAUTH2's (an empty answer to an error) or OAUTHBEARER's
/// (`^A` answers an error; see `oauth2`). None for LOGIN. async-imap sends the messages
/// base64-encoded.
fn sasl(auth: ImapAuth, username: &str, secret: &str, host: &str, port: u16) -> Option<Sasl> {
    let (mechanism, first, on_error): (_, _, &'static [u8]) = match auth {
        ImapAuth::Login => return None,
        ImapAuth::Plain => ("PLAIN", format!("\0{username}\0{secret}"), b""),
        ImapAuth::Xoauth2 => ("XOAUTH2", oauth2::xoauth2(username, secret), b""),
        ImapAuth::Oauthbearer => (
            "OAUTHBEARER",
            oauth2::oauthbearer(username, secret, host, port),
            b"\x01",
        ),
    };
    Some(Sasl {
        mechanism,
        first: first.into_bytes(),
        on_error,
    })
}

/// Answers the server's first challenge with the initial response, and any further one
/// with the mechanism's answer to an error.
struct InitialResponse(Option<Vec<u8>>, &'static [u8]);

impl async_imap::Authenticator for InitialResponse {
    type Response = Vec<u8>;

    fn process(&mut self, _challenge: &[u8]) -> Vec<u8> {
        self.0.take().unwrap_or_else(|| self.1.to_vec())
    }
}

async fn greeting<T: Io>(client: &mut async_imap::Client<T>) -> Result<(), ImapError> {
    match tokio::time::timeout(COMMAND_TIMEOUT, client.read_response()).await {
        Ok(Ok(Some(_))) => Ok(()),
        Ok(Ok(None)) => Err(ImapError::Closed),
        Ok(Err(e)) => Err(ImapError::Protocol {
            what: "greeting",
            source: e.into(),
        }),
        Err(_) => Err(ImapError::Timeout("greeting", COMMAND_TIMEOUT)),
    }
}

async fn tls_wrap(
    host: &str,
    tcp: TcpStream,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, ImapError> {
    crate::tls::connect(host, tcp, CONNECT_TIMEOUT)
        .await
        .map_err(|e| match e {
            crate::tls::TlsError::Timeout { .. } => {
                ImapError::Timeout("TLS handshake", CONNECT_TIMEOUT)
            }
            crate::tls::TlsError::Handshake { host, reason } => ImapError::Tls { host, reason },
        })
}

/// Says goodbye politely, without waiting long; errors are irrelevant here.
pub async fn logout(session: &mut Session) {
    let _ = tokio::time::timeout(Duration::from_secs(2), session.logout()).await;
}

/// Throws away unsolicited server responses (EXISTS, EXPUNGE …) queued on the
/// session: the channel holds 100 and we re-read the mailbox state anyway.
pub fn drain_unsolicited(session: &mut Session) {
    while session.unsolicited_responses.try_recv().is_ok() {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capabilities_are_read_case_insensitively() {
        let c = Caps::from_list(vec!["IMAP4rev1".into(), "idle".into(), "MOVE".into()]);
        assert!(c.idle && c.mv && !c.uidplus);
        assert_eq!(c.summary(), "IDLE MOVE");
        assert_eq!(
            Caps::from_list(vec![]).summary(),
            "none of IDLE, MOVE, UIDPLUS"
        );
    }

    #[test]
    fn sasl_initial_responses_follow_their_formats() {
        use async_imap::Authenticator;
        let sasl = |auth| sasl(auth, "sec@example.org", "pw", "imap.example.org", 993);
        assert!(sasl(ImapAuth::Login).is_none());
        let plain = sasl(ImapAuth::Plain).unwrap();
        assert_eq!(
            (plain.mechanism, &plain.first[..]),
            ("PLAIN", &b"\0sec@example.org\0pw"[..])
        );
        let x = sasl(ImapAuth::Xoauth2).unwrap();
        assert_eq!(x.mechanism, "XOAUTH2");
        assert_eq!(x.first, b"user=sec@example.org\x01auth=Bearer pw\x01\x01");
        // The first challenge gets the response; an error challenge after it gets nothing.
        let mut a = InitialResponse(Some(x.first.clone()), x.on_error);
        assert_eq!(a.process(b""), x.first);
        assert!(a.process(br#"{"status":"401"}"#).is_empty());
        // RFC 7628 §3.2.1's example, and ^A after an error.
        let bearer = sasl(ImapAuth::Oauthbearer).unwrap();
        assert_eq!(bearer.mechanism, "OAUTHBEARER");
        assert_eq!(
            bearer.first,
            b"n,a=sec@example.org,\x01host=imap.example.org\x01port=993\x01auth=Bearer pw\x01\x01"
        );
        let mut a = InitialResponse(Some(bearer.first.clone()), bearer.on_error);
        assert_eq!(a.process(b""), bearer.first);
        assert_eq!(a.process(br#"{"status":"invalid_token"}"#), b"\x01");
    }

    #[test]
    fn a_refused_sign_in_names_the_user_and_the_mechanism() {
        let e = ImapError::Login {
            user: "sec@example.org".into(),
            auth: ImapAuth::Xoauth2.name(),
            reason: "NO [AUTHENTICATIONFAILED]".into(),
        };
        assert_eq!(
            e.to_string(),
            "login as sec@example.org (intake.auth = \"xoauth2\") refused: NO [AUTHENTICATIONFAILED]"
        );
        assert_eq!(secret_name(ImapAuth::Xoauth2), "OAuth2 access token");
    }
}
