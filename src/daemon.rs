//! `closeloop run`: intake, outbox sender and timers as concurrent tokio tasks
//! under one cancellation token; SIGTERM/SIGINT finish the message in hand,
//! stop taking new work and exit. `run --once` drains, sends due letters, exits.
//!
//! Must not contain business rules: it only schedules the use cases.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::IntakeKind;
use crate::context::{Context, IntakeState};
use crate::mailer::Mailer;
use crate::{imap, lifecycle, maildir, outbox, sla, web};

/// How often the outbox looks for due letters while running.
const OUTBOX_EVERY: Duration = Duration::from_secs(2);
/// How often timers (risk expiry, SLA) are checked.
const TIMERS_EVERY: Duration = Duration::from_secs(60);
/// How long shutdown waits for the loops to finish what they hold.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

pub async fn run(ctx: Context, once: bool) -> anyhow::Result<()> {
    let mailer = Mailer::from_config(&ctx.cfg)?;
    tracing::info!(database = %crate::store::redact_url(&ctx.cfg.database.url), "database ready");
    tracing::info!(outbound = %mailer.describe(&ctx.cfg), "letters go out via");
    if let Some(dir) = ctx.cfg.reading_marks_dir() {
        tracing::info!(dir = %dir.display(), "reading marks kept in (a message that kills its reader twice is quarantined)");
    }
    // Compile what reading needs while the intake connects (not awaited: a first
    // message read meanwhile waits for the same compilation).
    drop(tokio::task::spawn_blocking(crate::pipeline::warm_up));
    if once {
        return run_once(&ctx, &mailer).await;
    }
    // Listen for signals before any work starts, so an early SIGTERM is a clean stop too.
    let signals = Signals::install();
    // Bind before starting anything, so a taken port fails the start cleanly.
    let http = match ctx.cfg.http.listen.as_str() {
        "" => None,
        addr => {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("http.listen {addr}: cannot listen"))?;
            let local = listener
                .local_addr()
                .map(|a| a.to_string())
                .unwrap_or_else(|_| addr.to_string());
            tracing::info!(address = %local, "HTTP endpoint listening: /metrics and /healthz");
            Some(listener)
        }
    };
    let shutdown = CancellationToken::new();
    let tasks = TaskTracker::new();
    let failed = Arc::new(AtomicBool::new(false));
    let spawn = |name: &'static str, work| {
        tasks.spawn(supervised(name, work, shutdown.clone(), failed.clone()));
    };
    {
        // One instance reads the mailbox at a time: the one holding the intake lease.
        let (ctx, token) = (ctx.clone(), shutdown.clone());
        spawn(
            "intake",
            Box::pin(async move {
                ctx.intake.set(IntakeState::Standby);
                let (store, ttl) = (ctx.store.clone(), ctx.cfg.intake.lease_timeout.0);
                let holder = crate::lease::instance_id();
                crate::lease::run_while_holding(
                    store,
                    crate::lease::INTAKE,
                    &holder,
                    ttl,
                    token,
                    |t| intake_loop(ctx.clone(), t),
                )
                .await
            }),
        );
    }
    {
        let (ctx, token, mailer) = (ctx.clone(), shutdown.clone(), mailer.clone());
        spawn(
            "outbox",
            Box::pin(async move { outbox_loop(ctx, mailer, token).await }),
        );
    }
    {
        let (ctx, token) = (ctx.clone(), shutdown.clone());
        spawn(
            "timers",
            Box::pin(async move { timers_loop(ctx, token).await }),
        );
    }
    if let Some(listener) = http {
        let (ctx, token) = (ctx.clone(), shutdown.clone());
        spawn(
            "http",
            Box::pin(async move {
                if let Err(e) = web::serve(ctx, listener, token).await {
                    tracing::error!(error = %e, "HTTP endpoint stopped");
                }
            }),
        );
    }
    tasks.close();
    tokio::select! {
        _ = signals.wait() => tracing::info!("shutting down: finishing the work in hand"),
        _ = shutdown.cancelled() => {}
    }
    shutdown.cancel();
    if tokio::time::timeout(SHUTDOWN_GRACE, tasks.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            "some work did not finish within {SHUTDOWN_GRACE:?}; it will be redone at next start"
        );
    }
    // A task still holding a connection would keep `close` waiting.
    let _ = tokio::time::timeout(Duration::from_secs(1), ctx.store.close()).await;
    tracing::info!("stopped");
    if failed.load(Ordering::SeqCst) {
        anyhow::bail!("a task stopped on a bug (see the log); exiting so that a supervisor restarts closeloop");
    }
    Ok(())
}

/// One of the daemon's tasks, boxed so that the tasks share a type.
type Task = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

