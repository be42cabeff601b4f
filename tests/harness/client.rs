//! Small SMTP / IMAP clients for tests (plain text, 127.0.0.1). Every network step is bounded
//! by a timeout so a hung server fails the test instead of hanging it.

use std::future::Future;
use std::time::{Duration, Instant};

use futures::TryStreamExt;
use lettre::address::Envelope;
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use tokio::net::TcpStream;

pub type ImapSession = async_imap::Session<TcpStream>;

const STEP_TIMEOUT: Duration = Duration::from_secs(15);

async fn step<T, E: std::fmt::Display>(
    what: &str,
    fut: impl Future<Output = Result<T, E>>,
) -> Result<T, String> {
    match tokio::time::timeout(STEP_TIMEOUT, fut).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(format!("{what}: {e}")),
        Err(_) => Err(format!("{what}: timed out after {STEP_TIMEOUT:?}")),
    }
}

// ---- SMTP ------------------------------------------------------------------------------------

/// Sends `raw` (a complete RFC 5322 message) by plain SMTP to 127.0.0.1:`port`.
/// `from` may be "" for a null reverse-path (a bounce). Panics if the server refuses.
pub async fn smtp_send(port: u16, from: &str, to: &[&str], raw: &[u8]) {
    if let Err(e) = try_smtp_send(port, from, to, raw).await {
        panic!("smtp_send to 127.0.0.1:{port} from {from:?} to {to:?} failed: {e}");
    }
}

