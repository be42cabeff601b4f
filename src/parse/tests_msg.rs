//! Tests for Outlook `.msg` attachments. Fixtures are compound files built here with the
//! `cfb` writer: variable-length properties as `__substg1.0_PPPPTTTT` streams, fixed ones
//! (times, codepages) in `__properties_version1.0`, attached to a staff member's forward.
//! Damaged files must come through without a panic, with a problem naming the damage.

use std::io::{Cursor, Write};

use super::msg::*;
use super::tests::{eol, ALICE, OUTER};
use super::tests_bad::{garble, next_random};
use super::*;

/// An AWS key id and a GitHub token the extractor detects (see `extract` tests).
const AWS: &str = crate::testkit::KEYS[0];
const GHP: &str = "ghp_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8";

/// 2026-11-02T09:14:00Z.
const SENT: i64 = 1_793_610_840;
const SENT_RFC822: &str = "Mon, 2 Nov 2026 09:14:00 +0000";

/// One property of a fixture.
#[derive(Clone, Copy)]
enum Prop<'a> {
    /// PT_UNICODE (001F): UTF-16LE without a terminating NUL, as [MS-OXMSG] stores it.
    Utf16(u16, &'a str),
    /// PT_STRING8 (001E): these bytes, without a terminating NUL.
    Ansi(u16, &'a [u8]),
    /// PT_BINARY (0102).
    Binary(u16, &'a [u8]),
    /// A stream of this property id and type holding exactly these bytes.
    Raw(u16, u16, &'a [u8]),
    /// PT_LONG in the property stream.
    Long(u16, u32),
    /// PT_SYSTIME in the property stream, from Unix seconds.
    Time(u16, i64),
}

/// Writes `props` into storage `dir` ("" for the top level); `header` is the size of the
/// property stream's header (32 for the message, 24 for an embedded one).
fn write_props(file: &mut File, dir: &str, props: &[Prop], header: usize) {
    let mut fixed = vec![0u8; header];
    for p in props {
        let (id, kind, bytes) = match *p {
            Prop::Utf16(id, s) => (id, PT_UNICODE, utf16le(s)),
            Prop::Ansi(id, s) => (id, PT_STRING8, s.to_vec()),
            Prop::Binary(id, b) => (id, PT_BINARY, b.to_vec()),
            Prop::Raw(id, kind, b) => (id, kind, b.to_vec()),
            Prop::Long(id, v) => {
                fixed.extend(entry(PT_LONG, id, u64::from(v)));
                continue;
            }
            Prop::Time(id, unix) => {
                fixed.extend(entry(PT_SYSTIME, id, filetime(unix)));
                continue;
            }
        };
        let path = format!("{dir}/__substg1.0_{id:04X}{kind:04X}");
        file.create_stream(&path)
            .unwrap()
            .write_all(&bytes)
            .unwrap();
    }
    let path = format!("{dir}/__properties_version1.0");
    file.create_stream(&path)
        .unwrap()
        .write_all(&fixed)
        .unwrap();
}

/// A 16-byte fixed property entry: type, id, flags (readable, writable), value.
fn entry(kind: u16, id: u16, value: u64) -> Vec<u8> {
    [
        &kind.to_le_bytes()[..],
        &id.to_le_bytes(),
        &6u32.to_le_bytes(),
        &value.to_le_bytes(),
    ]
    .concat()
}

fn utf16le(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

/// FILETIME: 100 ns ticks since 1601-01-01.
fn filetime(unix: i64) -> u64 {
    (unix + 11_644_473_600) as u64 * 10_000_000
}

/// A `.msg` file holding `props`, in version 3 (512-byte sectors) as Outlook writes it.
fn msg_file(props: &[Prop]) -> Vec<u8> {
    msg_file_in(cfb::Version::V3, props)
}

fn msg_file_in(version: cfb::Version, props: &[Prop]) -> Vec<u8> {
    let mut file = new_file(version);
    write_props(&mut file, "", props, 32);
    finish(file)
}

/// A compound file holding just these streams.
fn raw_file(streams: &[(&str, &[u8])]) -> Vec<u8> {
    let mut file = new_file(cfb::Version::V3);
    for (path, bytes) in streams {
        file.create_stream(path).unwrap().write_all(bytes).unwrap();
    }
    finish(file)
}

type File = cfb::CompoundFile<Cursor<Vec<u8>>>;

fn new_file(version: cfb::Version) -> File {
    cfb::CompoundFile::create_with_version(version, Cursor::new(Vec::new())).unwrap()
}

fn finish(mut file: File) -> Vec<u8> {
    file.flush().unwrap();
    file.into_inner().into_inner()
}

/// The usual properties of a forwarded original, UTF-16 throughout.
fn alice_props(body: &str) -> Vec<Prop<'_>> {
    vec![
        Prop::Utf16(PR_SUBJECT, "Build failed"),
        Prop::Utf16(0x001A, "IPM.Note"), // PR_MESSAGE_CLASS
        Prop::Utf16(PR_SENDER_NAME, "Alice Example"),
        Prop::Utf16(PR_SENDER_EMAIL_ADDRESS, "alice@example.com"),
        Prop::Utf16(PR_INTERNET_MESSAGE_ID, "<orig-7@example.com>"),
        Prop::Utf16(PR_BODY, body),
        Prop::Time(PR_CLIENT_SUBMIT_TIME, SENT),
    ]
}

fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for (i, chunk) in bytes.chunks(3).enumerate() {
        if i > 0 && i % 19 == 0 {
            out.push('\n');
        }
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (j, &b)| n | u32::from(b) << (16 - 8 * j));
        for j in 0..4 {
            out.push(if j <= chunk.len() {
                ABC[(n >> (18 - 6 * j) & 63) as usize] as char
            } else {
                '='
            });
        }
    }
    out
}

/// A forward from `from` with `file` attached as `content_type` named `name`.
fn forward_from(from: &str, file: &[u8], content_type: &str, name: &str, crlf: bool) -> Vec<u8> {
    let outer = OUTER.replace("Bob Reporter <Bob@Corp.Example>", from);
    eol(
        &format!(
            "{outer}Content-Type: multipart/mixed; boundary=\"b\"\n\n\
--b\nContent-Type: text/plain; charset=utf-8\n\nSee the attached mail.\n\
--b\nContent-Type: {content_type}; name=\"{name}\"\n\
Content-Disposition: attachment; filename=\"{name}\"\nContent-Transfer-Encoding: base64\n\n\
{}\n--b--\n",
            base64(file)
        ),
        crlf,
    )
}

fn forward(file: &[u8], content_type: &str, name: &str, crlf: bool) -> Vec<u8> {
    forward_from(
        "Bob Reporter <Bob@Corp.Example>",
        file,
        content_type,
        name,
        crlf,
    )
}

/// How a fixture is attached: the two ways a `.msg` is recognised.
const ATTACHED_AS: [(&str, &str); 2] = [
    ("application/vnd.ms-outlook", "Build failed.msg"),
    ("application/octet-stream", "BUILD FAILED.MSG"),
];

struct Want {
    from: &'static str,
    subject: &'static str,
    date: &'static str,
    message_id: &'static str,
    text: String,
}

#[test]
fn msg_original_fields_are_recorded() {
    let transport =
        "Received: from mx.example.com by mx.corp.example; Mon, 2 Nov 2026 10:15:00 +0100\r\n\
From: \"Alice Example\" <alice.smtp@example.com>\r\nTo: dev@example.com\r\n\
Subject: =?utf-8?q?Build_failed_=E2=80=93_from_headers?=\r\n\
Date: Mon, 2 Nov 2026 10:14:00 +0100\r\nMessage-ID: <hdr-1@example.com>\r\n\
MIME-Version: 1.0\r\n";
    let big_body = format!("{}\n{AWS}\n", "log line\n".repeat(1000));
    let html = format!("<html><body><p>The deploy printed</p><div>{AWS}</div></body></html>");
    let nul_subject = utf16le("Build failed\0");
    let cases: Vec<(&str, Vec<Prop>, Want)> = vec![
        (
            "UTF-16 properties and a submit time",
            alice_props("The deploy printed\r\naws_access_key_id=AKIAQ7R4Z2M9X3LPW6KA\r\n"),
            Want {
                from: ALICE,
                subject: "Build failed",
                date: SENT_RFC822,
                message_id: "orig-7@example.com",
                text: "The deploy printed\r\naws_access_key_id=AKIAQ7R4Z2M9X3LPW6KA".into(),
            },
        ),
        (
            "8-bit properties in windows-1252 and a delivery time only",
            vec![
                Prop::Ansi(PR_SUBJECT, b"Cl\xe9 trouv\xe9e \x80"),
                Prop::Ansi(PR_SENDER_NAME, b"Ren\xe9 Example"),
                Prop::Ansi(PR_SENDER_EMAIL_ADDRESS, b"rene@example.com"),
                Prop::Ansi(PR_INTERNET_MESSAGE_ID, b"<r-1@example.com>"),
                Prop::Ansi(PR_BODY, b"mot de passe: \xe9t\xe9"),
                Prop::Time(PR_MESSAGE_DELIVERY_TIME, SENT),
            ],
            Want {
                from: "René Example <rene@example.com>",
                subject: "Clé trouvée €",
                date: SENT_RFC822,
                message_id: "r-1@example.com",
                text: "mot de passe: été".into(),
            },
        ),
        (
            "8-bit properties in the codepage PR_MESSAGE_CODEPAGE names",
            vec![
                Prop::Long(PR_MESSAGE_CODEPAGE, 65001),
                Prop::Ansi(PR_SUBJECT, "Schlüssel".as_bytes()),
                Prop::Ansi(PR_SENDER_EMAIL_ADDRESS, b"joerg@example.com"),
                Prop::Ansi(PR_BODY, "Grüße".as_bytes()),
            ],
            Want {
                from: "joerg@example.com",
                subject: "Schlüssel",
                date: "",
                message_id: "",
                text: "Grüße".into(),
            },
        ),
        (
            "strings with terminating NULs, as some writers leave them",
            vec![
                Prop::Raw(PR_SUBJECT, PT_UNICODE, &nul_subject),
                Prop::Raw(PR_SENDER_EMAIL_ADDRESS, PT_STRING8, b"alice@example.com\0"),
                Prop::Raw(PR_BODY, PT_STRING8, b"body\0\0"),
            ],
            Want {
                from: "alice@example.com",
                subject: "Build failed",
                date: "",
                message_id: "",
                text: "body".into(),
            },
        ),
        (
            "the transport headers win over the properties",
            [
                alice_props("body"),
                vec![Prop::Utf16(PR_TRANSPORT_MESSAGE_HEADERS, transport)],
            ]
            .concat(),
            Want {
                from: "Alice Example <alice.smtp@example.com>",
                subject: "Build failed – from headers",
                date: "Mon, 2 Nov 2026 10:14:00 +0100",
                message_id: "hdr-1@example.com",
                text: "body".into(),
            },
        ),
        (
            "properties fill what the transport headers lack",
            [
                alice_props("body"),
                vec![Prop::Utf16(
                    PR_TRANSPORT_MESSAGE_HEADERS,
                    "Received: by mx.example.com\r\nX-Spam: no\r\n",
                )],
            ]
            .concat(),
            Want {
                from: ALICE,
                subject: "Build failed",
                date: SENT_RFC822,
                message_id: "orig-7@example.com",
                text: "body".into(),
            },
        ),
        (
            "an SMTP address wins over an Exchange one",
            vec![
                Prop::Utf16(PR_SENDER_NAME, "Alice Example"),
                Prop::Utf16(
                    PR_SENDER_EMAIL_ADDRESS,
                    "/O=EXAMPLE/OU=EXCHANGE ADMINISTRATIVE GROUP/CN=RECIPIENTS/CN=ALICE",
                ),
                Prop::Utf16(PR_SENDER_SMTP_ADDRESS, "alice@example.com"),
                Prop::Utf16(PR_BODY, "x"),
            ],
            Want {
                from: ALICE,
                subject: "",
                date: "",
                message_id: "",
                text: "x".into(),
            },
        ),
        (
            "an Exchange address and a sent-representing SMTP one",
            vec![
                Prop::Utf16(PR_SENDER_EMAIL_ADDRESS, "/O=EXAMPLE/CN=ALICE"),
                Prop::Utf16(PR_SENT_REPRESENTING_EMAIL_ADDRESS, "alice@example.com"),
                Prop::Utf16(PR_BODY, "x"),
            ],
            Want {
                from: "alice@example.com",
                subject: "",
                date: "",
                message_id: "",
                text: "x".into(),
            },
        ),
        (
            "HTML only: rendered to text",
            vec![
                Prop::Utf16(PR_SUBJECT, "Build failed"),
                Prop::Binary(PR_HTML, html.as_bytes()),
            ],
            Want {
                from: "",
                subject: "Build failed",
                date: "",
                message_id: "",
                text: "The deploy printed\nAKIAQ7R4Z2M9X3LPW6KA".into(),
            },
        ),
        (
            "HTML in the codepage PR_INTERNET_CPID names",
            vec![
                Prop::Long(PR_INTERNET_CPID, 1252),
                Prop::Binary(PR_HTML, b"<div>Caf\xe9 \x80</div>"),
            ],
            Want {
                from: "",
                subject: "",
                date: "",
                message_id: "",
                text: "Café €".into(),
            },
        ),
        (
            "a body too large for the mini stream",
            alice_props(&big_body),
            Want {
                from: ALICE,
                subject: "Build failed",
                date: SENT_RFC822,
                message_id: "orig-7@example.com",
                text: big_body.trim().into(),
            },
        ),
    ];
    for (what, props, want) in cases {
        for version in [cfb::Version::V3, cfb::Version::V4] {
            let file = msg_file_in(version, &props);
            for (content_type, name) in ATTACHED_AS {
                for crlf in [true, false] {
                    let what = format!("{what} ({version:?}, {content_type}, crlf={crlf})");
                    let i = parse(&forward(&file, content_type, name, crlf));
                    assert!(i.problems.is_empty(), "{what}: {:?}", i.problems);
                    assert_eq!(i.text, "See the attached mail.", "{what}");
                    assert!(i.attachments.is_empty(), "{what}");
                    let o = i
                        .original
                        .as_ref()
                        .unwrap_or_else(|| panic!("{what}: no original"));
                    let some = |s: &'static str| (!s.is_empty()).then(|| s.to_string());
                    assert_eq!(o.style, ForwardStyle::Attached, "{what}");
                    assert_eq!(o.from, some(want.from), "{what}");
                    assert_eq!(o.subject, some(want.subject), "{what}");
                    assert_eq!(o.date, some(want.date), "{what}");
                    assert_eq!(o.message_id, some(want.message_id), "{what}");
                    assert_eq!(o.text, want.text, "{what}");
                }
            }
        }
    }
}

#[test]
fn secrets_in_the_msg_body_are_found() {
    let body = format!("The deploy printed\r\naws_access_key_id={AWS}\r\nGITHUB_TOKEN={GHP}\r\n");
    let file = msg_file(&alice_props(&body));
    let i = parse(&forward(&file, "application/vnd.ms-outlook", "a.msg", true));
    let text = &i.original.expect("original").text;
    let kinds: Vec<_> = crate::extract::scanner()
        .scan(text)
        .into_iter()
        .map(|f| f.kind)
        .collect();
    assert!(kinds.contains(&"aws-access-key-id"), "{kinds:?}");
    assert!(kinds.contains(&"github-pat"), "{kinds:?}");
}

/// Alice's forward of `file` as `name`, ingested into a fresh store: one report.
async fn ingest_forwarded(file: &[u8], name: &str) -> (tempfile::TempDir, crate::context::Context) {
    let raw = forward_from(
        "Alice <alice@example.org>",
        file,
        "application/vnd.ms-outlook",
        name,
        true,
    );
    let dir = tempfile::tempdir().unwrap();
    let ctx = crate::testkit::context(dir.path()).await;
    let r = crate::pipeline::ingest(&ctx, &raw, "test", crate::testkit::T0)
        .await
        .unwrap();
    assert!(
        matches!(r, crate::pipeline::Ingested::Report { .. }),
        "{r:?}"
    );
    (dir, ctx)
}

#[tokio::test]
async fn secrets_in_the_msg_body_are_stored_redacted() {
    use crate::store::intake;
    let body = format!("The deploy printed\r\naws_access_key_id={AWS}\r\nGITHUB_TOKEN={GHP}\r\n");
    let subject = format!("Token {GHP}");
    let mut props = alice_props(&body);
    // The subject carries a secret too: what is stored of the original is redacted as well.
    props[0] = Prop::Utf16(PR_SUBJECT, &subject);
    let (_dir, ctx) = ingest_forwarded(&msg_file(&props), "Build failed.msg").await;
    let mut c = ctx.store.conn().await.unwrap();
    let reports = intake::reports_of(&mut c, crate::domain::CaseId(1))
        .await
        .unwrap();
    let report = &reports[0];
    for secret in [AWS, GHP] {
        assert!(!report.body.contains(secret), "{}", report.body);
    }
    for needle in [
        "--- forwarded message ---",
        "[REDACTED github-pat",
        "[REDACTED aws-access-key-id",
    ] {
        assert!(report.body.contains(needle), "{needle}: {}", report.body);
    }
    assert_eq!(report.orig_from.as_deref(), Some(ALICE));
    let orig_subject = report.orig_subject.as_deref().unwrap_or_default();
    assert!(
        orig_subject.starts_with("Token [REDACTED github-pat") && !orig_subject.contains(GHP),
        "{orig_subject}"
    );
    assert_eq!(report.orig_date.as_deref(), Some(SENT_RFC822));
    assert_eq!(
        report.orig_message_id.as_deref(),
        Some("orig-7@example.com")
    );
    let arts = intake::artifacts_of(&mut c, crate::domain::CaseId(1))
        .await
        .unwrap();
    let kinds: Vec<_> = arts.iter().map(|a| a.kind.as_str()).collect();
    assert!(kinds.contains(&"github-pat"), "{kinds:?}");
    assert!(kinds.contains(&"aws-access-key-id"), "{kinds:?}");
    assert!(arts.iter().all(|a| !a.masked.contains(&GHP[4..30])));
}

/// A header claiming 4 GiB of RTF in a 20-byte stream.
const RTF_BOMB: [u8; 20] = [
    16, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, b'L', b'Z', b'F', b'u', 0, 0, 0, 0, 0, 0, 0, 0,
];

fn rtf_bad_crc() -> Vec<u8> {
    let mut rtf = compressed_rtf::compress_rtf(r"{\rtf1 hello}").unwrap();
    rtf[12] ^= 0xFF;
    rtf
}

/// A `.msg` whose body is only PR_RTF_COMPRESSED (as Outlook keeps RTF mail, and some
/// tools keep HTML mail): the body is expanded and read, so the secrets in it are found.
#[test]
fn rtf_only_bodies_are_read() {
    let plain = format!(
        r"{{\rtf1\ansi\ansicpg1252\deff0{{\fonttbl{{\f0\fswiss Arial;}}}}\pard The deploy printed\par aws_access_key_id={AWS}\par GITHUB_TOKEN={GHP}\par Caf\'e9 \u8364?\par}}"
    );
    let html = format!(
        r#"{{\rtf1\ansi\ansicpg1252\fromhtml1 \deff0{{\fonttbl{{\f0\fswiss Arial;}}}}{{\*\htmltag19 <html>}}{{\*\htmltag50 <body>}}\htmlrtf \f0 \htmlrtf0 The deploy printed{{\*\htmltag116 <br>}}\htmlrtf\line\htmlrtf0 aws_access_key_id={AWS}{{\*\htmltag116 <br>}}\htmlrtf\line\htmlrtf0 GITHUB_TOKEN={GHP}{{\*\htmltag116 <br>}}\htmlrtf\line\htmlrtf0 Caf\'e9 &euro;{{\*\htmltag58 </body>}}{{\*\htmltag27 </html>}}}}"#
    );
    let cyrillic = r"{\rtf1\ansi\ansicpg1251 \'cf\'f0\'e8\'e2\'e5\'f2}";
    let mut padded = compressed_rtf::compress_rtf(&plain).unwrap();
    padded.extend_from_slice(&[0; 7]);
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "compressed RTF",
            compressed_rtf::compress_rtf(&plain).unwrap(),
            "Café €",
        ),
        (
            "stored RTF",
            compressed_rtf::encode_rtf(&plain).unwrap(),
            "Café €",
        ),
        ("padded stream", padded, "Café €"),
        (
            "encapsulated HTML",
            compressed_rtf::compress_rtf(&html).unwrap(),
            "Café €",
        ),
        (
            "codepage 1251",
            compressed_rtf::compress_rtf(cyrillic).unwrap(),
            "Привет",
        ),
    ];
    for (what, rtf, tail) in cases {
        let mut props = alice_props("");
        props.retain(|p| !matches!(p, Prop::Utf16(PR_BODY, _)));
        props.push(Prop::Binary(PR_RTF_COMPRESSED, &rtf));
        let i = parse(&forward(
            &msg_file(&props),
            "application/vnd.ms-outlook",
            "a.msg",
            true,
        ));
        assert!(i.problems.is_empty(), "{what}: {:?}", i.problems);
        let text = i.original.expect("original").text;
        assert!(text.ends_with(tail), "{what}: {text:?}");
        if tail == "Привет" {
            continue;
        }
        let lines: Vec<&str> = text.lines().map(str::trim).collect();
        assert_eq!(
            lines[..3],
            [
                "The deploy printed",
                &format!("aws_access_key_id={AWS}")[..],
                &format!("GITHUB_TOKEN={GHP}")[..]
            ],
            "{what}: {text:?}"
        );
        let kinds: Vec<_> = crate::extract::scanner()
            .scan(&text)
            .into_iter()
            .map(|f| f.kind)
            .collect();
        assert!(kinds.contains(&"aws-access-key-id"), "{what}: {kinds:?}");
        assert!(kinds.contains(&"github-pat"), "{what}: {kinds:?}");
    }
}

