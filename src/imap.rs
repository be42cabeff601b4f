//! IMAP intake (`intake.kind = "imap"`). Not built yet: see issue "The daemon
//! on real mail servers". Until then IMAP configs are refused with a clear error.

use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::context::Context;

const NOT_YET: &str = "IMAP intake is not available in this build yet; use intake.kind = \"maildir\" with MTA delivery, or `closeloop ingest` as a pipe";

pub async fn check(_cfg: &Config) -> Result<String, String> {
    Err(NOT_YET.into())
}

pub async fn drain_once(_ctx: &Context) -> anyhow::Result<usize> {
    anyhow::bail!(NOT_YET)
}

pub async fn run(_ctx: Context, _shutdown: CancellationToken) {
    tracing::error!("{NOT_YET}");
}
