//! The intake pipeline end to end in process, on a real SQLite file: raw bytes
//! in, rows and queued letters out. Covers every dedup rule, idempotent
//! re-ingest, quarantine and ignore rules, and bad input.

mod common;

use closeloop::dedup::KeyKind;
use closeloop::domain::CaseId;
use closeloop::pipeline::{self, Ingested, Joined};
use closeloop::store::{cases, intake, outbox, set_aside};
use common::*;

on_both_backends!(
    a_flood_of_duplicates_costs_one_artifact_row_and_few_notifications,
    a_report_with_thousands_of_keys_keeps_each_once_and_dedups_by_any,
    a_report_of_more_keys_than_are_kept_counts_the_rest_and_redacts_all,
    a_report_opens_a_case_with_masked_artifacts_and_letters,
    where_an_html_reports_links_go_is_read_with_the_rest,
    keys_in_attached_files_are_found_and_stored_redacted,
    the_responders_notice_lists_each_problem_whole,
    reingest_is_idempotent_by_bytes_and_by_message_id,
    a_message_reusing_a_message_id_with_another_body_is_quarantined_not_dropped,
    the_same_secret_joins_the_open_case_and_hosts_never_do,
    the_same_forwarded_original_and_the_same_identity_join,
    resolved_cases_answer_at_once_or_reopen_on_a_failed_rotation,
    strangers_are_quarantined_and_automatic_mail_is_ignored_without_replies,
    bad_input_is_stored_with_a_warning_or_quarantined_never_lost,
    a_sender_no_letter_can_reach_is_quarantined_without_failing_the_batch,
    a_token_in_the_sender_or_the_message_id_is_never_stored,
    oversized_messages_are_quarantined_with_the_reason,
    a_batch_commits_together,
);

async fn letters_of(ctx: &closeloop::context::Context, case: i64) -> Vec<outbox::LetterRow> {
    let mut c = ctx.store.conn().await.unwrap();
    outbox::of_case(&mut c, CaseId(case)).await.unwrap()
}

async fn total_letters(ctx: &closeloop::context::Context) -> i64 {
    let mut c = ctx.store.conn().await.unwrap();
    outbox::count_status(&mut c, "pending").await.unwrap()
}

/// Whether `r` is a report placed on case `case` (new or joined).
fn is_report(r: &Ingested, case: i64) -> bool {
    matches!(r, Ingested::Report { case: c, .. } if *c == CaseId(case))
}

fn secret_line(seed: u64) -> (String, String) {
    let p = planted_github_pat(seed);
    (p.secret, p.line)
}

async fn a_report_opens_a_case_with_masked_artifacts_and_letters(backend: Backend) {
    let d = Deployment::on(backend, "dmarc", "");
    let ctx = d.ctx().await;
    let (secret, line) = secret_line(1);
    let raw = email(
        "Alice <alice@example.org>",
        "Token in build log",
        "r1@example.org",
        &[],
        &format!("Found this:\n{line}\n"),
    );
    let r = pipeline::ingest(&ctx, &raw, "test", T0).await.unwrap();
    assert_eq!(
        r,
        Ingested::Report {
            case: CaseId(1),
            how: Joined::NewCase
        }
    );

    let mut c = ctx.store.conn().await.unwrap();
    let reports = intake::reports_of(&mut c, CaseId(1)).await.unwrap();
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].reporter, "alice@example.org");
    assert!(
        !reports[0].body.contains(&secret),
        "stored body must be redacted"
    );
    assert!(
        reports[0].body.contains("[REDACTED github-pat"),
        "{}",
        reports[0].body
    );
    let arts = intake::artifacts_of(&mut c, CaseId(1)).await.unwrap();
    assert!(arts
        .iter()
        .any(|a| a.kind == "github-pat" && a.masked.starts_with("ghp_") && a.masked.len() < 16));
    assert!(arts.iter().all(|a| !a.masked.contains(&secret[4..20])));
    drop(c);
    // Acknowledgement to the reporter, notification to each responder.
    let letters = letters_of(&ctx, 1).await;
    let kinds: Vec<(&str, &str)> = letters
        .iter()
        .map(|l| (l.kind.as_str(), l.recipient.as_str()))
        .collect();
    assert!(kinds.contains(&("ack", "alice@example.org")), "{kinds:?}");
    assert!(kinds.contains(&("notify", "lead@example.org")), "{kinds:?}");
    assert!(
        kinds.contains(&("notify", "oncall@example.org")),
        "{kinds:?}"
    );
    let ack = letters.iter().find(|l| l.kind == "ack").unwrap();
    assert!(ack.subject.contains("[CL-1]"), "{}", ack.subject);
    assert_eq!(ack.in_reply_to.as_deref(), Some("r1@example.org"));
    assert!(letters.iter().all(|l| !l.body.contains(&secret)));
}

/// A phishing mail forwarded as HTML: the visible text of a link says nothing of where
/// it goes; the address (with a token in its query) is read, stored redacted and kept
/// as the case's artifacts.
async fn where_an_html_reports_links_go_is_read_with_the_rest(backend: Backend) {
    let d = Deployment::on(backend, "dmarc", "");
    let ctx = d.ctx().await;
    let (secret, _) = secret_line(7);
    let raw = format!(
        "From: Alice <alice@example.org>\r\nSubject: odd reset mail\r\nMessage-ID: <h1@example.org>\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n\
         <p>Got this today:</p><p>Your session expired. <a class=btn href=\"https://login.examp1e.com/reset?u=ops&amp;token={secret}\">Sign in again</a></p>\r\n"
    );
    let r = pipeline::ingest(&ctx, raw.as_bytes(), "test", T0)
        .await
        .unwrap();
    assert!(is_report(&r, 1), "{r:?}");
    let mut c = ctx.store.conn().await.unwrap();
    let body = &intake::reports_of(&mut c, CaseId(1)).await.unwrap()[0].body;
    assert!(!body.contains(&secret), "stored body must be redacted");
    assert!(
        body.contains(
            "Sign in again <https://login.examp1e.com/reset?u=ops&token=[REDACTED github-pat"
        ),
        "{body}"
    );
    let arts = intake::artifacts_of(&mut c, CaseId(1)).await.unwrap();
    assert!(arts.iter().any(|a| a.kind == "github-pat"), "{arts:?}");
    assert!(
        arts.iter()
            .any(|a| a.kind == "url" && a.masked.starts_with("https://login.examp1e.com/reset")),
        "{arts:?}"
    );
}

