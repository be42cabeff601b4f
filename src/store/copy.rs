//! Copying a whole deployment from one database to another (SQLite ↔
//! PostgreSQL) for `closeloop copy-db`: every table, ids preserved, in one
//! transaction on the target, identity sequences moved past the copied ids,
//! row counts verified afterwards.
//!
//! Tables are found in the target's schema, so tables added by later
//! migrations are copied too; `ORDER` lists the known ones parents first
//! (foreign keys are checked row by row), unknown ones follow by name.
//! Column types come from the target's schema; both ends must be migrated to
//! the same version. Must not interpret any row.

use std::collections::BTreeMap;

use futures::TryStreamExt;
use sqlx::{Row, ValueRef};

use super::{Dialect, Store, StoreError};

/// Known tables, each after the tables it references.
const ORDER: &[&str] = &[
    "cases",
    "messages",
    "reports",
    "artifacts",
    "events",
    "letters",
    "mailbox_state",
    "leases",
    "case_keys",
];

/// Self-references: copied as NULL first, set once every row is in.
const LATER: &[(&str, &str)] = &[("cases", "merged_into")];

#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("database error while copying table {table}: {source}")]
    Table { table: String, source: sqlx::Error },
    #[error("the target database is not empty: table {table} has {rows} rows (copy-db only fills an empty, freshly migrated database)")]
    TargetNotEmpty { table: String, rows: i64 },
    #[error(
        "table {table} is missing in the {side} database (are both migrated to the same version?)"
    )]
    MissingTable { table: String, side: &'static str },
    #[error("the two databases are at different schema versions (source {source_version}, target {target_version}); upgrade closeloop on the older one")]
    Version {
        source_version: i64,
        target_version: i64,
    },
    #[error("row counts differ after the copy in table {table}: source {source_rows}, target {target_rows}")]
    Verify {
        table: String,
        source_rows: i64,
        target_rows: i64,
    },
}

/// One cell, as far as closeloop's schemas go.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Bool(bool),
    Bytes(Vec<u8>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ColType {
    Int,
    Real,
    Text,
    Bool,
    Bytes,
}

impl ColType {
    fn from_declared(t: &str) -> ColType {
        let t = t.to_ascii_lowercase();
        if t.contains("int") {
            ColType::Int
        } else if t.contains("bool") {
            ColType::Bool
        } else if t.contains("blob") || t.contains("bytea") {
            ColType::Bytes
        } else if t.contains("real")
            || t.contains("double")
            || t.contains("float")
            || t.contains("numeric")
        {
            ColType::Real
        } else {
            ColType::Text
        }
    }
}

#[derive(Clone, Debug)]
struct Column {
    name: String,
    ty: ColType,
}

/// Rows per table after a copy (or of one database).
pub type Counts = Vec<(String, i64)>;

fn table_err(table: &str) -> impl Fn(sqlx::Error) -> CopyError + '_ {
    move |source| CopyError::Table {
        table: table.to_string(),
        source,
    }
}

/// Tables of a database (migration bookkeeping excluded), copy order.
async fn tables(store: &Store) -> Result<Vec<String>, StoreError> {
    let sql = match store.dialect() {
        Dialect::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
             AND name <> '_sqlx_migrations'"
        }
        Dialect::Postgres => {
            "SELECT CAST(table_name AS TEXT) FROM information_schema.tables WHERE table_schema = current_schema() \
             AND table_type = 'BASE TABLE' AND table_name <> '_sqlx_migrations'"
        }
    };
    let mut conn = store.conn().await?;
    let mut names: Vec<String> = sqlx::query_scalar(sql).fetch_all(&mut *conn).await?;
    let rank = |n: &String| ORDER.iter().position(|o| o == n).unwrap_or(ORDER.len());
    names.sort_by(|a, b| rank(a).cmp(&rank(b)).then(a.cmp(b)));
    Ok(names)
}

