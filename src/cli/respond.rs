//! `closeloop respond --as EMAIL ID`: a command block from stdin, applied under
//! the same rules as a responder's email.

use std::io::Read;

use anyhow::Context as _;

use super::{Failure, Outcome};
use crate::context::Context;
use crate::domain::CaseId;
use crate::lifecycle;

pub async fn run(ctx: &Context, responder: &str, id: &str) -> Outcome {
    let responder = responder.trim().to_ascii_lowercase();
    if !ctx.cfg.responder_addresses().contains(&responder) {
        return Err(Failure::usage(anyhow::anyhow!(
            "{responder} is not a configured responder (responders.addresses)"
        )));
    }
    let case = CaseId::parse(id).ok_or_else(|| {
        Failure::usage(anyhow::anyhow!(
            "'{id}' is not a case id; write e.g. {}-3 or 3",
            ctx.prefix()
        ))
    })?;
    let mut body = String::new();
    std::io::stdin()
        .read_to_string(&mut body)
        .context("cannot read commands from stdin")?;
    let now = chrono::Utc::now().timestamp_millis();
    let applied = lifecycle::cli_command(ctx, case, &responder, &body, now).await?;
    let c = case.display(ctx.prefix());
    if applied.ok {
        println!("applied to {c}:");
        for l in &applied.lines {
            println!("  {l}");
        }
        Ok(())
    } else {
        eprintln!("rejected; nothing changed on {c}:");
        for l in &applied.lines {
            eprintln!("  {l}");
        }
        Err(Failure {
            code: 1,
            error: anyhow::anyhow!("command block rejected"),
        })
    }
}
