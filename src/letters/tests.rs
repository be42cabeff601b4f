//! Letter content tests: every template rendered with realistic contexts (several
//! reporters, merged duplicates, non-ASCII names and subjects, every outcome),
//! required wording, plain language (Flesch ≥ 60), no secrets, and the built-in
//! templates rendering the same in askama and in minijinja (overrides).

use super::overrides::{environment, render_with, sample_views};
use super::*;
use crate::domain::{Category, Outcome};

fn org() -> Org {
    Org::new("Example Corp", "CL")
}

const ZOE: &str = "Zoë Müller <zoe.mueller@example.org>";

fn outcome(o: Outcome) -> Letter {
    render_outcome(&org(), ZOE, &samples::outcome(o)).unwrap()
}

/// Every reporter-facing letter in its variants, with a label for messages.
fn reporter_letters() -> Vec<(String, Letter)> {
    let org = org();
    let mut out = Vec::new();
    for others in [0, 1, 4] {
        let mut c = samples::ack();
        c.others_reported = others;
        out.push((
            format!("ack others={others}"),
            render_ack(&org, ZOE, &c).unwrap(),
        ));
    }
    out.push((
        "question".into(),
        render_question(&org, ZOE, &samples::question()).unwrap(),
    ));
    for o in Outcome::ALL {
        for (position, total, merged) in [(1, 1, None), (1, 3, None), (2, 3, Some(CaseId(9)))] {
            let mut c = samples::outcome(*o);
            c.position = position;
            c.reporters_total = total;
            c.merged_from = merged;
            out.push((
                format!("outcome {o} {position}/{total}"),
                render_outcome(&org, ZOE, &c).unwrap(),
            ));
        }
    }
    out.push((
        "recent".into(),
        render_recent(&org, ZOE, &samples::recent()).unwrap(),
    ));
    let mut u = samples::update();
    out.push(("update".into(), render_update(&org, ZOE, &u).unwrap()));
    u.category = None;
    u.actions_so_far.clear();
    out.push((
        "update, nothing yet".into(),
        render_update(&org, ZOE, &u).unwrap(),
    ));
    out
}

#[test]
fn syllable_counter_knows_common_words() {
    for (word, want) in [
        ("the", 1),
        ("cat", 1),
        ("make", 1),
        ("you", 1),
        ("yes", 1),
        ("fixed", 1),
        ("turned", 1),
        ("times", 1),
        ("whole", 1),
        ("table", 2),
        ("happy", 2),
        ("letter", 2),
        ("simple", 2),
        ("password", 2),
        ("added", 2),
        ("boxes", 2),
        ("changes", 2),
        ("report", 2),
        ("agreed", 2),
        ("beautiful", 3),
        ("responder", 3),
        ("security", 4),
        ("organisation", 5),
        ("readability", 5),
        ("Build-Log", 2),
        ("CL-12", 2),
        ("2026", 1),
    ] {
        assert_eq!(count_syllables(word), want, "{word}");
    }
}

#[test]
fn dates_are_written_in_words() {
    assert_eq!(date_words(1_793_000_000_000), "26 October 2026");
    assert_eq!(date_words(0), "1 January 1970");
}

#[test]
fn flesch_matches_known_scores() {
    // 6 words, 1 sentence, 6 syllables: 206.835 - 1.015*6 - 84.6*1 = 116.145
    assert!((flesch_reading_ease("The cat sat on the mat.") - 116.145).abs() < 0.01);
    let hard = "Notwithstanding organisational considerations, remediation necessitates comprehensive credential revocation.";
    assert!(flesch_reading_ease(hard) < 0.0);
    assert_eq!(flesch_reading_ease(""), 100.0);
    // Headings and bullets end sentences; a blank line ends a paragraph.
    let list = "What we did:\n  - Turned off the key\n  - Made a new key\n\nThanks";
    assert!(flesch_reading_ease(list) > 80.0);
}