/// Runs `work`; should it panic (a bug), says which task stopped, sets `failed` and
/// stops the daemon, which then exits with an error: a daemon without its intake or its
/// sender would look alive while the loop stood still.
async fn supervised(
    name: &'static str,
    work: Task,
    shutdown: CancellationToken,
    failed: Arc<AtomicBool>,
) {
    use futures::FutureExt;
    let work = async move {
        crate::fault::panic_at(crate::fault::Stage::Task, name.as_bytes());
        work.await
    };
    if std::panic::AssertUnwindSafe(work)
        .catch_unwind()
        .await
        .is_err()
    {
        tracing::error!(
            task = name,
            "a task stopped on a bug (a panic); stopping closeloop"
        );
        failed.store(true, Ordering::SeqCst);
        shutdown.cancel();
    }
}

/// SIGTERM and SIGINT, registered once.
struct Signals {
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    fn install() -> Signals {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Signals {
                term: signal(SignalKind::terminate()).ok(),
            }
        }
        #[cfg(not(unix))]
        {
            Signals {}
        }
    }

    async fn wait(self) {
        #[cfg(unix)]
        {
            if let Some(mut term) = self.term {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
                return;
            }
        }
        let _ = tokio::signal::ctrl_c().await;
    }
}

async fn run_once(ctx: &Context, mailer: &Mailer) -> anyhow::Result<()> {
    let ttl = ctx.cfg.intake.lease_timeout.0;
    let mut cur = maildir::CurState::default();
    let n = match crate::lease::once_holding(&ctx.store, crate::lease::INTAKE, ttl, || {
        drain_intake(ctx, &mut cur)
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
    let timers = sla::tick(ctx, now_ms()).await?;
    let pass = outbox::send_due(ctx, mailer, now_ms()).await?;
    tracing::info!(
        messages = n,
        risks_reopened = expired.len(),
        sla_reminders = timers.reminded.len(),
        progress_letters = timers.updated.len(),
        sent = pass.sent,
        retried = pass.retried,
        failed = pass.failed,
        "run --once done"
    );
    ctx.store.close().await;
    Ok(())
}

/// Ingests what is waiting in the configured intake (a Maildir's `cur/` as `cur`
/// last saw it). Returns how many messages.
pub async fn drain_intake(ctx: &Context, cur: &mut maildir::CurState) -> anyhow::Result<usize> {
    match ctx.cfg.intake.kind {
        IntakeKind::Maildir => {
            let dir = &ctx.cfg.intake.dir;
            let done = maildir::drain(ctx, dir, cur, now_ms, |_, _| {})
                .await
                .with_context(|| format!("maildir {}", dir.display()))?;
            Ok(done)
        }
        IntakeKind::Imap => imap::drain_once(ctx).await,
    }
}

async fn intake_loop(ctx: Context, shutdown: CancellationToken) {
    match ctx.cfg.intake.kind {
        IntakeKind::Imap => imap::run(ctx, shutdown).await,
        IntakeKind::Maildir => {
            let dir = &ctx.cfg.intake.dir;
            tracing::info!(dir = %dir.display(), "watching maildir");
            if let Some(hint) = maildir::left_in_cur(dir, &ctx.cfg.intake.processed_mailbox) {
                tracing::warn!("{hint}");
            }
            // Reading new/ is one cheap directory listing: look every second (or poll_interval if shorter).
            let every = ctx.cfg.intake.poll_interval.0.min(Duration::from_secs(1));
            let mut cur = maildir::CurState::default();
            loop {
                match drain_intake(&ctx, &mut cur).await {
                    Ok(_) => ctx.intake.set(IntakeState::Up),
                    Err(e) => {
                        tracing::error!(error = %format!("{e:#}"), "maildir intake failed; will retry");
                        ctx.intake.set(IntakeState::Down(format!("maildir: {e}")));
                    }
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
            _ = ctx.outbox_wake.notified() => {}
            _ = tokio::time::sleep(OUTBOX_EVERY) => {}
        }
    }
}

async fn timers_loop(ctx: Context, shutdown: CancellationToken) {
    loop {
        if let Err(e) = lifecycle::expire_acceptances(&ctx, now_ms()).await {
            tracing::error!(error = %e, "timer pass failed; will retry");
        }
        if let Err(e) = sla::tick(&ctx, now_ms()).await {
            tracing::error!(error = %e, "SLA timer pass failed; will retry");
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(TIMERS_EVERY) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_task_that_panics_stops_the_daemon_and_marks_the_run_failed() {
        let (token, failed) = (CancellationToken::new(), Arc::new(AtomicBool::new(false)));
        let bug: Task = Box::pin(async { panic!("a bug in a task") });
        supervised("test", bug, token.clone(), failed.clone()).await;
        assert!(token.is_cancelled());
        assert!(failed.load(Ordering::SeqCst));
        // A task that ends normally (at shutdown) stops nothing.
        let (token, failed) = (CancellationToken::new(), Arc::new(AtomicBool::new(false)));
        supervised("test", Box::pin(async {}), token.clone(), failed.clone()).await;
        assert!(!token.is_cancelled());
        assert!(!failed.load(Ordering::SeqCst));
    }
}
