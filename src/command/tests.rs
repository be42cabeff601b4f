//! Table-driven tests for the command layer: block extraction, grammar, rules.

use chrono::NaiveDate;

use super::*;
use crate::domain::{CaseId, CaseStatus, Category, Outcome, Severity};

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

const TODAY: &str = "2025-03-01";

/// The (number, text) pairs `extract_block` returns.
fn block(body: &str) -> Vec<(usize, String)> {
    extract_block(body)
        .into_iter()
        .map(|l| (l.number, l.text))
        .collect()
}

fn check_block(body: &str, want: &[(usize, &str)]) {
    let want: Vec<(usize, String)> = want.iter().map(|(n, t)| (*n, t.to_string())).collect();
    assert_eq!(block(body), want, "body:\n{body}");
}

#[test]
fn block_ends_at_blank_line_end_signature_and_quotes() {
    for (body, want) in [
        (
            "classify secret-leak\nseverity high\n\nThanks!",
            &[(1, "classify secret-leak"), (2, "severity high")][..],
        ),
        (
            "\n\n  \nclassify phishing\r\nend\nresolve benign: x",
            &[(4, "classify phishing")][..],
        ),
        ("classify phishing\nEND\n", &[(1, "classify phishing")][..]),
        ("note a\n-- \nAnn\nclassify other", &[(1, "note a")][..]),
        ("note a\n--\nAnn", &[(1, "note a")][..]),
        (
            "note a\n> classify other\n> resolve benign: x",
            &[(1, "note a")][..],
        ),
        (
            "note a\n-----Original Message-----\nclassify other",
            &[(1, "note a")][..],
        ),
        (
            "note a\n________________________________\nclassify other",
            &[(1, "note a")][..],
        ),
        (
            "note a\n---------- Forwarded message ---------\nclassify other",
            &[(1, "note a")][..],
        ),
        ("", &[][..]),
        ("\n \n\u{a0}\n", &[][..]),
    ] {
        check_block(body, want);
    }
}

#[test]
fn quoted_commands_are_never_extracted() {
    let gmail = "classify secret-leak\nOn Mon, Jun 3, 2024 at 10:00 AM closeloop <security@example.org> wrote:\n> classify phishing\n> resolve benign: quoted";
    let gmail_wrapped = "action rotated\nOn Mon, Jun 3, 2024 at 10:00 AM Security Team <\nsecurity@example.org> wrote:\nresolve benign: not ours";
    let gmail_de = "note ok\nAm Mo., 3. Juni 2024 um 10:00 Uhr schrieb Security <security@example.org>:\nclassify other";
    let gmail_fr = "note ok\nLe lun. 3 juin 2024 à 10:00, Security <security@example.org> a écrit :\nclassify other";
    let outlook = "classify token-misuse\nFrom: Security <security@example.org>\nSent: Monday, June 3, 2024 10:00 AM\nTo: Ann <ann@example.org>\nSubject: [CL-4] New case\n\nclassify phishing";
    let outlook_html = "note x\n*From:* Security <security@example.org>\n*Sent:* Monday, June 3, 2024 10:00 AM\nresolve benign: y";
    let only_quote = "> classify secret-leak\n> resolve benign: quoted\n";
    let quote_first =
        "On Mon, Jun 3, 2024, Sec <s@x.org> wrote:\n> classify other\n\nclassify phishing";
    for (body, want) in [
        (gmail, &[(1, "classify secret-leak")][..]),
        (gmail_wrapped, &[(1, "action rotated")][..]),
        (gmail_de, &[(1, "note ok")][..]),
        (gmail_fr, &[(1, "note ok")][..]),
        (outlook, &[(1, "classify token-misuse")][..]),
        (outlook_html, &[(1, "note x")][..]),
        (only_quote, &[][..]),
        (quote_first, &[][..]),
    ] {
        check_block(body, want);
    }
    // Only a real header block ends the commands: a From line alone is an (unknown) command.
    check_block(
        "note a\nFrom: me\nseverity low",
        &[(1, "note a"), (2, "From: me"), (3, "severity low")],
    );
}

