//! A report's extraction (artifacts, fingerprints, redacted body) and its
//! placement on a case through `dedup`.

use std::collections::HashSet;
use std::hash::BuildHasher as _;

#[allow(unused_imports)]
use super::*;

/// Redacts every secret in a text.
pub fn redact_all(text: &str) -> String {
    redact_knowing(text, &extract::Known::default())
}

/// Redacts every secret in a text, and those `known` from the texts it came with.
fn redact_knowing(text: &str, known: &extract::Known) -> String {
    let findings = extract::scanner().scan_knowing(text, known);
    extract::redact(text, &findings)
}

/// A mail file's path as it is logged and stored (a message's source): a file's name
/// is whatever the program that wrote it chose, and may hold a key.
pub fn shown_path(path: &std::path::Path) -> String {
    redact_all(&path.display().to_string())
}

/// A report after extraction: redacted texts and artifacts, no plaintext left.
#[derive(Default)]
pub(super) struct Prepared {
    /// The subject and the original's, redacted (of the secrets found in any text of
    /// the report).
    pub(super) subject: String,
    pub(super) orig_subject: Option<String>,
    pub(super) body: String,
    pub(super) artifacts: Vec<ArtifactRow>,
    pub(super) keys: Vec<(KeyKind, String)>,
    pub(super) original_message_id: Option<String>,
    /// The secrets found in the report's texts, redacted in its other fields too.
    known: extract::Known,
}

impl Prepared {
    /// Extracts the report from a message read; a problem it finds (keys beyond
    /// `MAX_KEPT_ARTIFACTS`) joins the message's problems.
    pub(super) fn new(ctx: &Context, m: &mut Inbound) -> Prepared {
        let scanner = extract::scanner();
        let key = ctx.key.bytes();
        let mut artifacts: Vec<ArtifactRow> = Vec::new();
        let mut keys: Vec<(KeyKind, String)> = Vec::new();
        // A report may carry thousands of keys: each is looked up, not searched for.
        let mut seen: HashSet<String> = HashSet::new();
        // Beyond the cap only a count is kept: hashes of the fingerprints left out.
        let mut left_out: HashSet<u64> = HashSet::new();
        let hasher = std::collections::hash_map::RandomState::new();
        let mut take = |findings: &[Finding]| {
            for f in findings {
                let fp = f.fingerprint(key);
                if seen.contains(&fp) {
                    continue;
                }
                if seen.len() >= MAX_KEPT_ARTIFACTS {
                    left_out.insert(hasher.hash_one(&fp));
                    continue;
                }
                seen.insert(fp.clone());
                match f.class {
                    ArtifactClass::Secret => keys.push((KeyKind::Secret, fp.clone())),
                    ArtifactClass::Identity => keys.push((KeyKind::Identity, fp.clone())),
                    ArtifactClass::Context => {}
                }
                artifacts.push(ArtifactRow {
                    kind: f.kind.to_string(),
                    class: f.class.as_str().to_string(),
                    masked: f.masked.clone(),
                    fingerprint: fp,
                });
            }
        };
        // Every text is scanned whole for its keys; a secret found in one of them is
        // redacted in the others too (`Known`: written alone in the subject, found by
        // its name in the body). Of each redacted text only what the stored body can
        // hold is built (a 25 MB dump of keys is not copied to be cut).
        let attached = m
            .original
            .as_ref()
            .filter(|o| o.style == ForwardStyle::Attached);
        let mut texts: Vec<&str> = vec![&m.subject, &m.text];
        texts.extend(attached.map(|o| o.text.as_str()));
        texts.extend(m.attachments.iter().map(|a| a.text.as_str()));
        // The original's subject last: redacted, but not a source of artifacts.
        let orig_subject = m.original.as_ref().and_then(|o| o.subject.as_deref());
        texts.extend(orig_subject);
        let cands: Vec<_> = texts.iter().map(|t| scanner.candidates(t)).collect();
        let known = extract::Known::new(&cands);
        let mut found: Vec<Vec<Finding>> =
            cands.into_iter().map(|c| c.resolve(&[&known])).collect();
        let orig_subject = orig_subject.map(|t| {
            let findings = found.pop().unwrap_or_default();
            extract::redact(t, &findings)
        });
        for findings in &found {
            take(findings);
        }
        let room = |body: &str| (MAX_STORED_BODY + 1).saturating_sub(body.len());
        let mut found = found.into_iter();
        let mut next = |text: &str, room: usize| -> String {
            let findings = found.next().unwrap_or_default();
            extract::redact_head(text, &findings, room)
        };
        let subject = next(&m.subject, usize::MAX);
        let mut body = next(&m.text, room(""));
        if let Some(o) = attached {
            body.push_str("\n\n--- forwarded message ---\n");
            body.push_str(&next(&o.text, room(&body)));
        }
        for a in &m.attachments {
            body.push_str(&format!(
                "\n\n--- attachment {} ---\n",
                redact_knowing(&a.name, &known)
            ));
            body.push_str(&next(&a.text, room(&body)));
        }
        if body.len() > MAX_STORED_BODY {
            body.truncate(body.floor_char_boundary(MAX_STORED_BODY));
            body.push_str("\n[… truncated; the full message stays in the mailbox]");
        }
        if !left_out.is_empty() {
            m.problems.push(format!(
                "the report holds {} more distinct keys, identities or links than the {MAX_KEPT_ARTIFACTS} \
                 kept: they are redacted in its text but not kept, so a later report of one of \
                 them alone is not matched to this case",
                left_out.len()
            ));
        }
        let original_message_id = m
            .original
            .as_ref()
            .and_then(|o| o.message_id.clone())
            .filter(|s| !s.is_empty());
        if let Some(mid) = &original_message_id {
            let fp = extract::fingerprint(key, "original-message-id", mid);
            keys.push((KeyKind::Original, fp.clone()));
            artifacts.push(ArtifactRow {
                kind: "original-message-id".into(),
                class: "original".into(),
                masked: redact_knowing(mid, &known),
                fingerprint: fp,
            });
        }
        Prepared {
            subject,
            orig_subject,
            body,
            artifacts,
            keys,
            original_message_id,
            known,
        }
    }

