//! Ids a transaction hands out itself, so the rows of a whole batch can name
//! each other (a report its message, an artifact its report, everything its
//! case) before any of them is written, and each table is then written in
//! one multi-row INSERT instead of one round trip per row.
//!
//! SQLite: a write transaction holds the database's one write lock (`BEGIN
//! IMMEDIATE`), so every id above the table's largest is this transaction's
//! to give: read once per table, then counted here (SQLite itself would give
//! the same ids: `INTEGER PRIMARY KEY` without AUTOINCREMENT takes MAX + 1).
//! PostgreSQL: from the column's identity sequence, so concurrent instances
//! never collide (gaps after a rollback, as with any sequence).

use std::collections::HashMap;

use super::{Conn, Dialect, Result};

/// Tables whose ids a transaction assigns itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IdTable {
    Cases,
    Messages,
    Reports,
}

impl IdTable {
    fn name(self) -> &'static str {
        match self {
            IdTable::Cases => "cases",
            IdTable::Messages => "messages",
            IdTable::Reports => "reports",
        }
    }
}

/// The ids handed out so far in one transaction (see the module comment).
/// Valid only while every row of these tables that the transaction inserts
/// takes its id from here: a caller that lets other code insert into them
/// must `forget` afterwards.
#[derive(Debug, Default)]
pub struct Ids {
    next: HashMap<IdTable, i64>,
}

impl Ids {
    /// `n` fresh ids for `table`, ascending.
    pub async fn take(&mut self, conn: &mut Conn, table: IdTable, n: usize) -> Result<Vec<i64>> {
        if n == 0 {
            return Ok(Vec::new());
        }
        match Dialect::of(conn) {
            Dialect::Sqlite => {
                let first = match self.next.get(&table) {
                    Some(next) => *next,
                    None => {
                        let sql = format!("SELECT COALESCE(MAX(id), 0) + 1 FROM {}", table.name());
                        sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql))
                            .fetch_one(&mut *conn)
                            .await?
                    }
                };
                self.next.insert(table, first + n as i64);
                Ok((first..first + n as i64).collect())
            }
            Dialect::Postgres => {
                let sql = format!(
                    "SELECT nextval(pg_get_serial_sequence('{}', 'id')) FROM generate_series(1, CAST($1 AS BIGINT))",
                    table.name()
                );
                let mut ids: Vec<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                    .bind(n as i64)
                    .fetch_all(&mut *conn)
                    .await?;
                ids.sort_unstable();
                Ok(ids)
            }
        }
    }

    /// Other code may have inserted rows: the next `take` asks the table again.
    pub fn forget(&mut self) {
        self.next.clear();
    }
}