/// Garbled compressed RTF (header, references, text) never panics the reader, which the
/// attachment path would only catch as "crashed", losing the rest of the .msg.
#[test]
fn garbled_rtf_bodies_never_panic() {
    let rtf = format!(
        r"{{\rtf1\ansi\fromhtml1 {{\*\htmltag <p>}}{AWS}\'e9\u8364?{{\fonttbl x}}\par\htmlrtf x\htmlrtf0 }}"
    );
    let good = compressed_rtf::compress_rtf(&rtf.repeat(20)).unwrap();
    assert_eq!(crc32(&good[16..]).to_le_bytes(), good[12..16]);
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    for round in 0..2000 {
        let mut bytes = good.clone();
        garble(&mut bytes, &mut seed, round % 8 + 1);
        if round % 3 == 0 {
            // Keep the checksum right, so that the expansion itself meets the damage.
            let crc = crc32(&bytes[16..]);
            bytes[12..16].copy_from_slice(&crc.to_le_bytes());
        }
        let mut props = alice_props("");
        props.retain(|p| !matches!(p, Prop::Utf16(PR_BODY, _)));
        props.push(Prop::Binary(PR_RTF_COMPRESSED, &bytes));
        let mut problems = Vec::new();
        assert!(
            read_msg(&msg_file(&props), &mut problems).is_some(),
            "round {round}"
        );
    }
}

