//! Tests for well-formed mail: headers, bodies, text attachments and the attached original,
//! with CRLF and LF line endings. Messages are built here, in code; no corpus files. Inline
//! forwards live in `tests_forward`, damaged input in `tests_bad`.

use super::*;

/// Outer headers of a staff member's forward to the security mailbox.
pub(super) const OUTER: &str = "From: Bob Reporter <Bob@Corp.Example>\n\
To: security@corp.example\n\
Subject: Fwd: Build failed\n\
Date: Tue, 3 Nov 2026 09:00:00 +0000\n\
Message-ID: <fwd-1@corp.example>\n\
MIME-Version: 1.0\n";

/// `text` with LF line endings, or converted to CRLF.
pub(super) fn eol(text: &str, crlf: bool) -> Vec<u8> {
    let lf = text.replace("\r\n", "\n");
    if crlf { lf.replace('\n', "\r\n") } else { lf }.into_bytes()
}

pub(super) fn plain_message(body: &str, crlf: bool) -> Vec<u8> {
    eol(
        &format!("{OUTER}Content-Type: text/plain; charset=utf-8\n\n{body}"),
        crlf,
    )
}

pub(super) fn html_message(html: &str, crlf: bool) -> Vec<u8> {
    eol(
        &format!("{OUTER}Content-Type: text/html; charset=utf-8\n\n{html}"),
        crlf,
    )
}

pub(super) const KEY: &str = "aws_access_key_id=AKIAIOSFODNN7EXAMPLE";
pub(super) const ALICE: &str = "Alice Example <alice@example.com>";

#[test]
fn headers_of_a_clean_message() {
    let raw = "Return-Path: <Bob@Corp.Example>\n\
Authentication-Results: mx2.corp.example; dkim=pass\n header.d=corp.example\n\
Authentication-Results: mx1.corp.example; spf=pass\n\
Delivered-To: Case+42.abc@Security.Corp.Example\n\
X-Original-To: security@corp.example\n\
From: \"Reporter, Bob\" <Bob@Corp.Example>\n\
Reply-To: bob.private@corp.example\n\
To: Security <security@corp.example>, other@corp.example\n\
Cc: lead@corp.example\n\
Subject: =?utf-8?q?Schl=C3=BCssel_gefunden?=\n\
Date: Tue, 3 Nov 2026 09:00:00 +0100\n\
Message-ID: <m1@corp.example>\n\
In-Reply-To: <case-42@closeloop.example>\n\
References: <a@x.example> <case-42@closeloop.example>\n\
Auto-Submitted: no\n\
Precedence: bulk\n\
List-Id: Team <team.corp.example>\n\
\n\
hello\n";
    for crlf in [true, false] {
        let i = parse(&eol(raw, crlf));
        assert_eq!(i.message_id.as_deref(), Some("m1@corp.example"));
        assert_eq!(
            i.from,
            Some(Mailbox {
                name: Some("Reporter, Bob".into()),
                address: "bob@corp.example".into()
            })
        );
        assert_eq!(
            i.reply_to.as_ref().map(|m| m.address.as_str()),
            Some("bob.private@corp.example")
        );
        assert_eq!(i.return_path.as_deref(), Some("bob@corp.example"));
        assert_eq!(
            i.recipients,
            [
                "security@corp.example",
                "other@corp.example",
                "lead@corp.example",
                "case+42.abc@security.corp.example"
            ]
        );
        assert_eq!(i.subject, "Schlüssel gefunden");
        assert_eq!(i.date, Some(1_793_692_800)); // 2026-11-03T08:00:00Z
        assert_eq!(i.in_reply_to, ["case-42@closeloop.example"]);
        assert_eq!(i.references, ["a@x.example", "case-42@closeloop.example"]);
        assert_eq!(i.auto_submitted.as_deref(), Some("no"));
        assert_eq!(i.precedence.as_deref(), Some("bulk"));
        assert_eq!(i.list_id.as_deref(), Some("Team <team.corp.example>"));
        assert_eq!(
            i.authentication_results,
            [
                "mx2.corp.example; dkim=pass header.d=corp.example",
                "mx1.corp.example; spf=pass"
            ]
        );
        assert_eq!(i.text, "hello");
        assert!(!i.is_delivery_report);
        assert!(i.problems.is_empty(), "{:?}", i.problems);
    }
}

