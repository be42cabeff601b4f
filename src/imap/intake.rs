//! One mailbox, one pass: list new UIDs with their sizes, fetch bodies in
//! pipelined batches (only the head of a message over
//! `intake.max_message_bytes`), hand each batch to the pipeline (ONE
//! transaction), remember the committed UID frontier, and only then move the
//! messages to `intake.processed_mailbox` — in groups, each while we store
//! fetched batches, so its MOVE costs no time of ours. The next batches are
//! fetched while the current ones are stored, too.
//!
//! Architecture invariant: nothing is moved or flagged before its batch is
//! committed. A crash between commit and move leaves committed messages in the
//! mailbox; the next connection moves them (UIDs up to the frontier) or
//! re-reads them (dedup absorbs a re-read).

use std::collections::BTreeMap;
use std::iter::Peekable;
use std::time::Duration;

use futures::TryStreamExt;
use tokio_util::sync::CancellationToken;

use super::plan::{self, Listed};
use super::session::{drain_unsolicited, within, Caps, ImapError, Session, COMMAND_TIMEOUT};
use crate::context::Context;
use crate::pipeline::{self, Item, ReadAhead, ReadAheads, BATCH_BYTES, OVERSIZE_HEAD};
use crate::store::mailbox::{self as state_rows, MailboxState};
use crate::store::Conn;

/// Messages per fetch-and-commit batch.
pub const BATCH: usize = 100;
/// Committed messages are moved to the processed folder in groups of this
/// many, and at the end of each drain: fewer commands for the server. (A
/// MOVE once seemed to cost Dovecot time in proportion to the mailbox's size;
/// that was the benchmark's file names colliding in Dovecot's filename hash.
/// With realistic names, moving every 100 or every 1,000 ran at the same rate.)
const MOVE_EVERY: usize = 1000;
/// Batches fetched at a time: a group, stored while the session moves what
/// committed before (if a MOVE is due) and fetches the next group.
const AHEAD: usize = 4;
/// Bound on fetching one batch of bodies.
const FETCH_TIMEOUT: Duration = Duration::from_secs(120);

/// The selected mailbox and where intake stands in it.
#[derive(Debug)]
pub struct Opened {
    /// `mailbox_state` key: server, user and folder.
    pub key: String,
    pub mailbox: String,
    pub processed: String,
    pub state: MailboxState,
    pub caps: Caps,
}

/// The `mailbox_state` key for the configured mailbox.
pub fn state_key(ctx: &Context) -> String {
    let i = &ctx.cfg.intake;
    format!(
        "imap://{}@{}:{}/{}",
        i.username.to_ascii_lowercase(),
        i.host.to_ascii_lowercase(),
        i.port,
        i.mailbox
    )
}

/// SELECTs the mailbox, compares UIDVALIDITY with what we remember, makes sure
/// the processed folder exists and moves messages committed before a restart.
pub async fn open(s: &mut Session, ctx: &Context, caps: Caps) -> Result<Opened, ImapError> {
    let i = &ctx.cfg.intake;
    let key = state_key(ctx);
    let selected = within("SELECT", COMMAND_TIMEOUT, s.select(&i.mailbox))
        .await
        .map_err(|e| ImapError::Mailbox {
            mailbox: i.mailbox.clone(),
            reason: e.to_string(),
        })?;
    let uidvalidity = i64::from(selected.uid_validity.unwrap_or(0));
    let remembered = {
        let mut conn = ctx.store.conn().await?;
        state_rows::get(&mut conn, &key).await?
    };
    let state = match remembered {
        Some(st) if st.uidvalidity == uidvalidity => st,
        Some(st) => {
            tracing::warn!(
                mailbox = %i.mailbox,
                old = st.uidvalidity,
                new = uidvalidity,
                "UIDVALIDITY changed: rescanning the whole mailbox (already ingested messages are recognised)"
            );
            MailboxState {
                uidvalidity,
                last_uid: 0,
            }
        }
        None => MailboxState {
            uidvalidity,
            last_uid: 0,
        },
    };
    ensure_folder(s, &i.processed_mailbox).await?;
    let mut opened = Opened {
        key,
        mailbox: i.mailbox.clone(),
        processed: i.processed_mailbox.clone(),
        state,
        caps,
    };
    tracing::info!(
        mailbox = %opened.mailbox,
        exists = selected.exists,
        uidvalidity,
        last_uid = opened.state.last_uid,
        "mailbox selected"
    );
    move_leftovers(s, &mut opened).await?;
    drain_unsolicited(s);
    Ok(opened)
}