#[test]
fn html_derived_text_is_tolerated() {
    let body = "\u{a0}\n\u{a0}classify\u{a0}secret-leak\u{a0}\u{a0}\n*severity* *high*   \n*action rotated the key*\n\u{200b}\nresolve remediated";
    let lines = extract_block(body);
    assert_eq!(
        lines.iter().map(|l| l.number).collect::<Vec<_>>(),
        vec![2, 3, 4]
    );
    assert_eq!(lines[0].text, "classify secret-leak");
    assert_eq!(
        parse_block(&lines).unwrap(),
        vec![
            (2, Command::Classify(Category::SecretLeak)),
            (3, Command::Severity(Severity::High)),
            (4, Command::Action("rotated the key".into())),
        ]
    );
    assert_eq!(parse_line("\tOWASP\u{a0}NHI2 "), Ok(Command::Owasp(2)));
}

fn check_line(text: &str, want: Result<Command, &str>) {
    assert_eq!(
        parse_line(text),
        want.map_err(str::to_string),
        "line {text:?}"
    );
}

#[test]
fn every_command_parses() {
    let resolve = |outcome, until: Option<&str>, text: Option<&str>| Command::Resolve {
        outcome,
        until: until.map(date),
        text: text.map(str::to_string),
    };
    for (text, want) in [
        (
            "classify secret-leak",
            Command::Classify(Category::SecretLeak),
        ),
        (
            "CLASSIFY Suspicious-Account",
            Command::Classify(Category::SuspiciousAccount),
        ),
        (
            "classify: policy exception",
            Command::Classify(Category::PolicyException),
        ),
        (
            "classify token_misuse",
            Command::Classify(Category::TokenMisuse),
        ),
        ("severity critical", Command::Severity(Severity::Critical)),
        ("Severity: LOW", Command::Severity(Severity::Low)),
        ("owasp NHI1", Command::Owasp(1)),
        ("owasp nhi-3", Command::Owasp(3)),
        ("owasp NHI03", Command::Owasp(3)),
        ("owasp NHI10", Command::Owasp(10)),
        ("owasp NHI2:2025 Secret Leakage", Command::Owasp(2)),
        ("owasp 7", Command::Owasp(7)),
        (
            "assign Bob@Example.org",
            Command::Assign("bob@example.org".into()),
        ),
        (
            "assign <bob@example.org>",
            Command::Assign("bob@example.org".into()),
        ),
        (
            "action rotated the key: old one revoked",
            Command::Action("rotated the key: old one revoked".into()),
        ),
        (
            "Action: disabled the account",
            Command::Action("disabled the account".into()),
        ),
        (
            "ask where did you see it?",
            Command::Ask("where did you see it?".into()),
        ),
        (
            "note  called the owner ",
            Command::Note("called the owner".into()),
        ),
        (
            "resolve remediated",
            resolve(Outcome::Remediated, None, None),
        ),
        (
            "resolve benign: test key, no access",
            resolve(Outcome::Benign, None, Some("test key, no access")),
        ),
        (
            "resolve false positive: a sample string",
            resolve(Outcome::FalsePositive, None, Some("a sample string")),
        ),
        (
            "resolve No-Action : expired already",
            resolve(Outcome::NoAction, None, Some("expired already")),
        ),
        (
            "resolve accepted-risk until 2025-06-30: exception EX-12",
            resolve(
                Outcome::AcceptedRisk,
                Some("2025-06-30"),
                Some("exception EX-12"),
            ),
        ),
        (
            "resolve accepted risk UNTIL 2025-06-30",
            resolve(Outcome::AcceptedRisk, Some("2025-06-30"), None),
        ),
        ("resolve benign:", resolve(Outcome::Benign, None, None)),
        ("duplicate CL-4", Command::Duplicate(CaseId(4))),
        ("duplicate 4", Command::Duplicate(CaseId(4))),
        ("duplicate of [cl-4]", Command::Duplicate(CaseId(4))),
        ("resolve duplicate CL-4", Command::Duplicate(CaseId(4))),
        ("Resolve Duplicate of cl-4", Command::Duplicate(CaseId(4))),
        ("reopen", Command::Reopen(None)),
        (
            "reopen: the key is back",
            Command::Reopen(Some("the key is back".into())),
        ),
        (
            "REOPEN the key is back",
            Command::Reopen(Some("the key is back".into())),
        ),
    ] {
        check_line(text, Ok(want));
    }
}