/// Alice's report with `bytes` attached as `name` of type `mime` (base64).
fn with_file(name: &str, mime: &str, bytes: &[u8]) -> Vec<u8> {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
    format!(
        "From: Alice <alice@example.org>\r\nSubject: Found this on the share\r\n\
         Date: Mon, 2 Nov 2026 10:00:00 +0000\r\n\
         Message-ID: <file@example.org>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n\
         World-readable, see attached.\r\n--b\r\n\
         Content-Type: {mime}; name={name}\r\n\
         Content-Disposition: attachment; filename={name}\r\nContent-Transfer-Encoding: base64\r\n\r\n\
         {b64}\r\n--b--\r\n"
    )
    .into_bytes()
}

/// Files attached to a report whose keys only they carry: a spreadsheet of service
/// accounts (made by openpyxl: tests/fixtures/office) and a 7z archive of configs (made
/// by 7-Zip: tests/fixtures/7z). Their keys become the case's artifacts, their text is
/// stored redacted under their names.
async fn keys_in_attached_files_are_found_and_stored_redacted(backend: Backend) {
    struct File {
        bytes: &'static [u8],
        name: &'static str,
        mime: &'static str,
        keys: &'static [&'static str],
        heading: &'static str,
        redacted: &'static str,
    }
    let files = [
        File {
            bytes: include_bytes!("fixtures/office/accounts.xlsx"),
            name: "accounts.xlsx",
            mime: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            // The sheet's key and the one in a cell comment.
            keys: &["AKIAZ6X8C3V1B9N2M7LS", "AKIAM4K7J2H9G5F1D8SA"],
            heading: "--- attachment accounts.xlsx ---",
            redacted: "svc-backup\t[REDACTED aws-access-key-id",
        },
        File {
            bytes: include_bytes!("fixtures/7z/configs.7z"),
            name: "configs.7z",
            mime: "application/x-7z-compressed",
            keys: &["AKIAQ7R4Z2M9X3LPW6KA"],
            heading: "--- attachment configs.7z / deploy/settings.env ---",
            redacted: "AWS_ACCESS_KEY_ID=[REDACTED aws-access-key-id",
        },
    ];
    for f in files {
        let d = Deployment::on(backend, "dmarc", "");
        let ctx = d.ctx().await;
        let raw = with_file(f.name, f.mime, f.bytes);
        let r = pipeline::ingest(&ctx, &raw, "test", T0).await.unwrap();
        assert!(is_report(&r, 1), "{}: {r:?}", f.name);
        let mut c = ctx.store.conn().await.unwrap();
        let arts = intake::artifacts_of(&mut c, CaseId(1)).await.unwrap();
        let aws = arts
            .iter()
            .filter(|a| a.kind == "aws-access-key-id")
            .count();
        assert_eq!(aws, f.keys.len(), "{}: {arts:?}", f.name);
        let body = &intake::reports_of(&mut c, CaseId(1)).await.unwrap()[0].body;
        assert!(body.contains(f.heading), "{body}");
        assert!(body.contains(f.redacted), "{body}");
        for key in f.keys {
            assert!(!body.contains(key), "{body}");
            assert!(arts.iter().all(|a| !a.masked.contains(&key[4..])));
        }
    }
}

/// What closeloop could not read is listed in the responders' notice a problem a line,
/// each whole though its text holds "; " (7-Zip's encrypted.7z: two encrypted files).
async fn the_responders_notice_lists_each_problem_whole(backend: Backend) {
    let d = Deployment::on(backend, "dmarc", "");
    let ctx = d.ctx().await;
    let archive = include_bytes!("fixtures/7z/encrypted.7z");
    let raw = with_file("enc.7z", "application/x-7z-compressed", archive);
    let r = pipeline::ingest(&ctx, &raw, "test", T0).await.unwrap();
    assert!(matches!(r, Ingested::Report { .. }), "{r:?}");
    let mut c = ctx.store.conn().await.unwrap();
    let letters = outbox::of_case(&mut c, CaseId(1)).await.unwrap();
    let notice = letters.iter().find(|l| l.kind == "notify").expect("notice");
    assert!(
        notice.body.contains(
            "Notes on reading the report:\n\
             \x20 - 7z \"enc.7z\": \"etc/app.conf\" is encrypted; not read\n\
             \x20 - 7z \"enc.7z\": \"secret.env\" is encrypted; not read\n"
        ),
        "{}",
        notice.body
    );
}