async fn columns(store: &Store, table: &str) -> Result<Vec<Column>, CopyError> {
    let mut conn = store.conn().await?;
    let rows: Vec<(String, String)> = match store.dialect() {
        Dialect::Sqlite => {
            sqlx::query_as("SELECT name, type FROM pragma_table_info($1) ORDER BY cid")
                .bind(table)
                .fetch_all(&mut *conn)
                .await
        }
        Dialect::Postgres => {
            sqlx::query_as(
                "SELECT CAST(column_name AS TEXT), CAST(data_type AS TEXT) FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
            )
            .bind(table)
            .fetch_all(&mut *conn)
            .await
        }
    }
    .map_err(table_err(table))?;
    Ok(rows
        .into_iter()
        .map(|(name, ty)| Column {
            ty: ColType::from_declared(&ty),
            name,
        })
        .collect())
}

async fn count(store: &Store, table: &str) -> Result<i64, CopyError> {
    let mut conn = store.conn().await?;
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
        .fetch_one(&mut *conn)
        .await
        .map_err(table_err(table))
}

async fn schema_version(store: &Store) -> Result<i64, StoreError> {
    let mut conn = store.conn().await?;
    let v: Option<i64> =
        sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success = TRUE")
            .fetch_one(&mut *conn)
            .await?;
    Ok(v.unwrap_or(0))
}

fn read(row: &sqlx::any::AnyRow, i: usize, ty: ColType) -> Result<Value, sqlx::Error> {
    if row.try_get_raw(i)?.is_null() {
        return Ok(Value::Null);
    }
    Ok(match ty {
        ColType::Int => Value::Int(row.try_get(i)?),
        ColType::Real => Value::Real(row.try_get(i)?),
        ColType::Text => Value::Text(row.try_get(i)?),
        ColType::Bool => Value::Bool(row.try_get(i)?),
        ColType::Bytes => Value::Bytes(row.try_get(i)?),
    })
}

fn bind<'q>(
    q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    v: &Value,
    ty: ColType,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
    match (v, ty) {
        (Value::Null, ColType::Int) => q.bind(None::<i64>),
        (Value::Null, ColType::Real) => q.bind(None::<f64>),
        (Value::Null, ColType::Bool) => q.bind(None::<bool>),
        (Value::Null, ColType::Bytes) => q.bind(None::<Vec<u8>>),
        (Value::Null, ColType::Text) => q.bind(None::<String>),
        (Value::Int(i), _) => q.bind(*i),
        (Value::Real(f), _) => q.bind(*f),
        (Value::Text(s), _) => q.bind(s.clone()),
        (Value::Bool(b), _) => q.bind(*b),
        (Value::Bytes(b), _) => q.bind(b.clone()),
    }
}

/// Every row of every table, ordered by the first column: for comparing two
/// databases (tests, and a careful operator after a copy).
pub async fn snapshot(store: &Store) -> Result<BTreeMap<String, Vec<Vec<Value>>>, CopyError> {
    let mut out = BTreeMap::new();
    for table in tables(store).await? {
        let cols = columns(store, &table).await?;
        let names: Vec<&str> = cols.iter().map(|c| c.name.as_str()).collect();
        let sql = format!("SELECT {} FROM {table} ORDER BY 1", names.join(", "));
        let mut conn = store.conn().await?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(&mut *conn)
            .await
            .map_err(table_err(&table))?;
        let mut values = Vec::with_capacity(rows.len());
        for r in &rows {
            let row = cols
                .iter()
                .enumerate()
                .map(|(i, c)| read(r, i, c.ty))
                .collect::<Result<Vec<_>, _>>()
                .map_err(table_err(&table))?;
            values.push(row);
        }
        out.insert(table, values);
    }
    Ok(out)
}

