//! Google service accounts (`service_account_file`): the JSON key file Google hands out,
//! and the signed JWT that the JWT bearer grant (RFC 7523) trades for an access token
//! acting as one mailbox of the domain (domain-wide delegation: `sub` is the mailbox).

use std::path::Path;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::signature::{RsaKeyPair, RSA_PKCS1_SHA256};
use serde::Deserialize;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::PrivatePkcs8KeyDer;

/// How long an assertion is valid (Google accepts at most an hour).
const ASSERTION_LIFETIME_S: u64 = 3600;

/// The fields of the key file closeloop uses. Never `Debug`: it holds the private key.
#[derive(Deserialize)]
pub struct ServiceAccount {
    #[serde(rename = "type")]
    kind: String,
    pub client_email: String,
    /// Where Google takes the assertion; `token_url` overrides it.
    #[serde(default)]
    pub token_uri: String,
    #[serde(default)]
    private_key_id: String,
    private_key: String,
}

impl ServiceAccount {
    /// Reads `file`; errors name the file and the field, never a value.
    pub fn read(file: &Path) -> Result<ServiceAccount, String> {
        let at = |why: String| format!("service_account_file {}: {why}", file.display());
        let text = std::fs::read(file).map_err(|e| at(e.to_string()))?;
        let sa: ServiceAccount = serde_json::from_slice(&text).map_err(|e| {
            // serde_json's message names the field and position, not the value.
            at(format!("not a service account key file ({e})"))
        })?;
        if sa.kind != "service_account" {
            return Err(at(format!(
                "\"type\" is '{}', not \"service_account\"",
                sa.kind.chars().take(40).collect::<String>()
            )));
        }
        if sa.client_email.is_empty() {
            return Err(at("\"client_email\" is empty".into()));
        }
        sa.key_pair().map_err(at)?;
        Ok(sa)
    }

    fn key_pair(&self) -> Result<RsaKeyPair, String> {
        let der = PrivatePkcs8KeyDer::from_pem_slice(self.private_key.as_bytes())
            .map_err(|_| "\"private_key\" is not a PEM PKCS#8 private key".to_string())?;
        RsaKeyPair::from_pkcs8(der.secret_pkcs8_der())
            .map_err(|e| format!("\"private_key\" is not an RSA key ring can use: {e}"))
    }

    /// The signed JWT (RS256) asking `audience` for `scope` as `subject`, issued at `now`
    /// (seconds since the epoch).
    pub fn assertion(
        &self,
        audience: &str,
        scope: &str,
        subject: &str,
        now: u64,
    ) -> Result<String, String> {
        let mut header = serde_json::json!({"alg": "RS256", "typ": "JWT"});
        if !self.private_key_id.is_empty() {
            header["kid"] = self.private_key_id.clone().into();
        }
        let mut claims = serde_json::json!({
            "iss": self.client_email,
            "aud": audience,
            "iat": now,
            "exp": now + ASSERTION_LIFETIME_S,
        });
        if !scope.trim().is_empty() {
            claims["scope"] = scope.trim().into();
        }
        if !subject.is_empty() {
            claims["sub"] = subject.into();
        }
        let signed = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let key = self.key_pair()?;
        let mut signature = vec![0; key.public().modulus_len()];
        key.sign(
            &RSA_PKCS1_SHA256,
            &ring::rand::SystemRandom::new(),
            signed.as_bytes(),
            &mut signature,
        )
        .map_err(|_| "signing the assertion failed".to_string())?;
        Ok(format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature)))
    }
}