async fn reingest_is_idempotent_by_bytes_and_by_message_id(backend: Backend) {
    let d = Deployment::on(backend, "dmarc", "");
    let ctx = d.ctx().await;
    let raw = email(
        "alice@example.org",
        "Odd service account",
        "same@example.org",
        &[],
        "svc-backup@prod-123.iam.gserviceaccount.com logs in at 3am",
    );
    pipeline::ingest(&ctx, &raw, "a", T0).await.unwrap();
    let letters_before = total_letters(&ctx).await;
    let again = pipeline::ingest(&ctx, &raw, "a", T0 + 1000).await.unwrap();
    assert!(
        matches!(
            again,
            Ingested::AlreadySeen {
                case: Some(CaseId(1)),
                ..
            }
        ),
        "{again:?}"
    );
    // Same Message-ID, different bytes (e.g. redelivered with another Received header).
    let mut redelivered = b"Received: from mx by mx; Mon, 2 Nov 2026 10:00:01 +0000\r\n".to_vec();
    redelivered.extend_from_slice(&raw);
    let again = pipeline::ingest(&ctx, &redelivered, "b", T0 + 2000)
        .await
        .unwrap();
    assert!(matches!(again, Ingested::AlreadySeen { .. }), "{again:?}");
    assert_eq!(
        total_letters(&ctx).await,
        letters_before,
        "a re-read sends nothing"
    );
    // Without a Message-ID only the bytes tell: the same bytes are seen, one
    // byte more is a new message, alone or in a batch.
    let bare = b"From: bob@example.org\r\nSubject: token in chat\r\n\r\nsvc-deploy token pasted in #general\r\n";
    let first = pipeline::ingest(&ctx, bare, "c", T0 + 3000).await.unwrap();
    assert!(matches!(first, Ingested::Report { .. }), "{first:?}");
    let again = pipeline::ingest(&ctx, bare, "c", T0 + 4000).await.unwrap();
    assert!(matches!(again, Ingested::AlreadySeen { .. }), "{again:?}");
    let mut other = bare.to_vec();
    other.extend_from_slice(b"again\r\n");
    let out = pipeline::ingest_batch(&ctx, items(&[bare.to_vec(), other]), T0 + 5000)
        .await
        .unwrap();
    assert!(matches!(out[0], Ingested::AlreadySeen { .. }), "{out:?}");
    assert!(!matches!(out[1], Ingested::AlreadySeen { .. }), "{out:?}");
    let mut c = ctx.store.conn().await.unwrap();
    assert_eq!(
        intake::reports_of(&mut c, CaseId(1)).await.unwrap().len(),
        1
    );
}

async fn a_message_reusing_a_message_id_with_another_body_is_quarantined_not_dropped(
    backend: Backend,
) {
    let d = Deployment::on(backend, "dmarc", "");
    let ctx = d.ctx().await;
    let first = email(
        "alice@example.org",
        "Odd service account",
        "reused@example.org",
        &[],
        "svc-backup@prod-123.iam.gserviceaccount.com logs in at 3am\n",
    );
    let out = pipeline::ingest(&ctx, &first, "a", T0).await.unwrap();
    assert!(matches!(out, Ingested::Report { .. }), "{out:?}");
    let letters_before = total_letters(&ctx).await;

    // A redelivery: header fields added on the way, kept with LF line ends and
    // trailing blanks by another mail store. Still the same message.
    let mut redelivered =
        b"Received: from relay by mx; Mon, 2 Nov 2026 10:00:05 +0000\nDelivered-To: soc@example.org\n"
            .to_vec();
    redelivered.extend(
        String::from_utf8(first.clone())
            .unwrap()
            .replace("\r\n", "\n")
            .replace("3am\n", "3am \t\n")
            .into_bytes(),
    );
    redelivered.extend_from_slice(b"\n\n");
    let out = pipeline::ingest(&ctx, &redelivered, "b", T0 + 1000)
        .await
        .unwrap();
    assert!(
        matches!(
            out,
            Ingested::AlreadySeen {
                case: Some(CaseId(1)),
                ..
            }
        ),
        "{out:?}"
    );

    // Another body under the same Message-ID: not the stored message. Kept and
    // listed with the reason, not a report, nothing sent.
    let other = email(
        "mallory@example.org",
        "Odd service account",
        "reused@example.org",
        &[],
        "svc-deploy@prod-9.iam.gserviceaccount.com was given owner on prod\n",
    );
    let out = pipeline::ingest(&ctx, &other, "c", T0 + 2000)
        .await
        .unwrap();
    let Ingested::Quarantined { reason } = &out else {
        panic!("{out:?}");
    };
    assert!(reason.contains("<reused@example.org>"), "{reason}");
    assert!(reason.contains("another body"), "{reason}");
    assert_eq!(
        total_letters(&ctx).await,
        letters_before,
        "nothing answered"
    );
    // The same bytes again are that quarantined message, not a second one.
    let out = pipeline::ingest(&ctx, &other, "c", T0 + 3000)
        .await
        .unwrap();
    assert!(
        matches!(&out, Ingested::AlreadySeen { disposition, case: None } if disposition == "quarantined"),
        "{out:?}"
    );
    // Delivered again with other header fields (other bytes): still that quarantined
    // message, found by its body, not quarantined a second time.
    let mut other_again =
        b"Received: from relay2 by mx; Mon, 2 Nov 2026 10:00:09 +0000\r\n".to_vec();
    other_again.extend_from_slice(&other);
    let out = pipeline::ingest(&ctx, &other_again, "c2", T0 + 3500)
        .await
        .unwrap();
    assert!(
        matches!(&out, Ingested::AlreadySeen { disposition, case: None } if disposition == "quarantined"),
        "{out:?}"
    );
    let mut c = ctx.store.conn().await.unwrap();
    let listed = set_aside::list(&mut c, "quarantined", None, 10)
        .await
        .unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0].source, "c");
    assert_eq!(listed[0].sender.as_deref(), Some("mallory@example.org"));
    assert_eq!(
        intake::reports_of(&mut c, CaseId(1)).await.unwrap().len(),
        1
    );
    drop(c);

    // Within one batch: the first is the report, the second set aside.
    let a = email(
        "alice@example.org",
        "token",
        "batch@example.org",
        &[],
        "svc-a@prod-1.iam.gserviceaccount.com\n",
    );
    let b = email(
        "alice@example.org",
        "token",
        "batch@example.org",
        &[],
        "svc-b@prod-2.iam.gserviceaccount.com\n",
    );
    let out = pipeline::ingest_batch(&ctx, items(&[a, b]), T0 + 4000)
        .await
        .unwrap();
    assert!(matches!(out[0], Ingested::Report { .. }), "{out:?}");
    assert!(matches!(out[1], Ingested::Quarantined { .. }), "{out:?}");
    // In one batch: a report, a message reusing its Message-ID, and that message
    // again with a header field added on the way: set aside once.
    let c1 = email(
        "alice@example.org",
        "token",
        "batch2@example.org",
        &[],
        "svc-c@prod-3.iam.gserviceaccount.com\n",
    );
    let c2 = email(
        "mallory@example.org",
        "token",
        "batch2@example.org",
        &[],
        "svc-d@prod-4.iam.gserviceaccount.com\n",
    );
    let mut c2_relayed = b"Received: from r1 by mx; Mon, 2 Nov 2026 10:01:00 +0000\r\n".to_vec();
    c2_relayed.extend_from_slice(&c2);
    let out = pipeline::ingest_batch(&ctx, items(&[c1, c2, c2_relayed]), T0 + 4500)
        .await
        .unwrap();
    assert!(matches!(out[0], Ingested::Report { .. }), "{out:?}");
    assert!(matches!(out[1], Ingested::Quarantined { .. }), "{out:?}");
    assert!(
        matches!(&out[2], Ingested::AlreadySeen { disposition, case: None } if disposition == "quarantined"),
        "{out:?}"
    );
    let mut c = ctx.store.conn().await.unwrap();
    let listed = set_aside::list(&mut c, "quarantined", None, 10)
        .await
        .unwrap();
    assert_eq!(listed.len(), 3, "{listed:?}");
    drop(c);

    // A message stored before bodies were hashed is taken as it always was.
    let mut c = ctx.store.conn().await.unwrap();
    sqlx::query("UPDATE messages SET body_hash = NULL WHERE message_id = 'reused@example.org'")
        .execute(&mut *c)
        .await
        .unwrap();
    drop(c);
    let third = email(
        "alice@example.org",
        "Odd service account",
        "reused@example.org",
        &[],
        "a third body\n",
    );
    let out = pipeline::ingest(&ctx, &third, "d", T0 + 5000)
        .await
        .unwrap();
    assert!(matches!(out, Ingested::AlreadySeen { .. }), "{out:?}");
}

