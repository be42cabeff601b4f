//! Tests for damaged and hostile input: every case must come through without a panic, keep
//! what it can, and say what was wrong in `problems`. Messages are built here, in code.

use super::tests::{eol, plain_message, OUTER};
use super::*;

/// xorshift64: deterministic pseudo-random numbers for damage tests.
pub(super) fn next_random(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

/// Sets `flips` bytes at random places of `bytes` to random values.
pub(super) fn garble(bytes: &mut [u8], seed: &mut u64, flips: usize) {
    for _ in 0..flips {
        next_random(seed);
        let at = (*seed as usize) % bytes.len();
        bytes[at] = (*seed >> 32) as u8;
    }
}

fn has_problem(i: &Inbound, needle: &str) -> bool {
    i.problems.iter().any(|p| p.contains(needle))
}

fn assert_problem(i: &Inbound, needle: &str) {
    assert!(
        has_problem(i, needle),
        "expected a problem containing {needle:?}, got {:?}",
        i.problems
    );
}

#[test]
fn unterminated_multipart() {
    let raw = format!(
        "{OUTER}Content-Type: multipart/mixed; boundary=\"zz\"\n\n--zz\nContent-Type: text/plain\n\n\
the key is AKIAIOSFODNN7EXAMPLE\n--zz\nContent-Type: text/plain; name=\"a.log\"\n\nlog line\n"
    );
    for crlf in [true, false] {
        let i = parse(&eol(&raw, crlf));
        assert_problem(&i, "unterminated multipart");
        assert!(i.text.contains("AKIAIOSFODNN7EXAMPLE"), "{:?}", i.text);
    }
}

/// Each multipart's delimiters are looked for: a boundary no line uses, one never closed,
/// and one closed after transport padding (white space), which is fine.
#[test]
fn every_multipart_boundary_is_checked() {
    let raw = format!(
        "{OUTER}Content-Type: multipart/mixed; boundary=\"outer\"\n\n--outer  \n\
         Content-Type: multipart/alternative; boundary=\"unused\"\n\nno delimiter here\n\
         --outer\nContent-Type: multipart/alternative; boundary=\"open\"\n\n--open\n\
         Content-Type: text/plain\n\nkept\n--outer--\t\n"
    );
    for crlf in [true, false] {
        let i = parse(&eol(&raw, crlf));
        let structure: Vec<&String> = i
            .problems
            .iter()
            .filter(|p| p.contains("multipart"))
            .collect();
        assert_eq!(
            structure,
            [
                "multipart boundary never used in part 1",
                "unterminated multipart in part 2"
            ],
            "{:?}",
            i.problems
        );
    }
}

/// Thousands of nested multiparts, none closed (the delimiters are gathered in one pass
/// over the message, not searched for once a multipart: `stages` bench
/// `parse_20000_nested_unclosed_multiparts`).
#[test]
fn thousands_of_unterminated_multiparts_are_each_named() {
    let raw = nested_multiparts(2_000);
    let i = parse(raw.as_bytes());
    let unterminated = i
        .problems
        .iter()
        .filter(|p| p.starts_with("unterminated multipart in part "))
        .count();
    assert_eq!(unterminated, 2_000, "{:?}", &i.problems[..5]);
    // The last part, never closed, is kept (as a damaged part) and read.
    let read = std::iter::once(&i.text).chain(i.attachments.iter().map(|a| &a.text));
    assert!(read.into_iter().any(|t| t.contains("deep inside")));
}

/// A message of `levels` multiparts, each inside the last, none closed.
fn nested_multiparts(levels: usize) -> String {
    let mut raw = String::from("From: a@example.org\r\nSubject: nested\r\nMIME-Version: 1.0\r\n");
    for level in 0..levels {
        raw.push_str(&format!(
            "Content-Type: multipart/mixed; boundary=\"b{level}\"\r\n\r\n--b{level}\r\n"
        ));
    }
    raw.push_str("Content-Type: text/plain\r\n\r\ndeep inside\r\n");
    raw
}

#[test]
fn multipart_without_boundary() {
    let raw = format!("{OUTER}Content-Type: multipart/mixed\n\nsome text\n");
    let i = parse(&eol(&raw, true));
    assert_problem(&i, "multipart without boundary");
    assert!(i.text.contains("some text"));
}

#[test]
fn bad_base64() {
    let raw = format!(
        "{OUTER}Content-Type: multipart/mixed; boundary=\"b\"\n\n--b\nContent-Type: text/plain\n\nintro\n\
--b\nContent-Type: text/plain\nContent-Transfer-Encoding: base64\n\nthis is *not* base64 at all!!!\n--b--\n"
    );
    for crlf in [true, false] {
        let i = parse(&eol(&raw, crlf));
        assert_problem(&i, "undecodable base64 in part 2");
        assert!(i.text.contains("intro"));
    }
}

#[test]
fn bad_quoted_printable_is_kept() {
    let raw = format!("{OUTER}Content-Type: text/plain\nContent-Transfer-Encoding: quoted-printable\n\nkey=ZZ and =\n");
    for crlf in [true, false] {
        let i = parse(&eol(&raw, crlf));
        assert!(i.text.contains("key=ZZ and"), "{:?}", i.text);
        assert_problem(&i, "invalid quoted-printable escape in part 0");
    }
}

#[test]
fn qp_soft_break_joins_token() {
    let raw = format!(
        "{OUTER}Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n\
aws_secret_access_key=3DwJalrXUtnFEMI/K7MDENG/bPxRfi=\nCYEXAMPLEKEY\nCaf=C3=A9\n"
    );
    for crlf in [true, false] {
        let i = parse(&eol(&raw, crlf));
        assert!(
            i.text
                .contains("aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
            "{:?}",
            i.text
        );
        assert!(i.text.contains("Café"));
        assert!(i.problems.is_empty(), "{:?}", i.problems);
    }
}

#[test]
fn unknown_charset() {
    let raw =
        format!("{OUTER}Content-Type: text/plain; charset=x-klingon\n\nplain ascii secret=42\n");
    let i = parse(&eol(&raw, true));
    assert_problem(&i, "unknown charset \"x-klingon\"");
    assert!(i.text.contains("secret=42"));
}

#[test]
fn lying_charset_utf8_declared_latin1_sent() {
    let mut raw = eol(
        &format!("{OUTER}Content-Type: text/plain; charset=utf-8\n\n"),
        true,
    );
    raw.extend_from_slice(b"Caf\xe9 \x80 password\r\n");
    let i = parse(&raw);
    assert!(i.text.contains("Café € password"), "{:?}", i.text);
    assert_problem(&i, "read as windows-1252");
}

#[test]
fn lying_charset_latin1_declared_utf8_sent() {
    let raw = format!("{OUTER}Content-Type: text/plain; charset=iso-8859-1\n\nCafé password\n");
    let i = parse(&eol(&raw, false));
    assert_eq!(i.text, "Café password");
    assert_problem(&i, "holds UTF-8");
}

#[test]
fn undeclared_8bit_header_and_body() {
    let mut raw = b"From: Ren\xe9 <rene@corp.example>\nTo: security@corp.example\nSubject: Cl\xe9 trouv\xe9e\n\
Date: Tue, 3 Nov 2026 09:00:00 +0000\nMessage-ID: <x@corp.example>\n\n"
        .to_vec();
    raw.extend_from_slice(b"mot de passe: \xe9t\xe9\n");
    for crlf in [false, true] {
        let raw = if crlf {
            eol(&String::from_utf8_lossy(&raw), true)
        } else {
            raw.clone()
        };
        let i = parse(&raw);
        if !crlf {
            assert_eq!(i.subject, "Clé trouvée");
            assert_eq!(
                i.from.as_ref().and_then(|f| f.name.as_deref()),
                Some("René")
            );
            assert_eq!(i.text, "mot de passe: été");
            assert_problem(&i, "undeclared 8-bit bytes in Subject");
            assert_problem(&i, "read as windows-1252");
        } else {
            // Already lossy (U+FFFD) before we saw it: still single-line, still parsed.
            assert!(i.subject.starts_with("Cl"));
        }
    }
}

#[test]
fn empty_body() {
    let i = parse(&eol(&format!("{OUTER}Content-Type: text/plain\n\n"), true));
    assert_eq!(i.text, "");
    assert_problem(&i, "empty body");
    let i = parse(&eol(OUTER, false));
    assert_problem(&i, "empty body");
    assert_eq!(i.message_id.as_deref(), Some("fwd-1@corp.example"));
}

#[test]
fn empty_message() {
    for raw in [&b""[..], b"\r\n\r\n", b"   "] {
        let i = parse(raw);
        assert_problem(&i, "empty message");
    }
}

#[test]
fn no_headers_at_all() {
    for raw in [
        "just a pasted key AKIAIOSFODNN7EXAMPLE\nand more\n",
        "\nblank first line then text\n",
    ] {
        for crlf in [true, false] {
            let i = parse(&eol(raw, crlf));
            assert!(!i.problems.is_empty());
            let word = if raw.contains("AKIA") {
                "AKIAIOSFODNN7EXAMPLE"
            } else {
                "blank first line"
            };
            assert!(i.text.contains(word) || i.subject.contains(word), "{i:?}");
        }
    }
}

#[test]
fn encoded_word_header_injection() {
    // "Hello\r\nBcc: x@evil.test" in an encoded word.
    let raw = "From: =?utf-8?b?RXZlDQpCY2M6IHhAZXZpbC50ZXN0?= <eve@corp.example>\n\
To: security@corp.example\nSubject: =?utf-8?b?SGVsbG8NCkJjYzogeEBldmlsLnRlc3Q=?=\n\
Date: Tue, 3 Nov 2026 09:00:00 +0000\nMessage-ID: <inj@corp.example>\n\nbody\n";
    for crlf in [true, false] {
        let i = parse(&eol(raw, crlf));
        assert!(!i.subject.contains(['\r', '\n']), "{:?}", i.subject);
        assert!(
            i.subject.starts_with("Hello") && i.subject.ends_with("Bcc: x@evil.test"),
            "{:?}",
            i.subject
        );
        assert_problem(&i, "header injection attempt in Subject");
        let name = i
            .from
            .as_ref()
            .and_then(|f| f.name.clone())
            .unwrap_or_default();
        assert!(!name.contains(['\r', '\n']));
        assert_problem(&i, "header injection attempt in From");
        assert_eq!(i.recipients, ["security@corp.example"]);
    }
}

#[test]
fn huge_header_line() {
    let long = "A".repeat(200_000);
    let raw = format!(
        "From: bob@corp.example\nSubject: {long}\nX-Junk: {long}\nMessage-ID: <h@x>\n\nbody\n"
    );
    let i = parse(&eol(&raw, true));
    assert_problem(&i, "header line longer than 998 bytes");
    assert_problem(&i, "Subject truncated");
    assert_eq!(i.subject.chars().count(), 1000);
    assert_eq!(i.text, "body");
}

#[test]
fn nul_bytes() {
    let mut raw = eol(&format!("{OUTER}Content-Type: text/plain\n\n"), true);
    raw.extend_from_slice(b"sec\0ret\0 value\r\n");
    let i = parse(&raw);
    assert_eq!(i.text, "secret value");
    assert_problem(&i, "NUL bytes");
    assert!(!i.subject.contains('\0'));
}

/// NUL that only decoding gives (an encoded word, base64, quoted-printable, a file's
/// name and text) is removed too: PostgreSQL refuses it in text.
#[test]
fn nul_from_decoding_is_removed_everywhere() {
    let raw =
        "From: =?utf-8?b?Qm9iAA==?= <bob@corp.example>\r\nSubject: =?utf-8?b?a2V5AA==?= here\r\n\
        Message-ID: <n@x>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n\
        --b\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
        see=00 this\r\n--b\r\nContent-Type: text/plain; name=\"=?utf-8?b?YQBiLmVudg==?=\"\r\n\
        Content-Disposition: attachment; filename=\"=?utf-8?b?YQBiLmVudg==?=\"\r\n\
        Content-Transfer-Encoding: base64\r\n\r\nS0VZPXYAYWx1ZQo=\r\n--b--\r\n";
    let i = parse(raw.as_bytes());
    // Header values had their control characters made spaces already.
    assert_eq!(i.subject, "key  here");
    assert_eq!(i.text, "see this");
    assert_eq!(i.from.as_ref().and_then(|f| f.name.as_deref()), Some("Bob"));
    assert_eq!(i.attachments.len(), 1, "{:?}", i.problems);
    assert_eq!(i.attachments[0].name, "a b.env");
    assert_eq!(i.attachments[0].text.trim(), "KEY=value");
    assert_problem(&i, "NUL characters in the decoded text (removed)");
    assert!(!format!("{i:?}").contains("\\0"), "{i:?}");
}

#[test]
fn missing_identity_headers_are_reported() {
    let i = parse(b"Subject: hi\n\nbody\n");
    assert_problem(&i, "no Message-ID");
    assert_problem(&i, "no usable From address");
    assert_problem(&i, "no Date");
    let i = parse(b"From: bob@corp.example\nDate: yesterday-ish\nSubject: hi\n\nbody\n");
    assert_problem(&i, "unparseable Date");
}

#[test]
fn truncated_and_garbled_input_never_panics() {
    let base = eol(
        &format!(
            "{OUTER}Content-Type: multipart/mixed; boundary=\"o\"\n\n--o\nContent-Type: multipart/alternative; boundary=\"i\"\n\n\
--i\nContent-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: quoted-printable\n\nCaf=E9 =\nkey\n\
--i\nContent-Type: text/html\nContent-Transfer-Encoding: base64\n\nPGI+aGk8L2I+\n--i--\n\
--o\nContent-Type: message/rfc822\n\nFrom: a@b.example\nSubject: =?utf-8?q?x=0Ay?=\n\n\
---------- Forwarded message ---------\nFrom: c@d.example\nSubject: s\n\nbody\n--o--\n"
        ),
        true,
    );
    for end in 0..=base.len() {
        let i = parse(&base[..end]);
        assert!(
            !i.is_empty() || !i.problems.is_empty(),
            "prefix {end}: empty result without a problem"
        );
    }
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for round in 0..300 {
        let mut bytes = base.clone();
        garble(&mut bytes, &mut seed, round % 20 + 1);
        let _ = parse(&bytes);
    }
}

#[test]
fn plain_message_helper_is_clean() {
    let i = parse(&plain_message("hello", true));
    assert!(i.problems.is_empty(), "{:?}", i.problems);
}
