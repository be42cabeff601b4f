//! `closeloop stats [--since DURATION] [--json]`: the measures of the loop
//! (SPEC §8) as a table, or as JSON with the stable keys.

use anyhow::Context as _;

use super::{since_arg, Outcome};
use crate::context::Context;
use crate::daemon::now_ms;
use crate::domain::rfc3339;
use crate::stats::{self, SlaMs, Window};

pub async fn run(ctx: &Context, since: Option<&str>, json: bool) -> Outcome {
    let span = since_arg(since)?;
    let now = now_ms();
    let window = Window {
        since: span.map(|s| now.saturating_sub(s.millis())),
        now,
    };
    let sla = SlaMs {
        classify_within: ctx.cfg.sla.classify_within.millis(),
        outcome_within: ctx.cfg.sla.outcome_within.millis(),
    };
    let mut conn = ctx.store.conn().await?;
    let measured = stats::collect(&mut conn, window, sla)
        .await
        .context("reading the figures")?;
    drop(conn);
    if json {
        let text = serde_json::to_string_pretty(&measured.stats).context("writing JSON")?;
        println!("{text}");
    } else {
        let label = match (span, window.since) {
            (Some(span), Some(start)) => format!("last {span}, since {}", rfc3339(start)),
            _ => "all time".to_string(),
        };
        print!("{}", stats::render_table(&measured.stats, &label));
    }
    ctx.store.close().await;
    Ok(())
}
