//! IMAP intake (`intake.kind = "imap"`), the inbound network edge: connect
//! and log in (`session`), read the mailbox in committed batches and move what
//! was committed to the processed folder (`intake`), then wait for more with
//! IDLE (re-issued every 25 minutes) or by polling at `intake.poll_interval`;
//! for a short while after new mail, by NOOP every 100 ms (bursts).
//! A dropped or refused connection is retried with capped exponential backoff
//! and jitter; shutdown interrupts IDLE and the wait, never a batch in hand.
//!
//! Must not parse or judge messages (that is `pipeline`); logs carry UIDs and
//! outcomes, never message content or the password.

mod intake;
mod plan;
mod session;

use std::time::Duration;

use async_imap::extensions::idle::IdleResponse;
use futures::TryStreamExt;
use tokio_util::sync::CancellationToken;

use crate::config::{Config, TlsMode};
use crate::context::{Context, IntakeState};

pub use session::ImapError;
use session::{within, Session, COMMAND_TIMEOUT};

/// IDLE is ended and re-issued this often (servers may drop it after 29 minutes).
const IDLE_RENEW: Duration = Duration::from_secs(25 * 60);
/// Servers tell an IDLE client about new mail late (Dovecot waits 0.5 s to
/// coalesce changes), and reports come in bursts. So for `BURST_WINDOW` after
/// new mail, the intake looks again with NOOP every `BURST_POLL` instead of
/// waiting for the announcement; then it goes back to IDLE (or polling).
const BURST_POLL: Duration = Duration::from_millis(100);
const BURST_WINDOW: Duration = Duration::from_secs(20);
/// First and largest delay between reconnect attempts.
const RECONNECT_MIN: Duration = Duration::from_secs(1);
const RECONNECT_MAX: Duration = Duration::from_secs(60);

/// `check-config`: logs in, checks the mailbox exists, says what the server offers.
pub async fn check(cfg: &Config) -> Result<String, String> {
    let i = &cfg.intake;
    let (mut s, caps) = session::connect(i).await.map_err(|e| e.to_string())?;
    let result = async {
        let status = within(
            "STATUS",
            COMMAND_TIMEOUT,
            s.status(&i.mailbox, "(MESSAGES UIDVALIDITY)"),
        )
        .await
        .map_err(|e| format!("mailbox {} cannot be opened: {e}", i.mailbox))?;
        let names = within("LIST", COMMAND_TIMEOUT, async {
            s.list(Some(""), Some(&i.processed_mailbox))
                .await?
                .try_collect::<Vec<_>>()
                .await
        })
        .await
        .map_err(|e| e.to_string())?;
        let processed = if names.iter().any(|n| n.name() == i.processed_mailbox) {
            "exists"
        } else {
            "will be created"
        };
        Ok(format!(
            "logged in as {} ({}, {}); {} has {} message(s); {} {processed}; server offers {}",
            i.username,
            tls_name(i.tls),
            i.auth.name(),
            i.mailbox,
            status.exists,
            i.processed_mailbox,
            caps.summary()
        ))
    }
    .await;
    session::logout(&mut s).await;
    result
}

/// The TLS mode as written in the config.
fn tls_name(mode: TlsMode) -> &'static str {
    match mode {
        TlsMode::Tls => "tls",
        TlsMode::Starttls => "starttls",
        TlsMode::None => "no TLS",
    }
}

/// `run --once`: connects, ingests everything waiting, moves it, logs out.
pub async fn drain_once(ctx: &Context) -> anyhow::Result<usize> {
    let (mut s, caps) = session::connect(&ctx.cfg.intake).await?;
    let mut opened = intake::open(&mut s, ctx, caps).await?;
    let n = intake::drain(&mut s, ctx, &mut opened, None).await?;
    session::logout(&mut s).await;
    Ok(n)
}