/// [MS-OXRTFCP]'s CRC-32 (no pre- or post-inversion).
fn crc32(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0u32, |crc, &b| {
        let mut c = (crc ^ b as u32) & 0xFF;
        for _ in 0..8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
        }
        c ^ (crc >> 8)
    })
}

/// Alice's mail from the build box with `env` attached as `creds.env` (attachment 0).
fn build_box_msg(env: &str) -> File {
    let mut file = new_file(cfb::Version::V4);
    write_props(&mut file, "", &alice_props("Files from the build box."), 32);
    write_attachment(
        &mut file,
        0,
        &[
            Prop::Utf16(0x3707, "creds.env"),
            Prop::Binary(0x3701, env.as_bytes()),
        ],
    );
    file
}

/// A key only in a file attached inside the .msg becomes an artifact of the case, and the
/// stored report shows the file redacted under its name.
#[tokio::test]
async fn a_secret_in_an_attachment_inside_the_msg_is_stored_redacted() {
    use crate::store::intake;
    let file = build_box_msg(&format!("GITHUB_TOKEN={GHP}\n"));
    let (_dir, ctx) = ingest_forwarded(&finish(file), "a.msg").await;
    let mut c = ctx.store.conn().await.unwrap();
    let case = crate::domain::CaseId(1);
    let body = &intake::reports_of(&mut c, case).await.unwrap()[0].body;
    assert!(!body.contains(GHP), "{body}");
    assert!(
        body.contains("--- attachment a.msg / creds.env ---\nGITHUB_TOKEN=[REDACTED github-pat"),
        "{body}"
    );
    let arts = intake::artifacts_of(&mut c, case).await.unwrap();
    assert!(
        arts.iter().any(|a| a.kind == "github-pat"),
        "{:?}",
        arts.len()
    );
}

