//! Realistic sample contexts for every letter kind: used to validate template
//! overrides at load (each override is rendered with them before it is trusted)
//! and by the tests. Only masked artifacts and redacted text, by construction.
//! Must not be used to produce letters that are sent.

use super::context::*;
use crate::domain::{CaseId, Category, LetterKind, Outcome, Severity};

pub fn artifacts() -> Vec<MaskedArtifact> {
    vec![
        MaskedArtifact::new("an AWS access key", "AKIA…WXYZ"),
        MaskedArtifact::new("a GitHub token", "ghp_…9fQ2"),
    ]
}

/// A dump of keys as `extract` masks them: `n` distinct GitHub tokens.
pub fn many_artifacts(n: usize) -> Vec<MaskedArtifact> {
    (0..n)
        .map(|i| MaskedArtifact::new("a GitHub token", format!("ghp_…{i:04}")))
        .collect()
}

pub fn ack() -> AckCtx {
    AckCtx {
        case_id: CaseId(12),
        reporter_name: Some("Zoë Müller".into()),
        reported_subject: "Schlüssel im Build-Log".into(),
        reported_on: "2 November 2026".into(),
        others_reported: 2,
        masked_artifacts: artifacts(),
        their_message_id: Some("CAF1234.zoe@mail.example.org".into()),
    }
}

pub fn notify() -> NotifyCtx {
    NotifyCtx {
        case_id: CaseId(12),
        from: "zoe.mueller@example.org".into(),
        subject: "Fwd: Schlüssel im Build-Log".into(),
        received: "2026-11-02T09:14:00Z".into(),
        original: Some(OriginalInfo {
            from: "ci@build.example.org".into(),
            subject: "Build #4411 failed".into(),
            date: "Mon, 2 Nov 2026 08:55:00 +0100".into(),
        }),
        masked_artifacts: artifacts(),
        joined_existing: true,
        report_count: 3,
        reporters: vec![
            "sam.okafor@example.org".into(),
            "li.wei@example.org".into(),
            "zoe.mueller@example.org".into(),
        ],
        redacted_excerpt: "Hallo Security,\n\nim Build-Log steht AWS_ACCESS_KEY_ID=[REDACTED aws-access-key-id AKIA…WXYZ].\nBitte prüfen.\n".into(),
        warnings: vec!["unknown charset x-mac-roman, read as UTF-8".into()],
        answered_from: None,
        reopened: false,
        classify_within: Some("4 hours".into()),
    }
}

pub fn confirm() -> ConfirmCtx {
    ConfirmCtx {
        case_id: CaseId(12),
        applied: vec![
            "classify secret-leak".into(),
            "action We turned off the leaked key and gave the build a new one".into(),
            "resolve remediated".into(),
        ],
        status: "resolved (remediated)".into(),
        letters_queued: vec![
            "outcome to sam.okafor@example.org".into(),
            "outcome to zoe.mueller@example.org".into(),
        ],
        their_subject: "Re: [CL-12] Another report: Fwd: Schlüssel im Build-Log".into(),
        their_message_id: Some("resp-77@mail.example.org".into()),
    }
}

pub fn reject() -> RejectCtx {
    RejectCtx {
        case_id: Some(CaseId(12)),
        errors: vec![
            "line 2: resolve remediated needs at least one action first".into(),
            "line 3: unknown severity \"urgent\" (low, medium, high, critical)".into(),
        ],
        their_subject: "Re: [CL-12] New report: Schlüssel im Build-Log".into(),
        their_message_id: Some("resp-78@mail.example.org".into()),
    }
}

pub fn question() -> QuestionCtx {
    QuestionCtx {
        case_id: CaseId(12),
        reporter_name: Some("Zoë Müller".into()),
        reported_subject: "Schlüssel im Build-Log".into(),
        reported_on: "2 November 2026".into(),
        question: "Which build job did you see this in, and did you copy the log anywhere else?"
            .into(),
        their_message_id: Some("CAF1234.zoe@mail.example.org".into()),
    }
}