async fn the_same_secret_joins_the_open_case_and_hosts_never_do(backend: Backend) {
    let d = Deployment::on(backend, "dmarc", "");
    let ctx = d.ctx().await;
    let (_, line) = secret_line(2);
    let a = email(
        "alice@example.org",
        "Key in repo",
        "a@x",
        &[],
        &format!("{line}\nsee https://git.example.org/app"),
    );
    let b = email(
        "bob@example.org",
        "Also found",
        "b@x",
        &[],
        &format!("in Slack: {line}"),
    );
    let c1 = email(
        "carol@example.org",
        "Weird link",
        "c@x",
        &[],
        "see https://git.example.org/app",
    );
    assert!(matches!(
        pipeline::ingest(&ctx, &a, "t", T0).await.unwrap(),
        Ingested::Report {
            case: CaseId(1),
            ..
        }
    ));
    assert_eq!(
        pipeline::ingest(&ctx, &b, "t", T0 + 1).await.unwrap(),
        Ingested::Report {
            case: CaseId(1),
            how: Joined::Duplicate(KeyKind::Secret)
        }
    );
    assert_eq!(
        pipeline::ingest(&ctx, &c1, "t", T0 + 2).await.unwrap(),
        Ingested::Report {
            case: CaseId(2),
            how: Joined::NewCase
        },
        "a shared URL is context, not a key"
    );
    // Bob's acknowledgement says others reported it too.
    let ack = letters_of(&ctx, 1)
        .await
        .into_iter()
        .find(|l| l.kind == "ack" && l.recipient == "bob@example.org")
        .unwrap();
    assert!(
        ack.body.to_lowercase().contains("1 other") || ack.body.to_lowercase().contains("also"),
        "{}",
        ack.body
    );
}

async fn the_same_forwarded_original_and_the_same_identity_join(backend: Backend) {
    let d = Deployment::on(backend, "dmarc", "");
    let ctx = d.ctx().await;
    let fwd = |from: &str, mid: &str| {
        let body = "FYI\n\n---------- Forwarded message ---------\nFrom: CI <ci@example.org>\nDate: Mon, Nov 2, 2026 at 9:00 AM\n\
                    Subject: Build failed\nTo: dev@example.org\nMessage-ID: <build-77@ci.example.org>\n\nbuild failed at step 3\n";
        email(from, "Fwd: Build failed", mid, &[], body)
    };
    let first = pipeline::ingest(&ctx, &fwd("alice@example.org", "f1@x"), "t", T0)
        .await
        .unwrap();
    assert_eq!(
        first,
        Ingested::Report {
            case: CaseId(1),
            how: Joined::NewCase
        }
    );
    let second = pipeline::ingest(&ctx, &fwd("bob@example.org", "f2@x"), "t", T0 + 1)
        .await
        .unwrap();
    assert_eq!(
        second,
        Ingested::Report {
            case: CaseId(1),
            how: Joined::Duplicate(KeyKind::Original)
        }
    );
    let mut c = ctx.store.conn().await.unwrap();
    let r = &intake::reports_of(&mut c, CaseId(1)).await.unwrap()[0];
    assert_eq!(r.orig_subject.as_deref(), Some("Build failed"));
    assert_eq!(
        r.orig_message_id.as_deref(),
        Some("build-77@ci.example.org")
    );
    drop(c);

    let sa = "deploy-bot@prod-42.iam.gserviceaccount.com";
    let x = email(
        "carol@example.org",
        "SA creating keys",
        "s1@x",
        &[],
        &format!("{sa} created 40 keys"),
    );
    let y = email(
        "dan@example.org",
        "strange account",
        "s2@x",
        &[],
        &format!("who owns {sa}?"),
    );
    assert!(matches!(
        pipeline::ingest(&ctx, &x, "t", T0 + 2).await.unwrap(),
        Ingested::Report {
            case: CaseId(2),
            ..
        }
    ));
    assert_eq!(
        pipeline::ingest(&ctx, &y, "t", T0 + 3).await.unwrap(),
        Ingested::Report {
            case: CaseId(2),
            how: Joined::Duplicate(KeyKind::Identity)
        }
    );
}