#[test]
fn reporter_letters_read_plainly() {
    for (label, letter) in reporter_letters() {
        let score = flesch_reading_ease(&letter.body);
        assert!(score >= 60.0, "{label}: Flesch {score:.1}\n{}", letter.body);
    }
}

#[test]
fn reporter_letters_never_show_slugs() {
    for (label, letter) in reporter_letters() {
        for slug in Category::ALL
            .iter()
            .map(|c| c.slug())
            .chain(Outcome::ALL.iter().map(|o| o.slug()))
        {
            if slug.contains('-') {
                assert!(
                    !letter.body.contains(slug),
                    "{label}: slug {slug} in\n{}",
                    letter.body
                );
            }
        }
        assert!(letter.body.contains("CL-12"), "{label}: case id");
        assert!(
            letter.body.contains("reply to this email"),
            "{label}: may reply"
        );
        assert_eq!(letter.auto_submitted, "auto-replied", "{label}");
    }
}

#[test]
fn outcome_says_what_was_reported_found_and_done() {
    let c = samples::outcome(Outcome::Remediated);
    let l = outcome(Outcome::Remediated);
    let b = &l.body;
    assert!(b.starts_with("Hello Zoë Müller,\n"), "{b}");
    assert!(
        b.contains("\"Schlüssel im Build-Log\" on 2 November 2026"),
        "{b}"
    );
    assert!(b.contains("It was a leaked key or password."), "{b}");
    for action in &c.actions {
        assert!(
            b.contains(&format!("  - {action}\n")),
            "action {action:?} verbatim in\n{b}"
        );
    }
    assert!(
        b.contains("We fixed it. The old key no longer works."),
        "{b}"
    );
    assert!(
        b.contains("If you copied the log anywhere, please delete that copy."),
        "{b}"
    );
    assert!(
        b.contains("You were one of 3 people to report this."),
        "{b}"
    );
    assert!(b.contains("an AWS access key: AKIA…WXYZ"), "{b}");
    assert!(b.contains("Your case ID is CL-12."), "{b}");
    assert!(b.contains("\n-- \nExample Corp security team\n"), "{b}");
    assert_eq!(l.subject, "Re: Schlüssel im Build-Log [CL-12]");
    assert_eq!(l.to, ZOE);
    assert_eq!(
        l.in_reply_to.as_deref(),
        Some("CAF1234.zoe@mail.example.org")
    );
    assert_eq!(
        l.references,
        vec!["CAF1234.zoe@mail.example.org".to_string()]
    );
}

#[test]
fn outcome_words_for_every_outcome() {
    for (o, phrase) in [
        (Outcome::Remediated, "We fixed it."),
        (Outcome::Benign, "We checked, and it was safe."),
        (Outcome::FalsePositive, "We checked, and it was not a real one."),
        (
            Outcome::AcceptedRisk,
            "We decided to accept this risk for now, until 31 March 2027, under exception EX-2026-14, signed by the head of IT.",
        ),
        (Outcome::NoAction, "We decided that nothing needed to be done."),
        (Outcome::Duplicate, "We already knew about this problem"),
    ] {
        let l = outcome(o);
        assert!(l.body.contains(phrase), "{o}: {phrase:?} in\n{}", l.body);
        let c = samples::outcome(o);
        if let Some(text) = &c.resolution_text {
            assert!(l.body.contains(text.as_str()), "{o}: resolution text in\n{}", l.body);
        }
        assert!(l.body.contains(c.category.plain()), "{o}: category in words");
    }
}

#[test]
fn false_alarms_are_thanked_without_blame() {
    for o in [Outcome::FalsePositive, Outcome::Benign] {
        let l = outcome(o);
        assert!(l.body.contains("What we checked: "), "{o}\n{}", l.body);
        assert!(
            l.body.contains("Reporting it was the right call."),
            "{o}\n{}",
            l.body
        );
        assert!(
            l.body.contains("We did not need to change anything."),
            "{o}\n{}",
            l.body
        );
        for blame in ["mistake", "wrong report", "unnecessary", "waste"] {
            assert!(!l.body.to_lowercase().contains(blame), "{o}: {blame}");
        }
    }
    assert!(!outcome(Outcome::Remediated).body.contains("right call"));
}

