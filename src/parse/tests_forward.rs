//! Tests for inline-forward detection: one per client layout and language we claim, each
//! run through `parse` with CRLF and with LF line endings (HTML too where the client sends
//! HTML), plus the cases that must not be taken for a forward.

use super::tests::{html_message, plain_message, ALICE, KEY};
use super::*;

struct Want {
    style: &'static str,
    from: &'static str,
    subject: &'static str,
    date: &'static str,
}

fn assert_original(inbound: &Inbound, want: &Want, what: &str) {
    let original = inbound
        .original
        .as_ref()
        .unwrap_or_else(|| panic!("{what}: no original found in {:?}", inbound.text));
    assert_eq!(original.style, ForwardStyle::Inline(want.style), "{what}");
    assert_eq!(original.from.as_deref(), Some(want.from), "{what}");
    assert_eq!(original.subject.as_deref(), Some(want.subject), "{what}");
    assert_eq!(original.date.as_deref(), Some(want.date), "{what}");
    assert!(
        original.text.contains(KEY),
        "{what}: original text {:?}",
        original.text
    );
    assert!(
        inbound.text.contains(KEY),
        "{what}: the forward block stays in the body text"
    );
}

/// Runs a plain-text forward body through `parse` with both line endings.
fn check_plain(body: &str, want: Want) {
    for crlf in [true, false] {
        let inbound = parse(&plain_message(body, crlf));
        assert_original(&inbound, &want, &format!("crlf={crlf}"));
        assert!(
            inbound.problems.is_empty(),
            "crlf={crlf}: {:?}",
            inbound.problems
        );
        assert!(!inbound.html_only);
    }
}

fn check_html(html: &str, want: Want) {
    for crlf in [true, false] {
        let inbound = parse(&html_message(html, crlf));
        assert!(inbound.html_only);
        assert_original(&inbound, &want, &format!("html crlf={crlf}"));
    }
}

#[test]
fn gmail_plain_with_comment_before() {
    let body = format!(
        "FYI, found this in the build log\n\n\
         ---------- Forwarded message ---------\n\
         From: Alice Example <alice@example.com>\n\
         Date: Mon, Nov 2, 2026 at 10:14 AM\n\
         Subject: Build failed\n\
         To: <dev@example.com>\n\n\
         The deploy step printed:\n{KEY}\n"
    );
    check_plain(
        &body,
        Want {
            style: "gmail",
            from: ALICE,
            subject: "Build failed",
            date: "Mon, Nov 2, 2026 at 10:14 AM",
        },
    );
    let inbound = parse(&plain_message(&body, true));
    let original = inbound.original.unwrap();
    assert!(original.text.starts_with("The deploy step printed:"));
    assert!(
        !original.text.contains("FYI"),
        "the forwarder's comment is not part of the original"
    );
    assert_eq!(original.message_id, None);
}

#[test]
fn gmail_html() {
    let html = format!(
        "<div dir=\"ltr\">FYI, found this in the build log<br><br><div class=\"gmail_quote gmail_quote_container\">\
<div dir=\"ltr\" class=\"gmail_attr\">---------- Forwarded message ---------<br>From: <strong class=\"gmail_sendername\" dir=\"auto\">Alice Example</strong> \
<span dir=\"auto\">&lt;<a href=\"mailto:alice@example.com\">alice@example.com</a>&gt;</span><br>Date: Mon, Nov 2, 2026 at 10:14&#8239;AM<br>\
Subject: Build failed<br>To: &lt;<a href=\"mailto:dev@example.com\">dev@example.com</a>&gt;<br></div><br><br>\
<div dir=\"ltr\"><div>The deploy step printed:</div><div>{KEY}</div></div></div></div>\n"
    );
    check_html(
        &html,
        Want {
            style: "gmail",
            from: ALICE,
            subject: "Build failed",
            date: "Mon, Nov 2, 2026 at 10:14 AM",
        },
    );
}