/// Creates `folder` if the server does not list it.
async fn ensure_folder(s: &mut Session, folder: &str) -> Result<(), ImapError> {
    let names = within("LIST", COMMAND_TIMEOUT, async {
        s.list(Some(""), Some(folder))
            .await?
            .try_collect::<Vec<_>>()
            .await
    })
    .await?;
    if names.iter().any(|n| n.name() == folder) {
        return Ok(());
    }
    within("CREATE", COMMAND_TIMEOUT, s.create(folder))
        .await
        .map_err(|e| ImapError::Mailbox {
            mailbox: folder.to_string(),
            reason: format!("cannot create it: {e}"),
        })?;
    tracing::info!(folder, "created the processed folder");
    Ok(())
}

/// Messages up to the committed frontier that are still in the mailbox were
/// committed but not moved (a crash or a dropped connection in between).
async fn move_leftovers(s: &mut Session, o: &mut Opened) -> Result<(), ImapError> {
    if o.state.last_uid <= 0 {
        return Ok(());
    }
    let query = format!(
        "UID 1:{} UNDELETED UNKEYWORD {PROCESSED_KEYWORD}",
        o.state.last_uid
    );
    let found = within("UID SEARCH", COMMAND_TIMEOUT, s.uid_search(&query)).await?;
    if found.is_empty() {
        return Ok(());
    }
    let uids: Vec<u32> = found.into_iter().collect();
    acknowledge(s, o, &uids).await?;
    tracing::info!(
        count = uids.len(),
        to = %o.processed,
        "moved messages committed before a restart"
    );
    Ok(())
}

/// Ingests everything new in the selected mailbox. Between groups of batches
/// it stops early when `shutdown` fires (the group in hand, at most `AHEAD`
/// batches, is stored first; no further group is fetched).
/// Returns how many messages were committed.
pub async fn drain(
    s: &mut Session,
    ctx: &Context,
    o: &mut Opened,
    shutdown: Option<&CancellationToken>,
) -> Result<usize, ImapError> {
    let max_message = ctx.cfg.intake.max_message_bytes as u64;
    let from = u32::try_from(o.state.last_uid.max(0))
        .unwrap_or(u32::MAX - 1)
        .saturating_add(1);
    let mut listed: Vec<Listed> = within("UID FETCH sizes", FETCH_TIMEOUT, async {
        s.uid_fetch(format!("{from}:*"), "(UID RFC822.SIZE)")
            .await?
            .try_collect::<Vec<_>>()
            .await
    })
    .await?
    .iter()
    .filter_map(|f| {
        Some(Listed {
            uid: f.uid?,
            size: f.size.unwrap_or(0),
        })
    })
    // `n:*` also answers the last message when nothing is newer than n.
    .filter(|l| l.uid >= from)
    .collect();
    listed.sort_by_key(|l| l.uid);
    listed.dedup_by_key(|l| l.uid);
    drain_unsolicited(s);
    if listed.is_empty() {
        return Ok(0);
    }
    tracing::debug!(count = listed.len(), from, "new messages listed");
    let planned: Vec<Vec<Listed>> = pipeline::batches(
        listed.iter().map(|l| u64::from(l.size)),
        BATCH,
        BATCH_BYTES,
        max_message,
        OVERSIZE_HEAD as u64,
    )
    .into_iter()
    .map(|r| listed[r].to_vec())
    .collect();
    let mut planned = planned.iter().peekable();
    let mut done = 0;
    let mut frontier_blocked = false;
    // Committed, not yet moved. Should anything below fail, these stay in the
    // mailbox and are moved at the next `open` (or recognised when fetched again).
    let mut committed: Vec<u32> = Vec::new();
    let mut conn = ctx.store.conn().await?;
    let mut next = fetch_group(s, ctx, o, &mut planned, max_message).await?;
    while let Some((batches, reads)) = next.take() {
        // Two things at once: our side stores the fetched group, one
        // transaction per batch (the next batch read on a blocking thread
        // while one commits); the session fetches the next group, whose first
        // batch starts being read as soon as it arrives, then moves what
        // committed before, if a MOVE is due (the server's MOVE of a group
        // costs it about as much time as our ingest of a few batches costs us).
        let moving = if committed.len() >= MOVE_EVERY {
            remember_frontier(ctx, o).await?;
            std::mem::take(&mut committed)
        } else {
            Vec::new()
        };
        let session = async {
            let fetched = if shutdown.is_some_and(|t| t.is_cancelled()) {
                tracing::info!("shutdown: not fetching another batch");
                None
            } else {
                fetch_group(s, ctx, o, &mut planned, max_message).await?
            };
            acknowledge(s, o, &moving).await?;
            Ok::<_, ImapError>(fetched)
        };
        let (fetched, ingested) = tokio::join!(session, ingest_group(ctx, &mut conn, reads));
        for (batch, uids) in batches.iter().zip(ingested?) {
            if !frontier_blocked {
                let last = u32::try_from(o.state.last_uid.max(0)).unwrap_or(0);
                let f = plan::frontier(batch, |u| uids.binary_search(&u).is_ok(), last)
                    .unwrap_or_else(|f| {
                        frontier_blocked = true;
                        f
                    });
                o.state.last_uid = o.state.last_uid.max(i64::from(f));
            }
            done += uids.len();
            committed.extend(uids);
        }
        // On failure the moving UIDs stay committed: the next `open` moves them;
        // a group fetched but not stored is fetched again then.
        next = fetched?;
    }
    if !committed.is_empty() {
        remember_frontier(ctx, o).await?;
        acknowledge(s, o, &committed).await?;
    }
    Ok(done)
}