#[test]
fn damaged_msg_files_are_reported() {
    let good = msg_file(&alice_props("body"));
    let mut no_magic = good.clone();
    no_magic[0] = b'X';
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let random: Vec<u8> = (0..4096).map(|_| next_random(&mut seed) as u8).collect();
    let cases: Vec<(&str, Vec<u8>, &str, bool)> = vec![
        // (what, file, problem, original still found)
        ("random bytes", random, "not an OLE2 compound file", false),
        (
            "text named .msg",
            b"hello, not a msg\n".to_vec(),
            "not an OLE2 compound file",
            false,
        ),
        (
            "a damaged magic",
            no_magic,
            "not an OLE2 compound file",
            false,
        ),
        (
            "truncated to its header",
            good[..600].to_vec(),
            "damaged compound file",
            false,
        ),
        (
            "truncated to half",
            good[..good.len() / 2].to_vec(),
            "damaged compound file",
            false,
        ),
        (
            "a CFB without the streams",
            raw_file(&[("/unrelated", b"x")]),
            "no message properties found",
            false,
        ),
        (
            "invalid windows-1252 bytes",
            msg_file(&[
                Prop::Ansi(PR_SUBJECT, b"bad \x81\x8d byte"),
                Prop::Utf16(PR_BODY, "body"),
            ]),
            "subject (0x0037): bytes not valid in codepage 1252",
            true,
        ),
        (
            "invalid UTF-8 in codepage 65001",
            msg_file(&[
                Prop::Long(PR_MESSAGE_CODEPAGE, 65001),
                Prop::Ansi(PR_SUBJECT, b"bad \xff byte"),
            ]),
            "subject (0x0037): invalid UTF-8 in codepage 65001",
            true,
        ),
        (
            "an unknown codepage",
            msg_file(&[
                Prop::Long(PR_MESSAGE_CODEPAGE, 4242),
                Prop::Ansi(PR_SUBJECT, b"x"),
            ]),
            "subject (0x0037): unknown codepage 4242",
            true,
        ),
        (
            "odd-length UTF-16",
            msg_file(&[
                Prop::Raw(PR_SUBJECT, PT_UNICODE, b"B\0a\0d\0!"),
                Prop::Utf16(PR_BODY, "body"),
            ]),
            "subject (0x0037): odd-length UTF-16 (7 bytes)",
            true,
        ),
        (
            "an unpaired surrogate",
            msg_file(&[Prop::Raw(
                PR_SUBJECT,
                PT_UNICODE,
                &[b'B', 0, 0x00, 0xD8, b'd', 0],
            )]),
            "subject (0x0037): invalid UTF-16",
            true,
        ),
        (
            "a NUL inside a string",
            msg_file(&[Prop::Utf16(PR_SUBJECT, "se\0cret")]),
            "subject (0x0037): NUL characters (removed)",
            true,
        ),
        (
            "a short property stream",
            raw_file(&[
                ("/__properties_version1.0", &[0; 20]),
                ("/__substg1.0_0037001F", b"x\0"),
            ]),
            "property stream of 20 bytes is shorter than its 32-byte header",
            true,
        ),
        (
            "a property stream ending inside an entry",
            {
                let mut fixed = vec![0; 32];
                fixed.extend(entry(PT_SYSTIME, PR_CLIENT_SUBMIT_TIME, filetime(SENT)));
                fixed.extend([0; 7]);
                raw_file(&[("/__properties_version1.0", &fixed)])
            },
            "property stream of 55 bytes ends inside an entry",
            true,
        ),
        (
            "a time out of range",
            msg_file(&[
                Prop::Utf16(PR_SUBJECT, "x"),
                Prop::Time(PR_CLIENT_SUBMIT_TIME, -11_644_473_600),
            ]),
            "submit time (0x0039) out of range",
            true,
        ),
        (
            "RTF shorter than its header",
            msg_file(&[
                Prop::Utf16(PR_SUBJECT, "x"),
                Prop::Binary(PR_RTF_COMPRESSED, b"LZFu"),
            ]),
            "compressed RTF body (0x1009): 4 bytes, shorter than its header; body not decoded",
            true,
        ),
        (
            "RTF declaring more than it can hold",
            msg_file(&[
                Prop::Utf16(PR_SUBJECT, "x"),
                Prop::Binary(PR_RTF_COMPRESSED, &RTF_BOMB),
            ]),
            "declares 4294967295 bytes of RTF",
            true,
        ),
        (
            "RTF with a damaged checksum",
            msg_file(&[
                Prop::Utf16(PR_SUBJECT, "x"),
                Prop::Binary(PR_RTF_COMPRESSED, &rtf_bad_crc()),
            ]),
            "compressed RTF body (0x1009): damaged (COMPRESSED CRC mismatch",
            true,
        ),
    ];
    for (what, file, problem, found) in cases {
        for (content_type, name) in ATTACHED_AS {
            let i = parse(&forward(&file, content_type, name, true));
            let label = format!("Outlook .msg attachment {name:?}: ");
            assert!(
                i.problems
                    .iter()
                    .any(|p| p.starts_with(&label) && p.contains(problem)),
                "{what}: expected {problem:?} in {:?}",
                i.problems
            );
            assert_eq!(i.original.is_some(), found, "{what}: {:?}", i.original);
            assert_eq!(i.text, "See the attached mail.", "{what}");
            assert_eq!(
                i.message_id.as_deref(),
                Some("fwd-1@corp.example"),
                "{what}"
            );
            if let Some(o) = &i.original {
                assert!(
                    !o.text.contains('\0') && !o.subject.clone().unwrap_or_default().contains('\0')
                );
            }
        }
    }
    // A text file named .msg is still read as a text attachment: nothing is lost.
    let i = parse(&forward(
        b"token=abc123\n",
        "application/octet-stream",
        "x.msg",
        true,
    ));
    assert_eq!(i.attachments.len(), 1);
    assert_eq!(i.attachments[0].text, "token=abc123\n");
}

