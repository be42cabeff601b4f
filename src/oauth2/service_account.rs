//! Google service accounts (`service_account_file`): the JSON key file Google hands out,
//! and the signed JWT that the JWT bearer grant (RFC 7523) trades for an access token
//! acting as one mailbox of the domain (domain-wide delegation: `sub` is the mailbox).

use std::path::Path;

use ring::signature::RsaKeyPair;
use serde::Deserialize;

use super::jwt;

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
        jwt::rsa_key(self.private_key.as_bytes()).map_err(|e| format!("\"private_key\" is {e}"))
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
        jwt::sign(&self.key_pair()?, &header, &claims)
    }
}
