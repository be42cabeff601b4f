//! What every use case needs, built once at start by the entry layer: the
//! validated configuration, the local key, the store and the letter templates.

use std::sync::Arc;

use crate::config::Config;
use crate::keyfile::{Key, KeyError};
use crate::letters::{LetterError, Org};
use crate::store::{Store, StoreError};

/// Why a deployment could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Key(#[from] KeyError),
    /// A broken template override: a configuration problem.
    #[error(transparent)]
    Templates(#[from] LetterError),
}

#[derive(Clone, Debug)]
pub struct Context {
    pub cfg: Arc<Config>,
    pub key: Key,
    pub store: Store,
    /// Org name, case prefix and template overrides (validated at start).
    pub org: Arc<Org>,
    /// Rung after a commit that queued letters, so the sender does not wait for its next tick.
    pub outbox_wake: Arc<tokio::sync::Notify>,
    /// What the intake loop last said about itself (for `/healthz`).
    pub intake: Arc<IntakeHealth>,
}

/// The intake loop's own account of itself.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum IntakeState {
    /// No intake loop in this process (`run --once`, CLI commands, tests).
    #[default]
    NotRunning,
    /// Another instance holds the mailbox lease; this one waits.
    Standby,
    /// Connected (IMAP) or the Maildir was read.
    Up,
    /// The last attempt failed; the loop is retrying.
    Down(String),
}

#[derive(Debug, Default)]
pub struct IntakeHealth(std::sync::Mutex<IntakeState>);

impl IntakeHealth {
    pub fn set(&self, state: IntakeState) {
        if let Ok(mut s) = self.0.lock() {
            *s = state;
        }
    }

    pub fn get(&self) -> IntakeState {
        self.0.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

impl Context {
    /// Opens everything a validated config names: the store (migrated), the key
    /// (created 0600 on first start) and the letter templates (overrides checked now).
    pub async fn open(cfg: &Config) -> Result<Context, OpenError> {
        let store = Store::open(&cfg.database.url).await?;
        let key_path = cfg.key_file();
        let (key, created) = Key::load_or_create(&key_path)?;
        if created {
            tracing::info!(path = %key_path.display(), "created a new fingerprint key (mode 0600); back it up");
        }
        let org = crate::compose::org(cfg)?;
        Ok(Context::new(cfg.clone(), key, store, org))
    }

    pub fn new(cfg: Config, key: Key, store: Store, org: Org) -> Context {
        Context {
            cfg: Arc::new(cfg),
            key,
            store,
            org: Arc::new(org),
            outbox_wake: Arc::new(tokio::sync::Notify::new()),
            intake: Arc::new(IntakeHealth::default()),
        }
    }

    pub fn prefix(&self) -> &str {
        &self.cfg.letters.case_prefix
    }

    /// Our own address, lowercased.
    pub fn own_address(&self) -> String {
        self.cfg.outbound.from.trim().to_ascii_lowercase()
    }

    /// The domain of our own address (for Message-IDs and signed addresses).
    pub fn own_domain(&self) -> String {
        self.own_address()
            .rsplit_once('@')
            .map(|(_, d)| d.to_string())
            .unwrap_or_else(|| "localhost".into())
    }
}
