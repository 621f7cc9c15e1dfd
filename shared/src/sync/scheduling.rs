//! When ghsync asks GitHub again (docs/sync-rules.md, "When a config syncs", and
//! docs/operations.md, "Rate limits"): a config's next run after one that finished, was cut
//! short or failed; the retry time after a rate limit, for runs and pushes alike; whether a
//! full pass is due; and whether a listing leaves a probe for the next run.

use crate::domain::SyncInterval;
use crate::time::Timestamp;

/// Without a time from GitHub, a rate limit waits at least this long (doubling with each
/// failure in a row, up to [`RATE_LIMIT_CEILING`]).
pub const RATE_LIMIT_FLOOR: chrono::Duration = chrono::Duration::minutes(1);
/// The longest wait after a rate limit that named no time.
pub const RATE_LIMIT_CEILING: chrono::Duration = chrono::Duration::hours(1);
/// Another failure backs off from this, doubling, up to the config's interval.
pub const FAILURE_BACKOFF: chrono::Duration = chrono::Duration::seconds(30);

/// What GitHub said of a rate limit: `retry-after` (secondary limits), and when the token's
/// budget resets (`x-ratelimit-reset`, primary limits).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RateLimit {
    pub retry_after: Option<chrono::Duration>,
    pub reset_at: Option<Timestamp>,
}

/// When to ask again after a rate limit, the `failures`-th in a row (0: the first):
/// `retry-after` when it names a wait; else a second after the reset, when that lies ahead;
/// else [`RATE_LIMIT_FLOOR`] doubling with each failure, at most [`RATE_LIMIT_CEILING`].
pub fn after_rate_limit(limit: RateLimit, failures: i64, now: Timestamp) -> Timestamp {
    match limit {
        RateLimit { retry_after: Some(wait), .. } if wait > chrono::Duration::zero() => now.plus(wait),
        RateLimit { reset_at: Some(reset), .. } if reset > now => reset.plus(chrono::Duration::seconds(1)),
        _ => now.plus(doubled(RATE_LIMIT_FLOOR, failures).min(RATE_LIMIT_CEILING)),
    }
}

/// `base` doubled once per failure (at most ten times).
pub(super) fn doubled(base: chrono::Duration, failures: i64) -> chrono::Duration {
    base * 2i32.pow(failures.clamp(0, 10) as u32)
}

/// How a run ended, as its next time depends on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunEnded {
    /// It read everything it set out to. `active`: it changed something, or a webhook
    /// delivery for the repository applied something lately: the repository is busy.
    Complete { active: bool },
    /// A deadline or the token's budget cut it short; with a budget, GitHub's reset time.
    Cut { resume_at: Option<Timestamp> },
    /// It failed; with what GitHub said when the failure was a rate limit.
    Failed { rate_limit: Option<RateLimit> },
}

/// When a config runs next, after a run that ended as `ended` at `now`: its interval (or
/// [`SyncInterval::ACTIVE`] while the repository is busy); at once after a cut, or a second
/// after the budget's reset; after a failure, the rate limit's time or a backoff from
/// [`FAILURE_BACKOFF`] doubling with each of the `failures` before this one, up to the
/// interval.
pub fn next_sync_at(ended: RunEnded, interval: chrono::Duration, failures: i64, now: Timestamp) -> Timestamp {
    match ended {
        RunEnded::Complete { active: true } => {
            now.plus(chrono::Duration::seconds(SyncInterval::ACTIVE.seconds()))
        }
        RunEnded::Complete { active: false } => now.plus(interval),
        RunEnded::Cut { resume_at } => resume_at.map_or(now, |at| at.plus(chrono::Duration::seconds(1))),
        RunEnded::Failed { rate_limit: Some(limit) } => after_rate_limit(limit, failures, now),
        RunEnded::Failed { rate_limit: None } => {
            now.plus(doubled(FAILURE_BACKOFF, failures).min(interval.max(FAILURE_BACKOFF)))
        }
    }
}

/// Whether a run lists everything (to find deleted and transferred issues), as a full pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FullPass {
    /// A pass started at this time goes on (a pass may span runs).
    Continue(Timestamp),
    /// One is due: it starts now.
    Start,
    /// None is due: the run lists from its watermark.
    No,
}

/// Whether a run at `now` is part of a full pass: one in progress goes on; one is due when
/// none ever finished or the last finished `every` ago.
pub fn full_pass(
    in_progress: Option<Timestamp>,
    last_done: Option<Timestamp>,
    every: chrono::Duration,
    now: Timestamp,
) -> FullPass {
    match (in_progress, last_done) {
        (Some(started), _) => FullPass::Continue(started),
        (None, None) => FullPass::Start,
        (None, Some(done)) if done.plus(every) <= now => FullPass::Start,
        (None, Some(_)) => FullPass::No,
    }
}