/// The daemon's intake loop; returns when `shutdown` fires.
pub async fn run(ctx: Context, shutdown: CancellationToken) {
    let i = &ctx.cfg.intake;
    tracing::info!(
        host = %i.host,
        port = i.port,
        tls = tls_name(i.tls),
        user = %i.username,
        auth = i.auth.name(),
        mailbox = %i.mailbox,
        processed = %i.processed_mailbox,
        "IMAP intake starting"
    );
    let mut backoff = plan::Backoff::new(RECONNECT_MIN, RECONNECT_MAX);
    loop {
        match connected(&ctx, &shutdown, &mut backoff).await {
            Ok(()) => return,
            Err(e) => {
                if shutdown.is_cancelled() {
                    return;
                }
                let delay = backoff.next_delay();
                ctx.intake.set(IntakeState::Down(format!(
                    "IMAP {}:{}: {e}",
                    i.host, i.port
                )));
                tracing::warn!(
                    error = %e,
                    retry_in_ms = delay.as_millis() as u64,
                    "IMAP intake interrupted; reconnecting"
                );
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(delay) => {}
                }
            }
        }
    }
}

/// One connection's life: connect, open, then drain and wait until shutdown
/// (`Ok`) or a failure (`Err`, the caller reconnects).
async fn connected(
    ctx: &Context,
    shutdown: &CancellationToken,
    backoff: &mut plan::Backoff,
) -> Result<(), ImapError> {
    let i = &ctx.cfg.intake;
    let (mut s, caps) = tokio::select! {
        r = session::connect(i) => r?,
        _ = shutdown.cancelled() => return Ok(()),
    };
    let use_idle = i.idle && caps.idle;
    tracing::info!(
        host = %i.host,
        port = i.port,
        user = %i.username,
        capabilities = %caps.summary(),
        waiting = if use_idle { "IDLE" } else { "polling" },
        processed = %caps.acknowledged_by(),
        "IMAP connected and logged in"
    );
    let mut opened = intake::open(&mut s, ctx, caps).await?;
    ctx.intake.set(IntakeState::Up);
    backoff.reset();
    let mut last_new: Option<std::time::Instant> = None;
    loop {
        let before = opened.state.last_uid;
        intake::drain(&mut s, ctx, &mut opened, Some(shutdown)).await?;
        if shutdown.is_cancelled() {
            session::logout(&mut s).await;
            return Ok(());
        }
        // Mail that arrived while the drain worked was announced then (and the
        // announcement dropped); IDLE would not announce it again. Look again
        // until a drain makes no progress, then wait.
        if opened.state.last_uid > before {
            last_new = Some(std::time::Instant::now());
            continue;
        }
        let burst = last_new.is_some_and(|t| t.elapsed() < BURST_WINDOW);
        if burst || !use_idle {
            let wait = if burst { BURST_POLL } else { i.poll_interval.0 };
            tokio::select! {
                _ = shutdown.cancelled() => {
                    session::logout(&mut s).await;
                    return Ok(());
                }
                _ = tokio::time::sleep(wait) => {}
            }
            if burst {
                // NOOP makes the server look at the mailbox now.
                within("NOOP", COMMAND_TIMEOUT, s.noop()).await?;
            }
        } else {
            let (back, woke) = idle(s, shutdown).await?;
            s = back;
            if woke == Woke::Shutdown {
                session::logout(&mut s).await;
                return Ok(());
            }
        }
        session::drain_unsolicited(&mut s);
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Woke {
    /// The server said something (new mail, expunges, flags).
    Data,
    /// Time to re-issue IDLE.
    Renew,
    Shutdown,
}

/// IDLE until the server speaks, the renewal time passes or shutdown fires;
/// then DONE, handing the session back.
async fn idle(s: Session, shutdown: &CancellationToken) -> Result<(Session, Woke), ImapError> {
    let mut handle = s.idle();
    within("IDLE", COMMAND_TIMEOUT, handle.init()).await?;
    let woke = {
        let (wait, _stop) = handle.wait_with_timeout(IDLE_RENEW);
        tokio::select! {
            r = wait => match r {
                Ok(IdleResponse::NewData(_)) => Woke::Data,
                Ok(IdleResponse::Timeout) => Woke::Renew,
                // The stream ended: the server closed the connection.
                Ok(IdleResponse::ManualInterrupt) => return Err(ImapError::Closed),
                Err(source) => return Err(ImapError::Protocol { what: "IDLE", source }),
            },
            _ = tokio::time::sleep(IDLE_RENEW) => Woke::Renew,
            _ = shutdown.cancelled() => Woke::Shutdown,
        }
    };
    let limit = if woke == Woke::Shutdown {
        Duration::from_secs(2)
    } else {
        COMMAND_TIMEOUT
    };
    let s = within("DONE", limit, handle.done()).await?;
    tracing::debug!(woke = ?woke, "IDLE ended");
    Ok((s, woke))
}
