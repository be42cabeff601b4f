//! Responder commands by email and the case lifecycle, in process on a real
//! SQLite file: every message goes through `pipeline::ingest` exactly as the
//! daemon would feed it.

mod common;

use closeloop::context::Context;
use closeloop::domain::CaseId;
use closeloop::pipeline::{self, Ingested};
use closeloop::store::{cases, outbox};
use common::*;

on_both_backends!(
    a_whole_case_from_report_to_outcome_by_email_only,
    a_rule_violation_rejects_the_whole_block,
    quoted_commands_never_run_in_any_reply_style,
    html_only_replies_are_understood,
    forged_or_unauthenticated_commands_change_nothing,
    token_mode_accepts_the_signed_address_and_refuses_a_tampered_one,
    duplicates_merge_and_every_reporter_gets_the_target_outcome,
    reopen_records_why_and_accepted_risk_expires_by_itself,
    respond_on_the_command_line_follows_the_same_rules,
    random_command_blocks_never_close_a_case_without_its_record,
);

async fn ingest(ctx: &Context, raw: &[u8], at: i64) -> Ingested {
    pipeline::ingest(ctx, raw, "test", at).await.unwrap()
}

async fn case(ctx: &Context, id: i64) -> cases::CaseRow {
    let mut c = ctx.store.conn().await.unwrap();
    cases::get(&mut c, CaseId(id)).await.unwrap().unwrap()
}

async fn letters(ctx: &Context, id: i64) -> Vec<outbox::LetterRow> {
    let mut c = ctx.store.conn().await.unwrap();
    outbox::of_case(&mut c, CaseId(id)).await.unwrap()
}

async fn events(ctx: &Context, id: i64) -> Vec<cases::EventRow> {
    let mut c = ctx.store.conn().await.unwrap();
    cases::events(&mut c, CaseId(id)).await.unwrap()
}

/// Two reports of one secret: case 1 with alice and bob.
async fn two_reports(ctx: &Context) -> String {
    let p = planted(7)
        .into_iter()
        .find(|p| p.kind == "stripe-secret-key")
        .unwrap();
    ingest(
        ctx,
        &email(
            "Alice <alice@example.org>",
            "Stripe key in wiki",
            "a1@example.org",
            &[],
            &p.line,
        ),
        T0,
    )
    .await;
    ingest(
        ctx,
        &email(
            "bob@example.org",
            "key on the wiki page",
            "b1@example.org",
            &[],
            &p.line,
        ),
        T0 + 60_000,
    )
    .await;
    p.secret
}