#[test]
fn how_the_report_helped_counts_reporters() {
    let org = org();
    let mut c = samples::outcome(Outcome::Remediated);
    c.position = 1;
    let first = render_outcome(&org, ZOE, &c).unwrap();
    assert!(
        first
            .body
            .contains("You were the first of 3 people to report this."),
        "{}",
        first.body
    );
    c.position = 3;
    let third = render_outcome(&org, ZOE, &c).unwrap();
    assert!(third
        .body
        .contains("You were one of 3 people to report this."));
    c.position = 1;
    c.reporters_total = 1;
    let alone = render_outcome(&org, ZOE, &c).unwrap();
    assert!(alone
        .body
        .contains("Your report was the only one we got about this."));
}

#[test]
fn merged_duplicate_gets_the_target_outcome_and_names_its_case() {
    let mut c = samples::outcome(Outcome::Remediated);
    c.merged_from = Some(CaseId(9));
    c.reported_subject = "Re: Token im Log [CL-9]".into();
    let l = render_outcome(&org(), ZOE, &c).unwrap();
    assert!(
        l.body
            .contains("You reported this as case CL-9. It was the same problem as case CL-12"),
        "{}",
        l.body
    );
    assert_eq!(l.subject, "Re: Token im Log [CL-12]");
    // merged_from equal to the case itself says nothing about merging.
    c.merged_from = Some(CaseId(12));
    assert!(!render_outcome(&org(), ZOE, &c)
        .unwrap()
        .body
        .contains("You reported this as"));
}

#[test]
fn ack_is_not_the_outcome_and_counts_others() {
    let org = org();
    let mut c = samples::ack();
    let l = render_ack(&org, ZOE, &c).unwrap();
    assert!(l.body.contains("it is now case CL-12"), "{}", l.body);
    assert!(l.body.contains("This is not the outcome yet."));
    assert!(
        l.body
            .contains("2 other people told us about the same thing."),
        "{}",
        l.body
    );
    c.others_reported = 1;
    assert!(render_ack(&org, ZOE, &c)
        .unwrap()
        .body
        .contains("One other person told us"));
    c.others_reported = 0;
    c.reporter_name = None;
    let alone = render_ack(&org, ZOE, &c).unwrap();
    assert!(!alone.body.contains("other p"), "{}", alone.body);
    assert!(alone.body.starts_with("Hello,\n"));
}

#[test]
fn a_report_of_many_keys_lists_the_first_ones_and_counts_the_rest() {
    let org = org();
    let keys = samples::many_artifacts(LISTED_ARTIFACTS + 35);
    let listed = |body: &str| body.matches("a GitHub token: ghp_…").count();
    let mut ack = samples::ack();
    ack.masked_artifacts = keys.clone();
    let mut outcome = samples::outcome(Outcome::Remediated);
    outcome.masked_artifacts = keys.clone();
    let mut notify = samples::notify();
    notify.masked_artifacts = keys.clone();
    for (label, body) in [
        ("ack", render_ack(&org, ZOE, &ack).unwrap().body),
        ("outcome", render_outcome(&org, ZOE, &outcome).unwrap().body),
    ] {
        assert_eq!(listed(&body), LISTED_ARTIFACTS, "{label}: {body}");
        assert!(
            body.contains("ghp_…0000") && !body.contains(&format!("ghp_…{:04}", LISTED_ARTIFACTS))
        );
        assert!(body.contains("  - and 35 more\n"), "{label}: {body}");
    }
    let body = render_notify(&org, "s@example.org", &notify).unwrap().body;
    assert_eq!(listed(&body), LISTED_ARTIFACTS, "{body}");
    assert!(
        body.contains("  - and 35 more (every one: closeloop case show CL-12)\n"),
        "{body}"
    );
    // Exactly as many as are listed: nothing is said to be left out.
    ack.masked_artifacts = samples::many_artifacts(LISTED_ARTIFACTS);
    let body = render_ack(&org, ZOE, &ack).unwrap().body;
    assert_eq!(listed(&body), LISTED_ARTIFACTS);
    assert!(!body.contains("  - and "), "{body}");
    // A dump of key IDs followed by their secret keys: both kinds are listed.
    let mut dump = samples::many_artifacts(100);
    dump.push(MaskedArtifact::new("an AWS secret access key", "wJal…EKEY"));
    ack.masked_artifacts = dump;
    let body = render_ack(&org, ZOE, &ack).unwrap().body;
    assert_eq!(listed(&body), LISTED_ARTIFACTS - 1, "{body}");
    assert!(
        body.contains(
            "a GitHub token: ghp_…0023\n  - an AWS secret access key: wJal…EKEY\n  - and 76 more\n"
        ),
        "{body}"
    );
}