#[test]
fn every_grammar_error_is_helpful() {
    let long = format!("note {}", "x".repeat(MAX_TEXT_CHARS + 1));
    for (text, want) in [
        (": x", "unknown command ':'; use one of: classify, severity, owasp, assign, action, ask, note, resolve, duplicate, reopen"),
        ("\u{a0} ", "empty line"),
        ("clasify secret-leak", "unknown command 'clasify'; did you mean 'classify'?"),
        ("resolv benign: x", "unknown command 'resolv'; did you mean 'resolve'?"),
        (
            "thanks, done",
            "unknown command 'thanks'; use one of: classify, severity, owasp, assign, action, ask, note, resolve, duplicate, reopen",
        ),
        ("classify", "`classify` needs a category; use one of: secret-leak, suspicious-activity, token-misuse, suspicious-account, policy-exception, phishing, other"),
        ("classify secret-leek", "unknown category 'secret-leek'; did you mean 'secret-leak'?"),
        ("classify malware", "unknown category 'malware'; use one of: secret-leak, suspicious-activity, token-misuse, suspicious-account, policy-exception, phishing, other"),
        ("classify phishing because of the link", "`classify` takes only the category; put remarks in a `note` line"),
        ("severity urgent", "unknown severity 'urgent'; use one of: low, medium, high, critical"),
        ("severity hihg", "unknown severity 'hihg'; did you mean 'high'?"),
        ("owasp", "`owasp` needs a tag from NHI1 to NHI10, e.g. `owasp NHI2`"),
        ("owasp NHI11", "'nhi11' is not an OWASP NHI tag; use NHI1 to NHI10, e.g. `owasp NHI2`"),
        ("owasp NHI0", "'nhi0' is not an OWASP NHI tag; use NHI1 to NHI10, e.g. `owasp NHI2`"),
        ("owasp A01", "'a01' is not an OWASP NHI tag; use NHI1 to NHI10, e.g. `owasp NHI2`"),
        ("assign", "`assign` needs the responder's email address, e.g. `assign ann@example.org`"),
        ("assign bob", "'bob' is not an email address; write `assign ann@example.org`"),
        ("assign bob@localhost", "'bob@localhost' is not an email address; write `assign ann@example.org`"),
        ("assign a@b@c.org", "'a@b@c.org' is not an email address; write `assign ann@example.org`"),
        ("assign bob@x.org and ann@x.org", "`assign` takes one email address and nothing else"),
        ("action", "`action` needs text, e.g. `action rotated the key and revoked the old one`"),
        ("action:", "`action` needs text, e.g. `action rotated the key and revoked the old one`"),
        ("ask", "`ask` needs text, e.g. `ask where did you find this key?`"),
        ("note", "`note` needs text, e.g. `note checked with the platform team`"),
        (long.as_str(), "the text is too long (2001 characters; at most 2000)"),
        ("resolve", "`resolve` needs an outcome; use one of: remediated, benign, false-positive, accepted-risk, no-action"),
        ("resolve fixed", "unknown outcome 'fixed'; use one of: remediated, benign, false-positive, accepted-risk, no-action"),
        ("resolve remediatd", "unknown outcome 'remediatd'; did you mean 'remediated'?"),
        ("resolve duplicate", "`resolve duplicate` needs the case this one duplicates, e.g. `resolve duplicate CL-12` (the same as `duplicate CL-12`)"),
        ("resolve duplicate CL-3: same key", "`resolve duplicate` takes only the case ID, e.g. `resolve duplicate CL-12`; put remarks in a `note` line"),
        ("resolve duplicate CL-3 CL-4", "`duplicate` takes only the case ID; put remarks in a `note` line"),
        ("resolve duplicate of bob", "'bob' is not a case ID; write `duplicate CL-12` or `duplicate 12`"),
        ("resolve benign checked logs", "unexpected 'checked' after `resolve benign`; put the explanation after a colon, e.g. `resolve benign: what was checked`"),
        ("resolve benign until 2025-06-30: x", "`until` goes only with accepted-risk; a case resolved as benign does not reopen by itself"),
        ("resolve accepted-risk until: x", "`until` needs a date written YYYY-MM-DD, e.g. `until 2025-06-30`"),
        ("resolve accepted-risk until 30/06/2025: x", "'30/06/2025' is not a date; write `until YYYY-MM-DD`, e.g. `until 2025-06-30`"),
        ("resolve accepted-risk until 2025-02-30: x", "'2025-02-30' is not a date; write `until YYYY-MM-DD`, e.g. `until 2025-06-30`"),
        ("duplicate", "`duplicate` needs the case ID to merge into, e.g. `duplicate CL-12`"),
        ("duplicate CL-x", "'cl-x' is not a case ID; write `duplicate CL-12` or `duplicate 12`"),
        ("duplicate CL-3 same key", "`duplicate` takes only the case ID; put remarks in a `note` line"),
    ] {
        check_line(text, Err(want));
    }
}