#[test]
fn bounce_is_flagged() {
    let raw = "Return-Path: <>\nFrom: Mail Delivery System <MAILER-DAEMON@mx.example>\nTo: security@corp.example\n\
Subject: Undelivered Mail\nDate: Tue, 3 Nov 2026 09:00:00 +0000\nMessage-ID: <b1@mx.example>\nAuto-Submitted: auto-replied\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\n\n\
--B\nContent-Type: text/plain\n\nCould not deliver.\n\
--B\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example\n\nFinal-Recipient: rfc822; x@y.example\nAction: failed\n\
--B--\n";
    for crlf in [true, false] {
        let i = parse(&eol(raw, crlf));
        assert_eq!(i.return_path.as_deref(), Some(""));
        assert!(i.is_delivery_report);
        assert_eq!(i.auto_submitted.as_deref(), Some("auto-replied"));
        assert!(i.text.contains("Could not deliver."));
    }
}

#[test]
fn attached_original_and_text_attachments() {
    let raw = format!(
        "{OUTER}Content-Type: multipart/mixed; boundary=\"outer\"\n\n\
--outer\nContent-Type: text/plain; charset=utf-8\n\nSee attached, found in our CI.\n\
--outer\nContent-Type: message/rfc822\nContent-Disposition: attachment; filename=\"Build failed.eml\"\n\n\
From: Alice Example <alice@example.com>\nTo: dev@example.com\nSubject: Build failed\n\
Date: Mon, 2 Nov 2026 10:14:00 +0100\nMessage-ID: <orig-7@example.com>\nContent-Type: multipart/alternative; boundary=\"inner\"\n\n\
--inner\nContent-Type: text/plain; charset=utf-8\n\nThe deploy printed\n{KEY}\n\
--inner\nContent-Type: text/html; charset=utf-8\n\n<p>The deploy printed</p><p>{KEY}</p>\n\
--inner--\n\n\
--outer\nContent-Type: text/plain; name=\"build.log\"\nContent-Disposition: attachment; filename=\"build.log\"\n\nstep 3: token=abc123\n\
--outer\nContent-Type: application/octet-stream\nContent-Disposition: attachment; filename=\".env\"\nContent-Transfer-Encoding: base64\n\n\
REJfUEFTU1dPUkQ9aHVudGVyMgo=\n\
--outer\nContent-Type: image/png\nContent-Disposition: attachment; filename=\"shot.png\"\nContent-Transfer-Encoding: base64\n\n\
iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==\n\
--outer--\n"
    );
    for crlf in [true, false] {
        let i = parse(&eol(&raw, crlf));
        assert!(i.problems.is_empty(), "{:?}", i.problems);
        assert_eq!(i.text, "See attached, found in our CI.");
        let o = i.original.as_ref().expect("attached original");
        assert_eq!(o.style, ForwardStyle::Attached);
        assert_eq!(o.from.as_deref(), Some(ALICE));
        assert_eq!(o.subject.as_deref(), Some("Build failed"));
        assert_eq!(o.date.as_deref(), Some("Mon, 2 Nov 2026 10:14:00 +0100"));
        assert_eq!(o.message_id.as_deref(), Some("orig-7@example.com"));
        assert!(
            o.text.contains(KEY) && !o.text.contains("<p>"),
            "{:?}",
            o.text
        );
        let names: Vec<_> = i.attachments.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["build.log", ".env"]);
        assert!(i.attachments[0].text.contains("token=abc123"));
        assert_eq!(i.attachments[1].text, "DB_PASSWORD=hunter2\n");
    }
}

/// What the forwarded original carries is part of the report: its text-like attachments
/// are read (named under the original's), and a second attached message's text is read
/// as an attachment instead of being dropped.
#[test]
fn the_originals_attachments_and_a_second_original_are_read() {
    let token = "ghp_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8";
    let raw = format!(
        "{OUTER}Content-Type: multipart/mixed; boundary=\"outer\"\n\n\
--outer\nContent-Type: text/plain\n\nTwo mails from the vendor.\n\
--outer\nContent-Type: message/rfc822\nContent-Disposition: attachment; filename=\"first.eml\"\n\n\
From: vendor@partner.example\nSubject: Config\nMessage-ID: <v1@partner.example>\n\
Content-Type: multipart/mixed; boundary=\"inner\"\n\n\
--inner\nContent-Type: text/plain\n\nOur config is attached.\n\
--inner\nContent-Type: application/x-yaml\nContent-Disposition: attachment; filename=\"config.yaml\"\n\naws_key: {KEY}\n\
--inner\nContent-Type: image/png\nContent-Disposition: attachment; filename=\"logo.png\"\nContent-Transfer-Encoding: base64\n\n\
iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==\n\
--inner--\n\n\
--outer\nContent-Type: message/rfc822\nContent-Disposition: attachment; filename=\"second.eml\"\n\n\
From: vendor@partner.example\nSubject: Token\n\nAnd the CI token: {token}\n\
--outer--\n"
    );
    let i = parse(&eol(&raw, true));
    let o = i.original.as_ref().expect("the first original");
    assert_eq!(o.subject.as_deref(), Some("Config"));
    assert_eq!(o.text, "Our config is attached.");
    let names: Vec<_> = i.attachments.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["first.eml / config.yaml", "second.eml"]);
    assert!(i.attachments[0].text.contains(KEY));
    assert!(i.attachments[1].text.contains(token));
    assert_eq!(
        i.problems,
        ["several attached messages; \"second.eml\" read as an attachment"]
    );
}

