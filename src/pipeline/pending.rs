//! The rows a batch has decided on but not yet written. The batch takes ids
//! itself (`store::ids`), so its rows can name each other before any is
//! stored, and writes each table in a few multi-row statements at `flush`,
//! in foreign-key order: cases, messages, reports, artifacts, dedup keys
//! (and then `compose::Outgoing`'s events and letters).
//!
//! The cases a batch decided on by their state (a join needs an open case,
//! a recent match a resolved one) are locked and checked at `flush`, still
//! inside the transaction: if another instance changed one in between, the
//! flush fails with a retryable conflict, as an immediate check would have.

use std::collections::HashSet;

use crate::domain::{CaseId, CaseStatus, Millis};
use crate::store::ids::{IdTable, Ids};
use crate::store::intake::{self as rows, ArtifactRow, NewMessage, NewReport};
use crate::store::{case_keys, cases, Conn, StoreError};

#[derive(Debug, Default)]
pub(super) struct Pending {
    pub(super) ids: Ids,
    cases: Vec<(CaseId, Millis)>,
    messages: Vec<NewMessage>,
    /// (index into `messages`, report)
    reports: Vec<(usize, NewReport)>,
    /// (index into `reports`, case, artifact)
    artifacts: Vec<(usize, CaseId, ArtifactRow)>,
    /// Dedup keys to attach (`claim`: true for a case just opened), in order.
    keys: Vec<(String, CaseId, bool)>,
    /// Cases decided on by their state, checked under a row lock at flush.
    expected: Vec<(CaseId, CaseStatus)>,
    opened: HashSet<CaseId>,
}

impl Pending {
    /// A new case, written at the next flush.
    pub(super) async fn open_case(
        &mut self,
        conn: &mut Conn,
        now: Millis,
    ) -> Result<CaseId, StoreError> {
        let id = CaseId(self.ids.take(conn, IdTable::Cases, 1).await?[0]);
        self.cases.push((id, now));
        self.opened.insert(id);
        Ok(id)
    }

    /// The batch decided on `case` being in `status`: checked at the next flush.
    pub(super) fn expect(&mut self, case: CaseId, status: CaseStatus) {
        if !self.opened.contains(&case) && !self.expected.contains(&(case, status)) {
            self.expected.push((case, status));
        }
    }

    /// A message row; returns its place for `report`.
    pub(super) fn message(&mut self, msg: NewMessage) -> usize {
        self.messages.push(msg);
        self.messages.len() - 1
    }

    /// A report on the message at `message`, with its artifacts on `case`.
    pub(super) fn report(
        &mut self,
        message: usize,
        report: NewReport,
        case: CaseId,
        artifacts: &[ArtifactRow],
    ) {
        let at = self.reports.len();
        self.reports.push((message, report));
        self.artifacts
            .extend(artifacts.iter().map(|a| (at, case, a.clone())));
    }

    /// Dedup keys for `case`, claimed (a case just opened) or attached (a join).
    pub(super) fn keys<'k>(
        &mut self,
        keys: impl IntoIterator<Item = &'k str>,
        case: CaseId,
        claim: bool,
    ) {
        self.keys
            .extend(keys.into_iter().map(|k| (k.to_string(), case, claim)));
    }

    /// Writes everything waiting, in foreign-key order.
    pub(super) async fn flush(&mut self, conn: &mut Conn) -> Result<(), StoreError> {
        if !self.cases.is_empty() {
            cases::insert_many(conn, &self.cases).await?;
            self.cases.clear();
        }
        for status in [CaseStatus::Open, CaseStatus::Resolved] {
            let ids: Vec<CaseId> = self
                .expected
                .iter()
                .filter(|(_, s)| *s == status)
                .map(|(c, _)| *c)
                .collect();
            if !ids.is_empty() && !cases::lock_all_if(conn, &ids, status).await? {
                return Err(StoreError::Conflict(format!(
                    "a case this batch joined is no longer {}",
                    status.slug()
                )));
            }
        }
        self.expected.clear();
        if !self.messages.is_empty() {
            let ids = self
                .ids
                .take(conn, IdTable::Messages, self.messages.len())
                .await?;
            let list: Vec<(i64, &NewMessage)> = ids.iter().copied().zip(&self.messages).collect();
            rows::insert_messages(conn, &list).await?;
            let report_ids = self
                .ids
                .take(conn, IdTable::Reports, self.reports.len())
                .await?;
            let list: Vec<(i64, i64, &NewReport)> = report_ids
                .iter()
                .zip(&self.reports)
                .map(|(id, (m, r))| (*id, ids[*m], r))
                .collect();
            if !list.is_empty() {
                rows::insert_reports(conn, &list).await?;
            }
            let list: Vec<(i64, CaseId, &ArtifactRow)> = self
                .artifacts
                .iter()
                .map(|(r, c, a)| (report_ids[*r], *c, a))
                .collect();
            if !list.is_empty() {
                rows::insert_artifacts(conn, &list).await?;
            }
            self.messages.clear();
            self.reports.clear();
            self.artifacts.clear();
        }
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
        Ok(())
    }
}