fn lines(body: &str) -> Vec<Line> {
    body.lines()
        .enumerate()
        .map(|(i, t)| Line {
            number: i + 1,
            text: t.to_string(),
        })
        .collect()
}

#[test]
fn parse_block_collects_every_error_with_its_line() {
    assert_eq!(
        parse_block(&lines("classify secret-leak\nseverity hihg\nnote ok\nresolve fixed")),
        Err(vec![
            "line 2: unknown severity 'hihg'; did you mean 'high'?".to_string(),
            "line 4: unknown outcome 'fixed'; use one of: remediated, benign, false-positive, accepted-risk, no-action".to_string(),
        ])
    );
    assert_eq!(
        parse_block(&lines("classify other\nBest regards,\nAnn")),
        Err(vec![
            "line 2: unknown command 'best'; use one of: classify, severity, owasp, assign, action, \
             ask, note, resolve, duplicate, reopen; end the commands with an empty line or `end` \
             before other text"
                .to_string(),
            "line 3: unknown command 'ann'; use one of: classify, severity, owasp, assign, action, ask, \
             note, resolve, duplicate, reopen"
                .to_string(),
        ])
    );
    assert_eq!(
        parse_block(&extract_block("\nclassify other\nnote x\n")),
        Ok(vec![
            (2, Command::Classify(Category::Other)),
            (3, Command::Note("x".into()))
        ])
    );
}

#[test]
fn prose_and_empty_replies_are_rejected_with_a_hint() {
    // A reply of prose: one error naming the first line, not one per sentence.
    let prose = "Thanks, I rotated the key this morning.\nLet me know if you need anything.\n\nAnn";
    assert_eq!(
        parse_block(&extract_block(prose)),
        Err(vec!["line 1: unknown command 'thanks'; use one of: classify, severity, owasp, assign, \
                  action, ask, note, resolve, duplicate, reopen; commands go at the very top of the \
                  reply, one per line, before any other text"
            .to_string()])
    );
    // Prose before the commands: the prose line is named, the block is rejected.
    let mixed = "Hi team,\nclassify secret-leak";
    assert_eq!(
        parse_block(&extract_block(mixed)),
        Err(vec!["line 1: unknown command 'hi'; use one of: classify, severity, owasp, assign, action, ask, note, resolve, duplicate, reopen".to_string()])
    );
    // Nothing above the quote (a bottom-posted or empty reply).
    for body in [
        "",
        "> classify other\n\nclassify other",
        "On Mon, 3 Jun 2024, S <s@x.org> wrote:\n> hi",
    ] {
        let err = parse_block(&extract_block(body)).unwrap_err();
        assert_eq!(err.len(), 1);
        assert!(
            err[0].starts_with("no commands found: write the commands at the very top"),
            "{err:?}"
        );
    }
    let many = "note x\n".repeat(MAX_COMMANDS + 1);
    assert_eq!(parse_block(&extract_block(&many)).unwrap_err().len(), 1);
}

fn open(category: Option<Category>, actions: usize) -> CaseState {
    CaseState {
        id: CaseId(5),
        status: CaseStatus::Open,
        category,
        actions,
    }
}

fn with_status(status: CaseStatus) -> CaseState {
    CaseState {
        status,
        ..open(Some(Category::SecretLeak), 1)
    }
}

/// Parses `block` (must parse) and checks it against `state`.
fn check_rules(state: &CaseState, block: &str, want: Result<(), &[&str]>) {
    let cmds =
        parse_block(&lines(block)).unwrap_or_else(|e| panic!("{block:?} does not parse: {e:?}"));
    let want = want.map_err(|errs| errs.iter().map(|e| e.to_string()).collect::<Vec<_>>());
    assert_eq!(check(state, &cmds, date(TODAY)), want, "block:\n{block}");
}