    /// Redacts a text of the message (its sender, a header) of its own secrets and of
    /// those found in the report's texts.
    pub(super) fn redact(&self, text: &str) -> String {
        redact_knowing(text, &self.known)
    }

    pub(super) fn row(
        &self,
        from: &str,
        m: &Inbound,
        case: CaseId,
        how: &Joined,
        now: Millis,
    ) -> NewReport {
        let orig = m.original.as_ref();
        NewReport {
            case_id: case.0,
            reporter: from.to_string(),
            reporter_name: m
                .from
                .as_ref()
                .and_then(|f| f.name.as_deref())
                .map(|t| self.redact(t)),
            subject: self.subject.clone(),
            message_id: m.message_id.clone(),
            sent_at: m.date.map(|d| d.saturating_mul(1000)),
            received_at: now,
            body: self.body.clone(),
            orig_from: orig.and_then(|o| o.from.as_deref()).map(|t| self.redact(t)),
            orig_subject: self.orig_subject.clone(),
            orig_date: orig.and_then(|o| o.date.as_deref()).map(|t| self.redact(t)),
            orig_message_id: self.original_message_id.as_deref().map(|t| self.redact(t)),
            forward_style: orig.map(|o| match &o.style {
                ForwardStyle::Attached => "attached".to_string(),
                ForwardStyle::Inline(client) => format!("inline:{client}"),
            }),
            problems: rows::join_problems(&m.problems),
            recent_case: match how {
                Joined::Recent(_) => Some(case),
                _ => None,
            },
        }
    }
}

