//! The SLA timers with a controlled clock: no sleeping, time is a parameter.

use super::*;
use crate::context::Context;
use crate::lifecycle;
use crate::pipeline;
use crate::store::{cases as case_rows, outbox};
use crate::testkit::{self, mail, DAY, HOUR, KEYS, LEAD, T0};

const MIN: Millis = 60_000;

fn clock(opened: Millis) -> CaseClock {
    CaseClock {
        id: CaseId(1),
        opened_at: opened,
        classified_at: None,
        last_reopen_at: None,
        last_reminder_at: None,
        last_update_at: None,
    }
}

#[test]
fn timer_rules() {
    let (classify, outcome) = (4 * HOUR, 7 * DAY);
    let check = |c: CaseClock, now: Millis, reminder: Option<ReminderReason>, update: bool| {
        assert_eq!(
            due(&c, now, classify, outcome),
            Due { reminder, update },
            "{c:?} at {now}"
        );
    };
    use ReminderReason::{Classify, Outcome};
    check(clock(0), 4 * HOUR, None, false);
    check(clock(0), 4 * HOUR + 1, Some(Classify), false);
    let reminded = CaseClock {
        last_reminder_at: Some(5 * HOUR),
        ..clock(0)
    };
    check(reminded.clone(), 5 * HOUR + 23 * HOUR, None, false);
    check(reminded.clone(), 5 * HOUR + DAY, Some(Classify), false);
    // Unclassified and past both: it still needs a classification first.
    check(reminded, 8 * DAY, Some(Classify), true);
    let classified = CaseClock {
        classified_at: Some(HOUR),
        ..clock(0)
    };
    check(classified.clone(), 6 * DAY, None, false);
    check(classified.clone(), 7 * DAY + 1, Some(Outcome), true);
    let updated = CaseClock {
        last_update_at: Some(7 * DAY + 1),
        last_reminder_at: Some(7 * DAY + 1),
        ..classified.clone()
    };
    check(updated.clone(), 7 * DAY + 2, None, false);
    check(updated.clone(), 8 * DAY + 1, Some(Outcome), false);
    // Reopened after the update: the clock restarts, one more update later on.
    let reopened = CaseClock {
        last_reopen_at: Some(10 * DAY),
        ..updated
    };
    check(reopened.clone(), 11 * DAY, None, false);
    check(reopened, 17 * DAY + 1, Some(Outcome), true);
}

async fn letters(ctx: &Context, kind: &str) -> Vec<outbox::LetterRow> {
    let mut conn = ctx.store.conn().await.unwrap();
    outbox::of_case(&mut conn, CaseId(1))
        .await
        .unwrap()
        .into_iter()
        .filter(|l| l.kind == kind)
        .collect()
}

async fn events(ctx: &Context, kind: &str) -> usize {
    let mut conn = ctx.store.conn().await.unwrap();
    case_rows::events(&mut conn, CaseId(1))
        .await
        .unwrap()
        .iter()
        .filter(|e| e.kind == kind)
        .count()
}

async fn tick_at(ctx: &Context, now: Millis) -> (usize, usize) {
    let t = tick(ctx, now).await.unwrap();
    (t.reminded.len(), t.updated.len())
}

#[tokio::test]
async fn reminders_once_then_daily_and_one_honest_update() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = testkit::context(dir.path()).await;
    for (who, mid, at) in [("alice", "a1@x", T0), ("bob", "b1@x", T0 + HOUR)] {
        let raw = mail(
            &format!("{who}@example.org"),
            mid,
            "Key in the wiki",
            &format!("aws_access_key_id = {}\n", KEYS[0]),
        );
        pipeline::ingest(&ctx, &raw, "test", at).await.unwrap();
    }

    assert_eq!(tick_at(&ctx, T0 + 3 * HOUR).await, (0, 0), "not late yet");
    assert_eq!(tick_at(&ctx, T0 + 5 * HOUR).await, (1, 0), "late: remind");
    let reminders = letters(&ctx, "reminder").await;
    assert_eq!(reminders.len(), 1);
    assert_eq!(reminders[0].recipient, LEAD);
    assert!(
        reminders[0]
            .body
            .contains("waited 5 hours for a classification. The target is 4h."),
        "{}",
        reminders[0].body
    );
    assert!(reminders[0].body.contains("2 reporter(s) are waiting"));
    // Again and again within the day (restarts, a second instance): nothing.
    assert_eq!(tick_at(&ctx, T0 + 5 * HOUR).await, (0, 0));
    assert_eq!(tick_at(&ctx, T0 + 5 * HOUR + MIN).await, (0, 0));
    assert_eq!(tick_at(&ctx, T0 + 28 * HOUR).await, (0, 0));
    assert_eq!(tick_at(&ctx, T0 + 29 * HOUR).await, (1, 0), "a day later");
    assert_eq!(letters(&ctx, "reminder").await.len(), 2);

    let body = "classify secret-leak\naction disabled the key in IAM\n";
    let applied = lifecycle::cli_command(&ctx, CaseId(1), LEAD, body, T0 + 2 * DAY)
        .await
        .unwrap();
    assert!(applied.ok, "{:?}", applied.lines);
    assert_eq!(
        tick_at(&ctx, T0 + 4 * DAY).await,
        (0, 0),
        "classified, in time"
    );

    let late = T0 + 7 * DAY + HOUR;
    assert_eq!(tick_at(&ctx, late).await, (1, 1), "outcome late");
    let reminders = letters(&ctx, "reminder").await;
    assert_eq!(reminders.len(), 3);
    assert!(reminders[2].subject.contains("needs an outcome"));
    let updates = letters(&ctx, "update").await;
    let mut to: Vec<&str> = updates.iter().map(|l| l.recipient.as_str()).collect();
    to.sort();
    assert_eq!(to, ["alice@example.org", "bob@example.org"]);
    for u in &updates {
        assert!(u.body.contains("This is not the outcome yet"), "{}", u.body);
        assert!(u.body.contains("disabled the key in IAM"), "{}", u.body);
        assert!(u.body.contains("a leaked key or password"), "{}", u.body);
        assert!(!u.body.contains(KEYS[0]), "no secret in letters");
        assert!(u.in_reply_to.is_some(), "threads under the report");
    }
    assert_eq!(events(&ctx, "sla-update").await, 1);

    assert_eq!(tick_at(&ctx, late + HOUR).await, (0, 0));
    assert_eq!(
        tick_at(&ctx, late + DAY).await,
        (1, 0),
        "daily, no new update"
    );
    assert_eq!(letters(&ctx, "update").await.len(), 2);
    assert_eq!(events(&ctx, "sla-reminder").await, 4);

    let body = "resolve remediated\n";
    let applied = lifecycle::cli_command(&ctx, CaseId(1), LEAD, body, late + 2 * DAY)
        .await
        .unwrap();
    assert!(applied.ok, "{:?}", applied.lines);
    assert_eq!(tick_at(&ctx, late + 30 * DAY).await, (0, 0), "resolved");
    assert_eq!(letters(&ctx, "reminder").await.len(), 4);
}
