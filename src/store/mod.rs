//! The database edge. One `Store` over sqlx's `Any` driver so every query is
//! written once in portable SQL (`$N` placeholders, BIGINT millisecond
//! timestamps, `RETURNING`); the few dialect differences (connection pragmas,
//! write-transaction start, embedded migrations) live in this file alone.
//!
//! Architecture invariant: only this module (and its children) speaks SQL.
//! Children take `&mut AnyConnection` so the caller decides the transaction.

pub mod case_keys;
pub mod cases;
pub mod copy;
pub mod ids;
pub mod intake;
pub mod lease;
pub mod mailbox;
pub mod outbox;
pub mod set_aside;
pub mod stats;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, Executor, Transaction};

pub use sqlx::Any;
pub use sqlx::AnyConnection as Conn;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database {url}: {source}")]
    Connect { url: String, source: sqlx::Error },
    #[error("cannot create the database folder {path}: {source}")]
    Folder {
        path: String,
        source: std::io::Error,
    },
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database error: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("{0}")]
    NotFound(String),
    /// Another instance changed what this transaction decided on; run it again.
    #[error("concurrent change: {0}")]
    Conflict(String),
    /// The runtime stopped before a batch read ahead was ready (shutdown):
    /// nothing of that batch was stored; it is read again at the next start.
    #[error("shutting down before the batch was read")]
    ShuttingDown,
    /// Storing panicked: a bug that some input reaches. The transaction was rolled back;
    /// the panic's message is not kept (it may quote the message's text), the log says
    /// where it happened.
    #[error("closeloop hit a bug storing it (a panic; the log names the place in the code)")]
    Panicked,
}

/// SQLSTATEs (PostgreSQL) and extended result codes (SQLite) after which a
/// whole transaction may simply be run again: unique violation (another
/// instance inserted the same key first), serialization failure, deadlock.
const RETRYABLE_CODES: &[&str] = &["23505", "40001", "40P01", "2067", "1555"];

impl StoreError {
    /// True when a concurrent writer got there first and running the whole
    /// transaction again will see its result (see `retry`).
    pub fn is_conflict(&self) -> bool {
        match self {
            StoreError::Conflict(_) => true,
            StoreError::Sql(sqlx::Error::Database(db)) => {
                db.is_unique_violation()
                    || db
                        .code()
                        .is_some_and(|c| RETRYABLE_CODES.contains(&c.as_ref()))
            }
            _ => false,
        }
    }
}

/// How many times a transaction that lost a race is run again.
pub const RETRIES: u32 = 8;

/// A short, growing, jittered pause before retry `attempt` (1, 2, …), so two
/// instances that collided do not collide again in lockstep.
pub async fn retry_pause(attempt: u32) {
    let mut b = [0u8; 2];
    let jitter = match getrandom::fill(&mut b) {
        Ok(()) => u64::from(u16::from_le_bytes(b)) % 20,
        Err(_) => 7,
    };
    let ms = (5u64 << attempt.min(5)) + jitter;
    tokio::time::sleep(Duration::from_millis(ms)).await;
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Most values bound to one statement: under SQLite's historical limit
/// (999) and PostgreSQL's (65,535), so long lists are sent in chunks.
pub const MAX_BINDS: usize = 900;

/// `$from, $from+1, …` (`n` placeholders) for an `IN (…)` list.
pub fn placeholders(from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A query being built, as the helpers below take and return it.
pub type Query<'q> = sqlx::query::Query<'q, Any, sqlx::any::AnyArguments>;

/// A statement whose text depends on how many values it carries (see
/// `binds`). It is not kept in the connection's statement cache: every shape
/// would be, up to the cache's 100, each holding its compiled program (a
/// multi-row INSERT's runs to hundreds of KB), which cost a long ingest tens
/// of MB of memory for a saving of well under a millisecond per batch.
pub fn varying<'q>(sql: String) -> Query<'q> {
    sqlx::query(sqlx::AssertSqlSafe(sql)).persistent(false)
}

/// Inserts `rows` in as few multi-row statements as the bind limit allows:
/// `head` is `INSERT INTO t (c1, …, cw)`, `tail` what follows the `VALUES`
/// (an `ON CONFLICT` clause, or empty), `bind` binds one row's `width`
/// values in column order. Returns how many rows were inserted.
pub async fn insert_rows<'q, T>(
    conn: &mut Conn,
    head: &str,
    tail: &str,
    width: usize,
    rows: &'q [T],
    bind: impl Fn(Query<'q>, &'q T) -> Query<'q>,
) -> Result<u64> {
    let mut added = 0;
    for chunk in rows.chunks((MAX_BINDS / width).max(1)) {
        let rows = (0..chunk.len())
            .map(|r| format!("({})", binds(conn, 1 + r * width, width)))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!("{head} VALUES {rows} {tail}");
        let mut q = varying(sql);
        for row in chunk {
            q = bind(q, row);
        }
        added += q.execute(&mut *conn).await?.rows_affected();
    }
    Ok(added)
}

/// Runs a query over a long list of values in chunks the bind limit allows:
/// `sql` gets the chunk's placeholders (as `binds` writes them, from `$1`) and
/// returns the statement; `bind` binds one value. Returns every chunk's rows.
pub async fn fetch_in<'q, T>(
    conn: &mut Conn,
    values: &'q [T],
    sql: impl Fn(&str) -> String,
    bind: impl Fn(Query<'q>, &'q T) -> Query<'q>,
) -> Result<Vec<sqlx::any::AnyRow>> {
    let mut rows = Vec::new();
    for chunk in values.chunks(MAX_BINDS) {
        let mut q = varying(sql(&binds(conn, 1, chunk.len())));
        for v in chunk {
            q = bind(q, v);
        }
        rows.extend(q.fetch_all(&mut *conn).await?);
    }
    Ok(rows)
}

