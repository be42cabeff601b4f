//! The client side of TLS for the network edges (IMAP intake, SMTP outbound):
//! rustls with the ring provider, the webpki roots and safe default versions.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("TLS with {host}: {reason}")]
    Handshake { host: String, reason: String },
    #[error("TLS with {host}: no handshake within {within:?}")]
    Timeout { host: String, within: Duration },
}

/// Secures `tcp` to `host` (whose certificate must name it), within `limit`.
pub async fn connect(
    host: &str,
    tcp: TcpStream,
    limit: Duration,
) -> Result<TlsStream<TcpStream>, TlsError> {
    let err = |reason: String| TlsError::Handshake {
        host: host.to_string(),
        reason,
    };
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| err(e.to_string()))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from(host.to_string())
        .map_err(|e| err(format!("not a valid server name: {e}")))?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    match tokio::time::timeout(limit, connector.connect(name, tcp)).await {
        Ok(Ok(s)) => Ok(s),
        Ok(Err(e)) => Err(err(e.to_string())),
        Err(_) => Err(TlsError::Timeout {
            host: host.to_string(),
            within: limit,
        }),
    }
}
