//! `mailbox_state`: where IMAP intake stands in each mailbox (UIDVALIDITY and
//! the highest UID whose batch is committed), so a restart fetches only what
//! is new and a UIDVALIDITY change is noticed.
//!
//! Must not talk to the IMAP server: `imap` decides what the numbers mean.

use sqlx::Row;

use super::{Conn, Result};

/// What we remember about one mailbox.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MailboxState {
    pub uidvalidity: i64,
    /// Every message with a UID up to this one is committed.
    pub last_uid: i64,
}

/// The remembered state of `mailbox` (a key naming server, user and folder).
pub async fn get(conn: &mut Conn, mailbox: &str) -> Result<Option<MailboxState>> {
    let row = sqlx::query("SELECT uidvalidity, last_uid FROM mailbox_state WHERE mailbox = $1")
        .bind(mailbox)
        .fetch_optional(&mut *conn)
        .await?;
    row.map(|r| {
        Ok(MailboxState {
            uidvalidity: r.try_get("uidvalidity")?,
            last_uid: r.try_get("last_uid")?,
        })
    })
    .transpose()
}

/// Records the state of `mailbox` (insert or replace).
pub async fn set(conn: &mut Conn, mailbox: &str, state: MailboxState) -> Result<()> {
    sqlx::query(
        "INSERT INTO mailbox_state (mailbox, uidvalidity, last_uid) VALUES ($1, $2, $3) \
         ON CONFLICT (mailbox) DO UPDATE SET uidvalidity = excluded.uidvalidity, last_uid = excluded.last_uid",
    )
    .bind(mailbox)
    .bind(state.uidvalidity)
    .bind(state.last_uid)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    #[tokio::test]
    async fn state_round_trips_and_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&format!("sqlite://{}/m.db", dir.path().display()))
            .await
            .unwrap();
        let mut tx = store.begin().await.unwrap();
        assert_eq!(get(&mut tx, "imap://u@h/INBOX").await.unwrap(), None);
        let a = MailboxState {
            uidvalidity: 7,
            last_uid: 42,
        };
        set(&mut tx, "imap://u@h/INBOX", a).await.unwrap();
        assert_eq!(get(&mut tx, "imap://u@h/INBOX").await.unwrap(), Some(a));
        let b = MailboxState {
            uidvalidity: 8,
            last_uid: 0,
        };
        set(&mut tx, "imap://u@h/INBOX", b).await.unwrap();
        assert_eq!(get(&mut tx, "imap://u@h/INBOX").await.unwrap(), Some(b));
        assert_eq!(get(&mut tx, "imap://u@h/Other").await.unwrap(), None);
        tx.commit().await.unwrap();
    }
}