#[test]
fn a_stream_longer_than_the_file_is_not_read() {
    let body = "x".repeat(6000);
    let mut file = msg_file(&[Prop::Utf16(PR_SUBJECT, "s"), Prop::Utf16(PR_BODY, &body)]);
    let mut problems = Vec::new();
    assert_eq!(
        read_msg(&file, &mut problems)
            .expect("original")
            .original
            .text,
        body
    );
    assert!(problems.is_empty(), "{problems:?}");
    // The body's directory entry: its 64-byte UTF-16 name, then the stream size at byte 120.
    let name: Vec<u8> = "__substg1.0_1000001F"
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    let at = file
        .windows(name.len())
        .position(|w| w == name)
        .expect("directory entry");
    let claimed = file.len() as u64 * 4;
    file[at + 120..at + 128].copy_from_slice(&claimed.to_le_bytes());
    let mut problems = Vec::new();
    let o = read_msg(&file, &mut problems);
    assert!(
        problems.iter().any(|p| p.starts_with(&format!(
            "body (0x1000): stream of {claimed} bytes is larger than the file allows"
        ))),
        "{problems:?}"
    );
    assert_eq!(
        o.expect("the subject is still read")
            .original
            .subject
            .as_deref(),
        Some("s")
    );
}

/// Writes attachment `n` of a fixture: its properties in `__attach_version1.0_#n`.
fn write_attachment(file: &mut File, n: u32, props: &[Prop]) -> String {
    write_attachment_in(file, "", n, props)
}