async fn a_whole_case_from_report_to_outcome_by_email_only(backend: Backend) {
    let d = Deployment::on(backend, "dmarc", "");
    let ctx = d.ctx().await;
    two_reports(&ctx).await;

    let r = ingest(&ctx, &reply("lead@example.org", "CL-1", "l1@example.org",
        "classify secret-leak\nseverity high\nowasp NHI2\nassign oncall@example.org\nnote wiki page is public\nask Which page was it on?\n"), T0 + 3_600_000).await;
    assert_eq!(
        r,
        Ingested::Command {
            case: CaseId(1),
            applied: true
        }
    );
    let c = case(&ctx, 1).await;
    assert_eq!(c.category.as_deref(), Some("secret-leak"));
    assert_eq!(c.severity.as_deref(), Some("high"));
    assert_eq!(c.owasp.as_deref(), Some("NHI2"));
    assert_eq!(c.assignee.as_deref(), Some("oncall@example.org"));
    assert_eq!(c.classified_at, Some(T0 + 3_600_000));

    // Each reporter got the question; alice answers it by replying.
    let ls = letters(&ctx, 1).await;
    let q = ls
        .iter()
        .find(|l| l.kind == "question" && l.recipient == "alice@example.org")
        .expect("question to alice");
    assert!(ls
        .iter()
        .any(|l| l.kind == "question" && l.recipient == "bob@example.org"));
    assert!(q.body.contains("Which page was it on?"));
    let answer = email(
        "alice@example.org",
        &format!("Re: {}", q.subject),
        "a2@example.org",
        &[&format!("In-Reply-To: <{}>", q.message_id)],
        "It was the Payments onboarding page.\n\n> Which page was it on?",
    );
    assert_eq!(
        ingest(&ctx, &answer, T0 + 4_000_000).await,
        Ingested::Reply { case: CaseId(1) }
    );
    assert_eq!(
        case(&ctx, 1).await.status,
        "open",
        "an answer is information, not a new case"
    );

    let r = ingest(&ctx, &reply("oncall@example.org", "CL-1", "l2@example.org",
        "action Revoked the key in the Stripe dashboard\naction Removed it from the wiki page history\nresolve remediated: the key no longer works\n\n-- \nOn-call"), T0 + 7_200_000).await;
    assert_eq!(
        r,
        Ingested::Command {
            case: CaseId(1),
            applied: true
        }
    );
    let c = case(&ctx, 1).await;
    assert_eq!(
        (c.status.as_str(), c.outcome.as_deref()),
        ("resolved", Some("remediated"))
    );

    // One outcome letter per reporter, threaded under their own report, quoting each action.
    let ls = letters(&ctx, 1).await;
    let outcomes: Vec<_> = ls.iter().filter(|l| l.kind == "outcome").collect();
    assert_eq!(outcomes.len(), 2);
    for (who, mid) in [
        ("alice@example.org", "a1@example.org"),
        ("bob@example.org", "b1@example.org"),
    ] {
        let o = outcomes.iter().find(|l| l.recipient == who).unwrap();
        assert_eq!(o.in_reply_to.as_deref(), Some(mid));
        assert!(o.subject.contains("[CL-1]"));
        assert!(o.body.contains("Revoked the key in the Stripe dashboard"));
        assert!(o.body.contains("Removed it from the wiki page history"));
        assert!(
            !o.body.contains("secret-leak"),
            "no slugs in outcome letters"
        );
    }
    let alice = outcomes
        .iter()
        .find(|l| l.recipient == "alice@example.org")
        .unwrap();
    assert!(alice.body.contains("first of 2"), "{}", alice.body);
    // Both command blocks were confirmed to their senders.
    assert!(ls
        .iter()
        .any(|l| l.kind == "confirm" && l.recipient == "lead@example.org"));
    assert!(ls
        .iter()
        .any(|l| l.kind == "confirm" && l.recipient == "oncall@example.org"));

    // The timeline shows the whole story.
    let kinds: Vec<String> = events(&ctx, 1).await.into_iter().map(|e| e.kind).collect();
    for k in [
        "opened",
        "joined",
        "classify",
        "severity",
        "owasp",
        "assign",
        "note",
        "ask",
        "reporter-reply",
        "action",
        "resolve",
    ] {
        assert!(
            kinds.iter().any(|e| e == k),
            "missing event {k} in {kinds:?}"
        );
    }
    let out = d.run(&["case", "show", "CL-1"], None);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("Timeline:") && text.contains("Revoked the key"),
        "{text}"
    );
}

async fn a_rule_violation_rejects_the_whole_block(backend: Backend) {
    let d = Deployment::on(backend, "dmarc", "");
    let ctx = d.ctx().await;
    two_reports(&ctx).await;
    for (body, needle) in [
        ("classify secret-leak\nresolve remediated", "action"),
        ("resolve benign: looked fine", "classif"),
        ("classify other\nresolve false-positive", "explain"),
        (
            "classify policy-exception\nresolve accepted-risk: exception EX-9",
            "until",
        ),
        (
            "classify secret-leak\nresolve fixed",
            "unknown outcome 'fixed'",
        ),
        ("clasify secret-leak", "classify"),
        ("thanks, will look", "unknown command"),
    ] {
        let mid = format!("rej-{}@example.org", body.len());
        let r = ingest(
            &ctx,
            &reply("lead@example.org", "CL-1", &mid, body),
            T0 + 1000,
        )
        .await;
        assert_eq!(
            r,
            Ingested::Command {
                case: CaseId(1),
                applied: false
            },
            "{body}"
        );
        let c = case(&ctx, 1).await;
        assert_eq!(
            (c.category.as_deref(), c.status.as_str()),
            (None, "open"),
            "nothing applied for {body:?}"
        );
        let rejection = letters(&ctx, 1)
            .await
            .into_iter()
            .rfind(|l| l.kind == "reject")
            .unwrap();
        assert!(
            rejection
                .body
                .to_lowercase()
                .contains(&needle.to_lowercase()),
            "{body:?} -> {}",
            rejection.body
        );
        assert_eq!(rejection.in_reply_to.as_deref(), Some(mid.as_str()));
    }
}