/// Stores how far every message is committed, before committed messages are
/// moved (after a restart, `open` moves what is left up to it; a message
/// committed past it is fetched again and recognised).
async fn remember_frontier(ctx: &Context, o: &Opened) -> Result<(), ImapError> {
    let mut tx = ctx.store.begin().await?;
    state_rows::set(&mut tx, &o.key, o.state).await?;
    tx.commit().await.map_err(crate::store::StoreError::from)?;
    Ok(())
}

/// uid → (bytes, real size when only the head was fetched)
type Bodies = BTreeMap<u32, (Vec<u8>, Option<usize>)>;

/// Fetches one batch's bodies: whole messages, and only the head of those over
/// `intake.max_message_bytes`.
async fn fetch(s: &mut Session, batch: &[Listed], max_message: u64) -> Result<Bodies, ImapError> {
    let (whole, big): (Vec<Listed>, Vec<Listed>) =
        batch.iter().partition(|l| u64::from(l.size) <= max_message);
    let mut bodies = Bodies::new();
    if !whole.is_empty() {
        let set = plan::uid_set(&whole.iter().map(|l| l.uid).collect::<Vec<_>>());
        let fetched = within("UID FETCH bodies", FETCH_TIMEOUT, async {
            s.uid_fetch(&set, "(UID RFC822.SIZE BODY.PEEK[])")
                .await?
                .try_collect::<Vec<_>>()
                .await
        })
        .await?;
        for f in &fetched {
            if let (Some(uid), Some(body)) = (f.uid, f.body()) {
                bodies.insert(uid, (body.to_vec(), None));
            }
        }
    }
    if !big.is_empty() {
        let set = plan::uid_set(&big.iter().map(|l| l.uid).collect::<Vec<_>>());
        let query = format!("(UID RFC822.SIZE BODY.PEEK[]<0.{OVERSIZE_HEAD}>)");
        let fetched = within("UID FETCH heads", FETCH_TIMEOUT, async {
            s.uid_fetch(&set, &query)
                .await?
                .try_collect::<Vec<_>>()
                .await
        })
        .await?;
        for f in &fetched {
            if let (Some(uid), Some(body)) = (f.uid, f.body()) {
                let real = big
                    .iter()
                    .find(|l| l.uid == uid)
                    .map(|l| l.size as usize)
                    .or(f.size.map(|n| n as usize));
                tracing::warn!(
                    uid,
                    size = real,
                    max = max_message,
                    "message over intake.max_message_bytes: only its head is read"
                );
                bodies.insert(uid, (body.to_vec(), real));
            }
        }
    }
    drain_unsolicited(s);
    for l in batch {
        if !bodies.contains_key(&l.uid) {
            tracing::warn!(uid = l.uid, "listed message not returned by the server (expunged meanwhile?); left for the next pass");
        }
    }
    Ok(bodies)
}

