//! The state one batch carries through its transaction: what it has already
//! stored (idempotency within the batch), recipients' letter counts for the
//! rate limit, and the events and letters waiting to be written together.

#[allow(unused_imports)]
use super::*;
use std::collections::HashSet;

/// How many of a case's reporters the letters name (in order of their first report).
pub(super) const FIRST_REPORTERS: usize = 20;

/// What the letters after a report need to know of its case, kept up to
/// date as the batch adds reports (see `compose::CaseSoFar`).
#[derive(Debug, Default)]
pub(super) struct Facts {
    artifacts: Vec<ArtifactRow>,
    fingerprints: HashSet<String>,
    reports: i64,
    people: i64,
    /// The first `FIRST_REPORTERS` distinct reporters, in order.
    reporters: Vec<String>,
    /// Reporters known to have reported on the case: at least every one of
    /// the batch's senders who did.
    known: HashSet<String>,
}

impl Facts {
    /// The case once a report from `reporter` with `artifacts` joined it.
    pub(super) fn add(&mut self, reporter: &str, artifacts: &[ArtifactRow]) {
        for a in artifacts.iter().filter(|a| a.class != "original") {
            if self.fingerprints.insert(a.fingerprint.clone()) {
                self.artifacts.push(a.clone());
            }
        }
        self.reports += 1;
        if self.known.insert(reporter.to_string()) {
            self.people += 1;
            if self.reporters.len() < FIRST_REPORTERS {
                self.reporters.push(reporter.to_string());
            }
        }
    }

    pub(super) fn so_far(&self) -> compose::CaseSoFar<'_> {
        compose::CaseSoFar {
            artifacts: &self.artifacts,
            reports: self.reports,
            people: self.people,
            reporters: &self.reporters,
        }
    }
}

/// What one batch's transaction knows as it goes, so each message costs no
/// round trip of its own: the messages already stored (looked up for the
/// whole batch at once, then kept up to date as the batch stores more), the
/// cases carrying each dedup key and what the letters need of those cases
/// (likewise), the recipients' letter counts for the rate limit, and the rows,
/// events and letters not yet written (`Pending`, then `compose::Outgoing`:
/// flushed before anything reads or writes a case by another way, and before
/// commit).
pub(super) struct Batch {
    by_sha: HashMap<String, SeenMessage>,
    by_message_id: HashMap<String, SeenMessage>,
    /// The batch's quarantined messages stored without a Message-ID, by body hash
    /// (as `rows::set_aside_with_body` finds those committed).
    set_aside_by_body: HashMap<String, SeenMessage>,
    pub(super) out: compose::Outgoing,
    pub(super) rows: Pending,
    /// The cases carrying each dedup key, as a lookup now would find them.
    hits: HashMap<String, Vec<rows::FingerprintHit>>,
    /// What the letters need of the cases in `hits` and of those the batch opened.
    pub(super) facts: HashMap<CaseId, Facts>,
    /// The batch's senders, as reports store them.
    senders: Vec<String>,
}

