//! Named leases in the database (`leases`): exactly one instance does a job
//! (reading the mailbox) at a time. Taking and renewing are single atomic
//! statements, so two instances can never both believe they hold a lease;
//! a holder that dies stops renewing and anyone may take the lease once it
//! has expired.
//!
//! Time is the caller's (`now`, Unix ms): instances on several machines need
//! clocks within a small fraction of the lease timeout (NTP is plenty).
//! Must not schedule anything: the renewing loop is `crate::lease`.

use super::{Result, Store};
use crate::domain::Millis;

/// Takes or renews lease `name` for `holder` until `now + ttl_ms`. True when
/// `holder` holds it afterwards; false when another live holder has it.
pub async fn hold(
    store: &Store,
    name: &str,
    holder: &str,
    now: Millis,
    ttl_ms: Millis,
) -> Result<bool> {
    let until = now.saturating_add(ttl_ms);
    let mut conn = store.conn().await?;
    // Renew ours, or take one that has expired: one statement, one winner.
    let taken = sqlx::query(
        "UPDATE leases SET holder = $1, expires_at = $2 WHERE name = $3 AND (holder = $1 OR expires_at < $4)",
    )
    .bind(holder)
    .bind(until)
    .bind(name)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    if taken.rows_affected() == 1 {
        return Ok(true);
    }
    // No row yet: the first to insert it holds it.
    let created = sqlx::query(
        "INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING",
    )
    .bind(name)
    .bind(holder)
    .bind(until)
    .execute(&mut *conn)
    .await?;
    Ok(created.rows_affected() == 1)
}

/// Takes the lease from `dead`, a holder known to be gone (its process no
/// longer exists), without waiting for it to expire. False when `dead` no
/// longer holds it (someone else was quicker).
pub async fn take_from(
    store: &Store,
    name: &str,
    dead: &str,
    holder: &str,
    now: Millis,
    ttl_ms: Millis,
) -> Result<bool> {
    let mut conn = store.conn().await?;
    let done = sqlx::query(
        "UPDATE leases SET holder = $1, expires_at = $2 WHERE name = $3 AND holder = $4",
    )
    .bind(holder)
    .bind(now.saturating_add(ttl_ms))
    .bind(name)
    .bind(dead)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Gives the lease up at once (clean shutdown) so another instance need not
/// wait for it to expire. Does nothing when `holder` no longer holds it.
pub async fn release(store: &Store, name: &str, holder: &str) -> Result<()> {
    let mut conn = store.conn().await?;
    sqlx::query("UPDATE leases SET expires_at = 0 WHERE name = $1 AND holder = $2")
        .bind(name)
        .bind(holder)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The current holder of a lease and when it expires, if anyone ever took it.
pub async fn current(store: &Store, name: &str) -> Result<Option<(String, Millis)>> {
    let mut conn = store.conn().await?;
    let row: Option<(String, i64)> =
        sqlx::query_as("SELECT holder, expires_at FROM leases WHERE name = $1")
            .bind(name)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(row)
}