/// An embedded message (an attached .msg inside the .msg) gives its body as an attachment
/// named under the outer file.
#[test]
fn an_embedded_message_gives_its_body_as_an_attachment() {
    let mut file = new_file(cfb::Version::V3);
    write_props(&mut file, "", &alice_props("see the attached messages"), 32);
    let inner_body = format!("inner body {GHP}");
    let rtf = compressed_rtf::compress_rtf(&format!(r"{{\rtf1\ansi key {AWS}\par}}")).unwrap();
    let html = format!("<p>html body</p><p>{AWS}</p>");
    let bodies: [(&str, Prop); 3] = [
        ("plain.msg", Prop::Utf16(PR_BODY, &inner_body)),
        ("rtf.msg", Prop::Binary(PR_RTF_COMPRESSED, &rtf)),
        ("html.msg", Prop::Binary(PR_HTML, html.as_bytes())),
    ];
    for (n, (name, body)) in bodies.into_iter().enumerate() {
        let attach = write_attachment(
            &mut file,
            n as u32,
            &[Prop::Utf16(0x3707, name), Prop::Long(0x3705, 5)],
        );
        let inner = format!("{attach}/__substg1.0_3701000D");
        file.create_storage(&inner).unwrap();
        write_props(
            &mut file,
            &inner,
            &[Prop::Utf16(PR_SUBJECT, "Inner"), body],
            24,
        );
    }
    let bytes = finish(file);
    let i = parse(&forward(
        &bytes,
        "application/vnd.ms-outlook",
        "outer.msg",
        true,
    ));
    assert!(i.problems.is_empty(), "{:?}", i.problems);
    let o = i.original.expect("original");
    assert_eq!(o.subject.as_deref(), Some("Build failed"));
    assert_eq!(o.text, "see the attached messages");
    let got: Vec<_> = i
        .attachments
        .iter()
        .map(|a| (a.name.as_str(), a.text.trim()))
        .collect();
    let rtf_text = format!("key {AWS}");
    let html_text = format!("html body\n{AWS}");
    assert_eq!(
        got,
        [
            ("outer.msg / plain.msg", inner_body.as_str()),
            ("outer.msg / rtf.msg", rtf_text.as_str()),
            ("outer.msg / html.msg", html_text.as_str()),
        ]
    );
}