async fn resolved_cases_answer_at_once_or_reopen_on_a_failed_rotation(backend: Backend) {
    let d = Deployment::on(backend, "dmarc", "");
    let ctx = d.ctx().await;
    let (_, line) = secret_line(3);
    let sa = "etl@data-7.iam.gserviceaccount.com";
    pipeline::ingest(
        &ctx,
        &email("alice@example.org", "key", "k1@x", &[], &line),
        "t",
        T0,
    )
    .await
    .unwrap();
    pipeline::ingest(
        &ctx,
        &email("bob@example.org", "sa", "k2@x", &[], sa),
        "t",
        T0,
    )
    .await
    .unwrap();
    let a = closeloop::lifecycle::cli_command(
        &ctx,
        CaseId(1),
        "lead@example.org",
        "classify secret-leak\naction revoked the token\nresolve remediated",
        T0 + DAY,
    )
    .await
    .unwrap();
    assert!(a.ok, "{:?}", a.lines);
    let b = closeloop::lifecycle::cli_command(
        &ctx,
        CaseId(2),
        "lead@example.org",
        "classify suspicious-account\nresolve benign: nightly ETL job, approved",
        T0 + DAY,
    )
    .await
    .unwrap();
    assert!(b.ok, "{:?}", b.lines);

    // Same identity after a benign outcome: answered at once with that outcome.
    let r = pipeline::ingest(
        &ctx,
        &email("carol@example.org", "sa again", "k3@x", &[], sa),
        "t",
        T0 + 2 * DAY,
    )
    .await
    .unwrap();
    assert_eq!(
        r,
        Ingested::Report {
            case: CaseId(2),
            how: Joined::Recent(KeyKind::Identity)
        }
    );
    let recent = letters_of(&ctx, 2)
        .await
        .into_iter()
        .find(|l| l.kind == "recent")
        .expect("instant answer queued");
    assert_eq!(recent.recipient, "carol@example.org");
    assert!(recent.body.contains("ETL job, approved"), "{}", recent.body);

    // Same secret after "remediated": the rotation was incomplete, the case reopens.
    let r = pipeline::ingest(
        &ctx,
        &email("dan@example.org", "still works", "k4@x", &[], &line),
        "t",
        T0 + 3 * DAY,
    )
    .await
    .unwrap();
    assert_eq!(
        r,
        Ingested::Report {
            case: CaseId(1),
            how: Joined::Reopened
        }
    );
    let mut c = ctx.store.conn().await.unwrap();
    let case = cases::get(&mut c, CaseId(1)).await.unwrap().unwrap();
    assert_eq!(case.status, "open");
    let events = cases::events(&mut c, CaseId(1)).await.unwrap();
    assert!(events
        .iter()
        .any(|e| e.kind == "reopen" && e.text.contains("rotation")));
    drop(c);

    // Outside the reopen window (30 days by default) a new case opens.
    let r = pipeline::ingest(
        &ctx,
        &email("erin@example.org", "sa", "k5@x", &[], sa),
        "t",
        T0 + 40 * DAY,
    )
    .await
    .unwrap();
    assert_eq!(
        r,
        Ingested::Report {
            case: CaseId(3),
            how: Joined::NewCase
        }
    );
}

async fn strangers_are_quarantined_and_automatic_mail_is_ignored_without_replies(backend: Backend) {
    let d = Deployment::on(backend, "dmarc", "");
    let ctx = d.ctx().await;
    let (secret, line) = secret_line(4);
    let cases_: Vec<(Vec<u8>, &str)> = vec![
        (email("mallory@evil.test", &format!("urgent {line}"), "q1@x", &[], &line), "quarantined"),
        (email("alice@example.org", "Out of office", "i1@x", &["Auto-Submitted: auto-replied"], "I am away"), "Auto-Submitted"),
        (email("news@example.org", "Weekly", "i2@x", &["Precedence: bulk"], "news"), "Precedence"),
        (email("list@example.org", "digest", "i3@x", &["List-Id: <dev.example.org>"], "digest"), "List-Id"),
        (email("MAILER-DAEMON@example.org", "Undelivered", "i4@x", &[], "bounce"), "bounce"),
        (email("alice@example.org", "notice", "i5@x", &["Return-Path: <>"], "null sender"), "null return path"),
        (email("security@example.org", "Re: x [CL-1]", "i6@x", &[], "our own letter"), "closeloop itself"),
        (
            "From: mailer@example.org\r\nSubject: failure\r\nMessage-ID: <i7@x>\r\nMIME-Version: 1.0\r\n\
                 Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n--b\r\n\
                 Content-Type: text/plain\r\n\r\nfailed\r\n--b\r\nContent-Type: message/delivery-status\r\n\r\n\
                 Status: 5.1.1\r\n--b--\r\n".to_string()
            .into_bytes(),
            "delivery report",
        ),
    ];
    for (raw, want) in &cases_ {
        let r = pipeline::ingest(&ctx, raw, "t", T0).await.unwrap();
        let line = r.describe("CL");
        if *want == "quarantined" {
            assert!(
                matches!(r, Ingested::Quarantined { ref reason } if reason.contains("evil.test")),
                "{line}"
            );
        } else {
            assert!(matches!(r, Ingested::Ignored { .. }), "{line}");
            assert!(line.contains(want), "want {want:?} in {line}");
        }
    }
    assert_eq!(
        total_letters(&ctx).await,
        0,
        "no letter to quarantined or automatic mail"
    );
    let mut c = ctx.store.conn().await.unwrap();
    let q = set_aside::list(&mut c, "quarantined", None, 10)
        .await
        .unwrap();
    assert_eq!(q.len(), 1);
    assert!(
        !q[0].subject.contains(&secret),
        "quarantined subjects are redacted too: {}",
        q[0].subject
    );
    assert_eq!(
        set_aside::list(&mut c, "ignored", None, 10)
            .await
            .unwrap()
            .len(),
        7
    );
}