#[test]
fn outlook_plain_underscore_rule() {
    let body = format!(
        "Please look at this.\n\n\
         ________________________________\n\
         From: Alice Example <alice@example.com>\n\
         Sent: Monday, November 2, 2026 10:14 AM\n\
         To: Dev Team <dev@example.com>\n\
         Subject: Build failed\n\n{KEY}\n"
    );
    check_plain(
        &body,
        Want {
            style: "outlook",
            from: ALICE,
            subject: "Build failed",
            date: "Monday, November 2, 2026 10:14 AM",
        },
    );
}

#[test]
fn outlook_plain_without_rule_and_mailto() {
    let body = format!(
        "See below\n\n\
         From: Alice Example <alice@example.com<mailto:alice@example.com>>\n\
         Sent: Monday, November 2, 2026 10:14 AM\n\
         To: Dev Team <dev@example.com<mailto:dev@example.com>>; Ops <ops@example.com>\n\
         Subject: Build failed\n\n{KEY}\n"
    );
    check_plain(
        &body,
        Want {
            style: "outlook",
            from: ALICE,
            subject: "Build failed",
            date: "Monday, November 2, 2026 10:14 AM",
        },
    );
}

#[test]
fn outlook_original_message() {
    let body = format!(
        "-----Original Message-----\n\
         From: Alice Example [mailto:alice@example.com]\n\
         Sent: Monday, November 2, 2026 10:14 AM\n\
         To: dev@example.com\n\
         Subject: Build failed\n\n{KEY}\n"
    );
    check_plain(
        &body,
        Want {
            style: "outlook",
            from: ALICE,
            subject: "Build failed",
            date: "Monday, November 2, 2026 10:14 AM",
        },
    );
}

#[test]
fn outlook_html() {
    let html = format!(
        "<html><head><style>p.MsoNormal {{margin:0cm;}}</style></head><body lang=EN-US>\
<div class=WordSection1><p class=MsoNormal>FYI, see below<o:p></o:p></p><p class=MsoNormal><o:p>&nbsp;</o:p></p>\
<div><div style='border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm'>\
<p class=MsoNormal><b>From:</b> Alice Example &lt;alice@example.com&gt; <br><b>Sent:</b> Monday, November 2, 2026 10:14 AM<br>\
<b>To:</b> Dev Team &lt;dev@example.com&gt;<br><b>Subject:</b> Build failed<o:p></o:p></p></div></div>\
<p class=MsoNormal><o:p>&nbsp;</o:p></p><p class=MsoNormal>{KEY}<o:p></o:p></p></div></body></html>\n"
    );
    check_html(
        &html,
        Want {
            style: "outlook",
            from: ALICE,
            subject: "Build failed",
            date: "Monday, November 2, 2026 10:14 AM",
        },
    );
    // Outlook on the web: a div with an underscore-free header block in a <font>.
    let owa = format!(
        "<div>Forwarding</div><hr style=\"display:inline-block;width:98%\" tabindex=\"-1\">\
<div id=\"divRplyFwdMsg\" dir=\"ltr\"><font face=\"Calibri, sans-serif\" style=\"font-size:11pt\" color=\"#000000\">\
<b>From:</b> Alice Example &lt;alice@example.com&gt;<br><b>Sent:</b> Monday, November 2, 2026 10:14 AM<br>\
<b>To:</b> Dev &lt;dev@example.com&gt;<br><b>Subject:</b> Build failed</font><div>&nbsp;</div></div><div>{KEY}</div>"
    );
    check_html(
        &owa,
        Want {
            style: "outlook",
            from: ALICE,
            subject: "Build failed",
            date: "Monday, November 2, 2026 10:14 AM",
        },
    );
}

#[test]
fn apple_mail_and_ios() {
    let body = format!(
        "Look at this\n\n\
         Begin forwarded message:\n\n\
         From: Alice Example <alice@example.com>\n\
         Subject: Build failed\n\
         Date: 2 November 2026 at 10:14:00 CET\n\
         To: dev@example.com\n\n{KEY}\n\nSent from my iPhone\n"
    );
    check_plain(
        &body,
        Want {
            style: "apple",
            from: ALICE,
            subject: "Build failed",
            date: "2 November 2026 at 10:14:00 CET",
        },
    );
}

