//! The demo's bundled mail: seven messages staff might send to the security
//! mailbox and a template for the responder's replies, as `.eml` files with
//! `{{PLACEHOLDERS}}`.
//!
//! The fake keys are built here at run time from a fixed seed, so neither the
//! repository nor the `.eml` files contain a string a secret scanner would flag,
//! and tests can ask [`planted_secrets`] what must never show up on disk.

use crate::domain::Millis;

/// One bundled message and what it stands for in the story.
pub struct Sample {
    /// File name stem in the Maildir (sorted: the order of arrival).
    pub name: &'static str,
    /// What a reader of the story should know about it.
    pub about: &'static str,
    pub template: &'static str,
}

pub const REPORTS: &[Sample] = &[
    Sample {
        name: "01-gmail-build-log",
        about: "Gmail-forwarded CI mail: a build log with an AWS key pair",
        template: include_str!("01-gmail-build-log.eml"),
    },
    Sample {
        name: "02-outlook-jira",
        about: "Outlook-forwarded Jira comment: the same AWS key",
        template: include_str!("02-outlook-jira.eml"),
    },
    Sample {
        name: "03-typed-slack",
        about: "typed in: the same AWS key, seen in a Slack channel",
        template: include_str!("03-typed-slack.eml"),
    },
    Sample {
        name: "04-typed-github",
        about: "typed in: a GitHub token in a public gist",
        template: include_str!("04-typed-github.eml"),
    },
    Sample {
        name: "05-typed-gcp-sa",
        about: "typed in: a GCP service account acting at night",
        template: include_str!("05-typed-gcp-sa.eml"),
    },
    Sample {
        name: "06-external-sender",
        about: "from outside the company (not an allowed domain)",
        template: include_str!("06-external-sender.eml"),
    },
    Sample {
        name: "07-out-of-office",
        about: "an out-of-office auto-reply",
        template: include_str!("07-out-of-office.eml"),
    },
];

/// The responder's reply; `{{COMMANDS}}` is the command block.
pub const REPLY: &str = include_str!("reply.eml");

/// The fake credentials planted in the samples.
#[derive(Clone)]
pub struct Planted {
    pub aws_key_id: String,
    pub aws_secret: String,
    pub github_token: String,
}

impl std::fmt::Debug for Planted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Planted(<hidden>)")
    }
}

/// Deterministic xorshift, enough to make fake keys look random.
struct Rng(u64);

impl Rng {
    fn pick(&mut self, n: usize, alphabet: &str) -> String {
        let a = alphabet.as_bytes();
        (0..n)
            .map(|_| {
                let mut x = self.0;
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                self.0 = x;
                a[(x % a.len() as u64) as usize] as char
            })
            .collect()
    }
}

const UPNUM: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const ALNUM: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// The fake keys: shaped like real ones, valid nowhere.
pub fn planted() -> Planted {
    let mut r = Rng(0x5eed_c105_e100_0001);
    // Prefixes are split so the source holds no complete key shape.
    let aws_key_id = format!("{}{}", ["AK", "IA"].concat(), r.pick(16, UPNUM));
    let aws_secret = format!(
        "{}/{}+{}",
        r.pick(13, ALNUM),
        r.pick(13, ALNUM),
        r.pick(12, ALNUM)
    );
    let github_token = format!("{}_{}", ["gh", "p"].concat(), r.pick(36, ALNUM));
    Planted {
        aws_key_id,
        aws_secret,
        github_token,
    }
}

/// Every plaintext secret the demo plants (for tests: none may reach the disk).
pub fn planted_secrets() -> Vec<String> {
    let p = planted();
    vec![p.aws_key_id, p.aws_secret, p.github_token]
}

/// RFC 5322 date of `at`.
pub fn mail_date(at: Millis) -> String {
    utc(at).to_rfc2822()
}

fn utc(at: Millis) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(at).unwrap_or_default()
}

/// A report sample with its placeholders filled; `at` is when it was sent.
pub fn report(sample: &Sample, planted: &Planted, at: Millis) -> String {
    // The forwarded originals were written an hour before they were forwarded.
    let orig = utc(at - 3_600_000);
    fill(
        sample.template,
        &[
            ("DATE", &mail_date(at)),
            (
                "ORIG_DATE",
                &orig.format("%a, %b %-d, %Y at %-I:%M %p").to_string(),
            ),
            (
                "ORIG_DATE_OUTLOOK",
                &orig.format("%A, %B %-d, %Y %-I:%M %p").to_string(),
            ),
            ("AWS_KEY_ID", &planted.aws_key_id),
            ("AWS_SECRET", &planted.aws_secret),
            ("GITHUB_TOKEN", &planted.github_token),
        ],
    )
}

/// What a responder's reply needs to thread under closeloop's notification.
pub struct ReplyTo<'a> {
    pub case: &'a str,
    pub subject: &'a str,
    pub in_reply_to: &'a str,
    pub notified_at: Millis,
}

/// The responder's reply carrying `commands`, authenticated the way the
/// receiving server would stamp it (`Authentication-Results` from `authserv`).
pub fn reply(
    to: &ReplyTo<'_>,
    commands: &str,
    authserv: &str,
    message_id: &str,
    at: Millis,
) -> String {
    fill(
        REPLY,
        &[
            ("AUTHSERV", authserv),
            ("SUBJECT", to.subject),
            ("DATE", &mail_date(at)),
            ("MESSAGE_ID", message_id),
            ("IN_REPLY_TO", to.in_reply_to),
            ("COMMANDS", commands.trim_end()),
            (
                "QUOTE_DATE",
                &utc(to.notified_at)
                    .format("%a, %b %-d, %Y at %H:%M")
                    .to_string(),
            ),
            ("CASE", to.case),
        ],
    )
}

fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = template.to_string();
    for (name, value) in values {
        out = out.replace(&format!("{{{{{name}}}}}"), value);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract;

    #[test]
    fn planted_keys_are_detected_as_what_they_pretend_to_be() {
        let p = planted();
        let text = format!(
            "export AWS_ACCESS_KEY_ID={}\nexport AWS_SECRET_ACCESS_KEY={}\nGITHUB_TOKEN={}\n",
            p.aws_key_id, p.aws_secret, p.github_token
        );
        let kinds: Vec<&str> = extract::scanner()
            .scan(&text)
            .iter()
            .map(|f| f.kind)
            .collect();
        for k in ["aws-access-key-id", "aws-secret-access-key", "github-pat"] {
            assert!(kinds.contains(&k), "{k} not detected: {kinds:?}");
        }
    }

    #[test]
    fn every_placeholder_is_filled() {
        let p = planted();
        for s in REPORTS {
            let m = report(s, &p, 1_700_000_000_000);
            assert!(!m.contains("{{"), "{}: {m}", s.name);
        }
        let to = ReplyTo {
            case: "CL-1",
            subject: "[CL-1] x",
            in_reply_to: "a@b",
            notified_at: 1_700_000_000_000,
        };
        let m = reply(
            &to,
            "classify other",
            "mx.example.org",
            "r@x",
            1_700_000_000_000,
        );
        assert!(!m.contains("{{"), "{m}");
    }
}