/// `n` placeholders for values bound in order, the first being the
/// statement's `from`-th: `$from, …` on PostgreSQL, `?, …` on SQLite. Only for
/// statements whose every placeholder comes from here, in order: SQLite
/// (through sqlx) looks each numbered placeholder up by name, which costs
/// time quadratic in the number of values of a long statement.
pub fn binds(conn: &Conn, from: usize, n: usize) -> String {
    match Dialect::of(conn) {
        Dialect::Sqlite => vec!["?"; n].join(", "),
        Dialect::Postgres => placeholders(from, n),
    }
}

impl StoreError {
    /// Worth retrying later as it is: the database is busy, locked, away, or a
    /// serialization conflict. Anything else is about the data and will repeat.
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Sql(e) | StoreError::Connect { source: e, .. } => match e {
                sqlx::Error::Database(db) => {
                    let code = db.code().map(|c| c.to_string()).unwrap_or_default();
                    // SQLite BUSY/LOCKED (and extended codes); PostgreSQL serialization, deadlock,
                    // connection and shutdown classes.
                    matches!(
                        code.as_str(),
                        "5" | "6" | "261" | "262" | "517" | "40001" | "40P01"
                    ) || code.starts_with("08")
                        || code.starts_with("57P")
                }
                sqlx::Error::Io(_)
                | sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::WorkerCrashed
                | sqlx::Error::Tls(_)
                | sqlx::Error::Protocol(_) => true,
                _ => false,
            },
            StoreError::Folder { .. } => true,
            // A bug that this input reaches: it would panic again.
            StoreError::Migrate(_) | StoreError::NotFound(_) | StoreError::Panicked => false,
            // Lost a race more often than `RETRIES`: try again later.
            StoreError::Conflict(_) => true,
            StoreError::ShuttingDown => true,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// The dialect a connection speaks, for the few statements written twice.
    pub fn of(conn: &Conn) -> Dialect {
        if conn.backend_name().eq_ignore_ascii_case("sqlite") {
            Dialect::Sqlite
        } else {
            Dialect::Postgres
        }
    }
}

/// A pool plus the dialect it speaks. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    dialect: Dialect,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("dialect", &self.dialect)
            .finish()
    }
}