/// Fetches the next group of planned batches (up to `AHEAD` of them, about the
/// pipeline's `BATCH_BYTES` in all; a single bigger message gets its own batch)
/// and starts reading the first; `None` when all planned batches were fetched.
/// Two groups are held at a time: the one being stored and the next, fetched
/// meanwhile. Of a message over `intake.max_message_bytes` only the head
/// (`OVERSIZE_HEAD`) is fetched, enough for its headers.
async fn fetch_group<'p>(
    s: &mut Session,
    ctx: &Context,
    o: &Opened,
    planned: &mut Peekable<std::slice::Iter<'p, Vec<Listed>>>,
    max_message: u64,
) -> Result<Option<Group<'p>>, ImapError> {
    let mut batches = Vec::new();
    let mut fetched = Vec::new();
    let mut bytes = 0;
    while let Some(batch) = planned.next_if(|_| batches.len() < AHEAD && bytes < BATCH_BYTES) {
        let bodies = fetch(s, batch, max_message).await?;
        bytes += bodies.values().map(|(b, _)| b.len() as u64).sum::<u64>();
        batches.push(batch);
        fetched.push(bodies);
    }
    if batches.is_empty() {
        return Ok(None);
    }
    let (ctx, mailbox) = (ctx.clone(), o.mailbox.clone());
    let reads: Box<dyn Iterator<Item = _> + Send> =
        Box::new(fetched.into_iter().map(move |bodies| {
            let mailbox = mailbox.clone();
            ReadAhead::start(&ctx, move || {
                bodies
                    .into_iter()
                    .map(|(uid, (raw, truncated_from))| {
                        let item = Item {
                            raw,
                            source: format!("imap:{mailbox}/{uid}"),
                            truncated_from,
                        };
                        (uid, item)
                    })
                    .unzip()
            })
        }));
    Ok(Some((batches, ReadAheads::new(reads))))
}

/// Fetched batches as planned, and their reads (each batch's UIDs and messages).
type Group<'p> = (Vec<&'p Vec<Listed>>, Reads);
type Reads = ReadAheads<Vec<u32>, Box<dyn Iterator<Item = ReadAhead<Vec<u32>>> + Send>>;

/// Stores a fetched group, ONE transaction per batch, in order; returns each
/// batch's committed UIDs (ascending).
async fn ingest_group(
    ctx: &Context,
    conn: &mut Conn,
    mut group: Reads,
) -> Result<Vec<Vec<u32>>, ImapError> {
    let mut out = Vec::new();
    while let Some(read) = group.next().await {
        let (uids, reads): (Vec<u32>, _) = read?;
        if reads.is_empty() {
            out.push(uids);
            continue;
        }
        let outcomes = pipeline::store(ctx, conn, &reads, crate::daemon::now_ms()).await?;
        // Committed. From here on the messages may be acknowledged.
        for (uid, outcome) in uids.iter().zip(&outcomes) {
            tracing::info!(uid, outcome = %outcome.describe(ctx.prefix()), "message ingested");
        }
        tracing::debug!(count = uids.len(), "batch committed");
        out.push(uids);
    }
    Ok(out)
}

/// Marks a committed message left in the mailbox of a server without MOVE and UIDPLUS.
pub const PROCESSED_KEYWORD: &str = "$Closeloop-Processed";

/// Moves committed messages to the processed folder: UID MOVE when offered, else
/// UID COPY + `\Deleted` + UID EXPUNGE (UIDPLUS). A server with neither gets the
/// contract's fallback: the copy, and the message left in place flagged `\Seen` and
/// `PROCESSED_KEYWORD`, since a plain EXPUNGE would also remove mail that someone
/// else marked `\Deleted`.
pub async fn acknowledge(s: &mut Session, o: &Opened, uids: &[u32]) -> Result<(), ImapError> {
    if uids.is_empty() {
        return Ok(());
    }
    let set = plan::uid_set(uids);
    if o.caps.mv {
        within("UID MOVE", COMMAND_TIMEOUT, s.uid_mv(&set, &o.processed)).await?;
    } else {
        within("UID COPY", COMMAND_TIMEOUT, s.uid_copy(&set, &o.processed)).await?;
        let flags = if o.caps.uidplus {
            "+FLAGS.SILENT (\\Deleted)".to_string()
        } else {
            format!("+FLAGS.SILENT (\\Seen {PROCESSED_KEYWORD})")
        };
        within("UID STORE", COMMAND_TIMEOUT, async {
            s.uid_store(&set, &flags)
                .await?
                .try_collect::<Vec<_>>()
                .await
        })
        .await?;
        if o.caps.uidplus {
            within("UID EXPUNGE", COMMAND_TIMEOUT, async {
                s.uid_expunge(&set).await?.try_collect::<Vec<_>>().await
            })
            .await?;
        }
    }
    drain_unsolicited(s);
    Ok(())
}