#[test]
fn valid_blocks_pass() {
    let ok: Result<(), &[&str]> = Ok(());
    for (state, block) in [
        (
            open(None, 0),
            "classify secret-leak\nseverity high\naction rotated the key\nresolve remediated",
        ),
        (
            open(Some(Category::SecretLeak), 1),
            "resolve remediated: rotated",
        ),
        (
            open(None, 0),
            "classify phishing\nresolve benign: a training email",
        ),
        (
            open(Some(Category::Other), 0),
            "resolve false-positive: a sample string in docs",
        ),
        (
            open(Some(Category::Other), 0),
            "resolve no-action: the key had already expired",
        ),
        (
            open(Some(Category::PolicyException), 0),
            "resolve accepted-risk until 2025-03-02: exception EX-12 approved by the CISO",
        ),
        (
            open(None, 0),
            "note looking\nask where was it?\nassign bob@example.org\nowasp NHI2",
        ),
        (open(None, 0), "duplicate CL-4"),
        (with_status(CaseStatus::Resolved), "note the owner agreed"),
        (
            with_status(CaseStatus::Resolved),
            "reopen: the key came back\naction rotated again\nresolve remediated",
        ),
        (
            with_status(CaseStatus::Merged),
            "reopen: not the same key\nclassify other\nresolve no-action: checked",
        ),
        (
            open(Some(Category::Other), 0),
            "resolve benign: ok\nnote done\nreopen: wrong call\naction fixed\nresolve remediated",
        ),
    ] {
        check_rules(&state, block, ok);
    }
}

#[test]
fn each_rule_rejects_the_whole_block() {
    let no_class = "line 2: `resolve` needs a classification first; add a `classify` line before it (one of: secret-leak, suspicious-activity, token-misuse, suspicious-account, policy-exception, phishing, other)";
    let cases: &[(CaseState, &str, &[&str])] = &[
        (open(None, 1), "severity high\nresolve benign: ok", &[no_class]),
        (open(None, 1), "note a\nresolve benign: x\nclassify other", &[
            no_class,
            "line 3: the case is resolved; only `note` and `reopen` work now, so write `reopen` first to `classify`",
        ]),
        (open(Some(Category::Other), 0), "severity low\nresolve remediated", &[
            "line 2: `resolve remediated` needs at least one `action` line saying what was done, e.g. `action rotated the key and revoked the old one`",
        ]),
        (open(Some(Category::Other), 0), "resolve remediated\naction rotated", &[
            "line 1: `resolve remediated` needs an `action` line saying what was done; move the `action` line above the `resolve` line",
            "line 2: the case is resolved; only `note` and `reopen` work now, so write `reopen` first to `action`",
        ]),
        (open(Some(Category::Other), 0), "resolve accepted-risk until 2025-06-30", &[
            "line 1: `resolve accepted-risk` needs text after a colon naming the policy or exception, e.g. `resolve accepted-risk until 2025-06-30: exception EX-12 approved by the CISO`",
        ]),
        (open(Some(Category::Other), 0), "resolve accepted-risk: exception EX-12 until 2025-06-30", &[
            "line 1: `resolve accepted-risk` needs a review date before the colon, e.g. `resolve accepted-risk until 2025-06-30: …`; the case reopens on that date",
        ]),
        (open(Some(Category::Other), 0), "resolve accepted-risk until 2025-03-01: EX-12", &[
            "line 1: the until date 2025-03-01 must be after today (2025-03-01)",
        ]),
        (open(Some(Category::Other), 0), "resolve accepted-risk until 2024-12-31: EX-12", &[
            "line 1: the until date 2024-12-31 must be after today (2025-03-01)",
        ]),
        (open(Some(Category::Other), 0), "resolve benign", &[
            "line 1: `resolve benign` needs text after a colon explaining what was checked, e.g. `resolve benign: the key is a documented test key with no access`",
        ]),
        (open(Some(Category::Other), 0), "resolve false-positive", &[
            "line 1: `resolve false-positive` needs text after a colon explaining what was checked, e.g. `resolve false-positive: the key is a documented test key with no access`",
        ]),
        (open(Some(Category::Other), 0), "resolve no-action", &[
            "line 1: `resolve no-action` needs text after a colon explaining what was checked, e.g. `resolve no-action: the key is a documented test key with no access`",
        ]),
        (with_status(CaseStatus::Resolved), "resolve remediated", &[
            "line 1: the case is already resolved; write `reopen` on a line before `resolve` to resolve it again",
        ]),
        (with_status(CaseStatus::Merged), "classify other", &[
            "line 1: the case is merged into another case; only `note` and `reopen` work now, so write `reopen` first to `classify`",
        ]),
        (open(None, 0), "reopen", &["line 1: the case is open; `reopen` is only for a resolved or merged case"]),
        (open(None, 0), "duplicate CL-5", &["line 1: a case cannot be a duplicate of itself; name the other case"]),
        (open(None, 0), "duplicate CL-4\nseverity high", &[
            "line 2: the case is merged into another case; only `note` and `reopen` work now, so write `reopen` first to `severity`",
        ]),
        (open(Some(Category::Other), 1), "resolve remediated\nresolve remediated", &[
            "line 2: the case is already resolved; write `reopen` on a line before `resolve` to resolve it again",
        ]),
    ];
    for (state, block, want) in cases {
        check_rules(state, block, Err(want));
    }
}

