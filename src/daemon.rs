//! `closeloop run`: intake, outbox sender and timers as concurrent tokio tasks
//! under one cancellation token; SIGTERM/SIGINT finish the message in hand,
//! stop taking new work and exit. `run --once` drains, sends due letters, exits.
//!
//! Must not contain business rules: it only schedules the use cases.

use std::time::Duration;

use anyhow::Context as _;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::IntakeKind;
use crate::context::Context;
use crate::mailer::Mailer;
use crate::{imap, lifecycle, maildir, outbox};

/// How often the outbox looks for due letters while running.
const OUTBOX_EVERY: Duration = Duration::from_secs(2);
/// How often timers (risk expiry, SLA) are checked.
const TIMERS_EVERY: Duration = Duration::from_secs(60);

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

pub async fn run(ctx: Context, once: bool) -> anyhow::Result<()> {
    let mailer = Mailer::from_config(&ctx.cfg)?;
    tracing::info!(database = %crate::store::redact_url(&ctx.cfg.database.url), "database ready");
    tracing::info!(outbound = %mailer.describe(&ctx.cfg), "letters go out via");
    if once {
        return run_once(&ctx, &mailer).await;
    }
    let shutdown = CancellationToken::new();
    let tasks = TaskTracker::new();
    {
        // One instance reads the mailbox at a time: the one holding the intake lease.
        let (ctx, token) = (ctx.clone(), shutdown.clone());
        tasks.spawn(async move {
            let (store, ttl) = (ctx.store.clone(), ctx.cfg.intake.lease_timeout.0);
            let holder = crate::lease::instance_id();
            crate::lease::run_while_holding(store, crate::lease::INTAKE, &holder, ttl, token, |t| {
                intake_loop(ctx.clone(), t)
            })
            .await
        });
    }
    {
        let (ctx, token, mailer) = (ctx.clone(), shutdown.clone(), mailer.clone());
        tasks.spawn(async move { outbox_loop(ctx, mailer, token).await });
    }
    {
        let (ctx, token) = (ctx.clone(), shutdown.clone());
        tasks.spawn(async move { timers_loop(ctx, token).await });
    }
    tasks.close();
    wait_for_signal().await;
    tracing::info!("shutting down: finishing the work in hand");
    shutdown.cancel();
    if tokio::time::timeout(Duration::from_secs(4), tasks.wait())
        .await
        .is_err()
    {
        tracing::warn!("some work did not finish within 4 s; it will be redone at next start");
    }
    ctx.store.close().await;
    tracing::info!("stopped");
    Ok(())
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

async fn run_once(ctx: &Context, mailer: &Mailer) -> anyhow::Result<()> {
    let ttl = ctx.cfg.intake.lease_timeout.0;
    let n = match crate::lease::once_holding(&ctx.store, crate::lease::INTAKE, ttl, || {
        drain_intake(ctx)
    })
    .await?
    {
        Some(n) => n?,
        None => {
            tracing::info!(
                "another instance holds the intake lease and reads the mailbox; intake skipped"
            );
            0
        }
    };
    let expired = lifecycle::expire_acceptances(ctx, now_ms()).await?;
    let pass = outbox::send_due(ctx, mailer, now_ms()).await?;
    tracing::info!(
        messages = n,
        risks_reopened = expired.len(),
        sent = pass.sent,
        retried = pass.retried,
        failed = pass.failed,
        "run --once done"
    );
    ctx.store.close().await;
    Ok(())
}

/// Ingests what is waiting in the configured intake. Returns how many messages.
pub async fn drain_intake(ctx: &Context) -> anyhow::Result<usize> {
    match ctx.cfg.intake.kind {
        IntakeKind::Maildir => {
            let dir = &ctx.cfg.intake.dir;
            let done = maildir::drain(ctx, dir, now_ms)
                .await
                .with_context(|| format!("maildir {}", dir.display()))?;
            Ok(done.len())
        }
        IntakeKind::Imap => imap::drain_once(ctx).await,
    }
}

async fn intake_loop(ctx: Context, shutdown: CancellationToken) {
    match ctx.cfg.intake.kind {
        IntakeKind::Imap => imap::run(ctx, shutdown).await,
        IntakeKind::Maildir => {
            tracing::info!(dir = %ctx.cfg.intake.dir.display(), "watching maildir");
            let every = ctx.cfg.intake.poll_interval.0.min(Duration::from_secs(5));
            loop {
                if let Err(e) = drain_intake(&ctx).await {
                    tracing::error!(error = %format!("{e:#}"), "maildir intake failed; will retry");
                }
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(every) => {}
                }
            }
        }
    }
}

async fn outbox_loop(ctx: Context, mailer: Mailer, shutdown: CancellationToken) {
    loop {
        if let Err(e) = outbox::send_due(&ctx, &mailer, now_ms()).await {
            tracing::error!(error = %e, "outbox pass failed; will retry");
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(OUTBOX_EVERY) => {}
        }
    }
}

async fn timers_loop(ctx: Context, shutdown: CancellationToken) {
    loop {
        if let Err(e) = lifecycle::expire_acceptances(&ctx, now_ms()).await {
            tracing::error!(error = %e, "timer pass failed; will retry");
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(TIMERS_EVERY) => {}
        }
    }
}