#[test]
fn apple_mail_quoted() {
    let body = format!(
        "Look at this\n\n\
         > Begin forwarded message:\n\
         >\n\
         > From: Alice Example <alice@example.com>\n\
         > Subject: Build failed\n\
         > Date: 2 November 2026 at 10:14:00 CET\n\
         > To: dev@example.com\n\
         >\n\
         > {KEY}\n\
         > > older quote\n"
    );
    check_plain(
        &body,
        Want {
            style: "apple",
            from: ALICE,
            subject: "Build failed",
            date: "2 November 2026 at 10:14:00 CET",
        },
    );
    let original = parse(&plain_message(&body, false)).original.unwrap();
    assert_eq!(original.text, format!("{KEY}\n> older quote"));
}

#[test]
fn ios_quoted_fields_below_plain_separator() {
    let body = format!(
        "Sent from my iPhone\n\n\
         Begin forwarded message:\n\n\
         > From: Alice Example <alice@example.com>\n\
         > Date: 2 November 2026 at 10:14:00 CET\n\
         > To: dev@example.com\n\
         > Subject: Build failed\n\
         > \n\
         > {KEY}\n"
    );
    check_plain(
        &body,
        Want {
            style: "apple",
            from: ALICE,
            subject: "Build failed",
            date: "2 November 2026 at 10:14:00 CET",
        },
    );
    assert_eq!(
        parse(&plain_message(&body, true)).original.unwrap().text,
        KEY
    );
}

#[test]
fn unquoted_forward_keeps_quotes_inside_original() {
    let text = format!("---------- Forwarded message ---------\nFrom: {ALICE}\nSubject: s\n\n{KEY}\n> > quoted earlier\n");
    assert_eq!(
        find_inline_forward(&text).unwrap().text,
        format!("{KEY}\n> > quoted earlier")
    );
}

#[test]
fn thunderbird() {
    let body = format!(
        "\n\n\n-------- Forwarded Message --------\n\
         Subject: \tBuild failed\n\
         Date: \tMon, 2 Nov 2026 10:14:00 +0100\n\
         From: \tAlice Example <alice@example.com>\n\
         To: \tdev@example.com\n\n\n\n{KEY}\n"
    );
    check_plain(
        &body,
        Want {
            style: "thunderbird",
            from: ALICE,
            subject: "Build failed",
            date: "Mon, 2 Nov 2026 10:14:00 +0100",
        },
    );
}

#[test]
fn thunderbird_html_table() {
    let html = format!(
        "<html><body><p><br></p><div class=\"moz-forward-container\"><br><br>-------- Forwarded Message --------\
<table class=\"moz-email-headers-table\" border=\"0\"><tbody>\
<tr><th valign=\"BASELINE\" nowrap=\"nowrap\" align=\"RIGHT\">Subject: </th><td>Build failed</td></tr>\
<tr><th valign=\"BASELINE\" nowrap=\"nowrap\" align=\"RIGHT\">Date: </th><td>Mon, 2 Nov 2026 10:14:00 +0100</td></tr>\
<tr><th valign=\"BASELINE\" nowrap=\"nowrap\" align=\"RIGHT\">From: </th><td>Alice Example <a class=\"moz-txt-link-rfc2396E\" href=\"mailto:alice@example.com\">&lt;alice@example.com&gt;</a></td></tr>\
</tbody></table><br><pre>{KEY}</pre></div></body></html>"
    );
    check_html(
        &html,
        Want {
            style: "thunderbird",
            from: ALICE,
            subject: "Build failed",
            date: "Mon, 2 Nov 2026 10:14:00 +0100",
        },
    );
}