#[test]
fn question_says_how_to_answer() {
    let c = samples::question();
    let l = render_question(&org(), ZOE, &c).unwrap();
    assert!(l.body.contains(&c.question));
    assert!(l
        .body
        .contains("Please reply to this email to answer. Your reply is added to the case."));
    assert_eq!(l.subject, "Re: Schlüssel im Build-Log [CL-12]");
}

#[test]
fn recent_gives_the_outcome_at_once() {
    let c = samples::recent();
    let l = render_recent(&org(), "sam.okafor@example.org", &c).unwrap();
    assert!(
        l.body
            .contains("We closed it as case CL-12 on 3 November 2026."),
        "{}",
        l.body
    );
    for action in &c.outcome.actions {
        assert!(l.body.contains(action.as_str()));
    }
    assert!(l.body.contains("We fixed it."));
    assert_eq!(l.subject, "Re: key in build log again? [CL-12]");
    assert_eq!(l.in_reply_to.as_deref(), Some("sam-991@mail.example.org"));
}

#[test]
fn update_is_honest_about_progress() {
    let l = render_update(&org(), ZOE, &samples::update()).unwrap();
    assert!(l
        .body
        .contains("We are still working on it. This is not the outcome yet."));
    assert!(l.body.contains("  - We turned off the leaked key.\n"));
    assert!(l.body.contains("it is about a leaked key or password"));
}

#[test]
fn notify_gives_responders_everything_to_act() {
    let c = samples::notify();
    let l = render_notify(&org(), "secteam@example.org", &c).unwrap();
    let b = &l.body;
    assert!(
        b.starts_with("Another report joined CL-12. It now has 3 reports."),
        "{b}"
    );
    for needle in [
        "From:     zoe.mueller@example.org",
        "Subject:  Fwd: Schlüssel im Build-Log",
        "Received: 2026-11-02T09:14:00Z",
        "  From:    ci@build.example.org",
        "  Subject: Build #4411 failed",
        "  - an AWS access key: AKIA…WXYZ",
        "  - li.wei@example.org",
        "> im Build-Log steht AWS_ACCESS_KEY_ID=[REDACTED aws-access-key-id AKIA…WXYZ].",
        "Notes on reading the report:\n  - unknown charset x-mac-roman",
        "resolve <outcome> [until <YYYY-MM-DD>] [: text]",
        "duplicate <CL-n>",
        "Example reply",
        "  resolve remediated",
    ] {
        assert!(b.contains(needle), "{needle:?} in\n{b}");
    }
    assert_eq!(
        l.subject,
        "[CL-12] Another report: Fwd: Schlüssel im Build-Log"
    );
    assert_eq!(l.auto_submitted, "auto-generated");
    assert!(l.in_reply_to.is_none() && l.references.is_empty());

    let mut fresh = c.clone();
    fresh.joined_existing = false;
    let l = render_notify(&org(), "secteam@example.org", &fresh).unwrap();
    assert!(
        l.body
            .starts_with("New case CL-12 is open. Please classify it within 4 hours."),
        "{}",
        l.body
    );
    let mut reopened = c;
    reopened.reopened = true;
    let l = render_notify(&org(), "secteam@example.org", &reopened).unwrap();
    assert!(l.body.contains("is open again") && l.subject.contains("Reopened"));
}

