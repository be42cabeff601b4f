//! The dedup keys of open cases (`case_keys`): one open case per key, held by
//! the primary key. This is what makes two instances that open a case for the
//! same secret at the same moment collide instead of opening two cases: the
//! second commit fails with a unique violation, and the caller retries its
//! transaction, which then sees the first case and joins it.
//!
//! Kept in step by `cases` (resolve, merge, reopen) and by the pipeline (a
//! new case claims its keys; a joined report attaches its new ones).
//! Must not decide anything about dedup: `dedup` does that over `artifacts`.

use std::collections::{HashMap, HashSet};

use sqlx::Row;

use super::{binds, insert_rows, varying, Conn, Result, StoreError, MAX_BINDS};
use crate::domain::CaseId;

/// Classes of artifacts whose fingerprints are dedup keys.
const KEY_CLASSES: &str = "('secret', 'identity', 'original')";

/// Claims keys for a case that has just opened (or reopened): afterwards
/// every one of them leads to `case`. When another open case holds one (it
/// was committed after this transaction looked), fails with
/// `StoreError::Conflict`: the caller runs its transaction again and joins it.
pub async fn claim(conn: &mut Conn, case: CaseId, keys: &[&str]) -> Result<()> {
    let keys = distinct(keys);
    if attach_distinct(conn, case, &keys).await? == keys.len() as u64 {
        // Every key was free and is now this case's.
        return Ok(());
    }
    let held = holders(conn, &keys).await?;
    for key in &keys {
        held_by(&held, key, case)?;
    }
    Ok(())
}

/// `Ok` when `key` leads to `case` in `held`; a conflict naming the holder otherwise.
fn held_by(held: &HashMap<String, CaseId>, key: &str, case: CaseId) -> Result<()> {
    match held.get(key).copied() {
        Some(c) if c == case => Ok(()),
        other => Err(StoreError::Conflict(format!(
            "a dedup key of case {} is held by case {}",
            case.0,
            other.map(|c| c.0).unwrap_or(0)
        ))),
    }
}

/// Attaches keys to an open case; keys another open case already holds stay there.
pub async fn attach(conn: &mut Conn, case: CaseId, keys: &[&str]) -> Result<()> {
    attach_distinct(conn, case, &distinct(keys)).await?;
    Ok(())
}

/// The keys without repeats, in their first order (a report may carry thousands).
fn distinct<'k>(keys: &[&'k str]) -> Vec<&'k str> {
    first_of_each(keys, |k| k)
}

/// The first item for each key, in their order.
fn first_of_each<'k, T: Copy>(items: &[T], key: impl Fn(T) -> &'k str) -> Vec<T> {
    let mut seen: HashSet<&str> = HashSet::with_capacity(items.len());
    items
        .iter()
        .copied()
        .filter(|i| seen.insert(key(*i)))
        .collect()
}

/// One statement per chunk; returns how many keys were newly attached.
async fn attach_distinct(conn: &mut Conn, case: CaseId, keys: &[&str]) -> Result<u64> {
    let rows: Vec<(&str, CaseId)> = keys.iter().map(|k| (*k, case)).collect();
    insert_keys(conn, &rows).await
}

/// Inserts `(key, case)` pairs; a key already held stays with its case.
/// Returns how many were inserted.
async fn insert_keys(conn: &mut Conn, rows: &[(&str, CaseId)]) -> Result<u64> {
    insert_rows(
        conn,
        "INSERT INTO case_keys (key, case_id)",
        "ON CONFLICT (key) DO NOTHING",
        2,
        rows,
        |q, (key, case)| q.bind(*key).bind(case.0),
    )
    .await
}

/// The open cases holding any of these keys: `(key, case)` pairs.
async fn holders(conn: &mut Conn, keys: &[&str]) -> Result<HashMap<String, CaseId>> {
    let mut out = HashMap::new();
    for chunk in keys.chunks(MAX_BINDS) {
        let sql = format!(
            "SELECT key, case_id FROM case_keys WHERE key IN ({})",
            binds(conn, 1, chunk.len())
        );
        let mut q = varying(sql);
        for key in chunk {
            q = q.bind(*key);
        }
        for r in q.fetch_all(&mut *conn).await? {
            out.insert(r.try_get("key")?, CaseId(r.try_get("case_id")?));
        }
    }
    Ok(out)
}

/// Attaches keys to open cases in one go, in order (the first case named
/// for a key gets it, unless another open case holds it already), then checks
/// that every claimed key leads to the case that claimed it, as `claim` does.
/// Used by a batch that gathered its `attach`es and `claim`s to write at once.
pub async fn attach_and_claim(
    conn: &mut Conn,
    attach: &[(&str, CaseId)],
    claims: &[(&str, CaseId)],
) -> Result<()> {
    let first = first_of_each(attach, |(k, _)| k);
    let added = insert_keys(conn, &first).await?;
    if claims.is_empty() {
        return Ok(());
    }
    // All inserted: each key leads to the first case named for it.
    let held: HashMap<String, CaseId> = if added == first.len() as u64 {
        first.iter().map(|(k, c)| (k.to_string(), *c)).collect()
    } else {
        let keys: Vec<&str> = distinct(&claims.iter().map(|(k, _)| *k).collect::<Vec<_>>());
        holders(conn, &keys).await?
    };
    for (key, case) in claims {
        held_by(&held, key, *case)?;
    }
    Ok(())
}

/// The case is no longer open (resolved): its keys are free.
pub async fn release(conn: &mut Conn, case: CaseId) -> Result<()> {
    sqlx::query("DELETE FROM case_keys WHERE case_id = $1")
        .bind(case.0)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The case was merged: its keys now lead to the surviving case.
pub async fn transfer(conn: &mut Conn, from: CaseId, to: CaseId) -> Result<()> {
    sqlx::query("UPDATE case_keys SET case_id = $1 WHERE case_id = $2")
        .bind(to.0)
        .bind(from.0)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The case is open again: it takes back the keys of its artifacts (and of
/// cases merged into it) that no other open case holds.
pub async fn restore(conn: &mut Conn, case: CaseId) -> Result<()> {
    let sql = format!(
        "INSERT INTO case_keys (key, case_id) SELECT DISTINCT a.fingerprint, $1 FROM artifacts a \
         WHERE a.class IN {KEY_CLASSES} AND (a.case_id = $1 OR a.case_id IN \
         (SELECT id FROM cases WHERE merged_into = $1)) ON CONFLICT (key) DO NOTHING"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(case.0)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The open case holding a key, if any.
pub async fn holder(conn: &mut Conn, key: &str) -> Result<Option<CaseId>> {
    let id: Option<i64> = sqlx::query_scalar("SELECT case_id FROM case_keys WHERE key = $1")
        .bind(key)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(id.map(CaseId))
}