impl Batch {
    pub(super) async fn load(
        ctx: &Context,
        conn: &mut Conn,
        reads: &[Read],
        now: Millis,
    ) -> Result<Batch, StoreError> {
        let shas: Vec<&str> = reads.iter().map(|r| r.sha.as_str()).collect();
        let mids: Vec<&str> = reads.iter().filter_map(|r| r.message_id()).collect();
        let mut senders: Vec<String> = reads
            .iter()
            .filter_map(|r| r.parsed.from.as_ref())
            .map(|f| f.address.clone())
            .collect();
        senders.sort_unstable();
        senders.dedup();
        let mut batch = Batch {
            by_sha: HashMap::new(),
            by_message_id: HashMap::new(),
            set_aside_by_body: HashMap::new(),
            out: compose::Outgoing::default(),
            rows: Pending::default(),
            hits: HashMap::new(),
            facts: HashMap::new(),
            senders,
        };
        let mut fps: Vec<&str> = Vec::new();
        let mut seen_fps: HashSet<&str> = HashSet::new();
        for r in reads {
            for (_, fp) in &r.prepared.keys {
                if seen_fps.insert(fp) {
                    fps.push(fp);
                }
            }
        }
        batch.look_up(conn, &fps).await?;
        let mut cases: Vec<CaseId> = batch
            .hits
            .values()
            .flatten()
            .filter(|h| h.merged_into.is_none())
            .map(|h| h.case_id)
            .collect();
        cases.sort_unstable();
        cases.dedup();
        batch.learn(conn, &cases).await?;
        // Who the batch's letters will most likely go to: its senders and the responders.
        let mut recipients: Vec<String> = batch
            .senders
            .iter()
            .map(|a| a.to_ascii_lowercase())
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

    /// Looks up the cases carrying these fingerprints into `hits`.
    async fn look_up(&mut self, conn: &mut Conn, fps: &[&str]) -> Result<(), StoreError> {
        let found = rows::cases_with_fingerprints(conn, fps).await?;
        self.hits
            .extend(fps.iter().map(|fp| fp.to_string()).zip(found));
        Ok(())
    }

    /// Learns what the letters need of these cases (not yet known) into `facts`.
    async fn learn(&mut self, conn: &mut Conn, cases: &[CaseId]) -> Result<(), StoreError> {
        if cases.is_empty() {
            return Ok(());
        }
        let mut facts: HashMap<CaseId, Facts> =
            cases.iter().map(|c| (*c, Facts::default())).collect();
        for (case, reports, people) in rows::report_tallies(conn, cases).await? {
            if let Some(f) = facts.get_mut(&case) {
                f.reports = reports;
                f.people = people;
            }
        }
        let senders: Vec<&str> = self.senders.iter().map(String::as_str).collect();
        for (case, reporter, rank) in
            rows::reporters_of(conn, cases, FIRST_REPORTERS as i64, &senders).await?
        {
            if let Some(f) = facts.get_mut(&case) {
                if rank <= FIRST_REPORTERS as i64 {
                    f.reporters.push(reporter.clone());
                }
                f.known.insert(reporter);
            }
        }
        for (case, a) in rows::artifacts_of_cases(conn, cases).await? {
            if let Some(f) = facts.get_mut(&case) {
                if f.fingerprints.insert(a.fingerprint.clone()) {
                    f.artifacts.push(a);
                }
            }
        }
        self.facts.extend(facts);
        Ok(())
    }

    /// The batch changed a case by another way (a command, a reply, a
    /// reopening): writes what waits, and asks the store again from now on.
    pub(super) async fn invalidate(&mut self, conn: &mut Conn) -> Result<(), StoreError> {
        self.flush(conn).await?;
        self.hits.clear();
        self.facts.clear();
        self.rows.ids.forget();
        Ok(())
    }

    /// The cases carrying each of these fingerprints, as a lookup now would
    /// find them: from what the batch knows, else asked again.
    pub(super) async fn cases_with_fingerprints(
        &mut self,
        conn: &mut Conn,
        fps: &[&str],
    ) -> Result<Vec<Vec<rows::FingerprintHit>>, StoreError> {
        let unknown: Vec<&str> = fps
            .iter()
            .copied()
            .filter(|fp| !self.hits.contains_key(*fp))
            .collect();
        if !unknown.is_empty() {
            self.flush(conn).await?;
            self.look_up(conn, &unknown).await?;
        }
        Ok(fps.iter().map(|fp| self.hits[*fp].clone()).collect())
    }

    /// A report with these keys now lies on the case `hit` describes.
    pub(super) fn carried(&mut self, keys: &[(KeyKind, String)], hit: &rows::FingerprintHit) {
        for (kind, fp) in keys {
            let list = self.hits.entry(fp.clone()).or_default();
            if list.iter().any(|h| h.case_id == hit.case_id) {
                continue;
            }
            // Newest case first, as the lookup orders them.
            let at = list
                .iter()
                .position(|h| h.case_id < hit.case_id)
                .unwrap_or(list.len());
            let class = match kind {
                KeyKind::Secret => "secret",
                KeyKind::Identity => "identity",
                KeyKind::Original => "original",
            };
            list.insert(
                at,
                rows::FingerprintHit {
                    class: class.to_string(),
                    ..hit.clone()
                },
            );
        }
    }

    /// What the letters need of `case` before the report now placed on it
    /// (a case the batch has just opened: nothing yet).
    pub(super) async fn facts(
        &mut self,
        conn: &mut Conn,
        case: CaseId,
        opened: bool,
    ) -> Result<&mut Facts, StoreError> {
        if opened {
            self.facts.insert(case, Facts::default());
        } else if !self.facts.contains_key(&case) {
            self.flush(conn).await?;
            self.learn(conn, &[case]).await?;
        }
        Ok(self.facts.entry(case).or_default())
    }

    /// Writes what waits: rows, then events and letters.
    pub(super) async fn flush(&mut self, conn: &mut Conn) -> Result<(), StoreError> {
        self.rows.flush(conn).await?;
        self.out.flush(conn).await
    }

    /// Stored already (same raw bytes, else same Message-ID)? With whether
    /// the bytes were the same.
    pub(super) fn seen(&self, sha: &str, message_id: Option<&str>) -> Option<(SeenMessage, bool)> {
        if let Some(m) = self.by_sha.get(sha) {
            return Some((m.clone(), true));
        }
        let m = self.by_message_id.get(message_id?)?;
        Some((m.clone(), false))
    }

    /// A quarantined message stored without a Message-ID whose body has this hash, in
    /// the batch or committed: a message that reused another's Message-ID, delivered
    /// again with other header fields.
    pub(super) async fn set_aside_with_body(
        &self,
        conn: &mut Conn,
        body_hash: &str,
    ) -> Result<Option<SeenMessage>, StoreError> {
        if let Some(m) = self.set_aside_by_body.get(body_hash) {
            return Ok(Some(m.clone()));
        }
        rows::set_aside_with_body(conn, body_hash).await
    }

    /// Queues the message row and remembers it for the rest of the batch;
    /// returns its place for a report.
    pub(super) fn insert_message(&mut self, msg: NewMessage) -> usize {
        let seen = SeenMessage {
            disposition: msg.disposition.to_string(),
            case_id: msg.case_id,
            body_hash: msg.body_hash.clone(),
        };
        if let Some(mid) = &msg.message_id {
            self.by_message_id.insert(mid.clone(), seen.clone());
        } else if let (Some(body), true) = (
            &msg.body_hash,
            msg.disposition == Disposition::Quarantined.slug(),
        ) {
            self.set_aside_by_body.insert(body.clone(), seen.clone());
        }
        self.by_sha.insert(msg.raw_sha256.clone(), seen);
        self.rows.message(msg)
    }
}