#[test]
fn confirm_and_reject_answer_every_line() {
    let c = samples::confirm();
    let l = render_confirm(&org(), "ana@example.org", &c).unwrap();
    for a in &c.applied {
        assert!(l.body.contains(&format!("  - {a}\n")), "{a}\n{}", l.body);
    }
    assert!(l.body.contains("CL-12 is now resolved (remediated)."));
    assert!(l.body.contains("  - outcome to zoe.mueller@example.org"));
    assert_eq!(
        l.subject,
        "Re: [CL-12] Another report: Fwd: Schlüssel im Build-Log"
    );
    assert_eq!(l.in_reply_to.as_deref(), Some("resp-77@mail.example.org"));

    let mut r = samples::reject();
    let l = render_reject(&org(), "ana@example.org", &r).unwrap();
    assert!(
        l.body.starts_with("Nothing was applied to CL-12."),
        "{}",
        l.body
    );
    for e in &r.errors {
        assert!(l.body.contains(&format!("  - {e}\n")), "{e}\n{}", l.body);
    }
    assert!(l.body.contains("classify <category>"), "command reference");
    r.case_id = None;
    r.their_subject = "Re: RE: please close it".into();
    let l = render_reject(&org(), "ana@example.org", &r).unwrap();
    assert!(l.body.starts_with("Nothing was applied. "), "{}", l.body);
    assert_eq!(l.subject, "Re: please close it");
}

#[test]
fn reminder_and_failure_name_the_case_and_the_gap() {
    let org = org();
    let l = render_reminder(
        &org,
        "ana@example.org",
        &samples::reminder(ReminderReason::Classify),
    )
    .unwrap();
    assert!(
        l.body.starts_with(
            "Reminder: CL-12 has waited 2 days for a classification. The target is 1d."
        ),
        "{}",
        l.body
    );
    assert!(l.body.contains("3 reporter(s) are waiting"));
    assert_eq!(l.auto_submitted, "auto-generated");
    let l = render_reminder(
        &org,
        "ana@example.org",
        &samples::reminder(samples::risk_review()),
    )
    .unwrap();
    assert!(
        l.body
            .contains("ended on 31 March 2027 (policy: exception EX-2026-14"),
        "{}",
        l.body
    );

    let l = render_failure(&org, "ana@example.org", &samples::failure()).unwrap();
    assert!(
        l.body.contains("Letter:     outcome letter for CL-12"),
        "{}",
        l.body
    );
    assert!(l.body.contains("their loop is not closed"));
    assert!(l.body.contains("550 5.1.1 mailbox unavailable"));
    assert_eq!(
        l.subject,
        "[CL-12] Could not deliver the outcome letter to zoe.mueller@example.org"
    );
}

/// Masks like `extract` does: a short prefix and the last four.
fn mask(raw: &str) -> String {
    format!("{}…{}", &raw[..4], &raw[raw.len() - 4..])
}

#[test]
fn no_letter_contains_a_planted_secret() {
    const RAW: &str = "AKIAQ7PLANTEDSECRETX9ZW";
    const RAW_MIDDLE: &str = "PLANTEDSECRET";
    let org = org();
    let masked = vec![MaskedArtifact::new("an AWS access key", mask(RAW))];
    let mut letters = reporter_letters();
    let mut ack = samples::ack();
    ack.masked_artifacts = masked.clone();
    letters.push(("ack".into(), render_ack(&org, ZOE, &ack).unwrap()));
    let mut o = samples::outcome(Outcome::Remediated);
    o.masked_artifacts = masked.clone();
    letters.push(("outcome".into(), render_outcome(&org, ZOE, &o).unwrap()));
    let mut n = samples::notify();
    n.masked_artifacts = masked.clone();
    n.redacted_excerpt = format!("the key is [REDACTED {}]", mask(RAW));
    letters.push((
        "notify".into(),
        render_notify(&org, "s@example.org", &n).unwrap(),
    ));
    letters.push((
        "recent".into(),
        render_recent(&org, ZOE, &samples::recent()).unwrap(),
    ));
    let when = chrono::DateTime::from_timestamp(1_793_000_000, 0).unwrap();
    for (label, l) in letters {
        if ["ack", "outcome", "notify"].contains(&label.as_str()) {
            assert!(
                l.body.contains(&mask(RAW)),
                "{label}: the masked form is shown"
            );
        }
        let built = build_message(&l, "security@example.org", "x.1@example.org", when).unwrap();
        let bytes = String::from_utf8_lossy(&built.formatted()).into_owned();
        for haystack in [&l.body, &l.subject, &bytes] {
            assert!(
                !haystack.contains(RAW) && !haystack.contains(RAW_MIDDLE),
                "{label}: secret leaked"
            );
        }
    }
}