/// A message attached to the original (a mail the vendor forwarded in turn) is read too:
/// its text and its attachments, named under it, three levels of messages deep; a fourth
/// level is named in a problem and not opened.
#[test]
fn messages_attached_to_the_original_are_read_three_levels_deep() {
    let token = "ghp_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8";
    let raw = format!(
        "{OUTER}Content-Type: multipart/mixed; boundary=\"l0\"\n\n\
--l0\nContent-Type: text/plain\n\nThe vendor's mail, with the mails it forwarded.\n\
--l0\nContent-Type: message/rfc822\nContent-Disposition: attachment; filename=\"vendor.eml\"\n\n\
From: vendor@partner.example\nSubject: Fwd: keys\n\
Content-Type: multipart/mixed; boundary=\"l1\"\n\n\
--l1\nContent-Type: text/plain\n\nSee below.\n\
--l1\nContent-Type: message/rfc822\nContent-Disposition: attachment; filename=\"ops.eml\"\n\n\
From: ops@partner.example\nSubject: keys\n\
Content-Type: multipart/mixed; boundary=\"l2\"\n\n\
--l2\nContent-Type: text/plain\n\nKey: {KEY}\n\
--l2\nContent-Type: text/plain; name=\"ci.env\"\nContent-Disposition: attachment; filename=\"ci.env\"\n\nGITHUB_TOKEN={token}\n\
--l2\nContent-Type: message/rfc822\nContent-Disposition: attachment; filename=\"bot.eml\"\n\n\
From: bot@partner.example\nSubject: rotation\n\
Content-Type: multipart/mixed; boundary=\"l3\"\n\n\
--l3\nContent-Type: text/plain\n\nrotated at 03:00\n\
--l3\nContent-Type: message/rfc822\nContent-Disposition: attachment; filename=\"deeper.eml\"\n\n\
From: x@partner.example\nSubject: deeper\n\nfour levels down\n\
--l3--\n\n\
--l2--\n\n\
--l1--\n\n\
--l0--\n"
    );
    let i = parse(&eol(&raw, true));
    assert_eq!(i.original.as_ref().unwrap().text, "See below.");
    let got: Vec<(&str, &str)> = i
        .attachments
        .iter()
        .map(|a| (a.name.as_str(), a.text.trim()))
        .collect();
    let env = format!("GITHUB_TOKEN={token}");
    assert_eq!(
        got,
        [
            ("vendor.eml / ops.eml", format!("Key: {KEY}").as_str()),
            ("vendor.eml / ops.eml / ci.env", env.as_str()),
            ("vendor.eml / ops.eml / bot.eml", "rotated at 03:00"),
        ]
    );
    assert_eq!(
        i.problems,
        ["attached original: attached message \"ops.eml\": attached message \"bot.eml\": \"deeper.eml\" is a message 4 levels down; not opened"]
    );
}

#[test]
fn eml_file_attachment_is_the_original() {
    let raw = format!(
        "{OUTER}Content-Type: multipart/mixed; boundary=\"b\"\n\n--b\nContent-Type: text/plain\n\nsee file\n\
--b\nContent-Type: application/octet-stream; name=\"orig.eml\"\nContent-Disposition: attachment; filename=\"orig.eml\"\n\n\
From: alice@example.com\nSubject: Build failed\n\n{KEY}\n--b--\n"
    );
    let i = parse(&eol(&raw, true));
    let o = i.original.expect("original from .eml");
    assert_eq!(
        (o.from.as_deref(), o.subject.as_deref()),
        (Some("alice@example.com"), Some("Build failed"))
    );
    assert!(o.text.contains(KEY));
    assert!(i.attachments.is_empty());
}