async fn bad_input_is_stored_with_a_warning_or_quarantined_never_lost(backend: Backend) {
    let d = Deployment::on(backend, "dmarc", "");
    let ctx = d.ctx().await;
    let (secret, _) = secret_line(5);
    let inputs: Vec<Vec<u8>> = vec![
        // Unterminated multipart with broken base64.
        b"From: alice@example.org\r\nSubject: broken\r\nMessage-ID: <b1@x>\r\nMIME-Version: 1.0\r\n\
          Content-Type: multipart/mixed; boundary=zz\r\n\r\n--zz\r\nContent-Type: text/plain\r\n\
          Content-Transfer-Encoding: base64\r\n\r\n!!!not base64!!!\r\n"
            .to_vec(),
        // Undeclared latin-1 body and 8-bit header.
        b"From: J\xf6rg <joerg@example.org>\r\nSubject: Schl\xfcssel\r\nMessage-ID: <b2@x>\r\n\r\nGr\xfc\xdfe\r\n".to_vec(),
        // Empty body, no Message-ID.
        b"From: alice@example.org\r\nSubject: empty\r\n\r\n".to_vec(),
        // Header injection in an encoded word.
        b"From: alice@example.org\r\nMessage-ID: <b4@x>\r\nSubject: =?utf-8?b?aGVsbG8NCkJjYzogeEBldmlsLnRlc3Q=?=\r\n\r\nhi\r\n".to_vec(),
        // A secret split by a quoted-printable soft line break.
        format!(
            "From: alice@example.org\r\nSubject: qp\r\nMessage-ID: <b5@x>\r\nContent-Type: text/plain\r\n\
             Content-Transfer-Encoding: quoted-printable\r\n\r\ntoken {}=\r\n{}\r\n",
            &secret[..20],
            &secret[20..]
        )
        .into_bytes(),
        // NUL bytes and no headers at all.
        b"\0\0garbage without headers\0".to_vec(),
    ];
    for (i, raw) in inputs.iter().enumerate() {
        let r = pipeline::ingest(&ctx, raw, "t", T0 + i as i64).await;
        let r = r.unwrap_or_else(|e| panic!("input {i} failed: {e}"));
        assert!(
            matches!(r, Ingested::Report { .. } | Ingested::Quarantined { .. }),
            "input {i}: {r:?}"
        );
    }
    let mut c = ctx.store.conn().await.unwrap();
    let all = cases::list(&mut c, None).await.unwrap();
    let mut subjects = Vec::new();
    let mut qp_found = false;
    for case in &all {
        for r in intake::reports_of(&mut c, case.id).await.unwrap() {
            assert!(
                !r.body.contains(&secret),
                "QP-split secret must be found and redacted"
            );
            qp_found |= r.body.contains("[REDACTED github-pat");
            subjects.push(r.subject);
        }
    }
    assert!(
        qp_found,
        "a secret split by a soft line break is detected on decoded text"
    );
    assert!(
        subjects
            .iter()
            .all(|s| !s.contains('\r') && !s.contains('\n')),
        "{subjects:?}"
    );
    assert!(
        subjects.iter().any(|s| s.contains("Bcc")),
        "the injected text stays inside the subject: {subjects:?}"
    );
    let broken = all.iter().find(|c| c.id == CaseId(1)).unwrap();
    let r = &intake::reports_of(&mut c, broken.id).await.unwrap()[0];
    assert!(
        !r.problems.is_empty(),
        "broken MIME is recorded as a problem"
    );
}

/// A damaged From that still ends in an allowed domain (found by the garbled-input
/// campaign) is quarantined as it is read, not when its acknowledgement is composed:
/// before, composing failed the whole batch, which was then retried one message at a
/// time (on PostgreSQL the failed attempt used up case numbers). The reason does not
/// quote the address, which may carry any text of the header.
async fn a_sender_no_letter_can_reach_is_quarantined_without_failing_the_batch(backend: Backend) {
    let d = Deployment::on(backend, "dmarc", "");
    let ctx = d.ctx().await;
    let raws = vec![
        email("alice@example.org", "first", "n1@x", &[], "a token"),
        email("erin@execurity@example.org", "second", "n2@x", &[], "a key"),
        email("bob@example.org", "third", "n3@x", &[], "a bot"),
    ];
    let out = pipeline::ingest_batch(&ctx, items(&raws), T0)
        .await
        .unwrap();
    assert!(is_report(&out[0], 1), "{out:?}");
    match &out[1] {
        Ingested::Quarantined { reason } => {
            assert_eq!(
                reason, "the sender address (From) is not one a letter can be sent to",
                "{out:?}"
            )
        }
        other => panic!("{other:?}"),
    }
    // Case numbers follow on: the batch went through in one transaction.
    assert!(is_report(&out[2], 2), "{out:?}");
}