/// Attachment `n` of storage `parent` (a message's), with `props`; its storage's path.
fn write_attachment_in(file: &mut File, parent: &str, n: u32, props: &[Prop]) -> String {
    let dir = format!("{parent}/__attach_version1.0_#{n:08X}");
    file.create_storage(&dir).unwrap();
    write_props(file, &dir, props, 8);
    dir
}

/// An embedded message in attachment storage `attach`: its properties; its storage's path.
fn write_embedded(file: &mut File, attach: &str, props: &[Prop]) -> String {
    let inner = format!("{attach}/__substg1.0_3701000D");
    file.create_storage(&inner).unwrap();
    write_props(file, &inner, props, 24);
    inner
}

/// What an embedded message carries is read too (its files, and messages embedded in it
/// in turn, named under it), three levels of messages down; deeper is named in a problem.
#[test]
fn an_embedded_messages_own_attachments_are_read_three_levels_down() {
    let mut file = new_file(cfb::Version::V4);
    write_props(&mut file, "", &alice_props("the thread, attached"), 32);
    let mut parent = String::new();
    for (level, name) in [(1, "first.msg"), (2, "second.msg"), (3, "third.msg")] {
        let attach = write_attachment_in(
            &mut file,
            &parent,
            0,
            &[Prop::Utf16(0x3707, name), Prop::Long(0x3705, 5)],
        );
        let body = format!("level {level} body");
        let inner = write_embedded(
            &mut file,
            &attach,
            &[
                Prop::Utf16(PR_SUBJECT, "Inner"),
                Prop::Utf16(PR_BODY, &body),
            ],
        );
        let env = format!("KEY_{level}={AWS}\n");
        write_attachment_in(
            &mut file,
            &inner,
            1,
            &[
                Prop::Utf16(0x3707, &format!("level{level}.env")),
                Prop::Binary(0x3701, env.as_bytes()),
            ],
        );
        parent = inner;
    }
    let i = parse(&forward(
        &finish(file),
        "application/vnd.ms-outlook",
        "outer.msg",
        true,
    ));
    let got: Vec<_> = i
        .attachments
        .iter()
        .map(|a| (a.name.as_str(), a.text.trim().to_string()))
        .collect();
    let env = |level: usize| format!("KEY_{level}={AWS}");
    assert_eq!(
        got,
        [
            ("outer.msg / first.msg", "level 1 body".to_string()),
            (
                "outer.msg / first.msg / second.msg",
                "level 2 body".to_string()
            ),
            (
                "outer.msg / first.msg / second.msg / third.msg",
                "level 3 body".to_string()
            ),
            ("outer.msg / first.msg / second.msg / level2.env", env(2)),
            ("outer.msg / first.msg / level1.env", env(1)),
        ]
    );
    assert_eq!(
        i.problems,
        ["Outlook .msg attachment \"outer.msg\": embedded message \"third.msg\": its attachments are more than 3 messages down; not opened"]
    );
}