/// Like `smtp_send` but returns the error (connection refused, recipient rejected, ...).
pub async fn try_smtp_send(port: u16, from: &str, to: &[&str], raw: &[u8]) -> Result<(), String> {
    let from: Option<Address> = if from.is_empty() {
        None
    } else {
        Some(
            from.parse()
                .map_err(|e| format!("bad sender {from:?}: {e}"))?,
        )
    };
    let to = to
        .iter()
        .map(|a| {
            a.parse::<Address>()
                .map_err(|e| format!("bad recipient {a:?}: {e}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let envelope = Envelope::new(from, to).map_err(|e| format!("bad envelope: {e}"))?;
    let transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
        .port(port)
        .timeout(Some(STEP_TIMEOUT))
        .build();
    let result = step("SMTP send", transport.send_raw(&envelope, raw)).await;
    transport.shutdown().await;
    result.map(|_| ())
}

/// A minimal message with CRLF line endings, for tests that need "some mail".
pub fn simple_message(from: &str, to: &str, subject: &str, body: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: {to}\r\nSubject: {subject}\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n{}\r\n",
        body.replace("\r\n", "\n").replace('\n', "\r\n")
    )
    .into_bytes()
}

// ---- IMAP ------------------------------------------------------------------------------------

/// Connects to 127.0.0.1:`port`, reads the greeting and logs in.
pub async fn imap_login(port: u16, user: &str, pass: &str) -> Result<ImapSession, String> {
    let tcp = step("IMAP connect", TcpStream::connect(("127.0.0.1", port))).await?;
    let mut client = async_imap::Client::new(tcp);
    match step("IMAP greeting", async { client.read_response().await }).await? {
        Some(_) => {}
        None => return Err("IMAP greeting: connection closed".into()),
    }
    step("IMAP LOGIN", async {
        client.login(user, pass).await.map_err(|(e, _)| e)
    })
    .await
}

/// CAPABILITY after login (the full list; before login Dovecot shows only a subset).
pub async fn imap_capabilities(port: u16, user: &str, pass: &str) -> Vec<String> {
    let mut session = imap_login(port, user, pass)
        .await
        .unwrap_or_else(|e| panic!("imap_capabilities: {e}"));
    let caps = step("IMAP CAPABILITY", session.capabilities())
        .await
        .unwrap_or_else(|e| panic!("imap_capabilities: {e}"));
    let mut out: Vec<String> = caps
        .iter()
        .map(|c| match c {
            async_imap::types::Capability::Imap4rev1 => "IMAP4rev1".to_string(),
            async_imap::types::Capability::Auth(a) => format!("AUTH={a}"),
            async_imap::types::Capability::Atom(a) => a.to_string(),
        })
        .collect();
    out.sort();
    let _ = step("IMAP LOGOUT", session.logout()).await;
    out
}

/// BODY.PEEK[] of every message in `mailbox`, in sequence order. Panics on any error.
pub async fn imap_fetch_all(port: u16, user: &str, pass: &str, mailbox: &str) -> Vec<Vec<u8>> {
    try_imap_fetch_all(port, user, pass, mailbox)
        .await
        .unwrap_or_else(|e| panic!("imap_fetch_all({user}, {mailbox}) on port {port}: {e}"))
}

pub async fn try_imap_fetch_all(
    port: u16,
    user: &str,
    pass: &str,
    mailbox: &str,
) -> Result<Vec<Vec<u8>>, String> {
    let all = try_imap_fetch_with_flags(port, user, pass, mailbox).await?;
    Ok(all.into_iter().map(|(body, _)| body).collect())
}

/// Each message's Subject and flags (`\\Seen`, `\\Deleted`, keywords), in sequence order.
pub async fn imap_subjects_and_flags(
    port: u16,
    user: &str,
    pass: &str,
    mailbox: &str,
) -> Vec<(String, Vec<String>)> {
    try_imap_fetch_with_flags(port, user, pass, mailbox)
        .await
        .unwrap_or_else(|e| panic!("imap_subjects_and_flags({user}, {mailbox}): {e}"))
        .into_iter()
        .map(|(body, flags)| (header(&body, "Subject"), flags))
        .collect()
}

/// BODY.PEEK[] and the flags of every message in `mailbox`, in sequence order.
async fn try_imap_fetch_with_flags(
    port: u16,
    user: &str,
    pass: &str,
    mailbox: &str,
) -> Result<Vec<(Vec<u8>, Vec<String>)>, String> {
    use async_imap::types::Flag;
    let mut session = imap_login(port, user, pass).await?;
    let mbox = step("IMAP EXAMINE", session.examine(mailbox)).await?;
    let mut out = Vec::new();
    if mbox.exists > 0 {
        let fetches: Vec<_> = step("IMAP FETCH", async {
            session
                .fetch("1:*", "(FLAGS BODY.PEEK[])")
                .await?
                .try_collect::<Vec<_>>()
                .await
        })
        .await?;
        let mut rows: Vec<_> = fetches
            .iter()
            .filter_map(|f| {
                let flags = f
                    .flags()
                    .map(|fl| match fl {
                        Flag::Seen => "\\Seen".to_string(),
                        Flag::Deleted => "\\Deleted".to_string(),
                        Flag::Custom(c) => c.to_string(),
                        other => format!("{other:?}"),
                    })
                    .collect();
                f.body().map(|b| (f.message, b.to_vec(), flags))
            })
            .collect();
        rows.sort_by_key(|(seq, _, _)| *seq);
        out = rows.into_iter().map(|(_, b, f)| (b, f)).collect();
    }
    let _ = step("IMAP LOGOUT", session.logout()).await;
    Ok(out)
}

/// Polls `mailbox` until it holds at least `n` messages; returns them. Panics after `timeout`
/// with what it saw (count, subjects, last error).
pub async fn wait_for_count(
    port: u16,
    user: &str,
    pass: &str,
    mailbox: &str,
    n: usize,
    timeout: Duration,
) -> Vec<Vec<u8>> {
    let deadline = Instant::now() + timeout;
    let mut last_err: Option<String>;
    let mut last_seen = Vec::new();
    loop {
        match try_imap_fetch_all(port, user, pass, mailbox).await {
            Ok(msgs) if msgs.len() >= n => return msgs,
            Ok(msgs) => {
                last_seen = msgs;
                last_err = None;
            }
            Err(e) => last_err = Some(e),
        }
        if Instant::now() >= deadline {
            let subjects: Vec<String> = last_seen.iter().map(|m| header(m, "Subject")).collect();
            panic!(
                "wait_for_count: {user}/{mailbox} on port {port} has {} message(s) after {timeout:?}, \
                 wanted {n}; subjects: {subjects:?}; last error: {last_err:?}",
                last_seen.len()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Value of the first header `name` (unfolded, raw — no RFC 2047 decoding), or "" if absent.
pub fn header(raw: &[u8], name: &str) -> String {
    let text = String::from_utf8_lossy(raw);
    let head = text.split("\r\n\r\n").next().unwrap_or("");
    let head = head.split("\n\n").next().unwrap_or("");
    let mut value: Option<String> = None;
    for line in head.lines() {
        let line = line.trim_end_matches('\r');
        if let Some(v) = value.as_mut() {
            if line.starts_with(' ') || line.starts_with('\t') {
                v.push(' ');
                v.push_str(line.trim());
                continue;
            }
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case(name) {
                value = Some(v.trim().to_string());
            }
        }
    }
    value.unwrap_or_default()
}