/// Addresses and Message-IDs are stored as they are (letters go to the one and quote
/// the other), so one that holds a key must not reach the store whole: a token-shaped
/// sender is quarantined with the address redacted; a token-shaped Message-ID becomes
/// a keyed fingerprint, by which the message still finds itself when it comes again.
async fn a_token_in_the_sender_or_the_message_id_is_never_stored(backend: Backend) {
    let d = Deployment::on(backend, "dmarc", "");
    let ctx = d.ctx().await;
    let (token, _) = secret_line(3);
    let raws = vec![
        email(
            &format!("{token}@example.org"),
            "first",
            "n1@x",
            &[],
            "a bot",
        ),
        email(
            "bob@example.org",
            "second",
            &format!("{token}@x"),
            &[],
            "a key",
        ),
    ];
    let out = pipeline::ingest_batch(&ctx, items(&raws), T0)
        .await
        .unwrap();
    match &out[0] {
        Ingested::Quarantined { reason } => assert!(
            reason.starts_with("the sender address (From) holds text that looks like a secret"),
            "{reason}"
        ),
        other => panic!("{other:?}"),
    }
    assert!(is_report(&out[1], 1), "{out:?}");
    let mut c = ctx.store.conn().await.unwrap();
    let held = set_aside::list(&mut c, "quarantined", None, 10)
        .await
        .unwrap();
    let sender = held[0].sender.as_deref().unwrap();
    assert!(
        sender.contains("[REDACTED github-pat") && !sender.contains(&token[4..]),
        "{sender}"
    );
    let report = &intake::reports_of(&mut c, CaseId(1)).await.unwrap()[0];
    let mid = report.message_id.as_deref().unwrap();
    assert!(
        mid.ends_with("@redacted.invalid") && !mid.contains(&token[4..]),
        "{mid}"
    );
    assert!(
        report.problems.contains("Message-ID"),
        "{}",
        report.problems
    );
    let letters = letters_of(&ctx, 1).await;
    assert!(
        letters
            .iter()
            .any(|l| l.in_reply_to.as_deref() == Some(mid)),
        "{mid}"
    );
    for l in &letters {
        let quoted = format!("{:?} {} {}", l.in_reply_to, l.refs, l.body);
        assert!(!quoted.contains(&token[4..]), "{quoted}");
    }
    drop(c);
    // Both are known when they come again.
    let again = pipeline::ingest_batch(&ctx, items(&raws), T0)
        .await
        .unwrap();
    assert!(
        again
            .iter()
            .all(|o| matches!(o, Ingested::AlreadySeen { .. })),
        "{again:?}"
    );
}