#[test]
fn builtin_templates_render_the_same_in_askama_and_minijinja() {
    let env = environment();
    let views = sample_views();
    assert!(views.len() > 30);
    for s in views {
        let askama = tidy(&s.askama.clone().unwrap());
        let jinja = tidy(&render_with(&env, s.kind, &s.value).unwrap());
        assert_eq!(askama, jinja, "{} differs between engines", s.kind);
    }
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("closeloop-letters-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn overrides_replace_builtins_and_fail_loudly() {
    let dir = temp_dir("ok");
    std::fs::write(
        dir.join("outcome.txt"),
        "Hi {{ greeting }}\n{% for a in actions %}* {{ a }}\n{% endfor %}Case {{ case }}: {{ found }}.\n",
    )
    .unwrap();
    let o = Overrides::load(&dir).unwrap();
    assert_eq!(o.files().count(), 1);
    let org = org().with_overrides(o);
    let l = render_outcome(&org, ZOE, &samples::outcome(Outcome::Remediated)).unwrap();
    assert!(
        l.body.starts_with("Hi Hello Zoë Müller,\n* We turned off"),
        "{}",
        l.body
    );
    assert!(l.body.contains("Case CL-12: a leaked key or password."));
    // Other kinds keep the built-in.
    let ack = render_ack(&org, ZOE, &samples::ack()).unwrap();
    assert_eq!(ack, render_ack(&self::org(), ZOE, &samples::ack()).unwrap());

    // A partial override reaches every letter that includes it.
    let dir = temp_dir("partial");
    std::fs::write(
        dir.join("_footer.txt"),
        "Case {{ case }}. Reply to this email any time.\n",
    )
    .unwrap();
    let org = self::org().with_overrides(Overrides::load(&dir).unwrap());
    let ack = render_ack(&org, ZOE, &samples::ack()).unwrap();
    assert!(
        ack.body
            .ends_with("Case CL-12. Reply to this email any time.\n"),
        "{}",
        ack.body
    );

    for (file, source, want_line) in [
        ("ack.txt", "Hello\n\n{% if others %}\nno end", None),
        (
            "outcome.txt",
            "Hello\n{{ greeting }}\n{{ no_such_field }}\n",
            Some(3),
        ),
        ("question.txt", "Hello\n{% for x in %}\n", Some(2)),
    ] {
        let dir = temp_dir("bad");
        std::fs::write(dir.join(file), source).unwrap();
        let err = Overrides::load(&dir).unwrap_err();
        let text = err.to_string();
        assert!(text.contains(file), "{text}");
        match err {
            LetterError::Override { line, .. } => {
                if let Some(want) = want_line {
                    assert_eq!(line, Some(want), "{text}");
                } else {
                    assert!(line.is_some(), "{text}");
                }
            }
            other => panic!("{other}"),
        }
    }
    let dir = temp_dir("unknown");
    std::fs::write(dir.join("outcom.txt"), "typo").unwrap();
    assert!(Overrides::load(&dir)
        .unwrap_err()
        .to_string()
        .contains("outcom.txt"));
    assert!(Overrides::load(&dir.join("missing")).is_err());
}