async fn quoted_commands_never_run_in_any_reply_style(backend: Backend) {
    let d = Deployment::on(backend, "dmarc", "");
    let ctx = d.ctx().await;
    two_reports(&ctx).await;
    let gmail = "classify token-misuse\n\nOn Mon, Nov 2, 2026 at 10:00 AM Closeloop <security@example.org> wrote:\n> resolve benign: quoted\n";
    let outlook = "classify token-misuse\n________________________________\nFrom: Closeloop <security@example.org>\nSent: Monday, November 2, 2026 10:00\nTo: Lead\nSubject: [CL-1]\n\nresolve benign: quoted\n";
    for (i, body) in [gmail, outlook].iter().enumerate() {
        let r = ingest(
            &ctx,
            &reply(
                "lead@example.org",
                "CL-1",
                &format!("q{i}@example.org"),
                body,
            ),
            T0 + 1000,
        )
        .await;
        assert_eq!(
            r,
            Ingested::Command {
                case: CaseId(1),
                applied: true
            }
        );
        let c = case(&ctx, 1).await;
        assert_eq!(c.category.as_deref(), Some("token-misuse"));
        assert_eq!(c.status, "open", "the quoted resolve must not run ({i})");
    }
}

async fn html_only_replies_are_understood(backend: Backend) {
    let d = Deployment::on(backend, "dmarc", "");
    let ctx = d.ctx().await;
    two_reports(&ctx).await;
    let raw = "Authentication-Results: mx.example.org; dmarc=pass header.from=example.org\r\nFrom: lead@example.org\r\n\
         To: security@example.org\r\nSubject: RE: [CL-1] Stripe key\r\nMessage-ID: <h1@example.org>\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/html; charset=utf-8\r\n\r\n<html><body><div>classify&nbsp;secret-leak</div><div>action rotated the key</div>\
         <div>resolve remediated</div><div><br></div><div>Thanks</div><blockquote><div>resolve benign: x</div></blockquote></body></html>\r\n".to_string();
    assert_eq!(
        ingest(&ctx, raw.as_bytes(), T0 + 1000).await,
        Ingested::Command {
            case: CaseId(1),
            applied: true
        }
    );
    let c = case(&ctx, 1).await;
    assert_eq!(
        (c.category.as_deref(), c.outcome.as_deref()),
        (Some("secret-leak"), Some("remediated"))
    );
}

async fn forged_or_unauthenticated_commands_change_nothing(backend: Backend) {
    let d = Deployment::on(backend, "dmarc", "");
    let ctx = d.ctx().await;
    two_reports(&ctx).await;
    let body = "classify other\nresolve no-action: forged";
    let forged = [
        // DMARC fails at our own server.
        vec!["Authentication-Results: mx.example.org; dmarc=fail header.from=example.org"],
        // A header from someone else's server proves nothing.
        vec!["Authentication-Results: mx.evil.test; dmarc=pass header.from=example.org"],
        // A forged "trusted" header below a failing topmost one.
        vec![
            "Authentication-Results: mx.example.org; dmarc=fail header.from=example.org",
            "Authentication-Results: mx.example.org; dmarc=pass header.from=example.org",
        ],
        // No header at all, and a Reply-To trying to catch the rejection.
        vec!["Reply-To: attacker@evil.test"],
    ];
    for (i, headers) in forged.iter().enumerate() {
        let raw = email(
            "lead@example.org",
            "Re: [CL-1]",
            &format!("f{i}@evil.test"),
            headers,
            body,
        );
        assert_eq!(
            ingest(&ctx, &raw, T0 + 1000).await,
            Ingested::Command {
                case: CaseId(1),
                applied: false
            },
            "#{i}"
        );
    }
    let c = case(&ctx, 1).await;
    assert_eq!((c.category, c.status.as_str()), (None, "open"));
    let evs = events(&ctx, 1).await;
    assert_eq!(evs.iter().filter(|e| e.kind == "auth-failed").count(), 4);
    let rejections: Vec<_> = letters(&ctx, 1)
        .await
        .into_iter()
        .filter(|l| l.kind == "reject")
        .collect();
    assert_eq!(rejections.len(), 4);
    assert!(
        rejections.iter().all(|l| l.recipient == "lead@example.org"),
        "only the configured address is answered"
    );

    // A non-responder naming the case is not a command: it is just another report.
    let r = ingest(
        &ctx,
        &reply("mallory@example.org", "CL-1", "m1@example.org", body),
        T0 + 2000,
    )
    .await;
    assert!(matches!(r, Ingested::Report { .. }), "{r:?}");
    assert_eq!(case(&ctx, 1).await.status, "open");
}