#[test]
fn yahoo() {
    let body = format!(
        "\n\n----- Forwarded Message -----\n\
         From: Alice Example <alice@example.com>\n\
         To: dev@example.com <dev@example.com>\n\
         Sent: Monday, November 2, 2026, 10:14:00 AM GMT+1\n\
         Subject: Build failed\n\n{KEY}\n"
    );
    check_plain(
        &body,
        Want {
            style: "yahoo",
            from: ALICE,
            subject: "Build failed",
            date: "Monday, November 2, 2026, 10:14:00 AM GMT+1",
        },
    );
}

#[test]
fn zimbra() {
    let body = format!(
        "----- Forwarded Message -----\n\
         From: \"Alice Example\" <alice@example.com>\n\
         To: \"dev\" <dev@example.com>\n\
         Sent: Monday, November 2, 2026 10:14:00 AM\n\
         Subject: Build failed\n\n{KEY}\n"
    );
    check_plain(
        &body,
        Want {
            style: "zimbra",
            from: "\"Alice Example\" <alice@example.com>",
            subject: "Build failed",
            date: "Monday, November 2, 2026 10:14:00 AM",
        },
    );
}

#[test]
fn roundcube() {
    let body = format!(
        "-------- Original Message --------\n\
         Subject: Build failed\n\
         Date: 2026-11-02 10:14\n\
         From: Alice Example <alice@example.com>\n\
         To: dev@example.com\n\n{KEY}\n"
    );
    check_plain(
        &body,
        Want {
            style: "roundcube",
            from: ALICE,
            subject: "Build failed",
            date: "2026-11-02 10:14",
        },
    );
}

#[test]
fn android_samsung() {
    let body = format!(
        "\n\nSent from my Galaxy\n\n\n-------- Original message --------\n\
         From: Alice Example <alice@example.com>\n\
         Date: 11/2/26 10:14 AM (GMT+01:00)\n\
         To: dev@example.com\n\
         Subject: Build failed\n\n{KEY}\n"
    );
    check_plain(
        &body,
        Want {
            style: "android",
            from: ALICE,
            subject: "Build failed",
            date: "11/2/26 10:14 AM (GMT+01:00)",
        },
    );
}

/// One localized forward: separator line, then (label, value) pairs for from/date/subject/to.
fn localized(separator: &str, labels: [&str; 4], style: &'static str) {
    let [from, date, subject, to] = labels;
    let body = format!(
        "Bitte prüfen / please check\n\n{separator}\n\
         {from} Alice Example <alice@example.com>\n\
         {date} 2. Nov. 2026 um 10:14\n\
         {subject} Fehler im Build\n\
         {to} dev@example.com\n\n{KEY}\n"
    );
    check_plain(
        &body,
        Want {
            style,
            from: ALICE,
            subject: "Fehler im Build",
            date: "2. Nov. 2026 um 10:14",
        },
    );
}

#[test]
fn german_gmail() {
    localized(
        "---------- Weitergeleitete Nachricht ---------",
        ["Von:", "Datum:", "Betreff:", "An:"],
        "gmail",
    );
}

#[test]
fn french_gmail_and_apple() {
    localized(
        "---------- Message transféré ---------",
        ["De :", "Date :", "Objet :", "À :"],
        "gmail",
    );
    localized(
        "Début du message réexpédié :",
        ["De :", "Date :", "Objet :", "À :"],
        "apple",
    );
}

#[test]
fn spanish() {
    localized(
        "---------- Mensaje reenviado ---------",
        ["De:", "Fecha:", "Asunto:", "Para:"],
        "gmail",
    );
}

#[test]
fn dutch() {
    localized(
        "---------- Doorgestuurd bericht ---------",
        ["Van:", "Datum:", "Onderwerp:", "Aan:"],
        "gmail",
    );
}

#[test]
fn czech() {
    localized(
        "-------- Původní zpráva --------",
        ["Od:", "Datum:", "Předmět:", "Komu:"],
        "thunderbird",
    );
}

