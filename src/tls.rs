//! The client side of TLS for the network edges (IMAP intake, SMTP outbound):
//! rustls with the ring provider and safe default versions. Trusted roots:
//! the system's store (rustls-native-certs; it honours `SSL_CERT_FILE` and
//! `SSL_CERT_DIR`, so an internal CA installed on the host is trusted) plus
//! the Mozilla roots built in (webpki-roots), for hosts without a store.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::CertificateDer;

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
    let config = client_config().map_err(|e| err(e.clone()))?;
    let name = rustls::pki_types::ServerName::try_from(host.to_string())
        .map_err(|e| err(format!("not a valid server name: {e}")))?;
    let connector = tokio_rustls::TlsConnector::from(config);
    match tokio::time::timeout(limit, connector.connect(name, tcp)).await {
        Ok(Ok(s)) => Ok(s),
        Ok(Err(e)) => Err(err(e.to_string())),
        Err(_) => Err(TlsError::Timeout {
            host: host.to_string(),
            within: limit,
        }),
    }
}

/// Built once: reading the system's store parses every certificate in it.
fn client_config() -> Result<Arc<rustls::ClientConfig>, &'static String> {
    static CONFIG: OnceLock<Result<Arc<rustls::ClientConfig>, String>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let mut roots = rustls::RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            };
            let (added, ignored) = roots.add_parsable_certificates(system_roots().iter().cloned());
            tracing::debug!(added, ignored, "system certificate store read");
            let config = rustls::ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots)
            .with_no_client_auth();
            Ok(Arc::new(config))
        })
        .as_ref()
        .map(Arc::clone)
}

/// The system's trusted roots (DER), read once; empty where there is no store.
pub fn system_roots() -> &'static [CertificateDer<'static>] {
    static ROOTS: OnceLock<Vec<CertificateDer<'static>>> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let native = rustls_native_certs::load_native_certs();
        for e in &native.errors {
            tracing::warn!(error = %e, "cannot read part of the system's certificate store");
        }
        native.certs
    })
}
