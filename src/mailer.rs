//! The outbound network edge: hands a finished RFC 5322 message to SMTP
//! (lettre, `tls | starttls | none`, AUTH from `password_env`/`password_file`)
//! or writes it as an `.eml` file (`outbound.kind = "file"`, for `demo` and
//! tests). Knows nothing about cases; says only whether a send may be retried.

use std::path::PathBuf;
use std::time::Duration;

use lettre::address::{Address, Envelope};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::transport::smtp::PoolConfig;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::{Config, OutboundKind, TlsMode};

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
    Smtp {
        transport: AsyncSmtpTransport<Tokio1Executor>,
        /// `outbound.journal`: an extra envelope recipient of every letter.
        journal: Option<Address>,
    },
    /// Letters written into this folder as `.eml` files.
    File(PathBuf),
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Mailer::Smtp { .. } => f.write_str("Mailer::Smtp"),
            Mailer::File(p) => write!(f, "Mailer::File({})", p.display()),
        }
    }
}

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
                let tls = |host: &str| {
                    TlsParameters::new(host.to_string())
                        .map_err(|e| SetupError(format!("TLS setup for {host}: {e}")))
                };
                let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(o.host.clone())
                    .port(o.port)
                    .timeout(Some(Duration::from_secs(30)))
                    .pool_config(PoolConfig::new().max_size(4));
                b = match o.tls {
                    TlsMode::Tls => b.tls(Tls::Wrapper(tls(&o.host)?)),
                    TlsMode::Starttls => b.tls(Tls::Required(tls(&o.host)?)),
                    TlsMode::None => b.tls(Tls::None),
                };
                if let Some(pw) = o.password.resolve("outbound").map_err(SetupError)? {
                    b = b.credentials(Credentials::new(o.username.clone(), pw));
                }
                let journal = match o.journal.trim() {
                    "" => None,
                    a => Some(a.parse::<Address>().map_err(|e| {
                        SetupError(format!("outbound.journal '{a}' is not an address: {e}"))
                    })?),
                };
                Ok(Mailer::Smtp {
                    transport: b.build(),
                    journal,
                })
            }
        }
    }

    /// Sends one message. `name` is a stable file name stem for the file sink.
    /// Returns where it went (a path for files, "smtp" otherwise). With a
    /// journal address the copy rides in the same SMTP transaction, so the
    /// server takes both or neither.
    pub async fn send(&self, message: &Message, name: &str) -> Result<String, SendError> {
        match self {
            Mailer::Smtp { transport, journal } => {
                let mut to = message.envelope().to().to_vec();
                to.extend(journal.iter().cloned());
                let envelope = Envelope::new(message.envelope().from().cloned(), to)
                    .map_err(|e| SendError::Permanent(format!("envelope: {e}")))?;
                match transport.send_raw(&envelope, &message.formatted()).await {
                    Ok(_) => Ok("smtp".into()),
                    Err(e) if e.is_permanent() => Err(SendError::Permanent(e.to_string())),
                    // Connection errors, timeouts, 4xx, a pooled connection the server closed.
                    Err(e) => Err(SendError::Transient(e.to_string())),
                }
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
            Mailer::Smtp { journal, .. } => {
                let tls = match cfg.outbound.tls {
                    TlsMode::Tls => "TLS",
                    TlsMode::Starttls => "STARTTLS",
                    TlsMode::None => "plain, loopback only",
                };
                let copies = match journal {
                    Some(a) => format!(", a copy of each letter to {a}"),
                    None => String::new(),
                };
                format!(
                    "smtp {}:{} ({tls}{copies})",
                    cfg.outbound.host, cfg.outbound.port
                )
            }
            Mailer::File(dir) => format!("files in {}", dir.display()),
        }
    }
}

/// `check-config`: the SMTP server answers EHLO (and AUTH when configured).
pub async fn check(cfg: &Config) -> Result<String, String> {
    let mailer = Mailer::from_config(cfg).map_err(|e| e.to_string())?;
    match &mailer {
        Mailer::Smtp { transport, .. } => {
            match tokio::time::timeout(Duration::from_secs(20), transport.test_connection()).await {
                Ok(Ok(true)) => Ok("answers EHLO".into()),
                Ok(Ok(false)) => Err("connected, but the server did not accept EHLO".into()),
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => Err("no answer within 20 s".into()),
            }
        }
        Mailer::File(dir) => Ok(format!("writes files into {}", dir.display())),
    }
}