/// An outcome letter for Zoë, second of three reporters, for `outcome`.
pub fn outcome(outcome: Outcome) -> OutcomeCtx {
    let (category, actions, text, until, advice): (Category, Vec<&str>, Option<&str>, Option<&str>, Option<&str>) =
        match outcome {
            Outcome::Remediated => (
                Category::SecretLeak,
                vec![
                    "We turned off the leaked key and gave the build a new one.",
                    "We removed the key from the build log and from the log archive.",
                    "We checked the key's use in the last 30 days and found no misuse.",
                ],
                Some("The old key no longer works."),
                None,
                Some("If you copied the log anywhere, please delete that copy."),
            ),
            Outcome::Benign => (
                Category::SuspiciousActivity,
                vec![],
                Some("The logins came from our new backup job. It runs each night at 2 am and was set up last week."),
                None,
                None,
            ),
            Outcome::FalsePositive => (
                Category::SecretLeak,
                vec![],
                Some("The key in the log is a sample key from the tool's own docs. It has never worked anywhere."),
                None,
                None,
            ),
            Outcome::AcceptedRisk => (
                Category::PolicyException,
                vec!["We limited the service account to read-only access."],
                Some("exception EX-2026-14, signed by the head of IT"),
                Some("31 March 2027"),
                None,
            ),
            Outcome::NoAction => (
                Category::SuspiciousAccount,
                vec![],
                Some("The bot account belongs to the chat team. It has only the rights it needs."),
                None,
                None,
            ),
            Outcome::Duplicate => (
                Category::TokenMisuse,
                vec![],
                Some("The vendor told us about it last week and is fixing it."),
                None,
                None,
            ),
        };
    OutcomeCtx {
        case_id: CaseId(12),
        reporter_name: Some("Zoë Müller".into()),
        reported_subject: "Schlüssel im Build-Log".into(),
        reported_on: "2 November 2026".into(),
        category,
        actions: actions.into_iter().map(String::from).collect(),
        outcome,
        resolution_text: text.map(String::from),
        until: until.map(String::from),
        advice: advice.map(String::from),
        position: 2,
        reporters_total: 3,
        masked_artifacts: artifacts(),
        their_message_id: Some("CAF1234.zoe@mail.example.org".into()),
        merged_from: None,
    }
}

pub fn recent() -> RecentCtx {
    let mut o = outcome(Outcome::Remediated);
    o.reporter_name = Some("Sam Okafor".into());
    o.reported_subject = "key in build log again?".into();
    o.reported_on = "4 November 2026".into();
    o.position = 4;
    o.reporters_total = 4;
    o.their_message_id = Some("sam-991@mail.example.org".into());
    RecentCtx {
        outcome: o,
        resolved_on: "3 November 2026".into(),
    }
}

pub fn reminder(reason: ReminderReason) -> ReminderCtx {
    ReminderCtx {
        case_id: CaseId(12),
        reason,
        subject: "Schlüssel im Build-Log".into(),
        opened_at: "2026-11-02T09:14:00Z".into(),
        open_for: "2 days".into(),
        sla: Some("1d".into()),
        category: Some(Category::SecretLeak),
        severity: Some(Severity::High),
        report_count: 3,
        waiting_reporters: 3,
    }
}

pub fn risk_review() -> ReminderReason {
    ReminderReason::RiskReview {
        policy: "exception EX-2026-14, signed by the head of IT".into(),
        until: "31 March 2027".into(),
    }
}

pub fn update() -> UpdateCtx {
    UpdateCtx {
        case_id: CaseId(12),
        reporter_name: Some("Zoë Müller".into()),
        reported_subject: "Schlüssel im Build-Log".into(),
        reported_on: "2 November 2026".into(),
        category: Some(Category::SecretLeak),
        actions_so_far: vec!["We turned off the leaked key.".into()],
        their_message_id: Some("CAF1234.zoe@mail.example.org".into()),
    }
}

pub fn failure() -> FailureCtx {
    FailureCtx {
        case_id: Some(CaseId(12)),
        letter_kind: LetterKind::Outcome,
        failed_to: "zoe.mueller@example.org".into(),
        attempts: 8,
        first_tried: "2026-11-03T10:00:00Z".into(),
        last_error: "550 5.1.1 mailbox unavailable".into(),
    }
}