async fn token_mode_accepts_the_signed_address_and_refuses_a_tampered_one(backend: Backend) {
    let d = Deployment::on(backend, "token", "");
    let ctx = d.ctx().await;
    two_reports(&ctx).await;
    let notify = letters(&ctx, 1)
        .await
        .into_iter()
        .find(|l| l.kind == "notify" && l.recipient == "lead@example.org")
        .unwrap();
    let signed = notify
        .reply_to
        .clone()
        .expect("signed Reply-To on responder letters");
    assert!(signed.starts_with("security+1."), "{signed}");
    let send_to = |to: &str, mid: &str| {
        format!(
            "From: lead@example.org\r\nTo: {to}\r\nSubject: Re: Stripe key [CL-1]\r\nMessage-ID: <{mid}>\r\n\r\nclassify secret-leak\r\n"
        )
        .into_bytes()
    };
    let mut tampered = signed.clone();
    let at = tampered.find('@').unwrap();
    let last = tampered.as_bytes()[at - 1];
    tampered.replace_range(at - 1..at, if last == b'0' { "1" } else { "0" });
    assert_eq!(
        ingest(&ctx, &send_to(&tampered, "t1@x"), T0 + 1).await,
        Ingested::Command {
            case: CaseId(1),
            applied: false
        }
    );
    assert_eq!(case(&ctx, 1).await.category, None);
    assert_eq!(
        ingest(&ctx, &send_to(&signed, "t2@x"), T0 + 2).await,
        Ingested::Command {
            case: CaseId(1),
            applied: true
        }
    );
    assert_eq!(case(&ctx, 1).await.category.as_deref(), Some("secret-leak"));
}

async fn duplicates_merge_and_every_reporter_gets_the_target_outcome(backend: Backend) {
    let d = Deployment::on(backend, "dmarc", "");
    let ctx = d.ctx().await;
    two_reports(&ctx).await;
    ingest(
        &ctx,
        &email(
            "carol@example.org",
            "Stripe dashboard shows odd charges",
            "c1@example.org",
            &[],
            "odd charges via API",
        ),
        T0 + 5,
    )
    .await;
    let r = ingest(
        &ctx,
        &reply(
            "lead@example.org",
            "CL-2",
            "d1@example.org",
            "duplicate CL-1",
        ),
        T0 + 10,
    )
    .await;
    assert_eq!(
        r,
        Ingested::Command {
            case: CaseId(2),
            applied: true
        }
    );
    let merged = case(&ctx, 2).await;
    assert_eq!(
        (merged.status.as_str(), merged.merged_into),
        ("merged", Some(CaseId(1)))
    );
    // A command naming the merged case acts on its target.
    let r = ingest(
        &ctx,
        &reply(
            "lead@example.org",
            "CL-2",
            "d2@example.org",
            "classify secret-leak\naction rolled the key\nresolve remediated",
        ),
        T0 + 20,
    )
    .await;
    assert_eq!(
        r,
        Ingested::Command {
            case: CaseId(1),
            applied: true
        }
    );
    let outcomes: Vec<_> = letters(&ctx, 1)
        .await
        .into_iter()
        .filter(|l| l.kind == "outcome")
        .collect();
    let mut to: Vec<&str> = outcomes.iter().map(|l| l.recipient.as_str()).collect();
    to.sort();
    assert_eq!(
        to,
        ["alice@example.org", "bob@example.org", "carol@example.org"]
    );
    let carol = outcomes
        .iter()
        .find(|l| l.recipient == "carol@example.org")
        .unwrap();
    assert_eq!(carol.in_reply_to.as_deref(), Some("c1@example.org"));
    assert!(
        carol.body.contains("CL-2"),
        "mentions the case carol reported: {}",
        carol.body
    );
    // Merging into a resolved case is refused.
    ingest(
        &ctx,
        &email(
            "dan@example.org",
            "something else",
            "x1@example.org",
            &[],
            "a different thing",
        ),
        T0 + 30,
    )
    .await;
    let r = ingest(
        &ctx,
        &reply(
            "lead@example.org",
            "CL-3",
            "d3@example.org",
            "duplicate CL-1",
        ),
        T0 + 40,
    )
    .await;
    assert_eq!(
        r,
        Ingested::Command {
            case: CaseId(3),
            applied: false
        }
    );
}

