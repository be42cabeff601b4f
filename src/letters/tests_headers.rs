//! Header tests: the built RFC 5322 bytes carry exactly one To, the right
//! Subject, threading, Message-ID, Auto-Submitted, Reply-To, Date and a UTF-8
//! text/plain body; injected CR/LF never makes a header or a recipient.

use super::*;
use crate::domain::Outcome;

const FROM: &str = "Example Security <security@example.org>";

fn when() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(1_793_000_000, 0).unwrap()
}

/// Unfolded header lines of a formatted message, as (name, value).
fn headers(bytes: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8(bytes.to_vec()).expect("7-bit message");
    let head = text.split("\r\n\r\n").next().unwrap();
    let mut out: Vec<(String, String)> = Vec::new();
    for line in head.split("\r\n") {
        if line.starts_with([' ', '\t']) {
            out.last_mut().unwrap().1.push_str(line);
        } else {
            let (n, v) = line.split_once(':').expect("header line");
            out.push((n.to_string(), v.trim().to_string()));
        }
    }
    out
}

fn one<'a>(h: &'a [(String, String)], name: &str) -> &'a str {
    let found: Vec<&(String, String)> = h
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .collect();
    assert_eq!(found.len(), 1, "exactly one {name} header in {h:?}");
    &found[0].1
}

fn outcome_letter() -> Letter {
    let mut c = samples::outcome(Outcome::Remediated);
    c.reported_subject = "Leaked key in build log".into();
    render_outcome(
        &Org::new("Example Corp", "CL"),
        "Zoë Müller <zoe.mueller@example.org>",
        &c,
    )
    .unwrap()
}

#[test]
fn outcome_message_has_every_header() {
    let letter = outcome_letter().with_reply_to(Some("security+cl-12@example.org".into()));
    let id = message_id_for(
        LetterKind::Outcome,
        CaseId(12),
        &letter.to,
        1,
        "example.org",
    );
    let msg = build_message(&letter, FROM, &id, when()).unwrap();
    let bytes = msg.formatted();
    let h = headers(&bytes);
    assert!(one(&h, "From").contains("<security@example.org>"));
    assert!(one(&h, "To").contains("<zoe.mueller@example.org>"));
    assert_eq!(one(&h, "Subject"), "Re: Leaked key in build log [CL-12]");
    assert_eq!(one(&h, "Message-ID"), format!("<{id}>"));
    assert_eq!(one(&h, "In-Reply-To"), "<CAF1234.zoe@mail.example.org>");
    assert_eq!(one(&h, "References"), "<CAF1234.zoe@mail.example.org>");
    assert_eq!(one(&h, "Auto-Submitted"), "auto-replied");
    assert_eq!(one(&h, "X-Auto-Response-Suppress"), "All");
    assert_eq!(one(&h, "Reply-To"), "security+cl-12@example.org");
    assert!(one(&h, "Date").contains("2026"), "{h:?}");
    assert_eq!(
        one(&h, "Content-Type").to_ascii_lowercase(),
        "text/plain; charset=utf-8"
    );
    assert!(h
        .iter()
        .all(|(n, _)| !n.eq_ignore_ascii_case("Bcc") && !n.eq_ignore_ascii_case("Cc")));
    assert_eq!(msg.envelope().to().len(), 1);
}

#[test]
fn non_ascii_subject_is_encoded() {
    let letter = render_outcome(
        &Org::new("Example Corp", "CL"),
        "zoe@example.org",
        &samples::outcome(Outcome::Benign),
    )
    .unwrap();
    assert_eq!(letter.subject, "Re: Schlüssel im Build-Log [CL-12]");
    let bytes = build_message(&letter, FROM, "a.1@example.org", when())
        .unwrap()
        .formatted();
    let h = headers(&bytes);
    let subject = one(&h, "Subject");
    assert!(subject.contains("=?utf-8?"), "RFC 2047: {subject}");
    assert!(bytes.is_ascii(), "whole message is 7-bit");
}