#[test]
fn html_only_and_alternative_prefers_plain() {
    let alt = format!(
        "{OUTER}Content-Type: multipart/alternative; boundary=\"a\"\n\n--a\nContent-Type: text/plain\n\nplain version\n\
--a\nContent-Type: text/html\n\n<p>html <b>version</b></p>\n--a--\n"
    );
    let i = parse(&eol(&alt, true));
    assert_eq!((i.text.as_str(), i.html_only), ("plain version", false));
    let i = parse(&html_message("<html><head><title>t</title><style>p{}</style></head><body><p>Hello&amp;bye</p><div>line&nbsp;two</div><script>x()</script></body></html>", false));
    assert_eq!(
        (i.text.as_str(), i.html_only),
        ("Hello&bye\nline two", true)
    );
}

#[test]
fn html_to_text_breaks_blocks() {
    assert_eq!(
        html_to_text("<div>a</div><div>b<br>c</div><ul><li>d</li><li>e</li></ul>"),
        "a\nb\nc\nd\ne"
    );
    assert_eq!(html_to_text("<p>a</p><br><p>b</p>"), "a\n\nb");
    assert_eq!(html_to_text("x &lt;y@z&gt; &#65;"), "x <y@z> A");
    assert_eq!(html_to_text(""), "");
    // White space around a run of block tags goes with it (one break), also
    // where the converter would otherwise keep a space before a break.
    assert_eq!(
        html_to_text("a \r\n <div>\u{a0}</div>\n <P\n class=x> b"),
        "a\nb"
    );
    assert_eq!(html_to_text(";<b> <i>&  \t</p><p>x"), "; &\nx");
}

#[test]
fn html_to_text_reads_what_a_browser_shows() {
    // Attributes do not hide what a tag does.
    assert_eq!(html_to_text("a<br clear=all>b<BR/>c"), "a\nb\nc");
    assert_eq!(
        html_to_text("<style type=\"text/css\">p{color:red}</style><script src=x>go()</script>ok"),
        "ok"
    );
    // White space between words survives the tags around them, and a run becomes one space.
    assert_eq!(
        html_to_text("<div>a<p class=x>key</span> \r\n id</div>"),
        "a\nkey id"
    );
    // No-break spaces are kept, as spaces.
    assert_eq!(html_to_text("a&nbsp;&nbsp;b\u{a0}\u{a0} c"), "a  b   c");
    // Space-only text and inline tags between blocks make no blank line; <br> does.
    assert_eq!(
        html_to_text("<p>a</p><b>&nbsp;</b><p>b</p><br><br><p>c"),
        "a\nb\n\nc"
    );
    // Comments are dropped, `<!-->` is an empty one, and an unclosed one hides the rest.
    assert_eq!(html_to_text("a<!-- <p>x</p> -->b<!-->c<!-- d"), "abc");
    // So does a tag that never closes; a `<` that cannot start a tag is text.
    assert_eq!(html_to_text("key AKIA<b class=\"x"), "key AKIA");
    assert_eq!(html_to_text("1 < 2 > 0; &lt;ok&gt;"), "1 < 2 > 0; <ok>");
    assert_eq!(html_to_text("a<3 b<=c <"), "a<3 b<=c <");
    assert_eq!(html_to_text("x<?xml v?>y</>z<!x>w"), "xyzw");
    // `</` and then no letter is hidden like a comment, not read as an end tag.
    assert_eq!(html_to_text("<p>a</ p>b</p >c"), "ab\nc");
    // Table cells are words apart; rows are lines.
    assert_eq!(
        html_to_text(
            "<table><tr><th>key</th><th>id</th></tr><tr><td>AKIA</td><td>x</td></tr></table>"
        ),
        "key id\nAKIA x"
    );
    // Deep nesting, tags of stray bytes and unbalanced hidden elements read without fail.
    let hostile = format!(
        "{}{}</style></style>x&;>",
        "<div>".repeat(50_000),
        "<&;>".repeat(50_000)
    );
    assert!(
        html_to_text(&hostile) == format!("{}x&;>", "<&;>".repeat(50_000)),
        "hostile HTML read wrong"
    );
    assert_eq!(
        html_to_text("a &#x41;&#66; &eacute;&bogus; &amp x;y &;"),
        "a AB é&bogus; &amp x;y &;"
    );
}

