//! The state one batch carries through its transaction: what it has already
//! stored (idempotency within the batch), recipients' letter counts for the
//! rate limit, and the events and letters waiting to be written together.

#[allow(unused_imports)]
use super::*;

pub(super) struct Read<'i, 'a> {
    pub(super) item: &'i Item<'a>,
    pub(super) sha: String,
    pub(super) parsed: Inbound,
    pub(super) size: usize,
    pub(super) oversize: bool,
    /// Extraction, should it be a report (pure, so done up front for the
    /// batch's dedup lookup).
    pub(super) prepared: Prepared,
}

impl Read<'_, '_> {
    pub(super) fn message_id(&self) -> Option<&str> {
        self.parsed.message_id.as_deref().filter(|m| !m.is_empty())
    }
}

pub(super) fn read<'i, 'a>(ctx: &Context, item: &'i Item<'a>) -> Read<'i, 'a> {
    let raw = item.raw;
    let max = ctx.cfg.intake.max_message_bytes;
    let size = item.truncated_from.unwrap_or(raw.len()).max(raw.len());
    let oversize = size > max || item.truncated_from.is_some();
    let parsed = if oversize {
        parse::parse(head_of(raw))
    } else {
        parse::parse(raw)
    };
    Read {
        item,
        sha: hex::encode(Sha256::digest(raw)),
        prepared: Prepared::new(ctx, &parsed),
        parsed,
        size,
        oversize,
    }
}

/// What one batch's transaction knows as it goes, so each message costs
/// fewer round trips: the messages already stored (looked up for the whole
/// batch at once, then kept up to date as the batch stores more), the
/// recipients' letter counts for the rate limit, and the events and letters
/// not yet written (see `compose::Outgoing`: flushed before anything that
/// writes to a case by another way, and before commit).
pub(super) struct Batch {
    pub(super) by_sha: HashMap<String, SeenMessage>,
    pub(super) by_message_id: HashMap<String, SeenMessage>,
    pub(super) out: compose::Outgoing,
    /// The cases carrying each dedup key of the batch, looked up at its start.
    pub(super) hits: HashMap<String, Vec<rows::FingerprintHit>>,
    /// Fingerprints the batch has stored since: their lookups are asked again.
    pub(super) touched: std::collections::HashSet<String>,
    /// A case may have changed state (reopened, a command, a reply): every
    /// lookup is asked again.
    pub(super) stale: bool,
    /// Dedup keys to attach (`claim`: true for a case just opened), in order.
    pub(super) keys: Vec<(String, CaseId, bool)>,
}

impl Batch {
    pub(super) async fn load(
        ctx: &Context,
        conn: &mut Conn,
        reads: &[Read<'_, '_>],
        now: Millis,
    ) -> Result<Batch, StoreError> {
        let shas: Vec<&str> = reads.iter().map(|r| r.sha.as_str()).collect();
        let mids: Vec<&str> = reads.iter().filter_map(|r| r.message_id()).collect();
        let mut batch = Batch {
            by_sha: HashMap::new(),
            by_message_id: HashMap::new(),
            out: compose::Outgoing::default(),
            hits: HashMap::new(),
            touched: Default::default(),
            stale: false,
            keys: Vec::new(),
        };
        let mut fps: Vec<&str> = Vec::new();
        for r in reads {
            for (_, fp) in &r.prepared.keys {
                if !fps.contains(&fp.as_str()) {
                    fps.push(fp);
                }
            }
        }
        let found = rows::cases_with_fingerprints(conn, &fps).await?;
        batch.hits = fps.into_iter().map(str::to_string).zip(found).collect();
        // Who the batch's letters will most likely go to: its senders and the responders.
        let mut recipients: Vec<String> = reads
            .iter()
            .filter_map(|r| r.parsed.from.as_ref())
            .map(|f| f.address.to_ascii_lowercase())
            .chain(
                ctx.cfg
                    .notify_addresses()
                    .into_iter()
                    .map(|a| a.to_ascii_lowercase()),
            )
            .collect();
        recipients.sort_unstable();
        recipients.dedup();
        batch.out.prefetch(conn, &recipients, now).await?;
        for (sha, mid, seen) in rows::seen_any(conn, &shas, &mids).await? {
            if let Some(mid) = mid.filter(|m| !m.is_empty()) {
                batch
                    .by_message_id
                    .entry(mid)
                    .or_insert_with(|| seen.clone());
            }
            batch.by_sha.entry(sha).or_insert(seen);
        }
        Ok(batch)
    }

    /// The cases carrying each of these fingerprints, as a lookup now would
    /// find them: from the batch's first lookup unless the batch changed them.
    pub(super) async fn cases_with_fingerprints(
        &self,
        conn: &mut Conn,
        fps: &[&str],
    ) -> Result<Vec<Vec<rows::FingerprintHit>>, StoreError> {
        let known = !self.stale
            && fps
                .iter()
                .all(|fp| !self.touched.contains(*fp) && self.hits.contains_key(*fp));
        if known {
            Ok(fps.iter().map(|fp| self.hits[*fp].clone()).collect())
        } else {
            rows::cases_with_fingerprints(conn, fps).await
        }
    }

    /// Writes what waits: dedup keys, then events and letters.
    pub(super) async fn flush(&mut self, conn: &mut Conn) -> Result<(), StoreError> {
        if !self.keys.is_empty() {
            let attach: Vec<(&str, CaseId)> =
                self.keys.iter().map(|(k, c, _)| (k.as_str(), *c)).collect();
            let claims: Vec<(&str, CaseId)> = self
                .keys
                .iter()
                .filter(|(_, _, claim)| *claim)
                .map(|(k, c, _)| (k.as_str(), *c))
                .collect();
            case_keys::attach_and_claim(conn, &attach, &claims).await?;
            self.keys.clear();
        }
        self.out.flush(conn).await
    }

    /// Stored already (same raw bytes, else same Message-ID)?
    pub(super) fn seen(&self, sha: &str, message_id: Option<&str>) -> Option<SeenMessage> {
        self.by_sha
            .get(sha)
            .or_else(|| message_id.and_then(|m| self.by_message_id.get(m)))
            .cloned()
    }

    /// Stores the message row and remembers it for the rest of the batch.
    pub(super) async fn insert_message(
        &mut self,
        conn: &mut Conn,
        msg: &NewMessage<'_>,
    ) -> Result<i64, StoreError> {
        let id = rows::insert_message(conn, msg).await?;
        let seen = SeenMessage {
            disposition: msg.disposition.to_string(),
            case_id: msg.case_id,
        };
        if let Some(mid) = msg.message_id {
            self.by_message_id.insert(mid.to_string(), seen.clone());
        }
        self.by_sha.insert(msg.raw_sha256.to_string(), seen);
        Ok(id)
    }
}