#[test]
fn injected_subject_makes_no_header_and_no_recipient() {
    let mut c = samples::outcome(Outcome::Remediated);
    c.reported_subject = "Leaked key\r\nBcc: x@evil.test\r\nX-Evil: 1".into();
    c.their_message_id = Some("abc@x.org>\r\nBcc: y@evil.test".into());
    let letter = render_outcome(&Org::new("Example Corp", "CL"), "zoe@example.org", &c).unwrap();
    assert!(!letter.subject.contains('\r') && !letter.subject.contains('\n'));
    assert_eq!(letter.in_reply_to, None, "a malformed parent id is dropped");
    let msg = build_message(&letter, FROM, "a.1@example.org", when()).unwrap();
    let bytes = msg.formatted();
    let h = headers(&bytes);
    assert!(
        h.iter()
            .all(|(n, _)| !n.eq_ignore_ascii_case("Bcc") && !n.eq_ignore_ascii_case("X-Evil")),
        "{h:?}"
    );
    assert_eq!(one(&h, "To"), "zoe@example.org");
    assert_eq!(msg.envelope().to().len(), 1);
    assert!(!String::from_utf8_lossy(&bytes).contains("\r\nBcc:"));
    assert_eq!(
        one(&h, "Subject"),
        "Re: Leaked key Bcc: x@evil.test X-Evil: 1 [CL-12]"
    );

    // Even a hand-made Letter with raw CR/LF is cleaned at build time.
    let mut raw = letter.clone();
    raw.subject = "hi\r\nBcc: z@evil.test".into();
    raw.references = vec!["ok@x.org".into(), "bad\r\nBcc: q@evil.test".into()];
    let bytes = build_message(&raw, FROM, "a.2@example.org", when())
        .unwrap()
        .formatted();
    let h = headers(&bytes);
    assert!(
        h.iter().all(|(n, _)| !n.eq_ignore_ascii_case("Bcc")),
        "{h:?}"
    );
    assert_eq!(one(&h, "References"), "<ok@x.org>");
}

#[test]
fn exactly_one_recipient_and_valid_ids_are_required() {
    let org = Org::new("Example Corp", "CL");
    let c = samples::outcome(Outcome::Remediated);
    for to in [
        "a@example.org, b@example.org",
        "a@example.org; b@example.org",
        "not an address",
        "a@example.org\r\nBcc: b@evil.test",
    ] {
        assert!(
            matches!(
                render_outcome(&org, to, &c),
                Err(LetterError::Address { field: "To", .. })
            ),
            "{to:?}"
        );
    }
    let mut letter = outcome_letter();
    assert!(matches!(
        build_message(&letter, FROM, "no-at-sign", when()),
        Err(LetterError::MessageId(_))
    ));
    assert!(matches!(
        build_message(&letter, "bad from", "a@b", when()),
        Err(LetterError::Address { field: "From", .. })
    ));
    letter.to = "a@example.org, b@example.org".into();
    assert!(build_message(&letter, FROM, "a@b", when()).is_err());
}

#[test]
fn notices_are_auto_generated_and_unthreaded() {
    let org = Org::new("Example Corp", "CL");
    let l = render_notify(&org, "secteam@example.org", &samples::notify()).unwrap();
    let bytes = build_message(&l, FROM, "n.1@example.org", when())
        .unwrap()
        .formatted();
    let h = headers(&bytes);
    assert_eq!(one(&h, "Auto-Submitted"), "auto-generated");
    assert!(h
        .iter()
        .all(|(n, _)| n != "In-Reply-To" && n != "References"));
}

#[test]
fn reply_subjects_are_never_doubled() {
    for (their, want) in [
        ("Leaked key", "Re: Leaked key [CL-12]"),
        ("Re: Leaked key", "Re: Leaked key [CL-12]"),
        ("RE: re: AW: Leaked key", "Re: Leaked key [CL-12]"),
        ("Re: Leaked key [CL-12]", "Re: Leaked key [CL-12]"),
        ("Leaked key [cl-12]", "Re: Leaked key [cl-12]"),
        ("Fwd: Leaked key", "Re: Fwd: Leaked key [CL-12]"),
        ("Re: Leaked key [CL-9]", "Re: Leaked key [CL-12]"),
        ("[CL-120] other", "Re: other [CL-12]"),
        ("Build [draft]", "Re: Build [draft] [CL-12]"),
        ("", "Re: your report [CL-12]"),
        ("  \r\n ", "Re: your report [CL-12]"),
        // Brackets around text whose first characters are not ASCII (a garbled subject).
        (
            "r [r´ x] [§iü] [CL´-3]",
            "Re: r [r´ x] [§iü] [CL´-3] [CL-12]",
        ),
        ("Ré: [ç]", "Re: Ré: [ç] [CL-12]"),
    ] {
        assert_eq!(reply_subject(their, "CL", CaseId(12)), want, "{their:?}");
    }
    let long = "word ".repeat(100);
    let s = reply_subject(&long, "CL", CaseId(12));
    assert!(s.ends_with("… [CL-12]") && s.chars().count() <= 200, "{s}");
}