/// Whether a listing's last page becomes the next run's probe (asked with its ETag: `304`
/// means nothing changed): it had an ETag, it was not full (a full one may have a next), and
/// no issue moved while the listing ran (the next run lists that range again).
pub fn keeps_probe(
    has_etag: bool,
    last_page_len: usize,
    per_page: usize,
    moved_during_listing: bool,
) -> bool {
    has_etag && last_page_len < per_page && !moved_during_listing
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::fixtures::t;

    const T: &str = "2026-01-05T10:00:00Z";

    fn secs(s: i64) -> chrono::Duration {
        chrono::Duration::seconds(s)
    }

    #[test]
    fn a_rate_limit_waits_for_githubs_time_else_a_doubling_minute() {
        let now = t(T);
        let limit = |retry: Option<i64>, reset: Option<&str>| RateLimit {
            retry_after: retry.map(secs),
            reset_at: reset.map(t),
        };
        #[rustfmt::skip]
        let rows = [
            (limit(Some(120), Some("2026-01-05T10:10:00Z")), 0,  "2026-01-05T10:02:00Z"),
            (limit(None,      Some("2026-01-05T10:17:00Z")), 0,  "2026-01-05T10:17:01Z"),
            (limit(None,      None),                         0,  "2026-01-05T10:01:00Z"),
            (limit(None,      None),                         3,  "2026-01-05T10:08:00Z"),
            (limit(None,      None),                         10, "2026-01-05T11:00:00Z"),
            // a reset already past names no time
            (limit(None,      Some("2026-01-05T09:00:00Z")), 0,  "2026-01-05T10:01:00Z"),
            // `retry-after: 0` names no wait: the reset does
            (limit(Some(0),   Some("2026-01-05T10:10:00Z")), 0,  "2026-01-05T10:10:01Z"),
            (limit(Some(0),   None),                         1,  "2026-01-05T10:02:00Z"),
        ];
        for (limit, failures, at) in rows {
            assert_eq!(after_rate_limit(limit, failures, now), t(at), "{limit:?} after {failures}");
        }
    }

    #[test]
    fn the_next_run_follows_how_this_one_ended() {
        let now = t(T);
        let five_minutes = chrono::Duration::minutes(5);
        let limited = RateLimit { retry_after: Some(secs(120)), reset_at: None };
        #[rustfmt::skip]
        let rows = [
            (RunEnded::Complete { active: true },                    0, "2026-01-05T10:00:30Z"),
            (RunEnded::Complete { active: false },                   0, "2026-01-05T10:05:00Z"),
            (RunEnded::Cut { resume_at: None },                      0, T),
            (RunEnded::Cut { resume_at: Some(t("2026-01-05T10:40:00Z")) }, 0, "2026-01-05T10:40:01Z"),
            (RunEnded::Failed { rate_limit: None },                  0, "2026-01-05T10:00:30Z"),
            (RunEnded::Failed { rate_limit: None },                  3, "2026-01-05T10:04:00Z"),
            // the backoff stops at the interval
            (RunEnded::Failed { rate_limit: None },                  4, "2026-01-05T10:05:00Z"),
            (RunEnded::Failed { rate_limit: Some(limited) },         4, "2026-01-05T10:02:00Z"),
        ];
        for (ended, failures, at) in rows {
            assert_eq!(next_sync_at(ended, five_minutes, failures, now), t(at), "{ended:?} after {failures}");
        }
        // An interval below the backoff's base still backs off by the base.
        let one_minute = chrono::Duration::minutes(1);
        assert_eq!(
            next_sync_at(RunEnded::Failed { rate_limit: None }, one_minute, 5, now),
            t("2026-01-05T10:01:00Z")
        );
    }

    #[test]
    fn a_full_pass_is_due_daily_and_goes_on_until_done() {
        let now = t(T);
        let day = chrono::Duration::days(1);
        let started = t("2026-01-05T09:00:00Z");
        #[rustfmt::skip]
        let rows = [
            (Some(started), None,                              day, FullPass::Continue(started)),
            (None,          None,                              day, FullPass::Start),
            (None,          Some(t("2026-01-04T10:00:00Z")),   day, FullPass::Start),
            (None,          Some(t("2026-01-04T10:00:01Z")),   day, FullPass::No),
            (None,          Some(t("2026-01-05T11:00:00Z")),   day, FullPass::No),
            (None,          Some(now),                         chrono::Duration::zero(), FullPass::Start),
        ];
        for (in_progress, last_done, every, expected) in rows {
            assert_eq!(
                full_pass(in_progress, last_done, every, now),
                expected,
                "{in_progress:?} {last_done:?}"
            );
        }
    }

    #[test]
    fn only_a_short_stable_last_page_with_an_etag_is_a_probe() {
        #[rustfmt::skip]
        let rows = [
            (true,  37,  false, true),
            (true,  100, false, false),
            (false, 37,  false, false),
            (true,  37,  true,  false),
            (true,  0,   false, true),
        ];
        for (etag, len, moved, expected) in rows {
            assert_eq!(keeps_probe(etag, len, 100, moved), expected, "{etag} {len} {moved}");
        }
    }
}