async fn reopen_records_why_and_accepted_risk_expires_by_itself(backend: Backend) {
    let d = Deployment::on(backend, "dmarc", "");
    let ctx = d.ctx().await;
    two_reports(&ctx).await;
    let r = ingest(&ctx, &reply("lead@example.org", "CL-1", "r1@example.org",
        "classify policy-exception\nresolve accepted-risk until 2026-12-01: exception EX-12 approved by the CISO"), T0).await;
    assert_eq!(
        r,
        Ingested::Command {
            case: CaseId(1),
            applied: true
        }
    );
    let c = case(&ctx, 1).await;
    assert_eq!(
        (c.outcome.as_deref(), c.until_date.as_deref()),
        (Some("accepted-risk"), Some("2026-12-01"))
    );
    let o = letters(&ctx, 1)
        .await
        .into_iter()
        .find(|l| l.kind == "outcome")
        .unwrap();
    assert!(o.body.contains("EX-12"), "{}", o.body);

    // Before the date nothing happens; on it the case reopens and responders are told.
    assert!(closeloop::lifecycle::expire_acceptances(&ctx, T0 + DAY)
        .await
        .unwrap()
        .is_empty());
    let on_date = 1_796_083_200_000; // 2026-12-01T00:00:00Z
    assert_eq!(
        closeloop::lifecycle::expire_acceptances(&ctx, on_date)
            .await
            .unwrap(),
        vec![CaseId(1)]
    );
    assert_eq!(case(&ctx, 1).await.status, "open");
    assert!(letters(&ctx, 1)
        .await
        .iter()
        .any(|l| l.kind == "reminder" && l.recipient == "lead@example.org"));

    let r = ingest(
        &ctx,
        &reply(
            "lead@example.org",
            "CL-1",
            "r2@example.org",
            "resolve benign: the exception was renewed as EX-13",
        ),
        on_date + 1,
    )
    .await;
    assert_eq!(
        r,
        Ingested::Command {
            case: CaseId(1),
            applied: true
        }
    );
    let r = ingest(
        &ctx,
        &reply(
            "lead@example.org",
            "CL-1",
            "r3@example.org",
            "reopen: the key showed up in a new repo",
        ),
        on_date + 2,
    )
    .await;
    assert_eq!(
        r,
        Ingested::Command {
            case: CaseId(1),
            applied: true
        }
    );
    assert_eq!(case(&ctx, 1).await.status, "open");
    assert!(events(&ctx, 1)
        .await
        .iter()
        .any(|e| e.kind == "reopen" && e.text.contains("new repo")));
}

async fn respond_on_the_command_line_follows_the_same_rules(backend: Backend) {
    let d = Deployment::on(backend, "dmarc", "");
    let raw = email(
        "alice@example.org",
        "odd token use",
        "a@x",
        &[],
        "token used from a new country",
    );
    let f = d.dir.path().join("a.eml");
    std::fs::write(&f, raw).unwrap();
    assert!(d
        .run(&["ingest", f.to_str().unwrap()], None)
        .status
        .success());
    let bad = d.run(
        &["respond", "--as", "lead@example.org", "CL-1"],
        Some(b"classify token-misuse\nresolve remediated\n"),
    );
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("action"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
    let stranger = d.run(
        &["respond", "--as", "mallory@example.org", "CL-1"],
        Some(b"classify other\n"),
    );
    assert_eq!(stranger.status.code(), Some(2));
    let ok = d.run(
        &["respond", "--as", "lead@example.org", "1"],
        Some(b"classify token-misuse\naction disabled the token\nresolve remediated\n"),
    );
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let json = d.run(&["cases", "--status", "all", "--json"], None);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v[0]["id"], "CL-1");
    assert_eq!(v[0]["status"], "resolved");
    assert_eq!(v[0]["outcome"], "remediated");
    assert_eq!(v[0]["reporters"][0], "alice@example.org");
}

/// Lines a responder might write, good and bad, for random blocks.
const LINES: &[&str] = &[
    "classify secret-leak",
    "classify token-misuse",
    "classify bogus",
    "severity high",
    "severity extreme",
    "owasp NHI2",
    "owasp NHI11",
    "assign oncall@example.org",
    "action rotated the key",
    "action",
    "note checked the audit log",
    "ask Where did you see it?",
    "resolve remediated",
    "resolve remediated: the old key no longer works",
    "resolve benign",
    "resolve benign: the backup job, as the change ticket says",
    "resolve false-positive: a test key from the docs",
    "resolve no-action",
    "resolve no-action: the account was already gone",
    "resolve accepted-risk: exception EX-12",
    "resolve accepted-risk until 2027-01-31: exception EX-12 approved by the CISO",
    "resolve accepted-risk until 2026-01-01: too late",
    "resolve duplicate",
    "duplicate CL-1",
    "duplicate CL-2",
    "duplicate CL-99",
    "reopen",
    "reopen: the key is back in the log",
];