impl Store {
    /// Connects (creating a SQLite file and its folder if missing) and applies migrations.
    pub async fn open(url: &str) -> Result<Store> {
        let store = Store::connect(url).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Connects without migrating.
    pub async fn connect(url: &str) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let connect_err = |source| StoreError::Connect {
            url: redact_url(url),
            source,
        };
        let (dialect, url_full) = if url.starts_with("sqlite:") {
            let path = url.trim_start_matches("sqlite:").trim_start_matches("//");
            let file = path.split('?').next().unwrap_or(path);
            if let Some(parent) = Path::new(file)
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
            {
                std::fs::create_dir_all(parent).map_err(|source| StoreError::Folder {
                    path: parent.display().to_string(),
                    source,
                })?;
            }
            let sep = if url.contains('?') { '&' } else { '?' };
            let full = if url.contains("mode=") {
                url.to_string()
            } else {
                format!("{url}{sep}mode=rwc")
            };
            (Dialect::Sqlite, full)
        } else {
            (Dialect::Postgres, url.to_string())
        };
        let options = AnyConnectOptions::from_str(&url_full).map_err(connect_err)?;
        let pool = AnyPoolOptions::new()
            .max_connections(if dialect == Dialect::Sqlite { 4 } else { 8 })
            .acquire_timeout(Duration::from_secs(30))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if dialect == Dialect::Sqlite {
                        // WAL is not the default; it lets readers run beside the one writer.
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        conn.execute("PRAGMA busy_timeout = 10000").await?;
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                        // Every commit is on disk before it returns (fsync of the WAL):
                        // a report is durable, power loss included, before its mail is moved.
                        conn.execute("PRAGMA synchronous = FULL").await?;
                        // 8 MiB of page cache (default 2 MiB): the dedup indexes of a
                        // large database stay in memory instead of being read again.
                        conn.execute("PRAGMA cache_size = -8192").await?;
                        // Checkpoint every ~40 MB of WAL (default ~4 MB): a page changed
                        // by several batches is copied into the database once, not each time.
                        conn.execute("PRAGMA wal_autocheckpoint = 10000").await?;
                        // A multi-row INSERT keeps a statement journal (the pages it changes, to
                        // undo it alone); past 64 KiB SQLite spills that to a new temporary file
                        // (SQLITE_TMPDIR, TMPDIR or /var/tmp), ~2 MB written and deleted per
                        // batch. Kept in memory instead.
                        conn.execute("PRAGMA temp_store = MEMORY").await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .map_err(connect_err)?;
        Ok(Store { pool, dialect })
    }

    pub async fn migrate(&self) -> Result<()> {
        let migrator = match self.dialect {
            Dialect::Sqlite => &SQLITE_MIGRATIONS,
            Dialect::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator.run(&self.pool).await?;
        Ok(())
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Starts a write transaction. On SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`), which avoids lock-upgrade deadlocks between writers.
    pub async fn begin(&self) -> Result<Transaction<'static, Any>> {
        Ok(self.pool.begin_with(self.begin_statement()).await?)
    }

    /// Starts a write transaction on a connection the caller keeps for a run
    /// of them (as `begin`). An intake draining a backlog keeps one: its page
    /// cache stays warm, and the pool does not open another connection while
    /// sqlx is still handing the last one back (it does so on a spawned task),
    /// each with a cache of its own.
    pub async fn begin_on<'c>(&self, conn: &'c mut Conn) -> Result<Transaction<'c, Any>> {
        Ok(sqlx::Connection::begin_with(conn, self.begin_statement()).await?)
    }

    fn begin_statement(&self) -> &'static str {
        match self.dialect {
            Dialect::Sqlite => "BEGIN IMMEDIATE",
            Dialect::Postgres => "BEGIN",
        }
    }

    /// A connection for reads, or for `begin_on`.
    pub async fn conn(&self) -> Result<sqlx::pool::PoolConnection<Any>> {
        Ok(self.pool.acquire().await?)
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Hides the password part of a database URL for messages and logs.
pub fn redact_url(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        if let Some((userinfo, host)) = rest.split_once('@') {
            let user = userinfo.split(':').next().unwrap_or("");
            return format!("{scheme}://{user}:***@{host}");
        }
    }
    url.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_urls_hide_passwords() {
        assert_eq!(
            redact_url("postgres://cl:s3cret@db:5432/x"),
            "postgres://cl:***@db:5432/x"
        );
        assert_eq!(redact_url("sqlite://var/x.db"), "sqlite://var/x.db");
    }

    #[tokio::test]
    async fn sqlite_opens_in_wal_durable_with_foreign_keys() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/sub/x.db", dir.path().display());
        let store = Store::open(&url).await.unwrap();
        let mut c = store.conn().await.unwrap();
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&mut *c)
            .await
            .unwrap();
        assert_eq!(mode.to_lowercase(), "wal");
        let fk: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
            .fetch_one(&mut *c)
            .await
            .unwrap();
        assert_eq!(fk, 1);
        // FULL (2): a commit is on disk before it returns; MEMORY (2): statement
        // journals never spill to temporary files.
        for pragma in ["PRAGMA synchronous", "PRAGMA temp_store"] {
            let v: i64 = sqlx::query_scalar(pragma).fetch_one(&mut *c).await.unwrap();
            assert_eq!(v, 2, "{pragma}");
        }
        drop(c);
        // Migrating twice is harmless.
        store.migrate().await.unwrap();
    }

    /// Migration 0005 rebuilds `messages` (SQLite): rows and the reports that
    /// point at them survive, foreign keys are on again, and the raw hash is
    /// unique only among messages without a Message-ID.
    #[tokio::test]
    async fn sqlite_messages_rebuild_keeps_rows_and_references() {
        let dir = tempfile::tempdir().unwrap();
        let before = dir.path().join("before");
        std::fs::create_dir(&before).unwrap();
        for f in
            std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite")).unwrap()
        {
            let f = f.unwrap().path();
            if f.file_name().unwrap().to_str().unwrap() < "0005" {
                std::fs::copy(&f, before.join(f.file_name().unwrap())).unwrap();
            }
        }
        let url = format!("sqlite://{}/x.db", dir.path().display());
        let store = Store::connect(&url).await.unwrap();
        let old = Migrator::new(before.as_path()).await.unwrap();
        old.run(store.pool()).await.unwrap();
        let mut c = store.conn().await.unwrap();
        for sql in [
            "INSERT INTO cases (id, status, opened_at, updated_at) VALUES (7, 'open', 1, 1)",
            "INSERT INTO messages (id, message_id, raw_sha256, source, subject, disposition, case_id, size, received_at) \
             VALUES (3, 'm@x', 'h1', 's', '', 'report', 7, 10, 1), (4, NULL, 'h2', 's', '', 'ignored', NULL, 10, 1)",
            "INSERT INTO reports (id, message_row, case_id, reporter, subject, received_at, body) \
             VALUES (5, 3, 7, 'a@x', '', 1, '')",
        ] {
            sqlx::query(sql).execute(&mut *c).await.unwrap();
        }
        drop(c);
        store.migrate().await.unwrap();
        let mut c = store.conn().await.unwrap();
        let rows: Vec<(i64, String)> =
            sqlx::query_as("SELECT id, raw_sha256 FROM messages ORDER BY id")
                .fetch_all(&mut *c)
                .await
                .unwrap();
        assert_eq!(rows, vec![(3, "h1".to_string()), (4, "h2".to_string())]);
        let fk: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
            .fetch_one(&mut *c)
            .await
            .unwrap();
        assert_eq!(fk, 1);
        let dangling: Vec<(String,)> =
            sqlx::query_as("SELECT \"table\" FROM pragma_foreign_key_check")
                .fetch_all(&mut *c)
                .await
                .unwrap();
        assert!(dangling.is_empty(), "{dangling:?}");
        let insert = |mid: Option<&'static str>, sha: &'static str| {
            sqlx::query(
                "INSERT INTO messages (message_id, raw_sha256, source, subject, disposition, size, received_at) \
                 VALUES ($1, $2, 's', '', 'ignored', 1, 1)",
            )
            .bind(mid)
            .bind(sha)
        };
        // Same bytes under another Message-ID: only the Message-ID is unique.
        insert(Some("other@x"), "h1")
            .execute(&mut *c)
            .await
            .unwrap();
        // Without a Message-ID the hash is still unique.
        assert!(insert(None, "h2").execute(&mut *c).await.is_err());
        // A report still cannot point at a message that is not there.
        assert!(sqlx::query(
            "INSERT INTO reports (message_row, case_id, reporter, subject, received_at, body) \
             VALUES (99, 7, 'a@x', '', 1, '')"
        )
        .execute(&mut *c)
        .await
        .is_err());
    }
}
