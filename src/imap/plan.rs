//! Pure helpers for IMAP intake: compact UID sets, the committed frontier,
//! and reconnect backoff with jitter. (Batches are planned by
//! `pipeline::batches`, as for a Maildir.)
//!
//! Must do no IO.

use std::time::Duration;

/// A UID and the size the server announced for it (`RFC822.SIZE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Listed {
    pub uid: u32,
    pub size: u32,
}

/// `[1,2,3,5,7,8]` → `"1:3,5,7:8"`. The input need not be sorted; duplicates are dropped.
pub fn uid_set(uids: &[u32]) -> String {
    let mut v = uids.to_vec();
    v.sort_unstable();
    v.dedup();
    let mut out = String::new();
    let mut i = 0;
    while i < v.len() {
        let start = v[i];
        let mut end = start;
        while i + 1 < v.len() && v[i + 1] == end + 1 {
            i += 1;
            end = v[i];
        }
        if !out.is_empty() {
            out.push(',');
        }
        if start == end {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}:{end}"));
        }
        i += 1;
    }
    out
}

/// The highest UID up to which every UID of `batch` (sorted) was fetched:
/// `Ok(uid)` when all were, `Err(uid)` when one is missing (the frontier stops
/// just before it, and must not move in later batches of the same pass).
pub fn frontier(batch: &[Listed], fetched: impl Fn(u32) -> bool, last: u32) -> Result<u32, u32> {
    let mut f = last;
    for l in batch {
        if !fetched(l.uid) {
            return Err(f);
        }
        f = f.max(l.uid);
    }
    Ok(f)
}

/// Capped exponential backoff with jitter (each delay is 50–100 % of the step).
#[derive(Clone, Debug)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    failures: u32,
}

impl Backoff {
    pub fn new(base: Duration, cap: Duration) -> Backoff {
        Backoff {
            base,
            cap,
            failures: 0,
        }
    }

    /// The step before jitter for the current number of failures.
    pub fn step(&self) -> Duration {
        let factor = 1u32 << self.failures.min(16);
        self.base.saturating_mul(factor).min(self.cap)
    }

    /// The delay before the next attempt; counts one more failure.
    pub fn next_delay(&mut self) -> Duration {
        let step = self.step();
        self.failures = self.failures.saturating_add(1);
        let r = getrandom::u32().unwrap_or(u32::MAX / 2);
        let share = 0.5 + 0.5 * (f64::from(r) / f64::from(u32::MAX));
        step.mul_f64(share)
    }

    pub fn reset(&mut self) {
        self.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(uid: u32, size: u32) -> Listed {
        Listed { uid, size }
    }

    #[test]
    fn uid_sets_are_compact() {
        let check = |uids: &[u32], want: &str| assert_eq!(uid_set(uids), want, "{uids:?}");
        check(&[], "");
        check(&[4], "4");
        check(&[1, 2, 3, 5, 7, 8], "1:3,5,7:8");
        check(&[8, 7, 1, 1, 2], "1:2,7:8");
        check(&[u32::MAX - 1, u32::MAX], "4294967294:4294967295");
    }

    #[test]
    fn frontier_stops_before_a_missing_message() {
        let batch = [l(5, 1), l(6, 1), l(9, 1)];
        assert_eq!(frontier(&batch, |_| true, 4), Ok(9));
        assert_eq!(frontier(&batch, |u| u != 6, 4), Err(5));
        assert_eq!(frontier(&batch, |u| u != 5, 4), Err(4));
    }

    #[test]
    fn backoff_grows_is_capped_and_jittered() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
        let mut steps = Vec::new();
        for _ in 0..10 {
            let step = b.step();
            let d = b.next_delay();
            assert!(d <= step && d >= step / 2, "{d:?} vs {step:?}");
            steps.push(step.as_secs());
        }
        assert_eq!(steps, vec![1, 2, 4, 8, 16, 32, 60, 60, 60, 60]);
        b.reset();
        assert_eq!(b.step(), Duration::from_secs(1));
    }
}
