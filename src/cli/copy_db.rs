//! `closeloop copy-db --from URL --to URL`: move a deployment between
//! databases (SQLite ↔ PostgreSQL). Both are migrated first; the target must
//! be empty. Prints the rows copied per table, verified by count.

use super::{Failure, Outcome};
use crate::store::{self, copy, Store};

pub async fn run(from: &str, to: &str) -> Outcome {
    if from == to {
        return Err(Failure::usage(anyhow::anyhow!(
            "--from and --to name the same database"
        )));
    }
    let source = Store::open(from).await?;
    let target = Store::open(to).await?;
    let counts = copy::copy(&source, &target).await;
    source.close().await;
    target.close().await;
    let counts = counts?;
    println!(
        "copied {} to {}:",
        store::redact_url(from),
        store::redact_url(to)
    );
    let width = counts.iter().map(|(t, _)| t.len()).max().unwrap_or(0);
    for (table, rows) in &counts {
        println!("  {table:<width$}  {rows:>8}");
    }
    let total: i64 = counts.iter().map(|(_, n)| n).sum();
    println!(
        "{total} rows in {} tables; row counts verified on both sides",
        counts.len()
    );
    println!(
        "next: point database.url at the new database and keep the same secrets.key_file \
         (fingerprints, body hashes and signed addresses depend on it)"
    );
    Ok(())
}