/// A zip attached inside the .msg is opened like one attached to the forward.
#[test]
fn a_zip_inside_the_msg_is_opened() {
    let env = format!("AWS_ACCESS_KEY_ID={AWS}\n");
    let zip = super::tests_archive::zip_of(&[("app.env", env.as_bytes())], false);
    let mut file = new_file(cfb::Version::V4);
    write_props(&mut file, "", &alice_props("Logs zipped."), 32);
    write_attachment(
        &mut file,
        0,
        &[
            Prop::Utf16(0x3707, "logs.zip"),
            Prop::Utf16(0x370E, "application/zip"),
            Prop::Binary(0x3701, &zip),
        ],
    );
    let i = parse(&forward(
        &finish(file),
        "application/vnd.ms-outlook",
        "a.msg",
        true,
    ));
    assert!(i.problems.is_empty(), "{:?}", i.problems);
    let got: Vec<_> = i
        .attachments
        .iter()
        .map(|a| (a.name.as_str(), a.text.as_str()))
        .collect();
    assert_eq!(got, [("a.msg / logs.zip / app.env", env.as_str())]);
}

/// Files attached inside the .msg are read as a MIME message's attachments are: text-like
/// by name, type or content; a binary one is skipped, and said so only when its name or
/// type claimed text.
#[test]
fn text_attachments_inside_a_msg_are_read() {
    let env = format!("AWS_ACCESS_KEY_ID={AWS}\nGITHUB_TOKEN={GHP}\n");
    let mut file = build_box_msg(&env);
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01";
    write_attachment(
        &mut file,
        1,
        &[
            Prop::Utf16(0x3707, "diagram.png"),
            Prop::Utf16(0x370E, "image/png"),
            Prop::Binary(0x3701, png),
        ],
    );
    write_attachment(
        &mut file,
        2,
        &[
            Prop::Ansi(0x3704, b"NOTES.TXT"),
            Prop::Utf16(0x370E, "text/plain"),
            Prop::Binary(0x3701, png),
        ],
    );
    write_attachment(
        &mut file,
        3,
        &[
            Prop::Utf16(0x370E, "application/json"),
            Prop::Binary(0x3701, br#"{"token": "abc"}"#),
        ],
    );
    let bytes = finish(file);
    let i = parse(&forward(&bytes, "application/octet-stream", "a.msg", true));
    let got: Vec<_> = i
        .attachments
        .iter()
        .map(|a| (a.name.as_str(), a.text.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("a.msg / creds.env", env.as_str()),
            ("a.msg / attachment-3", r#"{"token": "abc"}"#)
        ]
    );
    assert_eq!(
        i.problems,
        ["Outlook .msg attachment \"a.msg\": attachment \"notes.txt\" looks binary; skipped"]
    );
    let kinds: Vec<_> = crate::extract::scanner()
        .scan(&i.attachments[0].text)
        .into_iter()
        .map(|f| f.kind)
        .collect();
    assert!(
        kinds.contains(&"aws-access-key-id") && kinds.contains(&"github-pat"),
        "{kinds:?}"
    );
}

#[test]
fn truncated_and_garbled_msg_never_panics() {
    let body = format!("{}{AWS}", "line\r\n".repeat(800));
    let mut props = alice_props(&body);
    props.push(Prop::Utf16(
        PR_TRANSPORT_MESSAGE_HEADERS,
        "From: a@b.example\r\nSubject: s\r\n",
    ));
    props.push(Prop::Long(PR_MESSAGE_CODEPAGE, 1252));
    let mut file = new_file(cfb::Version::V3);
    write_props(&mut file, "", &props, 32);
    let env = format!("KEY={AWS}\n").repeat(50);
    write_attachment(
        &mut file,
        0,
        &[
            Prop::Utf16(0x3707, "creds.env"),
            Prop::Binary(0x3701, env.as_bytes()),
        ],
    );
    let good = finish(file);
    let mut ends: Vec<usize> = (0..good.len()).step_by(97).collect();
    ends.extend(good.len() - 600..good.len());
    for end in ends {
        let mut problems = Vec::new();
        let o = read_msg(&good[..end], &mut problems);
        assert!(
            o.is_some() || !problems.is_empty(),
            "prefix {end}: nothing read and no problem"
        );
    }
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for round in 0..400 {
        let mut bytes = good.clone();
        for _ in 0..(round % 16 + 1) {
            next_random(&mut seed);
            // Damage the header, the FAT and the directory more often than the data.
            let at = if round % 2 == 0 {
                (seed as usize) % 2048.min(bytes.len())
            } else {
                (seed as usize) % bytes.len()
            };
            bytes[at] = (seed >> 32) as u8;
        }
        let mut problems = Vec::new();
        let o = read_msg(&bytes, &mut problems);
        assert!(o.is_some() || !problems.is_empty(), "round {round}");
        let i = parse(&forward(
            &bytes,
            "application/vnd.ms-outlook",
            "x.msg",
            true,
        ));
        assert_eq!(i.text, "See the attached mail.", "round {round}");
    }
}