#[test]
fn sanitize_header_strips_controls_and_caps_length() {
    assert_eq!(sanitize_header("a\r\nb\tc\u{0}d\u{85}e"), "a b c d e");
    assert_eq!(sanitize_header("  many    spaces  "), "many spaces");
    assert_eq!(sanitize_header("rtl\u{202E}trick\u{200B}"), "rtl trick");
    assert_eq!(sanitize_header("line\u{2028}sep"), "line sep");
    let long = "x".repeat(500);
    assert_eq!(sanitize_header(&long).chars().count(), 200);
    assert_eq!(sanitize_header("Schlüssel"), "Schlüssel");
}

#[test]
fn message_ids_are_stable_and_distinct() {
    let a = message_id_for(
        LetterKind::Outcome,
        CaseId(12),
        "Zoe@Example.org ",
        1,
        "example.org",
    );
    assert_eq!(
        a,
        message_id_for(
            LetterKind::Outcome,
            CaseId(12),
            "zoe@example.org",
            1,
            "example.org"
        )
    );
    assert!(
        a.starts_with("cl.outcome.12.1.") && a.ends_with("@example.org"),
        "{a}"
    );
    assert!(!a.contains("zoe"), "recipient is hashed");
    assert!(clean_message_id(&a).is_some());
    for other in [
        message_id_for(
            LetterKind::Outcome,
            CaseId(12),
            "zoe@example.org",
            2,
            "example.org",
        ),
        message_id_for(
            LetterKind::Outcome,
            CaseId(12),
            "sam@example.org",
            1,
            "example.org",
        ),
        message_id_for(
            LetterKind::Ack,
            CaseId(12),
            "zoe@example.org",
            1,
            "example.org",
        ),
        message_id_for(
            LetterKind::Outcome,
            CaseId(13),
            "zoe@example.org",
            1,
            "example.org",
        ),
    ] {
        assert_ne!(a, other);
    }
    assert!(
        message_id_for(LetterKind::Ack, CaseId(1), "a@b", 1, "").ends_with("@closeloop.invalid")
    );
    assert!(
        message_id_for(LetterKind::Ack, CaseId(1), "a@b", 1, "ex ample>.org\r\n")
            .ends_with("@example.org")
    );
}

#[test]
fn long_reference_chains_keep_root_and_newest() {
    let mut letter = outcome_letter();
    letter.references = (0..15).map(|i| format!("m{i}@x.org")).collect();
    let bytes = build_message(&letter, FROM, "a.1@example.org", when())
        .unwrap()
        .formatted();
    let refs = one(&headers(&bytes), "References").to_string();
    assert!(
        refs.starts_with("<m0@x.org>") && refs.ends_with("<m14@x.org>"),
        "{refs}"
    );
    assert_eq!(refs.matches('<').count(), 10);
}

#[test]
fn body_is_utf8_text_with_crlf_lines() {
    let letter = outcome_letter();
    let bytes = build_message(&letter, FROM, "a.1@example.org", when())
        .unwrap()
        .formatted();
    let text = String::from_utf8(bytes).unwrap();
    let h = headers(text.as_bytes());
    let cte = one(&h, "Content-Transfer-Encoding").to_string();
    assert!(
        ["quoted-printable", "base64", "8bit", "7bit"].contains(&cte.as_str()),
        "{cte}"
    );
    assert!(
        !text.replace("\r\n", "").contains('\n'),
        "bare LF in message"
    );
}
