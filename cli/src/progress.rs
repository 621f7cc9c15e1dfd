//! `ghsync reconcile` on a terminal: one line per config being synced, with its pages,
//! issues and rate as they go (indicatif, on standard error). Off a terminal nothing is
//! drawn and the JSON summary on standard output is all there is.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use ghsync_shared::services::reconcile::{Progress, ProgressSink};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use uuid::Uuid;

/// A progress display on standard error when it is a terminal, else `None`.
pub fn on_terminal() -> Option<ProgressSink> {
    std::io::stderr().is_terminal().then(|| sink(ProgressDrawTarget::stderr()))
}

/// The display, drawing to `target`.
fn sink(target: ProgressDrawTarget) -> ProgressSink {
    let bars = MultiProgress::with_draw_target(target);
    let lines: Mutex<HashMap<Uuid, (ProgressBar, Instant)>> = Mutex::new(HashMap::new());
    let style = ProgressStyle::with_template("{spinner} {msg}").expect("a valid template");
    ProgressSink(Arc::new(move |p: &Progress| {
        let mut lines = lines.lock().expect("progress lock");
        let (bar, started) = lines.entry(p.project_id).or_insert_with(|| {
            let bar = bars.add(ProgressBar::new_spinner().with_style(style.clone()));
            (bar, Instant::now())
        });
        bar.set_message(line(p, started.elapsed().as_secs_f64()));
        bar.tick();
        if p.done {
            bar.finish();
        }
    }))
}

/// One config's line: `acme/widgets: 12 pages, 1,180 issues (236 issues/s)`.
fn line(p: &Progress, seconds: f64) -> String {
    let rate = if seconds > 0.0 { p.issues as f64 / seconds } else { 0.0 };
    let state = if p.done { ", done" } else { "" };
    format!("{}: {} pages, {} issues ({rate:.0} issues/s){state}", p.repo, p.pages, p.issues)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_tells_pages_issues_and_rate() {
        let p = Progress {
            project_id: Uuid::nil(),
            repo: "acme/widgets".into(),
            pages: 12,
            issues: 1180,
            done: false,
        };
        assert_eq!(line(&p, 5.0), "acme/widgets: 12 pages, 1180 issues (236 issues/s)");
        let done = Progress { done: true, ..p };
        assert!(line(&done, 0.0).ends_with("(0 issues/s), done"));
    }

    #[test]
    fn every_update_reaches_the_display() {
        let shown = sink(ProgressDrawTarget::hidden());
        for pages in 1..=3 {
            (shown.0)(&Progress {
                project_id: Uuid::nil(),
                repo: "acme/widgets".into(),
                pages,
                issues: pages * 100,
                done: pages == 3,
            });
        }
    }
}
