//! Plain data shared by every layer: case ids, categories, severities, outcomes,
//! letter kinds and message dispositions, with their stable slugs (SPEC §2, §5).
//!
//! Architecture invariant: no IO and no clock here. Time is always a parameter
//! (`Millis`, Unix milliseconds UTC) so pure steps stay testable.

use std::fmt;
use std::str::FromStr;

/// Unix time in milliseconds, UTC. Stored as BIGINT on every backend.
pub type Millis = i64;

/// Formats a [`Millis`] as RFC 3339 (UTC, seconds precision).
pub fn rfc3339(at: Millis) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(at)
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| at.to_string())
}

/// A case number. Printed as `<prefix>-<n>` (default `CL-12`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CaseId(pub i64);

impl CaseId {
    pub fn display(self, prefix: &str) -> String {
        format!("{prefix}-{}", self.0)
    }

    /// Accepts `CL-12`, `cl-12`, `[CL-12]` or `12` (any prefix before the dash).
    pub fn parse(s: &str) -> Option<CaseId> {
        let s = s.trim().trim_start_matches('[').trim_end_matches(']');
        let digits = match s.rfind('-') {
            Some(i) => &s[i + 1..],
            None => s,
        };
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || digits.len() > 15 {
            return None;
        }
        digits.parse().ok().filter(|n: &i64| *n > 0).map(CaseId)
    }
}

/// Declares a closed set of slugs with parsing, display and the list of all values.
macro_rules! slug_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $slug:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn slug(self) -> &'static str {
                match self { $($name::$variant => $slug),+ }
            }
            /// All slugs joined by ", " for error messages.
            pub fn choices() -> String {
                Self::ALL.iter().map(|v| v.slug()).collect::<Vec<_>>().join(", ")
            }
        }

        impl FromStr for $name {
            type Err = ();
            fn from_str(s: &str) -> Result<Self, ()> {
                let s = s.trim();
                Self::ALL.iter().copied().find(|v| v.slug().eq_ignore_ascii_case(s)).ok_or(())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.slug())
            }
        }
    };
}

slug_enum!(
    /// What a case turned out to be about (`classify`).
    Category {
        SecretLeak => "secret-leak",
        SuspiciousActivity => "suspicious-activity",
        TokenMisuse => "token-misuse",
        SuspiciousAccount => "suspicious-account",
        PolicyException => "policy-exception",
        Phishing => "phishing",
        Other => "other",
    }
);

impl Category {
    /// The category in words a non-specialist reads (outcome letters never show slugs).
    pub fn plain(self) -> &'static str {
        match self {
            Category::SecretLeak => "a leaked key or password",
            Category::SuspiciousActivity => "unusual activity by an automated account",
            Category::TokenMisuse => "an access token used in a way it should not be",
            Category::SuspiciousAccount => "a suspicious automated account",
            Category::PolicyException => "an exception to our security rules",
            Category::Phishing => "a phishing attempt",
            Category::Other => "a security concern",
        }
    }
}

slug_enum!(
    /// How urgent a case is (`severity`).
    Severity {
        Low => "low",
        Medium => "medium",
        High => "high",
        Critical => "critical",
    }
);

slug_enum!(
    /// How a case ended (`resolve`).
    Outcome {
        Remediated => "remediated",
        Benign => "benign",
        FalsePositive => "false-positive",
        AcceptedRisk => "accepted-risk",
        NoAction => "no-action",
        Duplicate => "duplicate",
    }
);

impl Outcome {
    /// True when the report pointed at a real problem (reporter signal quality, SPEC §8).
    pub fn is_real(self) -> bool {
        matches!(self, Outcome::Remediated | Outcome::AcceptedRisk)
    }
    /// True when the report turned out to be a false alarm.
    pub fn is_false_alarm(self) -> bool {
        matches!(self, Outcome::FalsePositive | Outcome::Benign)
    }
}

slug_enum!(
    /// Life of a case.
    CaseStatus {
        Open => "open",
        Resolved => "resolved",
        Merged => "merged",
    }
);

slug_enum!(
    /// What intake decided about one inbound message (`letter-copy`: a copy of
    /// one of our own letters come back, `outbound.journal`).
    Disposition {
        Report => "report",
        Quarantined => "quarantined",
        Ignored => "ignored",
        Command => "command",
        Reply => "reply",
        LetterCopy => "letter-copy",
    }
);

slug_enum!(
    /// Every letter closeloop writes (SPEC §6).
    LetterKind {
        Ack => "ack",
        Notify => "notify",
        Confirm => "confirm",
        Reject => "reject",
        Question => "question",
        Outcome => "outcome",
        Recent => "recent",
        Reminder => "reminder",
        Update => "update",
        Failure => "failure",
    }
);

slug_enum!(
    /// Delivery state of an outbox row.
    LetterStatus {
        Pending => "pending",
        Sent => "sent",
        Failed => "failed",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_ids_parse_in_every_written_form() {
        for (input, want) in [
            ("CL-12", Some(12)),
            ("cl-12", Some(12)),
            ("[CL-7]", Some(7)),
            ("12", Some(12)),
            ("SEC-3", Some(3)),
            ("CL-", None),
            ("CL-0", None),
            ("CL-1x", None),
            ("", None),
            ("99999999999999999999", None),
        ] {
            assert_eq!(CaseId::parse(input).map(|c| c.0), want, "input {input:?}");
        }
        assert_eq!(CaseId(4).display("CL"), "CL-4");
    }

    #[test]
    fn slugs_round_trip_case_insensitively() {
        for c in Category::ALL {
            assert_eq!(c.slug().to_uppercase().parse::<Category>(), Ok(*c));
            assert!(
                !c.plain().contains('-'),
                "plain words, not slugs: {}",
                c.plain()
            );
        }
        assert_eq!("fixed".parse::<Outcome>(), Err(()));
        assert!(Outcome::choices().contains("false-positive"));
        assert!(Outcome::Remediated.is_real() && Outcome::Benign.is_false_alarm());
        assert!(!Outcome::NoAction.is_real() && !Outcome::NoAction.is_false_alarm());
    }

    #[test]
    fn rfc3339_is_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000_123), "2023-11-14T22:13:20Z");
    }
}