/// Finds or opens the case for a report and records how it got there.
pub(super) async fn place(
    ctx: &Context,
    conn: &mut Conn,
    batch: &mut Batch,
    r: &Prepared,
    now: Millis,
) -> Result<(CaseId, Joined), StoreError> {
    // Each candidate with the case it stands for, as a fingerprint lookup shows it.
    let mut candidates: Vec<(Candidate, rows::FingerprintHit)> = Vec::new();
    let fingerprints: Vec<&str> = r.keys.iter().map(|(_, fp)| fp.as_str()).collect();
    let hits = batch.cases_with_fingerprints(conn, &fingerprints).await?;
    for ((key, _), hits) in r.keys.iter().zip(hits) {
        for hit in hits {
            // The hit carries its case's state; only a merged case needs a second look.
            let hit = match hit.merged_into {
                None => hit,
                Some(_) => {
                    let id = cases::surviving(conn, hit.case_id).await?;
                    let Some(case) = cases::get(conn, id).await? else {
                        continue;
                    };
                    rows::FingerprintHit {
                        case_id: id,
                        status: case.status,
                        merged_into: None,
                        outcome: case.outcome,
                        resolved_at: case.resolved_at,
                        class: hit.class,
                    }
                }
            };
            let candidate = Candidate {
                case_id: hit.case_id,
                status: hit.status.parse().unwrap_or(CaseStatus::Open),
                outcome: hit
                    .outcome
                    .as_deref()
                    .and_then(|o| o.parse::<Outcome>().ok()),
                resolved_at: hit.resolved_at,
                key: *key,
            };
            candidates.push((candidate, hit));
        }
    }
    let list: Vec<Candidate> = candidates.iter().map(|(c, _)| c.clone()).collect();
    let decision = dedup::decide(&list, now, ctx.cfg.dedup.reopen_window.millis());
    let keys = fingerprints;
    let chosen = |case: CaseId| {
        candidates
            .iter()
            .find(|(c, _)| c.case_id == case)
            .map(|(_, h)| h.clone())
    };
    Ok(match decision {
        Decision::New => {
            let id = batch.rows.open_case(conn, now).await?;
            // Claimed with the batch's other keys before it commits.
            batch.rows.keys(keys.iter().copied(), id, true);
            batch.carried(
                &r.keys,
                &rows::FingerprintHit {
                    case_id: id,
                    status: CaseStatus::Open.slug().to_string(),
                    merged_into: None,
                    outcome: None,
                    resolved_at: None,
                    class: String::new(),
                },
            );
            batch
                .out
                .event(id, now, "opened", "case opened from a new report".into());
            (id, Joined::NewCase)
        }
        Decision::Join { case_id, key } => {
            // Another instance may change the case before this commits: the
            // batch checks it under a row lock at its next flush.
            batch.rows.expect(case_id, CaseStatus::Open);
            batch.rows.keys(keys.iter().copied(), case_id, false);
            if let Some(hit) = chosen(case_id) {
                batch.carried(&r.keys, &hit);
            }
            let text = format!("another report joined ({})", key.reason());
            batch.out.event(case_id, now, "joined", text);
            (case_id, Joined::Duplicate(key))
        }
        Decision::Reopen { case_id } => {
            if !cases::lock_if(conn, case_id, CaseStatus::Resolved).await? {
                return Err(StoreError::Conflict(format!(
                    "case {} is no longer resolved",
                    case_id.0
                )));
            }
            // Its events go in after those still waiting, as they happened.
            batch.invalidate(conn).await?;
            lifecycle::reopen(
                conn,
                case_id,
                now,
                "closeloop",
                "the same secret was reported again after the case was remediated: the rotation looks incomplete",
            )
            .await?;
            case_keys::claim(conn, case_id, &keys).await?;
            (case_id, Joined::Reopened)
        }
        Decision::Recent { case_id, key } => {
            batch.rows.expect(case_id, CaseStatus::Resolved);
            if let Some(hit) = chosen(case_id) {
                batch.carried(&r.keys, &hit);
            }
            let text = format!(
                "a new report matched this resolved case ({}); its outcome was sent",
                key.reason()
            );
            batch.out.event(case_id, now, "recent-report", text);
            (case_id, Joined::Recent(key))
        }
    })
}
