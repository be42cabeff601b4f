//! A client's certificate credential: instead of a shared client secret, the client proves
//! who it is with a JWT signed by its private key (RFC 7523 §2.2, `client_assertion`), the
//! key's certificate registered with the provider and named by its thumbprint — what
//! Microsoft Entra recommends over client secrets for daemons.

use std::path::Path;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::signature::RsaKeyPair;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::CertificateDer;

use super::jwt;

/// How long an assertion is valid: one request's worth (Entra takes up to 10 minutes).
const ASSERTION_LIFETIME_S: u64 = 600;

/// The key and its certificate's thumbprints. Never `Debug`: it holds the private key.
pub struct ClientCertificate {
    key: RsaKeyPair,
    /// base64url SHA-1 (`x5t`) and SHA-256 (`x5t#S256`) of the certificate (DER).
    x5t: String,
    x5t_s256: String,
}

impl ClientCertificate {
    /// Reads the certificate (PEM; the first in the file) and its private key (PEM PKCS#8,
    /// RSA). Errors name the file, never key material.
    pub fn read(certificate_file: &Path, key_file: &Path) -> Result<ClientCertificate, String> {
        let cert = CertificateDer::from_pem_file(certificate_file).map_err(|e| {
            format!(
                "client_certificate_file {}: not a PEM certificate ({e})",
                certificate_file.display()
            )
        })?;
        let pem = std::fs::read(key_file)
            .map_err(|e| format!("client_key_file {}: {e}", key_file.display()))?;
        let key = jwt::rsa_key(&pem)
            .map_err(|e| format!("client_key_file {}: {e}", key_file.display()))?;
        let digest = |alg| URL_SAFE_NO_PAD.encode(ring::digest::digest(alg, cert.as_ref()));
        Ok(ClientCertificate {
            key,
            x5t: digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY),
            x5t_s256: digest(&ring::digest::SHA256),
        })
    }

    /// The signed client assertion for `client_id` at the token endpoint `audience`, issued
    /// at `now` (seconds since the epoch), with a random `jti` so it is never replayed.
    pub fn assertion(&self, client_id: &str, audience: &str, now: u64) -> Result<String, String> {
        let mut jti = [0u8; 16];
        getrandom::fill(&mut jti).map_err(|e| format!("no random bytes for jti: {e}"))?;
        let header = serde_json::json!({
            "alg": "RS256",
            "typ": "JWT",
            "x5t": self.x5t,
            "x5t#S256": self.x5t_s256,
        });
        let claims = serde_json::json!({
            "iss": client_id,
            "sub": client_id,
            "aud": audience,
            "jti": hex::encode(jti),
            "iat": now,
            "nbf": now,
            "exp": now + ASSERTION_LIFETIME_S,
        });
        jwt::sign(&self.key, &header, &claims)
    }
}