#[test]
fn rules_also_guard_commands_built_elsewhere() {
    // `respond` or a future API may build commands without the grammar.
    let state = open(Some(Category::Other), 1);
    let cmds = vec![
        (
            1,
            Command::Resolve {
                outcome: Outcome::Duplicate,
                until: None,
                text: None,
            },
        ),
        (2, Command::Note("y".repeat(MAX_TEXT_CHARS + 1))),
    ];
    assert_eq!(
        check(&state, &cmds, date(TODAY)),
        Err(vec![
            "line 1: `resolve duplicate` needs the case this one duplicates, e.g. `resolve duplicate CL-12` (the same as `duplicate CL-12`)".to_string(),
            "line 2: the text is too long (2001 characters; at most 2000)".to_string(),
        ])
    );
    let until_elsewhere = vec![(
        1,
        Command::Resolve {
            outcome: Outcome::Benign,
            until: Some(date("2026-01-01")),
            text: Some("x".into()),
        },
    )];
    assert_eq!(
        check(&state, &until_elsewhere, date(TODAY)),
        Err(vec![
            "line 1: `until` goes only with accepted-risk, not benign".to_string()
        ])
    );
    assert_eq!(check(&state, &[], date(TODAY)), Ok(()));
}

#[test]
fn describe_reads_as_one_plain_line() {
    for (cmd, want) in [
        (
            Command::Classify(Category::SecretLeak),
            "classified as secret-leak",
        ),
        (Command::Severity(Severity::High), "severity set to high"),
        (Command::Owasp(3), "tagged OWASP NHI3"),
        (
            Command::Assign("bob@example.org".into()),
            "assigned to bob@example.org",
        ),
        (
            Command::Action("rotated".into()),
            "action recorded: rotated",
        ),
        (
            Command::Ask("where?".into()),
            "question sent to the reporters: where?",
        ),
        (Command::Note("n".into()), "internal note added: n"),
        (
            Command::Resolve {
                outcome: Outcome::AcceptedRisk,
                until: Some(date("2025-06-30")),
                text: Some("EX-12".into()),
            },
            "resolved as accepted-risk until 2025-06-30: EX-12",
        ),
        (
            Command::Resolve {
                outcome: Outcome::Remediated,
                until: None,
                text: None,
            },
            "resolved as remediated",
        ),
        (Command::Duplicate(CaseId(4)), "merged into CL-4"),
        (Command::Reopen(None), "reopened"),
        (Command::Reopen(Some("back".into())), "reopened: back"),
    ] {
        assert_eq!(cmd.describe(), want);
    }
    assert_eq!(
        Command::Duplicate(CaseId(4)).describe_with_prefix("SEC"),
        "merged into SEC-4"
    );
}

#[test]
fn suggestions_need_a_close_match() {
    for (word, want) in [
        ("clasify", Some("classify")),
        ("calssify", Some("classify")),
        ("resolved", Some("resolve")),
        ("notes", Some("note")),
        ("ak", Some("ask")),
        ("thanks", None),
        ("hi", None),
        ("on", None),
    ] {
        assert_eq!(suggest(word, COMMAND_WORDS.iter().copied()), want, "{word}");
    }
}