#[test]
fn html_to_text_keeps_the_lines_of_preformatted_text() {
    // A log pasted into a report keeps its lines and its spacing (the break just after
    // `<pre>` is not shown, as in a browser; the ends of lines are trimmed).
    assert_eq!(
        html_to_text(
            "<p>From the build log:</p><pre>\r\n2026-12-01 deploy   start\r\n  token=ghp_x \n\nexit\t1\n</pre>after <b>it</b>\nends"
        ),
        "From the build log:\n2026-12-01 deploy   start\n  token=ghp_x\n\nexit\t1\nafter it ends"
    );
    // A config keeps its indentation, from the first line on; a lone CR breaks a line.
    assert_eq!(
        html_to_text("<pre>\r  aws:\r    key: AKIA\r\n\tid: x</pre>"),
        "  aws:\n    key: AKIA\n\tid: x"
    );
    // Outside `<pre>` no line starts with white space, no-break spaces included.
    assert_eq!(
        html_to_text("<p>a</p>&nbsp; &nbsp;<b>b</b> <br> &#160;c"),
        "a\nb\nc"
    );
    // Nested and unbalanced: lines are kept until the last `<pre>` closes.
    assert_eq!(
        html_to_text("<pre>a<pre>b\nc</pre>d\ne</pre></pre>f\ng"),
        "a\nb\nc\nd\ne\nf g"
    );
    // Not inside hidden text.
    assert_eq!(html_to_text("<pre>a<style>x\ny</style>\nb</pre>"), "a\nb");
}

#[test]
fn a_glance_finds_sender_and_subject_without_parsing() {
    let raw = b"Received: from x\r\n\tby y\r\nFROM: \"Dev, Ops\" <Dev.Ops@Example.org>\r\n\
        Subject: =?utf-8?q?leaked?= key\r\n  in\x07 the build log\r\n\r\n\
        From: body@example.org\r\nSubject: not a header\r\n";
    let (from, subject) = glance(raw);
    assert_eq!(from.as_deref(), Some("dev.ops@example.org"));
    assert_eq!(subject, "=?utf-8?q?leaked?= key in the build log");
    // A bare address, no subject; the body is never looked at.
    let (from, subject) = glance(b"from: ci-bot@corp.example\n\nSubject: x\n");
    assert_eq!(from.as_deref(), Some("ci-bot@corp.example"));
    assert_eq!(subject, "");
    // Garbage gives nothing, and no more than 200 characters of anything.
    assert_eq!(glance(b"\xff\xfe\x00PK\x03\x04"), (None, String::new()));
    assert_eq!(glance(b"From: nobody\n"), (None, String::new()));
    let long = format!("Subject: {}\n", "x".repeat(5_000));
    assert_eq!(glance(long.as_bytes()).1.len(), 200);
}

#[test]
fn html_to_text_writes_where_links_go() {
    // A link's web address follows its text, entities decoded: where a phishing link
    // really goes, or a token in its query, is read like the rest of the text.
    assert_eq!(
        html_to_text(
            "<p>Locked out. <a href=\"https://login.examp1e.com/reset?u=1&amp;t=2\">Click here</a> to unlock.</p>"
        ),
        "Locked out. Click here <https://login.examp1e.com/reset?u=1&t=2> to unlock."
    );
    assert_eq!(
        html_to_text("<a href=\"https://evil.example/\">https://bank.example/</a>"),
        "https://bank.example/ <https://evil.example/>"
    );
    // Not when the text shows it already (scheme, case and a final `/` aside).
    assert_eq!(
        html_to_text("<a href=\"https://Example.com/\">example.com</a>, <a href='http://x.org/a'>see http://x.org/a now</a>"),
        "example.com, see http://x.org/a now"
    );
    // Only web addresses: mail addresses and anchors are left out.
    assert_eq!(
        html_to_text("<a href=\"mailto:a@b.org\">Alice</a> <a href=#top>top</a> <a name=x>y</a>"),
        "Alice top y"
    );
    // An image link, attributes in any case and spacing, a link never closed, a link
    // ended by the next one, and one in hidden text.
    assert_eq!(
        html_to_text("<a href=https://x.example/p><img src=cid:1></a>"),
        "<https://x.example/p>"
    );
    assert_eq!(
        html_to_text("<A class=\"h\" HREF = ' HTTPS://Up.example/?a=1 ' title=t>go</A>!"),
        "go <HTTPS://Up.example/?a=1>!"
    );
    assert_eq!(
        html_to_text("<a href=\"https://a.example/1\">one <a href=\"https://a.example/2\">two"),
        "one <https://a.example/1> two <https://a.example/2>"
    );
    assert_eq!(
        html_to_text("<a href=\"https://a.example/\">on</a>ly"),
        "on <https://a.example/>ly"
    );
    assert_eq!(
        html_to_text(
            "<style><a href=\"https://h.example\">x</a></style><a href=\"https://k.example\">ok"
        ),
        "ok <https://k.example>"
    );
    // Attributes that are not an address read without fail.
    assert_eq!(
        html_to_text(
            "<a href>a</a><a href=\"http\">b</a><a =x / href=\"https://&#x2F;&bogus;&\">c</a>"
        ),
        "abc <https:///&bogus;&>"
    );
}
