//! Runs a job (the mailbox reader) only while this instance holds a named
//! database lease, so that of several `closeloop run` instances on one
//! database exactly one reads the mailbox at a time. The lease is renewed
//! every third of its timeout; when the holder dies, another instance takes
//! over once the lease has expired (`intake.lease_timeout`, default 30 s).
//!
//! The lease is an agreement, not the last line of defence: ingest is
//! idempotent (same bytes or Message-ID = same report, held by unique keys),
//! so a reader that overstays its lease by a moment doubles nothing.
//! Must not know what the job does.

use std::future::Future;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::domain::Millis;
use crate::store::{self, Store};

/// The lease that guards mailbox intake.
pub const INTAKE: &str = "intake";

fn now_ms() -> Millis {
    chrono::Utc::now().timestamp_millis()
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".into())
}

/// A name for this instance in the `leases` table: host, process and a random tag.
pub fn instance_id() -> String {
    let mut tag = [0u8; 4];
    getrandom::fill(&mut tag).ok();
    format!("{}/{}/{}", hostname(), std::process::id(), hex::encode(tag))
}

/// True when `holder` names a process on this host that no longer exists
/// (a daemon restarted after a crash need not wait out its own old lease).
/// Only answers where `/proc` shows processes; elsewhere the lease expires.
fn is_dead_here(holder: &str) -> bool {
    let mut parts = holder.split('/');
    let (Some(host), Some(pid)) = (parts.next(), parts.next()) else {
        return false;
    };
    let Ok(pid) = pid.parse::<u32>() else {
        return false;
    };
    host == hostname()
        && pid != std::process::id()
        && std::path::Path::new("/proc/self").exists()
        && !std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// Takes the lease (or renews it); takes it at once from a holder whose
/// process on this host is gone.
async fn take(store: &Store, name: &str, holder: &str, ttl_ms: Millis) -> store::Result<bool> {
    let now = now_ms();
    if store::lease::hold(store, name, holder, now, ttl_ms).await? {
        return Ok(true);
    }
    match store::lease::current(store, name).await? {
        Some((current, _)) if is_dead_here(&current) => {
            let taken = store::lease::take_from(store, name, &current, holder, now, ttl_ms).await?;
            if taken {
                tracing::info!(lease = name, previous = %current, "took the lease from a process that is gone");
            }
            Ok(taken)
        }
        _ => Ok(false),
    }
}

/// Runs `job` whenever this instance holds lease `name`, until `shutdown`.
/// The job gets a token that is cancelled when the lease is lost or on
/// shutdown; it must return soon after. On shutdown the lease is released
/// so another instance can take over at once.
pub async fn run_while_holding<F, Fut>(
    store: Store,
    name: &str,
    holder: &str,
    ttl: Duration,
    shutdown: CancellationToken,
    mut job: F,
) where
    F: FnMut(CancellationToken) -> Fut,
    Fut: Future<Output = ()>,
{
    let ttl_ms = Millis::try_from(ttl.as_millis())
        .unwrap_or(Millis::MAX)
        .max(300);
    let every = Duration::from_millis((ttl_ms / 3) as u64);
    let mut waiting_logged = false;
    loop {
        // Wait for the lease.
        let mut held_until = loop {
            let now = now_ms();
            match take(&store, name, holder, ttl_ms).await {
                Ok(true) => break now.saturating_add(ttl_ms),
                Ok(false) if !waiting_logged => {
                    tracing::info!(
                        lease = name,
                        "another instance holds the lease; standing by"
                    );
                    waiting_logged = true;
                }
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(lease = name, error = %e, "cannot take the lease; will retry")
                }
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(every) => {}
            }
        };
        waiting_logged = false;
        tracing::info!(lease = name, holder, "took the lease");
        let token = shutdown.child_token();
        let work = job(token.clone());
        tokio::pin!(work);
        // Renew while the job runs; stop it if the lease cannot be kept.
        let mut finished = false;
        loop {
            tokio::select! {
                _ = &mut work => { finished = true; break }
                _ = tokio::time::sleep(every) => {}
            }
            let now = now_ms();
            match store::lease::hold(&store, name, holder, now, ttl_ms).await {
                Ok(true) => held_until = now.saturating_add(ttl_ms),
                Ok(false) => {
                    tracing::warn!(lease = name, "lease lost to another instance; stopping");
                    break;
                }
                Err(e) if now + (every.as_millis() as Millis) < held_until => {
                    tracing::warn!(lease = name, error = %e, "cannot renew the lease yet; still held");
                }
                Err(e) => {
                    tracing::warn!(lease = name, error = %e, "cannot renew the lease before it expires; stopping");
                    break;
                }
            }
        }
        if !finished {
            token.cancel();
            work.await;
        }
        if shutdown.is_cancelled() {
            if let Err(e) = store::lease::release(&store, name, holder).await {
                tracing::warn!(lease = name, error = %e, "cannot release the lease; it will expire");
            }
            return;
        }
        if finished {
            // The job stopped by itself (an error it could not get past): pause, go again.
            tokio::select! {
                _ = shutdown.cancelled() => {
                    store::lease::release(&store, name, holder).await.ok();
                    return;
                }
                _ = tokio::time::sleep(every) => {}
            }
        }
    }
}

/// For `run --once`: takes the lease if free, runs `job`, releases it.
/// Returns None (and does not run the job) while another instance holds it.
pub async fn once_holding<T, Fut>(
    store: &Store,
    name: &str,
    ttl: Duration,
    job: impl FnOnce() -> Fut,
) -> Result<Option<T>, store::StoreError>
where
    Fut: Future<Output = T>,
{
    let holder = instance_id();
    let ttl_ms = Millis::try_from(ttl.as_millis()).unwrap_or(Millis::MAX);
    if !take(store, name, &holder, ttl_ms).await? {
        return Ok(None);
    }
    let out = job().await;
    store::lease::release(store, name, &holder).await?;
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_gone_process_on_this_host_counts_as_dead() {
        let me = instance_id();
        assert!(!is_dead_here(&me));
        assert!(!is_dead_here("some-other-host/1/ab"));
        assert!(!is_dead_here("garbage"));
        if std::path::Path::new("/proc/self").exists() {
            // Pid 1 always exists; a pid beyond pid_max never does.
            assert!(!is_dead_here(&format!("{}/1/ab", hostname())));
            assert!(is_dead_here(&format!("{}/4194305/ab", hostname())));
        }
    }
}