async fn oversized_messages_are_quarantined_with_the_reason(backend: Backend) {
    let d = Deployment::on(backend, "dmarc", "");
    let ctx = d.ctx().await;
    let body = "x".repeat(300_000);
    let raw = email("alice@example.org", "huge", "h1@x", &[], &body);
    let r = pipeline::ingest(&ctx, &raw, "t", T0).await.unwrap();
    match r {
        Ingested::Quarantined { reason } => {
            assert!(reason.contains("max_message_bytes"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    // Still idempotent.
    assert!(matches!(
        pipeline::ingest(&ctx, &raw, "t", T0).await.unwrap(),
        Ingested::AlreadySeen { .. }
    ));
}

async fn a_batch_commits_together(backend: Backend) {
    let d = Deployment::on(backend, "dmarc", "");
    let ctx = d.ctx().await;
    let raws: Vec<Vec<u8>> = (0..50)
        .map(|i| {
            email(
                &format!("u{i}@example.org"),
                "batch",
                &format!("batch-{i}@x"),
                &[],
                &format!("report {i}"),
            )
        })
        .collect();
    let out = pipeline::ingest_batch(&ctx, items(&raws), T0)
        .await
        .unwrap();
    assert_eq!(out.len(), 50);
    let mut c = ctx.store.conn().await.unwrap();
    assert_eq!(cases::list(&mut c, None).await.unwrap().len(), 50);
}

/// `n` distinct GitHub tokens.
fn github_tokens(seed: u64, n: usize) -> Vec<String> {
    let mut r = Rng::new(seed);
    (0..n).map(|_| format!("ghp_{}", r.s(36, ALNUM))).collect()
}

/// The tokens as the lines of a leaked `.env` file.
fn env_dump<'t>(tokens: impl Iterator<Item = &'t String>) -> String {
    tokens.map(|t| format!("GITHUB_TOKEN={t}\n")).collect()
}

/// A dump of thousands of keys (a whole leaked `.env` history) is one report: each
/// distinct key is stored once however often it appears, and any one of them brings a
/// later report to the same case. (Keys are looked up, not searched for, so such a
/// report costs time in proportion to its keys.)
async fn a_report_with_thousands_of_keys_keeps_each_once_and_dedups_by_any(backend: Backend) {
    let d = Deployment::on(backend, "dmarc", "");
    let ctx = d.ctx().await;
    let tokens = github_tokens(9, 2_000);
    let dump = env_dump(tokens.iter().chain(tokens.iter().take(500)));
    let first = email("alice@example.org", "dump", "dump@x", &[], &dump);
    let r = pipeline::ingest(&ctx, &first, "t", T0).await.unwrap();
    assert!(
        matches!(
            r,
            Ingested::Report {
                case: CaseId(1),
                how: Joined::NewCase
            }
        ),
        "{r:?}"
    );
    let mut c = ctx.store.conn().await.unwrap();
    let arts = intake::artifacts_of(&mut c, CaseId(1)).await.unwrap();
    let pats = arts.iter().filter(|a| a.kind == "github-pat").count();
    assert_eq!(pats, 2_000);
    drop(c);
    let later = email(
        "bob@example.org",
        "one of them",
        "later@x",
        &[],
        &format!("seen in a log: {}", tokens[1_234]),
    );
    let r = pipeline::ingest(&ctx, &later, "t", T0).await.unwrap();
    assert!(is_report(&r, 1), "{r:?}");
}

/// A dump of more keys than a report keeps (`MAX_KEPT_ARTIFACTS`): the first ones are
/// kept and match later reports, the rest are redacted, counted in the report's problems
/// (repeats and keys already kept not counted), and a later report of one of them alone
/// opens a case of its own, as the problem says.
async fn a_report_of_more_keys_than_are_kept_counts_the_rest_and_redacts_all(backend: Backend) {
    use closeloop::pipeline::MAX_KEPT_ARTIFACTS;
    let mut d = Deployment::on(backend, "dmarc", "");
    d.cfg.intake.max_message_bytes = 2_000_000;
    let ctx = d.ctx().await;
    let tokens = github_tokens(10, MAX_KEPT_ARTIFACTS + 300);
    let dump = env_dump(tokens.iter().chain(tokens.iter().rev().take(400)));
    let first = email("alice@example.org", "dump", "dump@x", &[], &dump);
    let r = pipeline::ingest(&ctx, &first, "t", T0).await.unwrap();
    assert!(is_report(&r, 1), "{r:?}");
    let mut c = ctx.store.conn().await.unwrap();
    let arts = intake::artifacts_of(&mut c, CaseId(1)).await.unwrap();
    assert_eq!(arts.len(), MAX_KEPT_ARTIFACTS);
    let reports = intake::reports_of(&mut c, CaseId(1)).await.unwrap();
    assert!(
        reports[0].problems.contains(&format!(
            "the report holds 300 more distinct keys, identities or links than the {MAX_KEPT_ARTIFACTS} kept"
        )),
        "{}",
        reports[0].problems
    );
    for t in [&tokens[0], &tokens[MAX_KEPT_ARTIFACTS + 299]] {
        assert!(
            !reports[0].body.contains(t.as_str()),
            "a key is left in the body"
        );
    }
    // The dump (~600 KB) is cut to the stored head: the start of its redacted text.
    let note = "\n[… truncated; the full message stays in the mailbox]";
    let head = reports[0]
        .body
        .strip_suffix(note)
        .expect("the body says it was cut");
    let sent = dump.replace('\n', "\r\n");
    let scanned = closeloop::extract::scanner().scan(&sent);
    let redacted = closeloop::extract::redact(&sent, &scanned);
    assert_eq!(head.len(), 256 * 1024, "the stored head");
    assert!(
        redacted.starts_with(head),
        "the stored head is not the redacted text's"
    );
    drop(c);
    let kept = email("bob@example.org", "one", "kept@x", &[], &tokens[42]);
    let r = pipeline::ingest(&ctx, &kept, "t", T0).await.unwrap();
    assert!(is_report(&r, 1), "{r:?}");
    let left_out = email(
        "carol@example.org",
        "another",
        "out@x",
        &[],
        &tokens[MAX_KEPT_ARTIFACTS + 7],
    );
    let r = pipeline::ingest(&ctx, &left_out, "t", T0).await.unwrap();
    assert!(is_report(&r, 2), "{r:?}");
}

async fn a_flood_of_duplicates_costs_one_artifact_row_and_few_notifications(backend: Backend) {
    let d = Deployment::on(backend, "dmarc", "");
    let ctx = d.ctx().await;
    let (_, line) = secret_line(9);
    for i in 0..12 {
        let raw = email(
            &format!("p{i}@example.org"),
            "key seen",
            &format!("fl{i}@x"),
            &[],
            &line,
        );
        pipeline::ingest(&ctx, &raw, "t", T0 + i).await.unwrap();
    }
    let rows: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM artifacts WHERE case_id = 1 AND class = 'secret'")
            .fetch_one(ctx.store.pool())
            .await
            .unwrap();
    assert_eq!(rows, 1, "one row per (case, fingerprint)");
    let letters = letters_of(&ctx, 1).await;
    let to_lead = letters
        .iter()
        .filter(|l| l.kind == "notify" && l.recipient == "lead@example.org")
        .count();
    assert_eq!(to_lead as i64, closeloop::compose::NOTIFY_JOINS_UP_TO);
    assert_eq!(
        letters.iter().filter(|l| l.kind == "ack").count(),
        12,
        "every reporter still hears from us"
    );
}

#[tokio::test]
async fn a_message_the_store_refuses_is_quarantined_and_the_batch_goes_on() {
    let d = Deployment::new("dmarc");
    let ctx = d.ctx().await;
    // A trigger stands in for any data-dependent database error.
    sqlx::query(
        "CREATE TRIGGER poison BEFORE INSERT ON reports WHEN NEW.subject = 'poison' \
         BEGIN SELECT RAISE(ABORT, 'refused by a test trigger'); END",
    )
    .execute(ctx.store.pool())
    .await
    .unwrap();
    let raws: Vec<Vec<u8>> = ["fine one", "poison", "fine two"]
        .iter()
        .enumerate()
        .map(|(i, s)| {
            email(
                &format!("u{i}@example.org"),
                s,
                &format!("poison-{i}@x"),
                &[],
                &format!("thing {i}"),
            )
        })
        .collect();
    let out = pipeline::ingest_batch(&ctx, items(&raws), T0)
        .await
        .unwrap();
    assert!(matches!(out[0], Ingested::Report { .. }));
    assert!(
        matches!(&out[1], Ingested::Quarantined { reason } if reason.contains("could not be stored")),
        "{:?}",
        out[1]
    );
    assert!(matches!(out[2], Ingested::Report { .. }));
    // Re-reading the same batch changes nothing.
    let again = pipeline::ingest_batch(&ctx, items(&raws), T0 + 1)
        .await
        .unwrap();
    assert!(
        again
            .iter()
            .all(|r| matches!(r, Ingested::AlreadySeen { .. })),
        "{again:?}"
    );
}

/// The raw messages as one batch's items.
fn items(raws: &[Vec<u8>]) -> Vec<pipeline::Item> {
    raws.iter()
        .map(|r| pipeline::Item {
            raw: r.clone(),
            source: "t".into(),
            truncated_from: None,
        })
        .collect()
}
