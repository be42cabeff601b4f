//! Test helpers shared by the use-case tests: a Context over a fresh SQLite
//! file, raw messages, and a fixed clock. Test-only.

use std::sync::Arc;

use crate::config::Config;
use crate::context::Context;
use crate::domain::Millis;
use crate::keyfile::Key;
use crate::store::Store;

pub const LEAD: &str = "lead@example.org";
pub const HOUR: Millis = 3_600_000;
pub const DAY: Millis = 24 * HOUR;
/// 2026-03-02T09:00:00Z: a Monday morning, the tests' time zero.
pub const T0: Millis = 1_772_442_000_000;

/// AWS key ids that pass the detector's checks (distinct, high entropy).
pub const KEYS: [&str; 5] = [
    "AKIAQ7R4Z2M9X3LPW6KA",
    "AKIAB8N5C1V6T0HJD2FG",
    "AKIAW3E9R7Y2U5I1O4PQ",
    "AKIAZ6X8C3V1B9N2M7LS",
    "AKIAM4K7J2H9G5F1D8SA",
];

/// A config for tests: anyone at example.org reports, LEAD responds (auth off).
pub fn config(url: &str) -> Config {
    let mut cfg = Config::default();
    cfg.database.url = url.to_string();
    cfg.intake.allowed_domains = vec!["example.org".into()];
    cfg.responders.addresses = vec![LEAD.into()];
    cfg.responders.auth = crate::config::AuthMode::None;
    cfg.http.listen = String::new();
    cfg
}

/// A Context over a new SQLite database in `dir`.
pub async fn context(dir: &std::path::Path) -> Context {
    let url = format!("sqlite://{}/closeloop.db", dir.display());
    context_with(config(&url)).await
}

pub async fn context_with(cfg: Config) -> Context {
    let store = Store::open(&cfg.database.url).await.expect("store");
    let org = crate::compose::org(&cfg).expect("org");
    Context {
        cfg: Arc::new(cfg),
        key: Key::from_bytes(&[7u8; 32]),
        store,
        org: Arc::new(org),
    }
}

/// A plain report email.
pub fn mail(from: &str, message_id: &str, subject: &str, body: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: security@example.org\r\nSubject: {subject}\r\n\
         Message-ID: <{message_id}>\r\nDate: Mon, 2 Mar 2026 08:00:00 +0000\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}
