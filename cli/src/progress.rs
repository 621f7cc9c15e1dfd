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
    let display = Display::new(target);
    ProgressSink(Arc::new(move |p: &Progress| display.show(p)))
}

/// One line per config, each with its own start time (for its rate).
struct Display {
    bars: MultiProgress,
    lines: Mutex<HashMap<Uuid, (ProgressBar, Instant)>>,
    style: ProgressStyle,
}

impl Display {
    fn new(target: ProgressDrawTarget) -> Self {
        Self {
            bars: MultiProgress::with_draw_target(target),
            lines: Mutex::new(HashMap::new()),
            style: ProgressStyle::with_template("{spinner} {msg}").expect("a valid template"),
        }
    }

    /// Shows `p` on its config's line (a new line for a config not seen yet); a config
    /// that is done keeps its last line.
    fn show(&self, p: &Progress) {
        let mut lines = self.lines.lock().expect("progress lock");
        let (bar, started) = lines.entry(p.project_id).or_insert_with(|| {
            let bar = self.bars.add(ProgressBar::new_spinner().with_style(self.style.clone()));
            (bar, Instant::now())
        });
        bar.set_message(line(p, started.elapsed().as_secs_f64()));
        bar.tick();
        if p.done {
            bar.finish();
        }
    }
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
    fn every_update_reaches_its_configs_line() {
        let display = Display::new(ProgressDrawTarget::hidden());
        let (one, other) = (Uuid::nil(), Uuid::max());
        for pages in 1..=3 {
            display.show(&Progress {
                project_id: one,
                repo: "acme/widgets".into(),
                pages,
                issues: pages * 100,
                done: pages == 3,
            });
        }
        display.show(&Progress {
            project_id: other,
            repo: "acme/gadgets".into(),
            pages: 1,
            issues: 7,
            done: false,
        });
        let lines = display.lines.lock().unwrap();
        assert_eq!(lines.len(), 2, "one line per config");
        let (bar, _) = &lines[&one];
        assert!(bar.message().starts_with("acme/widgets: 3 pages, 300 issues"), "{}", bar.message());
        assert!(bar.message().ends_with(", done") && bar.is_finished(), "{}", bar.message());
        let (bar, _) = &lines[&other];
        assert!(bar.message().starts_with("acme/gadgets: 1 pages, 7 issues") && !bar.is_finished());
    }
}
