//! Which case a new report belongs to (SPEC §4), decided over candidates the
//! caller already looked up by indexed key. Pure: no IO, time is a parameter.
//!
//! Rules, in order: a matching **open** case wins (same forwarded original,
//! same secret fingerprint, same service-account identity; hosts and URLs are
//! never keys). Otherwise a case resolved within the reopen window answers the
//! report at once — unless it was `remediated` and the match is the same
//! secret again, which proves the rotation incomplete: that case reopens.
//! Otherwise a new case opens.

use crate::domain::{CaseId, CaseStatus, Millis, Outcome};

/// Why a report matched a case.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    /// The same forwarded original (its Message-ID).
    Original,
    /// The same secret (keyed fingerprint).
    Secret,
    /// The same service-account identity.
    Identity,
}

impl KeyKind {
    pub fn slug(self) -> &'static str {
        match self {
            KeyKind::Original => "original",
            KeyKind::Secret => "secret",
            KeyKind::Identity => "identity",
        }
    }

    pub fn from_slug(s: &str) -> Option<KeyKind> {
        match s {
            "original" => Some(KeyKind::Original),
            "secret" => Some(KeyKind::Secret),
            "identity" => Some(KeyKind::Identity),
            _ => None,
        }
    }

    /// Words for the case timeline.
    pub fn reason(self) -> &'static str {
        match self {
            KeyKind::Original => "the same forwarded message",
            KeyKind::Secret => "the same secret",
            KeyKind::Identity => "the same service account",
        }
    }
}

/// A case found by one of the report's keys, after following merges.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    pub case_id: CaseId,
    pub status: CaseStatus,
    pub outcome: Option<Outcome>,
    pub resolved_at: Option<Millis>,
    pub key: KeyKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Open a new case.
    New,
    /// Join this open case.
    Join { case_id: CaseId, key: KeyKind },
    /// The same secret again after `remediated`: reopen and join.
    Reopen { case_id: CaseId },
    /// Recently resolved: answer with that case's outcome at once.
    Recent { case_id: CaseId, key: KeyKind },
}

pub fn decide(candidates: &[Candidate], now: Millis, reopen_window_ms: Millis) -> Decision {
    // Stronger evidence first: the same original, then a secret, then an identity;
    // among equals the oldest case (the one everyone else joined).
    let rank = |k: KeyKind| match k {
        KeyKind::Original => 0,
        KeyKind::Secret => 1,
        KeyKind::Identity => 2,
    };
    let mut sorted: Vec<&Candidate> = candidates.iter().collect();
    sorted.sort_by_key(|c| (rank(c.key), c.case_id));

    if let Some(c) = sorted.iter().find(|c| c.status == CaseStatus::Open) {
        return Decision::Join {
            case_id: c.case_id,
            key: c.key,
        };
    }
    let recent = |c: &&&Candidate| {
        c.status == CaseStatus::Resolved
            && c.resolved_at
                .is_some_and(|at| now.saturating_sub(at) <= reopen_window_ms)
    };
    // Most recently resolved first.
    let mut resolved: Vec<&&Candidate> = sorted.iter().filter(recent).collect();
    resolved.sort_by_key(|c| std::cmp::Reverse(c.resolved_at));
    if let Some(c) = resolved
        .iter()
        .find(|c| c.key == KeyKind::Secret && c.outcome == Some(Outcome::Remediated))
    {
        return Decision::Reopen { case_id: c.case_id };
    }
    if let Some(c) = resolved.first() {
        return Decision::Recent {
            case_id: c.case_id,
            key: c.key,
        };
    }
    Decision::New
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: Millis = 86_400_000;
    const NOW: Millis = 100 * DAY;

    fn cand(
        id: i64,
        status: CaseStatus,
        outcome: Option<Outcome>,
        resolved_days_ago: Option<i64>,
        key: KeyKind,
    ) -> Candidate {
        Candidate {
            case_id: CaseId(id),
            status,
            outcome,
            resolved_at: resolved_days_ago.map(|d| NOW - d * DAY),
            key,
        }
    }

    fn check(cands: &[Candidate], want: Decision) {
        assert_eq!(decide(cands, NOW, 30 * DAY), want, "candidates: {cands:?}");
    }

    #[test]
    fn no_candidates_open_a_new_case() {
        check(&[], Decision::New);
    }

    #[test]
    fn each_key_joins_an_open_case() {
        for key in [KeyKind::Original, KeyKind::Secret, KeyKind::Identity] {
            check(
                &[cand(3, CaseStatus::Open, None, None, key)],
                Decision::Join {
                    case_id: CaseId(3),
                    key,
                },
            );
        }
    }

    #[test]
    fn open_case_beats_resolved_and_original_beats_secret() {
        check(
            &[
                cand(
                    1,
                    CaseStatus::Resolved,
                    Some(Outcome::Benign),
                    Some(1),
                    KeyKind::Original,
                ),
                cand(5, CaseStatus::Open, None, None, KeyKind::Identity),
                cand(4, CaseStatus::Open, None, None, KeyKind::Original),
            ],
            Decision::Join {
                case_id: CaseId(4),
                key: KeyKind::Original,
            },
        );
    }

    #[test]
    fn recently_resolved_answers_at_once() {
        check(
            &[cand(
                2,
                CaseStatus::Resolved,
                Some(Outcome::FalsePositive),
                Some(3),
                KeyKind::Identity,
            )],
            Decision::Recent {
                case_id: CaseId(2),
                key: KeyKind::Identity,
            },
        );
    }

    #[test]
    fn same_secret_after_remediation_reopens() {
        check(
            &[cand(
                2,
                CaseStatus::Resolved,
                Some(Outcome::Remediated),
                Some(3),
                KeyKind::Secret,
            )],
            Decision::Reopen { case_id: CaseId(2) },
        );
        // The same service account after remediation is not proof of a failed rotation.
        check(
            &[cand(
                2,
                CaseStatus::Resolved,
                Some(Outcome::Remediated),
                Some(3),
                KeyKind::Identity,
            )],
            Decision::Recent {
                case_id: CaseId(2),
                key: KeyKind::Identity,
            },
        );
    }

    #[test]
    fn resolved_outside_the_window_opens_a_new_case() {
        check(
            &[cand(
                2,
                CaseStatus::Resolved,
                Some(Outcome::Remediated),
                Some(31),
                KeyKind::Secret,
            )],
            Decision::New,
        );
    }

    #[test]
    fn merged_candidates_do_not_count_on_their_own() {
        check(
            &[cand(
                2,
                CaseStatus::Merged,
                Some(Outcome::Duplicate),
                Some(1),
                KeyKind::Secret,
            )],
            Decision::New,
        );
    }
}
