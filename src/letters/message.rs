//! Builds the RFC 5322 message for a rendered [`Letter`] with lettre: From, one
//! To, Subject, Date, Message-ID, threading (In-Reply-To, References),
//! Auto-Submitted, Reply-To and a text/plain UTF-8 body.
//!
//! Every value is re-checked here (defence in depth against header injection):
//! header text goes through `sanitize_header`, ids through `clean_message_id`,
//! addresses through lettre's parser. Must not send anything or read a clock.

use std::time::SystemTime;

use lettre::message::header::{ContentType, Header, HeaderName, HeaderValue};
use lettre::message::Mailbox;
use lettre::Message;

use super::{clean_message_id, recipient, sanitize_header, Letter, LetterError};

/// Longest References chain kept (the oldest and the newest ids survive).
const MAX_REFERENCES: usize = 10;

/// `Auto-Submitted` (RFC 3834): every letter says it was written by a machine.
#[derive(Clone, Debug)]
struct AutoSubmitted(&'static str);

impl Header for AutoSubmitted {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Auto-Submitted")
    }
    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        match s.trim() {
            "auto-replied" => Ok(AutoSubmitted("auto-replied")),
            "auto-generated" => Ok(AutoSubmitted("auto-generated")),
            other => Err(format!("unexpected Auto-Submitted value {other:?}").into()),
        }
    }
    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.to_string())
    }
}

/// `X-Auto-Response-Suppress: All`: asks Exchange not to send out-of-office
/// replies to our letters (one less mail loop to break).
#[derive(Clone, Debug)]
struct AutoResponseSuppress;

impl Header for AutoResponseSuppress {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("X-Auto-Response-Suppress")
    }
    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(AutoResponseSuppress)
    }
    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "All".to_string())
    }
}

/// Whether a letter can be sent to `address`: the checks [`build_message`] makes of its
/// To (one address, no control character, an address lettre can write).
pub fn can_address(address: &str) -> bool {
    recipient(address).and_then(|to| mailbox("To", &to)).is_ok()
}

fn mailbox(field: &'static str, value: &str) -> Result<Mailbox, LetterError> {
    let clean = value.trim();
    if clean.chars().any(|c| c.is_control()) {
        return Err(LetterError::Address {
            field,
            value: clean
                .chars()
                .filter(|c| !c.is_control())
                .take(100)
                .collect(),
            reason: "contains a control character".into(),
        });
    }
    clean.parse::<Mailbox>().map_err(|e| LetterError::Address {
        field,
        value: clean.chars().take(100).collect(),
        reason: e.to_string(),
    })
}

/// The message for `letter`, from `from` (the configured address, may carry a
/// display name), with Message-ID `message_id` (with or without `<>`) and Date
/// `date`. Thread ids that do not look like Message-IDs are dropped, not sent.
pub fn build_message(
    letter: &Letter,
    from: &str,
    message_id: &str,
    date: chrono::DateTime<chrono::Utc>,
) -> Result<Message, LetterError> {
    let from = mailbox("From", from)?;
    let to = mailbox("To", &recipient(&letter.to)?)?;
    let id = clean_message_id(message_id)
        .ok_or_else(|| LetterError::MessageId(sanitize_header(message_id)))?;

    let mut builder = Message::builder()
        .from(from)
        .to(to)
        .subject(sanitize_header(&letter.subject))
        .date(SystemTime::from(date))
        .message_id(Some(format!("<{id}>")))
        .header(AutoSubmitted(
            if letter.auto_submitted == "auto-generated" {
                "auto-generated"
            } else {
                "auto-replied"
            },
        ))
        .header(AutoResponseSuppress)
        .header(ContentType::TEXT_PLAIN);

    if let Some(reply_to) = letter.reply_to.as_deref().filter(|r| !r.trim().is_empty()) {
        builder = builder.reply_to(mailbox("Reply-To", reply_to)?);
    }
    if let Some(parent) = letter.in_reply_to.as_deref().and_then(clean_message_id) {
        builder = builder.in_reply_to(format!("<{parent}>"));
    }
    let mut refs: Vec<String> = Vec::new();
    for r in letter.references.iter().filter_map(|r| clean_message_id(r)) {
        if !refs.contains(&r) {
            refs.push(r);
        }
    }
    if refs.len() > MAX_REFERENCES {
        // RFC 5322 §3.6.4: keep the first (thread root) and the most recent ones.
        let tail = refs.split_off(refs.len() - (MAX_REFERENCES - 1));
        refs.truncate(1);
        refs.extend(tail);
    }
    if !refs.is_empty() {
        let joined = refs
            .iter()
            .map(|r| format!("<{r}>"))
            .collect::<Vec<_>>()
            .join(" ");
        builder = builder.references(joined);
    }

    builder
        .body(letter.body.clone())
        .map_err(|e| LetterError::Build(e.to_string()))
}