/// Copies every table of `from` into `to` (both already migrated; `to`
/// empty), in one transaction on `to`; then verifies the row counts.
pub async fn copy(from: &Store, to: &Store) -> Result<Counts, CopyError> {
    let (sv, tv) = (schema_version(from).await?, schema_version(to).await?);
    if sv != tv {
        return Err(CopyError::Version {
            source_version: sv,
            target_version: tv,
        });
    }
    let names = tables(to).await?;
    let source_tables = tables(from).await?;
    for t in &names {
        if !source_tables.contains(t) {
            return Err(CopyError::MissingTable {
                table: t.clone(),
                side: "source",
            });
        }
        let rows = count(to, t).await?;
        if rows > 0 {
            return Err(CopyError::TargetNotEmpty {
                table: t.clone(),
                rows,
            });
        }
    }
    if let Some(t) = source_tables.iter().find(|t| !names.contains(t)) {
        return Err(CopyError::MissingTable {
            table: t.clone(),
            side: "target",
        });
    }

    let mut tx = to.begin().await?;
    for table in &names {
        let cols = columns(to, table).await?;
        let later: Vec<&str> = LATER
            .iter()
            .filter(|(t, _)| t == table)
            .map(|(_, c)| *c)
            .collect();
        let list: Vec<&str> = cols.iter().map(|c| c.name.as_str()).collect();
        let select = format!("SELECT {} FROM {table} ORDER BY 1", list.join(", "));
        let params: Vec<String> = (1..=cols.len()).map(|i| format!("${i}")).collect();
        let insert = format!(
            "INSERT INTO {table} ({}) VALUES ({})",
            list.join(", "),
            params.join(", ")
        );
        let mut src = from.conn().await?;
        let mut rows = sqlx::query(sqlx::AssertSqlSafe(select)).fetch(&mut *src);
        let mut deferred: Vec<(Value, Vec<(usize, Value)>)> = Vec::new();
        while let Some(row) = rows.try_next().await.map_err(table_err(table))? {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(insert.clone()));
            let mut held = Vec::new();
            let mut first = Value::Null;
            for (i, c) in cols.iter().enumerate() {
                let v = read(&row, i, c.ty).map_err(table_err(table))?;
                if i == 0 {
                    first = v.clone();
                }
                if later.contains(&c.name.as_str()) && v != Value::Null {
                    held.push((i, v));
                    q = bind(q, &Value::Null, c.ty);
                } else {
                    q = bind(q, &v, c.ty);
                }
            }
            q.execute(&mut *tx).await.map_err(table_err(table))?;
            if !held.is_empty() {
                deferred.push((first, held));
            }
        }
        drop(rows);
        for (key, held) in deferred {
            for (i, v) in held {
                let sql = format!(
                    "UPDATE {table} SET {} = $1 WHERE {} = $2",
                    cols[i].name, cols[0].name
                );
                let q = bind(sqlx::query(sqlx::AssertSqlSafe(sql)), &v, cols[i].ty);
                bind(q, &key, cols[0].ty)
                    .execute(&mut *tx)
                    .await
                    .map_err(table_err(table))?;
            }
        }
        if to.dialect() == Dialect::Postgres && cols.iter().any(|c| c.name == "id") {
            // Identity columns keep counting from where the copied ids end.
            let seq: Option<String> = sqlx::query_scalar("SELECT pg_get_serial_sequence($1, 'id')")
                .bind(table.as_str())
                .fetch_one(&mut *tx)
                .await
                .map_err(table_err(table))?;
            if let Some(seq) = seq {
                let sql = format!(
                    "SELECT setval($1, COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)"
                );
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(seq)
                    .execute(&mut *tx)
                    .await
                    .map_err(table_err(table))?;
            }
        }
    }
    tx.commit().await.map_err(StoreError::from)?;

    let mut counts = Vec::with_capacity(names.len());
    for table in names {
        let (s, t) = (count(from, &table).await?, count(to, &table).await?);
        if s != t {
            return Err(CopyError::Verify {
                table,
                source_rows: s,
                target_rows: t,
            });
        }
        counts.push((table, t));
    }
    Ok(counts)
}