#[test]
fn danish() {
    localized(
        "---------- Videresendt meddelelse ----------",
        ["Fra:", "Dato:", "Emne:", "Til:"],
        "gmail",
    );
}

#[test]
fn italian() {
    localized(
        "---------- Messaggio inoltrato ---------",
        ["Da:", "Data:", "Oggetto:", "A:"],
        "gmail",
    );
}

#[test]
fn portuguese() {
    localized(
        "---------- Mensagem encaminhada ---------",
        ["De:", "Data:", "Assunto:", "Para:"],
        "gmail",
    );
}

#[test]
fn swedish() {
    localized(
        "---------- Vidarebefordrat meddelande ---------",
        ["Från:", "Datum:", "Ämne:", "Till:"],
        "gmail",
    );
}

#[test]
fn polish() {
    localized(
        "---------- Wiadomość przekazana dalej ---------",
        ["Od:", "Data:", "Temat:", "Do:"],
        "gmail",
    );
}

#[test]
fn outlook_german_and_french() {
    localized(
        "________________________________",
        ["Von:", "Gesendet:", "Betreff:", "An:"],
        "outlook",
    );
    localized(
        "________________________________",
        ["De :", "Envoyé :", "Objet :", "À :"],
        "outlook",
    );
    localized(
        "-----Ursprüngliche Nachricht-----",
        ["Von:", "Gesendet:", "Betreff:", "An:"],
        "outlook",
    );
}

#[test]
fn inline_message_id_line_is_kept() {
    let text = "-------- Forwarded Message --------\nSubject: x\nFrom: a@b.example\nMessage-ID: <abc@b.example>\n\nbody";
    assert_eq!(
        find_inline_forward(text).unwrap().message_id.as_deref(),
        Some("abc@b.example")
    );
}

#[test]
fn typed_in_finding_has_no_original() {
    let body = "Hi security,\n\nI found a service account svc-backup with a key in the wiki:\n\
                From: the page history it was added last week.\nDate: unknown\n\n\
                ghp_0123456789abcdefghijklmnopqrstuvwxyz\n";
    for crlf in [true, false] {
        let inbound = parse(&plain_message(body, crlf));
        assert_eq!(inbound.original, None);
        assert!(inbound.text.contains("ghp_0123456789"));
        assert!(inbound.problems.is_empty(), "{:?}", inbound.problems);
    }
}

#[test]
fn separator_without_fields_is_not_a_forward() {
    assert_eq!(
        find_inline_forward("---------- Forwarded message ---------\n\nno header here"),
        None
    );
    assert_eq!(find_inline_forward("From: someone\nthen prose"), None);
    assert_eq!(find_inline_forward(""), None);
}

#[test]
fn line_ends_and_no_break_spaces_do_not_change_the_original() {
    let lf = format!(
        "FYI\n\n---------- Forwarded message ---------\nFrom: Alice Example <alice@example.com>\n\
         Date: Mon, Nov 2, 2026 at 10:14 AM\nSubject: Build failed\n\nThe deploy step printed:\n{KEY}\n"
    );
    let want = find_inline_forward(&lf).expect("LF forward");
    for (what, text) in [
        ("CRLF", lf.replace('\n', "\r\n")),
        ("CR", lf.replace('\n', "\r")),
        (
            "mixed",
            lf.replacen('\n', "\r", 3).replacen('\n', "\r\n", 2),
        ),
        (
            "no-break spaces",
            lf.replace("From: ", "From:\u{a0}")
                .replace("Date: ", "Date:\u{202f}"),
        ),
    ] {
        let got = find_inline_forward(&text).unwrap_or_else(|| panic!("{what}: no original"));
        assert_eq!(got.from, want.from, "{what}");
        assert_eq!(got.subject, want.subject, "{what}");
        assert_eq!(got.date, want.date, "{what}");
        assert_eq!(got.text, want.text, "{what}");
    }
    assert_eq!(want.from.as_deref(), Some(ALICE));
}