/// Blocks of random lines, good and bad, sent to two cases by email: after each, every
/// resolved case has a classification, an outcome and the record it needs (an action for
/// remediated, a reason for benign / false-positive / no-action, a date and a reason for
/// accepted-risk), and each reporter of it (and of cases merged into it) has an outcome
/// letter from its last resolution; every block is answered to the responder.
async fn random_command_blocks_never_close_a_case_without_its_record(backend: Backend) {
    let d = Deployment::on(backend, "dmarc", "");
    let ctx = d.ctx().await;
    two_reports(&ctx).await;
    let carol = email(
        "carol@example.org",
        "token in a gist",
        "c1@example.org",
        &[],
        "ghp_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8 in a public gist",
    );
    assert!(matches!(
        ingest(&ctx, &carol, T0).await,
        Ingested::Report {
            case: CaseId(2),
            ..
        }
    ));
    let own_reporters = [
        vec!["alice@example.org", "bob@example.org"],
        vec!["carol@example.org"],
    ];
    let mut seed = 0x5eed_c105_e100_u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed as usize
    };
    let (mut answered, mut resolutions) = (0, 0);
    for round in 0..150 {
        let target = 1 + next() % 2;
        let lines: Vec<&str> = (0..1 + next() % 4)
            .map(|_| LINES[next() % LINES.len()])
            .collect();
        // Two hours apart: no answer is held back by the hourly letter limit.
        let at = T0 + (round + 1) * 7_200_000;
        let r = ingest(
            &ctx,
            &reply(
                "lead@example.org",
                &format!("CL-{target}"),
                &format!("r{round}@example.org"),
                &lines.join("\n"),
            ),
            at,
        )
        .await;
        assert!(matches!(r, Ingested::Command { .. }), "{r:?}");
        answered += 1;
        let mut c = ctx.store.conn().await.unwrap();
        let mut to_lead = 0;
        for id in [1, 2] {
            to_lead += outbox::of_case(&mut c, CaseId(id))
                .await
                .unwrap()
                .iter()
                .filter(|l| {
                    l.recipient == "lead@example.org"
                        && matches!(l.kind.as_str(), "confirm" | "reject")
                })
                .count();
        }
        assert_eq!(to_lead, answered, "round {round}: {lines:?}");
        for id in [1i64, 2] {
            let row = case(&ctx, id).await;
            let what = format!("round {round}, CL-{id} after {lines:?}: {row:?}");
            if row.status == "merged" {
                let into = row.merged_into.expect(&what);
                assert!(into != CaseId(id), "{what}");
                continue;
            }
            if row.status != "resolved" {
                continue;
            }
            resolutions += 1;
            assert!(
                row.category.is_some() && row.resolved_at.is_some(),
                "{what}"
            );
            let said = row
                .resolution
                .as_deref()
                .is_some_and(|t| !t.trim().is_empty());
            match row.outcome.as_deref().expect(&what) {
                "remediated" => assert!(
                    events(&ctx, id).await.iter().any(|e| e.kind == "action"),
                    "{what}"
                ),
                "benign" | "false-positive" | "no-action" => assert!(said, "{what}"),
                "accepted-risk" => assert!(said && row.until_date.is_some(), "{what}"),
                other => panic!("{what}: outcome {other}"),
            }
            let mut reporters: Vec<&str> = own_reporters[id as usize - 1].clone();
            let other = 3 - id;
            if case(&ctx, other).await.merged_into == Some(CaseId(id)) {
                reporters.extend(&own_reporters[other as usize - 1]);
            }
            let outcomes = letters(&ctx, id).await;
            for r in reporters {
                assert!(
                    outcomes.iter().any(|l| l.kind == "outcome"
                        && l.recipient == r
                        && l.created_at >= row.resolved_at.unwrap()),
                    "{what}: no outcome letter to {r}"
                );
            }
        }
    }
    // The blocks did close cases, so the checks above were exercised.
    assert!(resolutions > 10, "{resolutions}");
}
